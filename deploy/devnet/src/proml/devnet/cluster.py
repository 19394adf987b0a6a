"""IPFS Cluster peers (`ipfs-cluster-service`, from the engines cache) as processes of the devnet and the
tests: one per organisation, over that organisation's Kubo, all in one CRDT cluster.

A peer's folder (`IPFS_CLUSTER_PATH`) is made once by `ipfs-cluster-service init --consensus crdt` with the
consortium's `CLUSTER_SECRET`; `identity.json` holds its peer id and key (kept across restarts, like a Kubo
repo's config). Then `service.json` is edited, every time, while the peer is stopped:

- every address on 127.0.0.1 with the given ports: the cluster swarm (`cluster.listen_multiaddress`, TCP
  only: the secret makes it a private network, which QUIC cannot carry), the REST API, the IPFS proxy and,
  if asked for, the pinning-service API (left out otherwise); `no_announce_multiaddress` emptied, since
  its default hides loopback addresses, the only ones a devnet has;
- `consensus.crdt.trusted_peers` = the organisations' cluster peers, never the default "*" (anyone with
  the secret could otherwise write the pinset); `cluster.peer_addresses` = the other peers, dialled at
  start and kept in the peerstore with permanent addresses;
- `ipfs_connector.ipfshttp.node_multiaddress` = the organisation's own Kubo RPC API;
- no mDNS and no relay hop: nothing to discover on loopback, nothing to relay for.

Shorter intervals than the defaults, so that a devnet converges in seconds, not minutes:

- `consensus.crdt.rebroadcast_interval` 1m -> 5s: a peer that missed a pinset update (down, late to
  join) gets the heads again soon;
- `cluster.pubsub.heartbeat_interval` 10s -> 1s: a new peer joins the gossip mesh, and receives the
  updates, within a second;
- `cluster.monitor_ping_interval` and `monitor.pubsubmon.check_interval` 15s -> 3s: a peer appears in
  (and leaves) the peerset sooner;
- `cluster.pin_recover_interval` 12m -> 30s: a pin that failed, or content a member lost
  (`kubo.wipe_content`), is pinned again within 30 s (each round asks Kubo for its pins once);
- `ipfs_connector.ipfshttp.connect_swarms_delay` 30s -> 2s: the peer has its Kubo connect to the others'
  Kubos right away (Kubo's Peering does it too).

`disable_repinning` stays true and the replication factors stay -1 (every pin on every peer): the devnet
keeps every organisation's copy, and a peer that is down gets its pins when it is back. Any trusted peer
can unpin: the chain, not the pinset, is the source of truth, and the node puts back what the chain names.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from proml.node.clients.cluster import ClusterClient, ClusterClientError, ClusterPeer

from . import engines
from .processes import (
    ProcessError,
    RunningProcess,
    choose_port,
    listens_on,
    log_since,
    private_dir,
    spawn,
    stop_process,
    wait_until,
    write_private,
)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
INIT_TIMEOUT = 60.0
START_ATTEMPTS = 3
_LISTEN_KEYS = ("http_listen_multiaddress", "listen_multiaddress")

# Faster than the defaults (see the module's docstring).
REBROADCAST_INTERVAL = "5s"
PUBSUB_HEARTBEAT = "1s"
MONITOR_INTERVAL = "3s"
PIN_RECOVER_INTERVAL = "30s"
CONNECT_SWARMS_DELAY = "2s"

# The caller's own IPFS Cluster settings (CLUSTER_RESTAPI_..., CLUSTER_SECRET) override service.json
# through environment variables: the peers get none of them.
_FOREIGN_ENV = ("CLUSTER_", "IPFS_CLUSTER_", "GOLOG_")

__all__ = [
    "ClusterDaemon",
    "ClusterFailed",
    "cluster_env",
    "configure_peer",
    "init_peer",
    "new_cluster_secret",
    "peer_id_of",
    "set_peer_addresses",
    "set_trusted_peers",
    "start_cluster_peer",
    "wait_connected",
]


class ClusterFailed(ProcessError):
    """`ipfs-cluster-service` failed to initialise or start, or did not get ready: the message quotes its
    log."""


def new_cluster_secret() -> str:
    """A new cluster secret: 32 random bytes, hex (the format `CLUSTER_SECRET` and service.json take)."""
    return secrets.token_hex(32)


def cluster_env(folder: Path, secret: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
    env["IPFS_CLUSTER_PATH"] = str(folder)
    if secret is not None:
        env["CLUSTER_SECRET"] = secret
    return env


# -- the peer's folder ------------------------------------------------------------------------------


def init_peer(
    folder: Path,
    secret: str,
    *,
    ipfs_api_multiaddr: str,
    listen_port: int,
    rest_port: int,
    proxy_port: int,
    pinsvc_port: int | None,
    trusted_peers: Sequence[str],
    peer_addrs: Sequence[str],
) -> str:
    """Make `folder` a CRDT cluster peer (once), then (every time) write its service.json as the module's
    docstring says; its peer id. `trusted_peers` are peer ids (this peer's own may be among them: a peer
    always trusts itself); `peer_addrs` are `/ip4/.../tcp/.../p2p/<id>` addresses of the other peers."""
    if len(bytes.fromhex(secret)) != 32:
        raise ValueError("the cluster secret is 32 bytes, hex (new_cluster_secret())")
    private_dir(folder)
    if not (folder / "service.json").is_file() or not (folder / "identity.json").is_file():
        result = subprocess.run(
            [str(engines.cluster_service()), "init", "--consensus", "crdt", "--force"],
            env=cluster_env(folder, secret),
            capture_output=True,
            text=True,
            timeout=INIT_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise ClusterFailed(
                f"`ipfs-cluster-service init` of {folder} failed: {(result.stderr or result.stdout).strip()}"
            )
    service = _read(folder / "service.json")
    cluster = service["cluster"]
    cluster["peername"] = folder.name
    cluster["secret"] = secret
    cluster["listen_multiaddress"] = [f"/ip4/127.0.0.1/tcp/{listen_port}"]
    cluster["announce_multiaddress"] = []
    cluster["no_announce_multiaddress"] = []
    cluster["enable_relay_hop"] = False
    cluster["mdns_interval"] = "0s"
    cluster["monitor_ping_interval"] = MONITOR_INTERVAL
    cluster["pin_recover_interval"] = PIN_RECOVER_INTERVAL
    cluster["replication_factor_min"] = -1
    cluster["replication_factor_max"] = -1
    cluster["disable_repinning"] = True
    cluster["peer_addresses"] = list(peer_addrs)
    cluster.setdefault("pubsub", {})["heartbeat_interval"] = PUBSUB_HEARTBEAT
    crdt = service["consensus"]["crdt"]
    crdt["trusted_peers"] = list(dict.fromkeys(trusted_peers))
    crdt["rebroadcast_interval"] = REBROADCAST_INTERVAL
    apis = service["api"]
    apis["restapi"]["http_listen_multiaddress"] = [f"/ip4/127.0.0.1/tcp/{rest_port}"]
    apis["ipfsproxy"]["listen_multiaddress"] = [f"/ip4/127.0.0.1/tcp/{proxy_port}"]
    apis["ipfsproxy"]["node_multiaddress"] = ipfs_api_multiaddr
    if pinsvc_port is None:
        apis.pop("pinsvcapi", None)
    else:
        defaults = apis.get("pinsvcapi") or dict(apis["restapi"])
        apis["pinsvcapi"] = {**defaults, "http_listen_multiaddress": [f"/ip4/127.0.0.1/tcp/{pinsvc_port}"]}
    ipfshttp = service["ipfs_connector"]["ipfshttp"]
    ipfshttp["node_multiaddress"] = ipfs_api_multiaddr
    ipfshttp["connect_swarms_delay"] = CONNECT_SWARMS_DELAY
    service.setdefault("monitor", {}).setdefault("pubsubmon", {})["check_interval"] = MONITOR_INTERVAL
    _write(folder / "service.json", service)
    return peer_id_of(folder)


def configure_peer(
    folder: Path, *, ipfs_api_multiaddr: str, trusted_peers: Sequence[str], peer_addrs: Sequence[str]
) -> None:
    """Rewrite what changes when organisations join or a Kubo moves: the Kubo API the peer uses, whom it
    trusts, and whom it dials at start (read when the peer starts)."""
    service = _read(folder / "service.json")
    service["api"]["ipfsproxy"]["node_multiaddress"] = ipfs_api_multiaddr
    service["ipfs_connector"]["ipfshttp"]["node_multiaddress"] = ipfs_api_multiaddr
    service["consensus"]["crdt"]["trusted_peers"] = list(dict.fromkeys(trusted_peers))
    service["cluster"]["peer_addresses"] = list(peer_addrs)
    _write(folder / "service.json", service)


def set_trusted_peers(folder: Path, peers: Sequence[str]) -> None:
    """Replace the peer's `trusted_peers` (for an organisation that joins; read when the peer starts)."""
    service = _read(folder / "service.json")
    service["consensus"]["crdt"]["trusted_peers"] = list(dict.fromkeys(peers))
    _write(folder / "service.json", service)


