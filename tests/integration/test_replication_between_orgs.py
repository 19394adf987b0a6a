"""Replication between two organisations, each with its own node (in process) and its own IPFS daemon,
on one anvil: what B publishes stays retrievable through A's node once B's IPFS daemon is gone.

A replicates by the `dependencies` policy: B's dataset that A's model names as ancestor is pinned, B's
unrelated dataset is not. A replicator by the `all` policy, on a third daemon, pins both. The tests share
one consortium and run in file order: the last one stops B's daemon.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from proml.core.content.cid import CID
from proml.core.content.digest import ContentDigest
from proml.devnet.anvil import running_anvil
from proml.devnet.consortium import found
from proml.node.api.app import create_app
from proml.node.clients.ipfs import IpfsClient
from proml.node.config import NodeConfig
from proml.node.providers.storage import StorageProvider
from proml.node.runtime import NodeRuntime
from proml.node.services.api_keys import Scope
from proml.node.services.replicate import Replicator
from tests.integration.ipfs_daemons import DaemonSet, KuboDaemon, daemon_set, stop_process
from tests.integration.keystores import write_keystore
from tests.integration.polling import eventually, wait_entry

WAIT = 60.0


@dataclass
class Org:
    node: NodeRuntime
    client: TestClient
    daemon: KuboDaemon
    token: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Consortium:
    a: Org
    b: Org
    daemons: DaemonSet
    base: Path
    # B's datasets: one that A's model derives from, one that nothing of A's uses.
    used: dict[str, Any]
    unrelated: dict[str, Any]


def _config(
    name: str, key: bytes, registry: str, anvil_url: str, daemon: KuboDaemon, base: Path
) -> NodeConfig:
    keystore, passphrase_file = write_keystore(base / name / "key", key)
    return NodeConfig(
        org=name,
        data_dir=base / name / "data",
        keystore=keystore,
        passphrase_file=passphrase_file,
        chain_url=anvil_url,
        registry=registry,
        ipfs_api=daemon.api,
        replication="dependencies",
        confirmations=1,  # anvil automines: no block comes after the last transaction
    )


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium]:
    base = tmp_path_factory.mktemp("replicate")
    with running_anvil(base / "anvil") as anvil, daemon_set(base / "ipfs") as daemons:
        daemon_a = daemons.start("a")
        daemon_b = daemons.start("b", bootstrap=[daemon_a.swarm_addr])
        key_a, key_b = anvil.keys[0], anvil.keys[1]
        registry = found(anvil.client(), None, [("A", key_a), ("B", key_b)])
        node_a = NodeRuntime(_config("A", key_a, registry, anvil.url, daemon_a, base))
        node_b = NodeRuntime(_config("B", key_b, registry, anvil.url, daemon_b, base))
        with TestClient(create_app(node_a)) as client_a, TestClient(create_app(node_b)) as client_b:
            a = Org(node_a, client_a, daemon_a, node_a.services.api_keys.create("test", tuple(Scope))[1])
            b = Org(node_b, client_b, daemon_b, node_b.services.api_keys.create("test", tuple(Scope))[1])
            used = _publish_dataset(b, "train")
            unrelated = _publish_dataset(b, "elsewhere")
            model = _post(a, "/v1/models", {"name": "m", "ancestors": [used["asset"]]})
            _wait_final(a, model["id"])
            yield Consortium(a, b, daemons, base, used, unrelated)


# -- helpers ----------------------------------------------------------------------------------------


def _post(org: Org, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = org.client.post(path, json=body, headers=org.headers())
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _wait_final(org: Org, entry_id: str) -> dict[str, Any]:
    return wait_entry(org.client, entry_id, headers=org.headers())


def _publish_dataset(org: Org, name: str) -> dict[str, Any]:
    """Upload a payload through `org`'s node and register a dataset with it: its content and record."""
    uploaded = org.client.post("/v1/payloads", content=os.urandom(20_000), headers=org.headers())
    assert uploaded.status_code == 201, uploaded.text
    content: dict[str, Any] = uploaded.json()
    registration = _wait_final(org, _post(org, "/v1/datasets", {"name": name, "content": content})["id"])
    return {"asset": registration["asset"], "content": content, "record_cid": registration["record_cid"]}


