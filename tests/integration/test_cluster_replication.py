"""Replication by IPFS Cluster with the chain as the source of truth, on real processes: three
organisations, each with its own Kubo and IPFS Cluster peer (one private swarm, one CRDT cluster), on one
anvil.

B publishes through its node (a NodeRuntime: the API in process, the background process with its own
replicator). A and C each have a replicator in process, over their own index of the chain, whose passes the
tests run themselves. The cluster peers' own periodic recovery is turned off (`pin_recover_interval` of a
day), so that whatever comes back comes back by a replicator's doing.

The tests share the consortium and run in file order.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from proml.contracts import calls
from proml.core.content.cid import CID
from proml.core.content.digest import ContentDigest
from proml.core.workflow import AssetKind
from proml.devnet import cluster as clusters
from proml.devnet import kubo
from proml.devnet.anvil import running_anvil
from proml.devnet.consortium import found, provider
from proml.devnet.processes import free_port, write_swarm_key
from proml.node.api.app import create_app
from proml.node.clients.chain import ChainClient
from proml.node.clients.cluster import ClusterClient
from proml.node.clients.ipfs import IpfsClient
from proml.node.config import NodeConfig
from proml.node.providers.blockchain import BlockchainProvider
from proml.node.providers.signer import Signer
from proml.node.providers.storage import StorageProvider
from proml.node.runtime import NodeRuntime
from proml.node.services.api_keys import Scope
from proml.node.services.index import Index
from proml.node.services.query import Query
from proml.node.services.replicate import Census, Replicator
from tests.integration.keystores import write_keystore
from tests.integration.polling import eventually, wait_entry

NAMES = ("A", "B", "C")
WAIT = 60.0
# The cluster peers' own recovery, every day: the tests see what the replicators do.
NO_PERIODIC_RECOVERY = "24h"


@dataclass
class Org:
    name: str
    key: bytes
    kubos: dict[str, kubo.KuboDaemon]  # every organisation's, as running now (the fixture stops them)
    peer: clusters.ClusterDaemon
    base: Path
    index: Index | None = None  # A's and C's: their replicator's view of the chain

    @property
    def kubo(self) -> kubo.KuboDaemon:
        return self.kubos[self.name]

    @property
    def query(self) -> Query:
        assert self.index is not None
        return Query(self.index)

    @asynccontextmanager
    async def replicator(self, *, timeout: float = 10.0, interval: float = 0.2) -> AsyncIterator[Replicator]:
        """This organisation's replicator over its own Kubo and cluster peer (its clients made for the
        running event loop); its state file is kept from one use to the next."""
        assert self.index is not None
        self.index.sync()
        async with IpfsClient(self.kubo.api) as ipfs, ClusterClient(self.peer.rest_api) as cluster:
            storage = StorageProvider(ipfs, cluster=cluster)
            address = str(Signer(self.key).address)
            replicator = Replicator(
                self.query,
                storage,
                address,
                "all",
                self.base / "replication.db",
                cluster=cluster,
                interval=interval,
                timeout=timeout,
            )
            try:
                yield replicator
            finally:
                replicator.close()


@dataclass
class Consortium:
    orgs: dict[str, Org]
    node: NodeRuntime  # B's
    client: TestClient
    token: str
    swarm_key: Path
    chain_url: str
    registry: str
    published: dict[str, Any]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _start_kubos(base: Path, swarm_key: Path, daemons: dict[str, kubo.KuboDaemon]) -> None:
    ports = {name: (free_port(), free_port()) for name in NAMES}
    ids = {
        name: kubo.init_repo(base / name / "kubo", swarm_key, api, None, swarm)
        for name, (api, swarm) in ports.items()
    }
    for name, (api, swarm) in ports.items():
        peers = [(ids[o], f"/ip4/127.0.0.1/tcp/{ports[o][1]}") for o in NAMES if o != name]
        daemons[name] = _start_kubo(name, base, swarm_key, api, swarm, peers)


def _start_kubo(
    name: str, base: Path, swarm_key: Path, api: int, swarm: int, peers: list[tuple[str, str]]
) -> kubo.KuboDaemon:
    return kubo.start_kubo(
        name,
        base / name / "kubo",
        swarm_key,
        log_path=base / name / "kubo.log",
        api_port=api,
        swarm_port=swarm,
        peers=peers,
    )


def _start_cluster(base: Path, daemons: dict[str, kubo.KuboDaemon]) -> dict[str, clusters.ClusterDaemon]:
    secret = clusters.new_cluster_secret()
    ports = {name: (free_port(), free_port(), free_port()) for name in NAMES}

    def init(name: str, trusted: list[str], addrs: list[str]) -> str:
        listen, rest, proxy = ports[name]
        return clusters.init_peer(
            base / name / "cluster",
            secret,
            ipfs_api_multiaddr=daemons[name].api_multiaddr,
            listen_port=listen,
            rest_port=rest,
            proxy_port=proxy,
            pinsvc_port=None,
            trusted_peers=trusted,
            peer_addrs=addrs,
        )

    ids = {name: init(name, [], []) for name in NAMES}
    for name in NAMES:
        others = [f"/ip4/127.0.0.1/tcp/{ports[o][0]}/p2p/{ids[o]}" for o in NAMES if o != name]
        init(name, list(ids.values()), others)
        service_json = base / name / "cluster" / "service.json"
        service = json.loads(service_json.read_text())
        service["cluster"]["pin_recover_interval"] = NO_PERIODIC_RECOVERY
        service_json.write_text(json.dumps(service, indent=2))
    return {
        name: clusters.start_cluster_peer(name, base / name / "cluster", log_path=base / name / "cluster.log")
        for name in NAMES
    }


def _cluster_peers(peer: clusters.ClusterDaemon) -> int:
    with peer.http() as http:
        return len(http.get("/id").json().get("cluster_peers") or [])


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium]:
    base = tmp_path_factory.mktemp("cluster-replication")
    swarm_key = write_swarm_key(base / "swarm.key")
    with ExitStack() as stack, running_anvil(base / "anvil") as anvil:
        daemons: dict[str, kubo.KuboDaemon] = {}
        stack.callback(lambda: [d.stop() for d in daemons.values()])
        _start_kubos(base, swarm_key, daemons)
        peers = _start_cluster(base, daemons)
        for peer in peers.values():
            stack.callback(peer.stop)
        for peer in peers.values():
            eventually(lambda p=peer: True if _cluster_peers(p) == 3 else None, f"{peer.name} sees 3 peers")
        keys = dict(zip(NAMES, anvil.keys[1:4], strict=True))
        registry = found(anvil.client(), None, [(name, keys[name]) for name in NAMES])
        orgs = {name: Org(name, keys[name], daemons, peers[name], base / name) for name in NAMES}
        for name in ("A", "C"):
            reader = BlockchainProvider.reader(
                anvil.client(), anvil.chain_id, str(Signer(keys[name]).address)
            )
            orgs[name].index = Index(base / name / "index.db", reader, registry, confirmations=1)
            stack.callback(orgs[name].index.close)
        keystore, passphrase_file = write_keystore(base / "B" / "key", keys["B"])
        node = NodeRuntime(
            NodeConfig(
                org="B",
                data_dir=base / "B" / "data",
                keystore=keystore,
                passphrase_file=passphrase_file,
                chain_url=anvil.url,
                registry=registry,
                ipfs_api=daemons["B"].api,
                cluster_api=peers["B"].rest_api,
                confirmations=1,  # anvil automines: no block comes after the last transaction
            )
        )
        with TestClient(create_app(node)) as client:
            token = node.services.api_keys.create("test", tuple(Scope))[1]
            yield Consortium(orgs, node, client, token, swarm_key, anvil.url, registry, {})


# -- helpers ----------------------------------------------------------------------------------------


def _publish(consortium: Consortium, name: str, size: int = 50_000) -> dict[str, Any]:
    """Upload a payload through B's node and register a dataset with it: its content and record."""
    headers = consortium.headers()
    uploaded = consortium.client.post("/v1/payloads", content=os.urandom(size), headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    content: dict[str, Any] = uploaded.json()
    body = {"name": name, "content": content}
    accepted = consortium.client.post("/v1/datasets", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    entry = wait_entry(consortium.client, accepted.json()["id"], headers=headers)
    return {"asset": entry["asset"], "content": content, "record_cid": entry["record_cid"]}


def _pinned(org: Org, cid: str) -> bool:
    async def check() -> bool:
        async with IpfsClient(org.kubo.api) as ipfs:
            return cid in await ipfs.pin_ls(type="recursive")

    return asyncio.run(check())


def _in_pinset(org: Org, cid: str) -> bool:
    with org.peer.http() as http:
        return http.get(f"/allocations/{cid}").status_code == 200


def _held_everywhere(consortium: Consortium, *cids: str) -> None:
    for org in consortium.orgs.values():
        eventually(
            lambda o=org: True if all(_pinned(o, cid) for cid in cids) else None,
            f"{org.name}'s Kubo holds {', '.join(cids)}",
            timeout=WAIT,
            interval=0.2,
        )


def _census(org: Org) -> Census:
    async def look() -> Census:
        async with org.replicator() as replicator:
            return await replicator.census()

    return asyncio.run(look())


def _step(org: Org) -> int:
    async def one() -> int:
        async with org.replicator() as replicator:
            return await replicator.step()

    return asyncio.run(one())


# -- tests ------------------------------------------------------------------------------------------


def test_what_a_node_publishes_joins_the_pinset_on_every_peer(consortium: Consortium) -> None:
    published = consortium.published["first"] = _publish(consortium, "first")
    cid, record = published["content"]["cid"], published["record_cid"]
    b = consortium.orgs["B"]
    with b.peer.http() as http:
        allocation = http.get(f"/allocations/{cid}").json()
    assert (allocation["replication_factor_min"], allocation["replication_factor_max"]) == (-1, -1)
    # The submitter pins the record documents it stored in a second loop, right after.
    eventually(lambda: True if _in_pinset(b, record) else None, "the record document is in the pinset")
    _held_everywhere(consortium, cid, record)
    # A's replicator finds the chain's CIDs held, A's own copy included.
    assert _step(consortium.orgs["A"]) == 0
    census = _census(consortium.orgs["A"])
    assert census.recorded >= 2 and census.missing_here == 0 and census.not_in_pinset == 0


def test_a_payload_a_member_unpins_through_the_cluster_is_pinned_again(consortium: Consortium) -> None:
    a, c = consortium.orgs["A"], consortium.orgs["C"]
    cid = consortium.published["first"]["content"]["cid"]
    with c.peer.http() as http:  # C, a rogue member, through its own cluster peer
        assert http.delete(f"/pins/{cid}").status_code == 200
    assert not _in_pinset(c, cid)

    def repaired() -> bool | None:
        _step(a)  # B's node repairs it too: A's pass re-pins it unless B's did first
        return True if _in_pinset(c, cid) else None

    eventually(repaired, "the payload is back in the pinset", timeout=WAIT, interval=0.2)
    with a.peer.http() as http:
        allocation = http.get(f"/allocations/{cid}").json()
    assert allocation["replication_factor_min"] == -1
    _held_everywhere(consortium, cid)


def test_a_kubo_that_lost_its_blocks_is_filled_again(consortium: Consortium) -> None:
    a, c = consortium.orgs["A"], consortium.orgs["C"]
    published = consortium.published["first"]
    cid = published["content"]["cid"]
    api_port, swarm_port = a.kubo.api_port, a.kubo.swarm_port
    a.kubo.stop()
    kubo.wipe_content(a.kubo.repo)  # its repository's content is gone; its identity is kept

    async def fetch_from_c() -> bytes:
        async with IpfsClient(c.kubo.api) as ipfs:
            expected = ContentDigest.parse(published["content"]["digest"])
            return await StorageProvider(ipfs).fetch_bytes(
                CID.parse(cid), max_size=1 << 20, expected_digest=expected, timeout=30
            )

    assert len(asyncio.run(fetch_from_c())) == published["content"]["size"]  # meanwhile, from C's Kubo
    peers = [(o.kubo.peer_id, f"/ip4/127.0.0.1/tcp/{o.kubo.swarm_port}") for o in (consortium.orgs["B"], c)]
    a.kubos["A"] = _start_kubo("A", a.base.parent, consortium.swarm_key, api_port, swarm_port, peers)
    assert not _pinned(a, cid)

    def missing() -> Census | None:
        try:
            census = _census(a)
        except Exception:  # the cluster peer reconnecting to its Kubo
            return None
        return census if census.missing_here > 0 else None

    before = eventually(missing, "A's census sees what its Kubo lost", timeout=WAIT, interval=0.5)
    assert before.pinned < before.recorded
    assert _step(a) >= 1  # recoveries on A's cluster peer
    eventually(lambda: True if _pinned(a, cid) else None, "A's Kubo holds the payload again", timeout=WAIT)
    eventually(
        lambda: True if _census(a).missing_here == 0 else None, "A holds every recorded CID", timeout=WAIT
    )


def test_a_record_whose_document_nobody_holds_delays_nothing(consortium: Consortium) -> None:
    a, c = consortium.orgs["A"], consortium.orgs["C"]
    # C records a dataset whose document it never stored anywhere: nobody can serve it.
    lost = os.urandom(300)
    lost_cid = CID.of_block(lost, codec=0x55)
    sender = provider(ChainClient(consortium.chain_url), c.key, ChainClient(consortium.chain_url).chain_id())
    data = calls.register(
        AssetKind.DATASET, os.urandom(32), hashlib.sha256(lost).digest(), lost_cid.to_bytes(), []
    )
    sender.wait_for_receipt(sender.send(consortium.registry, data), confirmations=1)
    other = consortium.published["other"] = _publish(consortium, "other")
    cid = other["content"]["cid"]
    _held_everywhere(consortium, cid, other["record_cid"])

    async def lose_at_a() -> None:
        async with IpfsClient(a.kubo.api) as ipfs:
            await ipfs.pin_rm(cid)  # A's Kubo drops it: only A's replicator can have A's peer recover it

    asyncio.run(lose_at_a())
    assert not _pinned(a, cid)

    async def run_a() -> tuple[bool, Census]:
        # A long timeout: the lost document is still being looked for when the rest is done.
        async with a.replicator(timeout=600) as replicator:
            stop = asyncio.Event()
            task = asyncio.create_task(replicator.run(stop))
            try:
                for _ in range(int(WAIT / 0.2)):
                    census = await replicator.census()
                    caught_up = census.missing_here == census.not_in_pinset == 0 and census.unverified == 1
                    if caught_up and await _pinned_async(a, cid):
                        return replicator.status()["in_flight"] >= 1, census
                    await asyncio.sleep(0.2)
                raise AssertionError(f"A did not catch up: {replicator.status()}")
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)

    still_looking, census = asyncio.run(run_a())
    assert still_looking  # the lost document's fetch had not ended when A held the payload again
    assert census.unverified == 1 and census.recorded >= 4
    assert _pinned(a, cid) and _in_pinset(a, other["record_cid"])


def test_health_reports_the_cluster_and_what_this_peer_holds(consortium: Consortium) -> None:
    def settled() -> dict[str, Any] | None:
        health: dict[str, Any] = consortium.client.get("/v1/health").json()
        cluster = health["cluster"]
        return health if cluster["missing_here"] == 0 and cluster["unverified"] == 1 else None

    health = eventually(settled, "B's health counts every recorded CID as held", timeout=WAIT, interval=0.5)
    cluster = health["cluster"]
    assert (cluster["configured"], cluster["ok"], cluster["peers"]) == (True, True, 3), cluster
    assert cluster["recorded"] >= 4 and cluster["pinned"] == cluster["recorded"]
    assert cluster["pinset"] >= cluster["recorded"] and cluster["not_in_pinset"] == 0
    assert health["ipfs"]["ok"] and health["ipfs"]["peers"] >= 2
    assert health["status"] == "ok"


async def _pinned_async(org: Org, cid: str) -> bool:
    async with IpfsClient(org.kubo.api) as ipfs:
        return cid in await ipfs.pin_ls(type="recursive")
