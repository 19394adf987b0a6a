"""Kubo in a private network and IPFS Cluster (CRDT) over it, as the devnet runs them: real processes in
temporary folders, on free ports, stopped by PID whatever the test did.

- three Kubos on one swarm key find each other through `Peering.Peers` alone and fetch each other's
  blocks; a fourth with another key can neither connect nor fetch;
- three cluster peers, one secret, `trusted_peers` = the three: a pin through one peer's REST API is pinned
  on every Kubo, an unpin through another removes it everywhere (any trusted member can: the chain, not
  the pinset, is the source of truth);
- a Kubo that lost its content (stopped, blocks and datastore deleted, identity kept) gets the pinset back
  from the others through the cluster's recover;
- deleting a repo deletes its identity, which is why the devnet keeps the config (`kubo.wipe_content`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from proml.core.content.cid import CHUNK_SIZE, cid_of_bytes
from proml.devnet import cluster, kubo
from proml.devnet.engines import cluster_service, ipfs
from proml.devnet.processes import choose_port, stop_process, write_swarm_key
from proml.node.clients.ipfs import IpfsClient, IpfsError
from tests.integration.polling import eventually
from tests.payloads import prng_chunks

T = TypeVar("T")
WAIT = 60.0
NAMES = ("a", "b", "c")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def on(daemon: kubo.KuboDaemon, fn: Callable[[IpfsClient], Awaitable[T]]) -> T:
    async def call() -> T:
        async with daemon.client() as client:
            return await fn(client)

    return run(call())


def pinned(daemon: kubo.KuboDaemon, cid: str) -> bool:
    return on(daemon, lambda ipfs: ipfs.pin_ls(type="recursive")).get(cid) == "recursive"


@dataclass
class Swarm:
    """Kubos of one private network, each started with the others in its `Peering.Peers`."""

    base: Path
    stack: ExitStack
    key: Path
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    daemons: dict[str, kubo.KuboDaemon] = field(default_factory=dict)
    taken: list[int] = field(default_factory=list)

    def prepare(self, name: str) -> None:
        """A repo and fixed ports for `name`, so that the others can name it before it runs."""
        api, swarm = choose_port(0, self.taken), 0
        self.taken.append(api)
        swarm = choose_port(0, self.taken)
        self.taken.append(swarm)
        self.ports[name] = (api, swarm)
        self.ids[name] = kubo.init_repo(self.base / name, self.key, api, None, swarm)

    def peers_of(self, name: str) -> list[kubo.PeerAddress]:
        return [
            (self.ids[other], f"/ip4/127.0.0.1/tcp/{self.ports[other][1]}")
            for other in self.ids
            if other != name
        ]

    def start(self, name: str) -> kubo.KuboDaemon:
        api, swarm = self.ports[name]
        daemon = kubo.start_kubo(
            name,
            self.base / name,
            self.key,
            log_path=self.base / "logs" / f"kubo-{name}.log",
            api_port=api,
            swarm_port=swarm,
            peers=self.peers_of(name),
        )
        self.stack.callback(stop_process, daemon.process)
        self.daemons[name] = daemon
        return daemon


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swarm]:
    ipfs()  # the binary, or a ToolMissing that says how to build it
    base = tmp_path_factory.mktemp("kubo")
    with ExitStack() as stack:
        swarm = Swarm(base, stack, write_swarm_key(base / "swarm.key"))
        for name in NAMES:
            swarm.prepare(name)
        for name in NAMES:
            swarm.start(name)
        yield swarm


def connected_to(daemon: kubo.KuboDaemon) -> set[str]:
    return {p.peer for p in on(daemon, lambda ipfs: ipfs.swarm_peers())}


def test_kubos_find_each_other_through_peering_and_fetch_each_others_blocks(swarm: Swarm) -> None:
    for name, daemon in swarm.daemons.items():
        others = {swarm.ids[o] for o in NAMES if o != name}
        eventually(lambda d=daemon, o=others: o <= connected_to(d) or None, f"{name} peers with {others}")
        assert daemon.peer_id == swarm.ids[name]
        assert daemon.swarm_addr == f"/ip4/127.0.0.1/tcp/{swarm.ports[name][1]}/p2p/{daemon.peer_id}"
    data = b"".join(prng_chunks(3 * CHUNK_SIZE + 11, seed=3))
    cid = on(swarm.daemons["a"], lambda ipfs: ipfs.add(data, cid_version=1, pin=False)).cid
    assert cid == cid_of_bytes(data, cid_version=1)
    fetched = on(swarm.daemons["c"], lambda ipfs: ipfs.cat_bytes(cid, timeout=30))
    assert fetched == data


def test_a_kubo_with_another_swarm_key_cannot_connect_or_fetch(swarm: Swarm, tmp_path: Path) -> None:
    a = swarm.daemons["a"]
    inside = on(a, lambda ipfs: ipfs.add(b"members only\n")).cid
    other_key = write_swarm_key(tmp_path / "other.key")
    # It even names A as a peer to keep: the handshake fails all the same.
    outsider = kubo.start_kubo(
        "outsider",
        tmp_path / "outsider",
        other_key,
        log_path=tmp_path / "outsider.log",
        api_port=0,
        swarm_port=0,
        peers=[(a.peer_id, a.swarm_addr)],
    )
    try:
        outside = on(outsider, lambda ipfs: ipfs.add(b"outside\n")).cid

        async def attempts() -> list[BaseException | object]:
            async with outsider.client() as out, a.client() as member:
                return list(
                    await asyncio.gather(
                        out.swarm_connect(a.swarm_addr, timeout=4),
                        member.swarm_connect(outsider.swarm_addr, timeout=4),
                        out.cat_bytes(inside, timeout=3),
                        member.cat_bytes(outside, timeout=3),
                        return_exceptions=True,
                    )
                )

        results = run(attempts())
        assert all(isinstance(r, IpfsError) for r in results), results
        assert outsider.peer_id not in connected_to(a)
        assert connected_to(outsider) == set()
    finally:
        outsider.stop()


def test_deleting_a_repo_deletes_the_peer_identity(tmp_path: Path) -> None:
    """Why the devnet wipes blocks and datastore, never the config (kubo.wipe_content)."""
    key = write_swarm_key(tmp_path / "swarm.key")
    first = kubo.init_repo(tmp_path / "r", key, 1, None, 2)
    assert kubo.init_repo(tmp_path / "r", key, 3, None, 4) == first  # idempotent: the same identity
    kubo.wipe_content(tmp_path / "r")
    assert kubo.peer_id_of(tmp_path / "r") == first
    for child in sorted((tmp_path / "r").rglob("*"), reverse=True):
        child.unlink() if not child.is_dir() else child.rmdir()
    assert kubo.init_repo(tmp_path / "r", key, 1, None, 2) != first


# -- the cluster ------------------------------------------------------------------------------------


@dataclass
class Cluster:
    base: Path
    secret: str
    peers: dict[str, cluster.ClusterDaemon]
    taken: list[int]

    def port(self) -> int:
        chosen = choose_port(0, self.taken)
        self.taken.append(chosen)
        return chosen

    def rest(self, name: str, method: str, path: str, **params: Any) -> httpx.Response:
        with self.peers[name].http() as http:
            return http.request(method, path, params=params or None)


def _ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def consortium_cluster(swarm: Swarm) -> Iterator[Cluster]:
    cluster_service()
    base = swarm.base / "cluster"
    secret = cluster.new_cluster_secret()
    taken = list(swarm.taken)

    def port() -> int:
        chosen = choose_port(0, taken)
        taken.append(chosen)
        return chosen

    ports = {name: (port(), port(), port()) for name in NAMES}  # listen, REST, proxy
    ids = {
        name: cluster.init_peer(
            base / name,
            secret,
            ipfs_api_multiaddr=swarm.daemons[name].api_multiaddr,
            listen_port=ports[name][0],
            rest_port=ports[name][1],
            proxy_port=ports[name][2],
            pinsvc_port=None,
            trusted_peers=[],
            peer_addrs=[],
        )
        for name in NAMES
    }
    for name in NAMES:
        cluster.configure_peer(
            base / name,
            ipfs_api_multiaddr=swarm.daemons[name].api_multiaddr,
            trusted_peers=list(ids.values()),
            peer_addrs=[f"/ip4/127.0.0.1/tcp/{ports[o][0]}/p2p/{ids[o]}" for o in NAMES if o != name],
        )
    with ExitStack() as stack:
        peers = {}
        for name in NAMES:
            peer = cluster.start_cluster_peer(name, base / name, log_path=base / f"{name}.log")
            stack.callback(stop_process, peer.process)
            peers[name] = peer
        result = Cluster(base, secret, peers, taken)
        for name in NAMES:
            eventually(
                lambda n=name: len(_ndjson(result.rest(n, "GET", "/peers"))) == len(NAMES) or None,
                f"cluster peer {name} sees all three",
                timeout=WAIT,
                interval=0.2,
            )
        yield result


def test_trusted_peers_are_exactly_the_organisations(swarm: Swarm, consortium_cluster: Cluster) -> None:
    ids = {peer.peer_id for peer in consortium_cluster.peers.values()}
    for peer in consortium_cluster.peers.values():
        service = json.loads((peer.folder / "service.json").read_text())
        assert set(service["consensus"]["crdt"]["trusted_peers"]) == ids
        assert "*" not in service["consensus"]["crdt"]["trusted_peers"]
        assert peer.peer_id == cluster.peer_id_of(peer.folder)
        ident = consortium_cluster.rest(peer.name, "GET", "/id").json()
        assert ident["id"] == peer.peer_id
        assert ident["ipfs"]["id"] == swarm.daemons[peer.name].peer_id  # over its own organisation's Kubo


def _status(cl: Cluster, name: str, cid: str) -> dict[str, str]:
    response = cl.rest(name, "GET", f"/pins/{cid}")
    if response.status_code != 200:
        return {}
    return {peer: info["status"] for peer, info in response.json()["peer_map"].items()}


def _all_pinned(statuses: dict[str, str]) -> dict[str, str] | None:
    return statuses if statuses and set(statuses.values()) == {"pinned"} else None


def test_a_pin_through_one_peer_is_pinned_on_every_kubo_and_an_unpin_removes_it(
    swarm: Swarm, consortium_cluster: Cluster
) -> None:
    data = b"".join(prng_chunks(2 * CHUNK_SIZE + 1, seed=21))
    cid = str(on(swarm.daemons["a"], lambda ipfs: ipfs.add(data, cid_version=1, pin=False)).cid)
    answer = consortium_cluster.rest(
        "b", "POST", f"/pins/{cid}", **{"replication-min": -1, "replication-max": -1}
    )
    assert answer.status_code == 200, answer.text
    for name in NAMES:
        eventually(
            lambda n=name: pinned(swarm.daemons[n], cid) or None, f"{name}'s Kubo pins {cid}", WAIT, 0.2
        )
    assert on(swarm.daemons["c"], lambda ipfs: ipfs.cat_bytes(cid)) == data
    statuses = eventually(
        lambda: _all_pinned(_status(consortium_cluster, "a", cid)),
        "the cluster reports the pin on every peer",
        WAIT,
        0.2,
    )
    assert set(statuses) == {peer.peer_id for peer in consortium_cluster.peers.values()}

    # A rogue member: any trusted peer may unpin, everywhere (the node's reconciler puts it back).
    gone = consortium_cluster.rest("c", "DELETE", f"/pins/{cid}")
    assert gone.status_code == 200, gone.text
    for name in NAMES:
        eventually(
            lambda n=name: (not pinned(swarm.daemons[n], cid)) or None,
            f"{name}'s Kubo unpins {cid}",
            WAIT,
            0.2,
        )
    assert consortium_cluster.rest("a", "GET", f"/allocations/{cid}").status_code == 404


def test_a_kubo_that_lost_its_content_gets_the_pinset_back(swarm: Swarm, consortium_cluster: Cluster) -> None:
    data = b"".join(prng_chunks(5 * CHUNK_SIZE + 3, seed=33))
    cid = str(on(swarm.daemons["b"], lambda ipfs: ipfs.add(data, cid_version=1, pin=False)).cid)
    answer = consortium_cluster.rest(
        "a", "POST", f"/pins/{cid}", **{"replication-min": -1, "replication-max": -1}
    )
    assert answer.status_code == 200, answer.text
    for name in NAMES:
        eventually(
            lambda n=name: pinned(swarm.daemons[n], cid) or None, f"{name}'s Kubo pins {cid}", WAIT, 0.2
        )

    c = swarm.daemons["c"]
    assert c.stop() == 0, c.log()
    kubo.wipe_content(c.repo)
    restarted = swarm.start("c")
    assert restarted.peer_id == c.peer_id  # the identity stayed
    assert not pinned(restarted, cid)
    assert not has_block_locally(restarted, cid)

    # The cluster peer of C notices (its Kubo answers again, without the pin) and recover pins it anew.
    recovered = consortium_cluster.rest("a", "POST", f"/pins/{cid}/recover")
    assert recovered.status_code == 200, recovered.text
    eventually(lambda: pinned(restarted, cid) or None, "C's Kubo pins the content again", WAIT, 0.5)
    assert on(restarted, lambda ipfs: ipfs.cat_bytes(cid)) == data
    eventually(
        lambda: _all_pinned(_status(consortium_cluster, "c", cid)),
        "the cluster reports the pin on every peer again",
        WAIT,
        0.2,
    )


def has_block_locally(daemon: kubo.KuboDaemon, cid: str) -> bool:
    """Is the block in the repo? Asked offline, so that Kubo does not fetch it from the others."""
    with httpx.Client(base_url=daemon.api, timeout=10, trust_env=False) as http:
        response = http.post("/api/v0/block/stat", params={"arg": cid, "offline": "true"})
    return response.status_code == 200


def test_a_peer_with_the_secret_but_not_trusted_cannot_write_the_pinset(
    swarm: Swarm, consortium_cluster: Cluster, tmp_path: Path
) -> None:
    """The cluster secret only lets a peer into the cluster's swarm; what it writes into the CRDT pinset
    counts only if the organisations' peers trust it, and they trust exactly each other."""
    own_kubo = kubo.start_kubo(
        "rogue", tmp_path / "kubo", swarm.key, log_path=tmp_path / "kubo.log", api_port=0, swarm_port=0
    )
    with ExitStack() as stack:
        stack.callback(stop_process, own_kubo.process)
        members = consortium_cluster.peers
        folder = consortium_cluster.base / "rogue"
        rogue_id = cluster.init_peer(
            folder,
            consortium_cluster.secret,
            ipfs_api_multiaddr=own_kubo.api_multiaddr,
            listen_port=consortium_cluster.port(),
            rest_port=consortium_cluster.port(),
            proxy_port=consortium_cluster.port(),
            pinsvc_port=None,
            trusted_peers=[peer.peer_id for peer in members.values()],
            peer_addrs=[peer.cluster_addr for peer in members.values()],
        )
        cluster.set_trusted_peers(folder, [*(peer.peer_id for peer in members.values()), rogue_id])
        rogue = cluster.start_cluster_peer("rogue", folder, log_path=tmp_path / "rogue.log")
        stack.callback(stop_process, rogue.process)
        consortium_cluster.peers["rogue"] = rogue
        try:
            member_ids = {peer.peer_id for name, peer in members.items() if name != "rogue"}
            eventually(
                lambda: (
                    member_ids
                    <= {p["id"] for p in _ndjson(consortium_cluster.rest("rogue", "GET", "/peers"))}
                    or None
                ),
                "the rogue peer is in the cluster's swarm",
                WAIT,
                0.2,
            )
            data = b"".join(prng_chunks(CHUNK_SIZE + 9, seed=66))
            planted = str(on(own_kubo, lambda ipfs: ipfs.add(data, cid_version=1, pin=False)).cid)
            answer = consortium_cluster.rest(
                "rogue", "POST", f"/pins/{planted}", **{"replication-min": -1, "replication-max": -1}
            )
            assert answer.status_code == 200, answer.text
            # It is in the rogue's own pinset (its own Kubo pins it)...
            eventually(lambda: pinned(own_kubo, planted) or None, "the rogue pins its CID", WAIT, 0.2)
            # ...and a member's pin after it reaches every member: the members have had the rogue's update.
            legit = str(on(swarm.daemons["a"], lambda ipfs: ipfs.add(b"after the rogue\n", pin=False)).cid)
            answer = consortium_cluster.rest(
                "a", "POST", f"/pins/{legit}", **{"replication-min": -1, "replication-max": -1}
            )
            assert answer.status_code == 200, answer.text
            for name in NAMES:
                eventually(
                    lambda n=name: pinned(swarm.daemons[n], legit) or None, f"{name} pins {legit}", WAIT, 0.2
                )
            for name in NAMES:
                assert not pinned(swarm.daemons[name], planted), name
                assert consortium_cluster.rest(name, "GET", f"/allocations/{planted}").status_code == 404
        finally:
            del consortium_cluster.peers["rogue"]