def _pinned(org: Org, cid: str) -> bool:
    async def check() -> bool:
        async with IpfsClient(org.daemon.api) as ipfs:
            return bool(await ipfs.is_pinned(cid))

    return asyncio.run(check())


def _wait_pinned(org: Org, *cids: str) -> None:
    eventually(
        lambda: all(_pinned(org, cid) for cid in cids) or None,
        f"{org.node.config.org} pins {', '.join(cids)}",
        interval=0.2,
    )


# -- tests ------------------------------------------------------------------------------------------


def test_a_pins_what_its_model_depends_on(consortium: Consortium) -> None:
    used = consortium.used
    _wait_pinned(consortium.a, used["content"]["cid"], used["record_cid"])

    def reported() -> dict[str, Any] | None:
        # The background process reports to the health endpoint about once a second.
        # A report may come from a pass that counted the documents before it reached their payloads.
        replication: dict[str, Any] = consortium.a.client.get("/v1/health").json()["replication"]
        counted = replication.get("pinned", 0) >= 1 and replication.get("payloads", 0) >= 1
        return replication if counted else None

    replication = eventually(reported, "A's health report counts the pins and the payloads")
    assert replication["policy"] == "dependencies"


def test_dependencies_policy_leaves_unrelated_assets_alone(consortium: Consortium) -> None:
    a, unrelated = consortium.a, consortium.unrelated
    # A replicator by A's policy over A's index knows the unrelated dataset and does not want it.
    assert a.node.services.query.asset(unrelated["asset"]) is not None
    replicator = Replicator(
        a.node.services.query,
        a.node.services.storage,
        a.node.services.address,
        "dependencies",
        consortium.base / "scratch.db",
    )
    try:
        wanted = replicator.wanted()
    finally:
        replicator.close()
    assert wanted and all(w.asset != unrelated["asset"] for w in wanted)
    assert not _pinned(a, unrelated["content"]["cid"])
    assert not _pinned(a, unrelated["record_cid"])


def test_all_policy_pins_every_other_organisations_records(consortium: Consortium) -> None:
    """A replicator by the `all` policy over A's index, pinning into a third daemon of the swarm."""
    daemon = consortium.daemons.start("all", bootstrap=[consortium.b.daemon.swarm_addr])
    wanted = [consortium.used, consortium.unrelated]

    async def replicate() -> list[bool]:
        async with IpfsClient(daemon.api) as ipfs:
            storage = StorageProvider(ipfs)
            replicator = Replicator(
                consortium.a.node.services.query,
                storage,
                consortium.a.node.services.address,
                "all",
                consortium.base / "all" / "replication.db",
                pin_timeout=WAIT,
            )
            try:
                pins = await replicator.step()
                # B's two documents and two payloads, and A's model's document: own records are
                # replicated too (a daemon can lose what its own node published).
                assert pins == 5, replicator.status()
                assert await replicator.step() == 0  # done is remembered
                cids = [cid for d in wanted for cid in (d["content"]["cid"], d["record_cid"])]
                return [await storage.is_pinned(CID.parse(cid)) for cid in cids]
            finally:
                replicator.close()

    assert all(asyncio.run(replicate()))


def test_payload_survives_its_publishers_storage(consortium: Consortium) -> None:
    a, b, used = consortium.a, consortium.b, consortium.used
    _wait_pinned(a, used["content"]["cid"], used["record_cid"])
    for daemon in consortium.daemons.daemons:
        if daemon is not a.daemon:  # B's, and the `all` test's, which holds copies too
            stop_process(daemon.process)
    assert not b.daemon.running()
    expected = ContentDigest.parse(used["content"]["digest"])

    async def fetch() -> bytes:
        async with IpfsClient(a.daemon.api) as ipfs:
            storage = StorageProvider(ipfs)
            cid = CID.parse(used["content"]["cid"])
            return bytes(
                await storage.fetch_bytes(cid, max_size=1 << 20, expected_digest=expected, timeout=10)
            )

    assert len(asyncio.run(fetch())) == used["content"]["size"]