def set_peer_addresses(folder: Path, peer_addrs: Sequence[str]) -> None:
    """Replace the other peers' addresses the peer dials at start."""
    service = _read(folder / "service.json")
    service["cluster"]["peer_addresses"] = list(peer_addrs)
    _write(folder / "service.json", service)


def peer_id_of(folder: Path) -> str:
    """The peer id in the folder's identity.json."""
    return str(_read(folder / "identity.json")["id"])


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClusterFailed(f"no {path}: run init_peer on {path.parent} first") from None
    if not isinstance(doc, dict):
        raise ClusterFailed(f"{path} is not a JSON object")
    return doc


def _write(path: Path, doc: Mapping[str, Any]) -> None:
    write_private(path, json.dumps(doc, indent=2) + "\n")


def _ports(folder: Path) -> tuple[int, int]:
    """(REST API port, cluster swarm port) from service.json."""
    service = _read(folder / "service.json")
    rest = service["api"]["restapi"]["http_listen_multiaddress"]
    listen = service["cluster"]["listen_multiaddress"]
    first_rest = rest[0] if isinstance(rest, list) else rest
    first_listen = listen[0] if isinstance(listen, list) else listen
    return int(str(first_rest).rsplit("/", 1)[1]), int(str(first_listen).rsplit("/", 1)[1])


