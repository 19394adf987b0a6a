"""The replicator's choices and memory, over a fake index and a fake IPFS: scope by policy, own records
skipped, failures retried later, invalid documents given up on, and a restart that redoes nothing."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any, cast

import pytest

from proml.core.content.cid import CID
from proml.core.content.digest import ContentDigest
from proml.core.records import Actor, Artifact, Environment, RecordDocument
from proml.node.clients.ipfs import IpfsUnavailable
from proml.node.providers.storage import PayloadMismatch, StorageProvider
from proml.node.services.query import Query
from proml.node.services.replicate import Replicator

ME = "0x" + "aa" * 20
OTHER = "0x" + "bb" * 20
DATASET = "0x" + "d1" * 20
UNRELATED = "0x" + "d2" * 20
MODEL = "0x" + "e1" * 20


def _cid(data: bytes) -> str:
    return str(CID.of_block(data, codec=0x55))


def _document(asset: str, actor: str, payload: bytes) -> bytes:
    return RecordDocument(
        asset=asset,
        activity="register",
        actor=Actor("org", actor),
        environment=Environment("3.11.0"),
        started_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-01T00:00:00Z",
        outputs=(
            Artifact("content", "file", "sha256:" + hashlib.sha256(payload).hexdigest(), _cid(payload)),
        ),
    ).to_json_bytes()


class FakeQuery:
    """Three assets: my model derives from OTHER's dataset; OTHER's unrelated dataset is not used."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.owners = {DATASET: OTHER, UNRELATED: OTHER, MODEL: ME}
        self.reads: list[str] = []
        for asset, owner in self.owners.items():
            data = _document(asset, owner, asset.encode())
            cid = _cid(data)
            self.documents[cid] = data
            digest = "0x" + hashlib.sha256(data).hexdigest()
            entry = {"asset": asset, "seq": 0, "actor": owner, "record_cid": cid, "record_digest": digest}
            self.histories[asset] = [entry]

    def assets(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        rows = [
            {"address": a, "owner": o, "record_count": len(self.histories[a])} for a, o in self.owners.items()
        ]
        return rows[offset : offset + limit]

    def history(self, address: str, since: int = 0) -> list[dict[str, Any]]:
        self.reads.append(address)
        return [r for r in self.histories[address] if r["seq"] >= since]

    def lineage(self, address: str) -> dict[str, Any]:
        edges = [{"from": DATASET, "to": MODEL, "via": "ancestor"}] if address == MODEL else []
        return {"root": address, "nodes": [], "edges": edges}

    def record_cid(self, asset: str) -> str:
        return str(self.histories[asset][0]["record_cid"])


class FakeStorage:
    def __init__(self, documents: dict[str, bytes]) -> None:
        self.documents = documents
        self.pins: list[str] = []
        self.down = False
        self.tampered: set[str] = set()

    async def fetch_bytes(
        self, cid: CID, *, max_size: int, expected_digest: ContentDigest | None = None, timeout: float | None
    ) -> bytes:
        if self.down:
            raise IpfsUnavailable("http://ipfs", "connection refused")
        if str(cid) in self.tampered:
            raise PayloadMismatch(f"{cid} has another digest")
        return self.documents[str(cid)]

    async def pin(self, cid: CID, *, timeout: float | None = None) -> None:
        if self.down:
            raise IpfsUnavailable("http://ipfs", "connection refused")
        self.pins.append(str(cid))


@pytest.fixture
def query() -> FakeQuery:
    return FakeQuery()


def _replicator(query: FakeQuery, storage: FakeStorage, policy: str, path: Path) -> Replicator:
    return Replicator(
        cast(Query, query), cast(StorageProvider, storage), ME, policy, path / "replication.db", interval=0
    )


def _payload_cid(asset: str) -> str:
    return _cid(asset.encode())


def test_dependencies_policy_pins_only_what_my_assets_derive_from(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    replicator = _replicator(query, storage, "dependencies", tmp_path)
    assert asyncio.run(replicator.step()) == 2
    assert storage.pins == [query.record_cid(DATASET), _payload_cid(DATASET)]


def test_all_policy_pins_every_other_organisations_records_but_not_mine(
    query: FakeQuery, tmp_path: Path
) -> None:
    storage = FakeStorage(query.documents)
    replicator = _replicator(query, storage, "all", tmp_path)
    assert asyncio.run(replicator.step()) == 4
    assert set(storage.pins) == {
        query.record_cid(DATASET),
        _payload_cid(DATASET),
        query.record_cid(UNRELATED),
        _payload_cid(UNRELATED),
    }


def test_a_restart_redoes_nothing(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    first = _replicator(query, storage, "all", tmp_path)
    asyncio.run(first.step())
    first.close()
    again = _replicator(query, storage, "all", tmp_path)
    assert asyncio.run(again.step()) == 0
    assert again.status()["pinned"] == 2 and again.status()["payloads"] == 2


def test_an_ipfs_outage_is_retried_later(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    storage.down = True
    replicator = _replicator(query, storage, "dependencies", tmp_path)
    assert asyncio.run(replicator.step()) == 0
    status = replicator.status()
    assert status["failed"] == 1 and "IpfsUnavailable" in status["error"]
    storage.down = False
    assert asyncio.run(replicator.step()) == 2  # interval 0: the retry is due at once
    assert replicator.status()["failed"] == 0 and replicator.status()["error"] is None


def test_run_survives_outages_until_stopped(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    storage.down = True
    replicator = _replicator(query, storage, "dependencies", tmp_path)

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(replicator.run(stop))
        await asyncio.sleep(0.05)
        storage.down = False
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(run())
    assert replicator.status()["pinned"] == 1


def test_a_document_that_does_not_match_its_digest_is_not_pinned_nor_retried(
    query: FakeQuery, tmp_path: Path
) -> None:
    storage = FakeStorage(query.documents)
    storage.tampered.add(query.record_cid(DATASET))
    replicator = _replicator(query, storage, "dependencies", tmp_path)
    assert asyncio.run(replicator.step()) == 0
    assert asyncio.run(replicator.step()) == 0
    assert storage.pins == []
    assert replicator.status()["invalid"] == 1


def test_an_unknown_policy_is_refused(query: FakeQuery, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="policy"):
        _replicator(query, FakeStorage({}), "some", tmp_path)


def test_a_complete_history_is_read_again_only_when_it_grows(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    replicator = _replicator(query, storage, "dependencies", tmp_path)
    asyncio.run(replicator.step())
    asyncio.run(replicator.step())  # reads the history once more, finds it all done
    query.reads.clear()
    assert asyncio.run(replicator.step()) == 0
    assert query.reads == []
    data = _document(DATASET, OTHER, b"more")
    query.documents[_cid(data)] = data
    digest = "0x" + hashlib.sha256(data).hexdigest()
    query.histories[DATASET].append(
        {"asset": DATASET, "seq": 1, "actor": OTHER, "record_cid": _cid(data), "record_digest": digest}
    )
    assert asyncio.run(replicator.step()) == 2
    assert query.reads == [DATASET]
