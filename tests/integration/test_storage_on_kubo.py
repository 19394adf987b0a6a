"""StorageProvider against real daemons in one private swarm: CIDs and digests are checked locally."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from proml.core.content.digest import digest_bytes, digest_file
from proml.node.providers.storage import PayloadMismatch, StorageProvider
from tests.integration.ipfs_daemons import DaemonSet, daemon_set, kubo_binary
from tests.payloads import MIB, write_prng_file


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonSet]:
    kubo_binary()
    with daemon_set(tmp_path_factory.mktemp("storage")) as daemons:
        a = daemons.start("a")
        daemons.start("b", bootstrap=[a.swarm_addr])
        yield daemons


@pytest.mark.parametrize("size", [0, 1000, 3 * MIB + 17])
def test_a_payload_added_on_b_is_fetched_and_checked_through_a(
    pair: DaemonSet, tmp_path: Path, size: int
) -> None:
    a, b = pair.daemons
    source = write_prng_file(tmp_path / "payload", size, seed=size + 1)

    async def scenario() -> None:
        async with a.client() as on_a, b.client() as on_b:
            stored = await StorageProvider(on_b).add_file(source)
            assert stored.digest == digest_file(source)
            assert stored.size == size
            assert await on_b.is_pinned(stored.cid)
            fetched = await StorageProvider(on_a).fetch_to_file(
                stored.cid, tmp_path / "fetched", expected_digest=stored.digest, timeout=60
            )
            assert fetched == stored

    asyncio.run(scenario())
    assert (tmp_path / "fetched").read_bytes() == source.read_bytes()


def test_a_payload_with_another_digest_is_refused_and_not_kept(pair: DaemonSet, tmp_path: Path) -> None:
    a, _ = pair.daemons

    async def scenario() -> None:
        async with a.client() as on_a:
            provider = StorageProvider(on_a)
            stored = await provider.add_bytes(b"the weights C published")
            with pytest.raises(PayloadMismatch, match="was recorded"):
                await provider.fetch_to_file(
                    stored.cid,
                    tmp_path / "fetched",
                    expected_digest=digest_bytes(b"the weights A was promised"),
                )
            assert await provider.fetch_bytes(stored.cid, max_size=100) == b"the weights C published"

    asyncio.run(scenario())
    assert not (tmp_path / "fetched").exists()
    assert not (tmp_path / "fetched.partial").exists()


def test_documents_added_in_one_request_come_back_in_order(pair: DaemonSet) -> None:
    a, _ = pair.daemons
    documents = [b'{"seq":1}', b"", b'{"seq":3,"notes":"' + b"x" * 5000 + b'"}']

    async def scenario() -> list[bytes]:
        async with a.client() as on_a:
            provider = StorageProvider(on_a)
            cids = await provider.add_documents(documents, pin=False)
            assert len(set(cids)) == 3
            return [await provider.fetch_bytes(cid, max_size=10_000) for cid in cids]

    assert asyncio.run(scenario()) == documents