# -- the daemon -------------------------------------------------------------------------------------


@dataclass
class ClusterDaemon(RunningProcess):
    """One running `ipfs-cluster-service daemon`."""

    name: str
    folder: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    peer_id: str
    rest_port: int
    listen_port: int

    @property
    def rest_api(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def cluster_addr(self) -> str:
        """`/ip4/127.0.0.1/tcp/<port>/p2p/<peer id>`: where the other cluster peers reach it."""
        return f"/ip4/127.0.0.1/tcp/{self.listen_port}/p2p/{self.peer_id}"

    def http(self, timeout: float = 30.0) -> httpx.Client:
        """A client of the peer's REST API (the caller closes it)."""
        return httpx.Client(base_url=self.rest_api, timeout=timeout, trust_env=False)


def start_cluster_peer(
    name: str,
    folder: Path,
    *,
    log_path: Path,
    detach: bool = False,
    timeout: float = START_TIMEOUT,
    bootstrap: Sequence[str] = (),
) -> ClusterDaemon:
    """Start `ipfs-cluster-service daemon` on an initialised folder and wait until its REST API answers
    `GET /id` on the port the peer itself listens on. `bootstrap` (cluster multiaddrs) are joined at start
    without being trusted (`--no-trust`: trust is `trusted_peers` alone). On failure the peer is stopped
    and `ClusterFailed` quotes its log. A port of service.json that is taken is replaced by a free one
    (the cluster swarm's too: then the other peers' `peer_addresses` must follow, `set_peer_addresses`);
    the peer's `rest_port` and `listen_port` say which it got."""
    for attempt in range(1, START_ATTEMPTS + 1):
        _free_ports(folder)
        rest_port, listen_port = _ports(folder)
        command = [str(engines.cluster_service()), "daemon"]
        if bootstrap:
            command += ["--bootstrap", ",".join(bootstrap), "--no-trust"]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = log_path.stat().st_size if log_path.exists() else 0
        process = spawn(command, log_path, env=cluster_env(folder), detach=detach)
        try:
            peer_id = _ready(name, process, log_path, rest_port, timeout)
        except ClusterFailed:
            stop_process(process)
            # Another program took a port between the choice and the bind: choose again, once or twice.
            if "address already in use" not in log_since(log_path, offset) or attempt == START_ATTEMPTS:
                raise
            continue
        except BaseException:
            stop_process(process)
            raise
        return ClusterDaemon(
            name=name,
            folder=folder,
            process=process,
            log_path=log_path,
            peer_id=peer_id,
            rest_port=rest_port,
            listen_port=listen_port,
        )
    raise AssertionError("unreachable")


def wait_connected(rest_apis: Sequence[str], timeout: float = START_TIMEOUT) -> None:
    """Until every peer (by its REST API) lists all of them, each without an error: the cluster is one
    (a peer started a moment ago may not have reached the others yet)."""
    for api in rest_apis:
        wait_until(
            functools.partial(_sees_all, api, len(rest_apis)),
            what=f"the cluster peer at {api} to see all {len(rest_apis)}",
            timeout=timeout,
        )


def _sees_all(api: str, count: int) -> bool:
    async def peers() -> list[ClusterPeer]:
        async with ClusterClient(api, timeout=5.0) as client:
            return await client.peers()

    try:
        found = asyncio.run(peers())
    except ClusterClientError:
        return False
    return len(found) == count and not any(peer.error for peer in found)


def _free_ports(folder: Path) -> None:
    """Replace every port of service.json that is taken now by a free one (processes.choose_port)."""
    service = _read(folder / "service.json")
    slots = [(service["cluster"], "listen_multiaddress")]
    slots += [(api, key) for api in service["api"].values() for key in _LISTEN_KEYS if key in api]
    changed, taken = False, list[int]()
    for section, key in slots:
        addrs = section[key] if isinstance(section[key], list) else [section[key]]
        for i, addr in enumerate(addrs):
            head, port = str(addr).rsplit("/", 1)
            chosen = choose_port(int(port), taken)
            taken.append(chosen)
            if chosen != int(port):
                addrs[i], changed = f"{head}/{chosen}", True
        section[key] = addrs
    if changed:
        _write(folder / "service.json", service)


def _ready(
    name: str, process: subprocess.Popen[bytes], log_path: Path, rest_port: int, timeout: float
) -> str:
    answer: dict[str, Any] = {}

    def answers() -> bool:
        if not listens_on(process.pid, rest_port):
            return False
        try:
            response = httpx.get(f"http://127.0.0.1:{rest_port}/id", timeout=5.0, trust_env=False)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        answer.update(response.json())
        return True

    try:
        wait_until(
            answers, what=f"IPFS Cluster peer {name}", timeout=timeout, process=process, log_path=log_path
        )
    except ProcessError as exc:
        raise ClusterFailed(str(exc)) from None
    return str(answer["id"])
