"""Kubo, the IPFS daemon (built into the engines cache, `proml.devnet.engines.ipfs()`), as a process of the
devnet and of the tests: a repo configured for a private network on loopback, started, checked, stopped.

A repo is made once by `ipfs init --profile=test` (loopback addresses, no bootstrap peers, no mDNS, AutoConf
and AutoTLS off) and then configured by editing its `config` file while no daemon runs (one `ipfs config`
call per key costs a process start each; the file is Kubo's own JSON):

- `Addresses.API`, `Addresses.Gateway` (none unless asked for) and `Addresses.Swarm` on 127.0.0.1 and fixed
  ports: the other organisations' `Peering.Peers` and the cluster peer name them;
- the consortium's `swarm.key` in the repo, and the daemon runs with `LIBP2P_FORCE_PNET=1`, so that it
  refuses to start rather than join the public network if the key is missing;
- only TCP: QUIC, WebTransport and WebRTC cannot carry a private network (Kubo refuses to start with them
  on), and WebSocket would share the TCP listener, which a private network cannot either;
- `Routing.Type=dht` (the default, `auto`, adds the public HTTP routers), `Peering.Peers` = the other
  organisations' daemons, which Kubo keeps connected (and reconnects) whatever its connection manager does;
  `Provide.Enabled=false`: bitswap asks those connected peers directly, so announcing every block on the
  DHT would only cost CPU (docs/ipfs.md);
- no relays, no hole punching, no NAT port mapping, telemetry off: nothing that looks beyond the consortium.

**Identity.** The peer identity (`Identity.PeerID`, `Identity.PrivKey`) lives in the repo's `config`:
deleting the repo deletes it, and a daemon re-initialised in its place is a new peer that the others'
`Peering.Peers` do not name. So the devnet never deletes a repo to lose its content: `wipe_content(repo)`
deletes the blocks and the datastore (pins, the DHT's and the MFS root's records) and keeps `config`
(identity, ports, peering) and `swarm.key` — an organisation that lost its disk's content but not its keys.
The IPFS Cluster peer then pins the consortium's content on it again (`cluster.py`).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from proml.node.clients.ipfs import IpfsClient, IpfsClientError

from . import engines
from .processes import (
    ProcessError,
    RunningProcess,
    choose_port,
    listens_on,
    log_since,
    port_is_free,
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

# Environment variables of the caller's shell that would change what Kubo does or where it looks.
_FOREIGN_ENV = ("IPFS_", "LIBP2P_", "GOLOG_", "KUBO_")

__all__ = [
    "KuboDaemon",
    "KuboFailed",
    "PeerAddress",
    "add_peering",
    "connect_swarm",
    "init_repo",
    "kubo_env",
    "peer_id_of",
    "repo_in_use",
    "set_peering",
    "start_kubo",
    "wipe_content",
]

PeerAddress = tuple[str, str]
"""(peer id, multiaddr): the multiaddr with or without its `/p2p/<peer id>` tail."""


class KuboFailed(ProcessError):
    """`ipfs init` or `ipfs daemon` failed, or the daemon did not get ready: the message quotes its log."""


def kubo_env(repo: Path) -> dict[str, str]:
    """The environment of every `ipfs` command on `repo`: the caller's, without IPFS_*, LIBP2P_*, GOLOG_*
    variables of its own, and with the repo, the forced private network and telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
    env.update({"IPFS_PATH": str(repo), "LIBP2P_FORCE_PNET": "1", "IPFS_TELEMETRY": "off"})
    return env


# -- the repo ---------------------------------------------------------------------------------------


def repo_in_use(repo: Path) -> bool:
    """Does a daemon (or any `ipfs` command) hold the repo's lock? Kubo holds a POSIX lock on
    `repo.lock` while it runs; the file itself stays behind a killed daemon, the lock does not."""
    lock = repo / "repo.lock"
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _refuse_if_in_use(repo: Path) -> None:
    if repo_in_use(repo):
        raise KuboFailed(
            f"the IPFS repo {repo} is in use by another ipfs process (it holds {repo / 'repo.lock'}): "
            "stop that daemon first"
        )


def init_repo(
    repo: Path,
    swarm_key: Path,
    api_port: int,
    gateway_port: int | None,
    swarm_port: int,
    peers: Sequence[PeerAddress] = (),
) -> str:
    """Make `repo` a Kubo repo of the private network (once: `ipfs init --profile=test`), then (every time)
    set its addresses, swarm key, routing and peering; the peer id. The repo must not be in use."""
    _refuse_if_in_use(repo)
    private_dir(repo)
    if not (repo / "config").is_file():
        result = subprocess.run(
            [str(engines.ipfs()), "init", "--profile=test", "--empty-repo"],
            env=kubo_env(repo),
            capture_output=True,
            text=True,
            timeout=INIT_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise KuboFailed(f"`ipfs init` of {repo} failed: {(result.stderr or result.stdout).strip()}")
    write_private(repo / "swarm.key", swarm_key.read_text(encoding="ascii"))
    config = _read_config(repo)
    addresses = config.setdefault("Addresses", {})
    addresses["API"] = [f"/ip4/127.0.0.1/tcp/{api_port}"]
    addresses["Gateway"] = [f"/ip4/127.0.0.1/tcp/{gateway_port}"] if gateway_port is not None else []
    addresses["Swarm"] = [f"/ip4/127.0.0.1/tcp/{swarm_port}"]
    addresses["Announce"] = []
    addresses["AppendAnnounce"] = []
    config["Bootstrap"] = []
    config.setdefault("AutoConf", {})["Enabled"] = False
    config.setdefault("AutoTLS", {})["Enabled"] = False
    config.setdefault("Discovery", {}).setdefault("MDNS", {})["Enabled"] = False
    routing = config.setdefault("Routing", {})
    routing["Type"] = "dht"
    routing["LoopbackAddressesOnLanDHT"] = True
    config.setdefault("Provide", {})["Enabled"] = False
    swarm = config.setdefault("Swarm", {})
    swarm["DisableNatPortMap"] = True
    swarm["EnableHolePunching"] = False
    swarm.setdefault("RelayClient", {})["Enabled"] = False
    swarm.setdefault("RelayService", {})["Enabled"] = False
    network = swarm.setdefault("Transports", {}).setdefault("Network", {})
    network.update(
        {"TCP": True, "QUIC": False, "WebTransport": False, "WebRTCDirect": False, "Websocket": False}
    )
    plugins = config.setdefault("Plugins", {})
    if not isinstance(plugins.get("Plugins"), dict):
        plugins["Plugins"] = {}  # `ipfs init` writes null
    plugins["Plugins"].setdefault("telemetry", {}).setdefault("Config", {})["Mode"] = "off"
    config.setdefault("Peering", {})["Peers"] = _peering(peers)
    _write_config(repo, config)
    return str(config["Identity"]["PeerID"])


def set_peering(repo: Path, peers: Sequence[PeerAddress]) -> None:
    """Replace the repo's `Peering.Peers` (read when the daemon starts: a running one learns new peers
    through `add_peering`). The repo must not be in use."""
    _refuse_if_in_use(repo)
    config = _read_config(repo)
    config.setdefault("Peering", {})["Peers"] = _peering(peers)
    _write_config(repo, config)


def peer_id_of(repo: Path) -> str:
    """The peer id in the repo's config (its identity), without starting anything."""
    return str(_read_config(repo)["Identity"]["PeerID"])


def wipe_content(repo: Path) -> None:
    """Delete the repo's blocks and datastore (content, pins), keeping its config (identity) and swarm key:
    see the module's docstring. The repo must not be in use."""
    _refuse_if_in_use(repo)
    for name in ("blocks", "datastore"):
        shutil.rmtree(repo / name, ignore_errors=True)


def _peering(peers: Sequence[PeerAddress]) -> list[dict[str, Any]]:
    by_id: dict[str, list[str]] = {}
    for peer_id, addr in peers:
        bare = addr.split("/p2p/", 1)[0]
        addrs = by_id.setdefault(peer_id, [])
        if bare and bare not in addrs:
            addrs.append(bare)
    return [{"ID": peer_id, "Addrs": addrs} for peer_id, addrs in by_id.items()]


def _read_config(repo: Path) -> dict[str, Any]:
    try:
        config = json.loads((repo / "config").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KuboFailed(f"{repo} is not an IPFS repo (no config): run init_repo first") from None
    if not isinstance(config, dict):
        raise KuboFailed(f"{repo / 'config'} is not a JSON object")
    return config


def _write_config(repo: Path, config: Mapping[str, Any]) -> None:
    write_private(repo / "config", json.dumps(config, indent=2) + "\n")


# -- the daemon -------------------------------------------------------------------------------------


@dataclass
class KuboDaemon(RunningProcess):
    """One running `ipfs daemon`: its process, its repo, its peer id and addresses."""

    name: str
    repo: Path
    swarm_key: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    peer_id: str
    api: str
    api_port: int
    swarm_port: int
    swarm: list[str] = field(default_factory=list)

    @property
    def swarm_addr(self) -> str:
        """`/ip4/127.0.0.1/tcp/<swarm port>/p2p/<peer id>`: where the other daemons reach it."""
        return self.swarm[0]

    @property
    def api_multiaddr(self) -> str:
        """The RPC API as a multiaddr, as IPFS Cluster's `ipfshttp.node_multiaddress` wants it."""
        return f"/ip4/127.0.0.1/tcp/{self.api_port}"

    def client(self, timeout: float | None = 60.0) -> IpfsClient:
        return IpfsClient(self.api, timeout=timeout)


def start_kubo(
    name: str,
    repo: Path,
    swarm_key: Path,
    *,
    log_path: Path,
    api_port: int,
    swarm_port: int,
    gateway_port: int | None = None,
    peers: Sequence[PeerAddress] = (),
    extra_args: Sequence[str] = (),
    detach: bool = False,
    timeout: float = START_TIMEOUT,
) -> KuboDaemon:
    """Configure `repo` (`init_repo`, idempotent) and start `ipfs daemon` on it; wait until its RPC API
    answers `id` on the port the daemon itself listens on. A port that is taken (0: any) is replaced by a
    free one, also when another program took it between the choice and the daemon's bind; the daemon's
    `api_port` and `swarm_port` say which it got. On failure the daemon is stopped and `KuboFailed`
    quotes its log."""
    ports: dict[str, int | None] = {"api": api_port, "swarm": swarm_port, "gateway": gateway_port}
    for attempt in range(1, START_ATTEMPTS + 1):
        taken: list[int] = []
        for key, wanted in ports.items():
            if wanted is not None:
                chosen = choose_port(wanted, taken)
                ports[key] = chosen
                taken.append(chosen)
        api, swarm = int(ports["api"] or 0), int(ports["swarm"] or 0)
        init_repo(repo, swarm_key, api, ports["gateway"], swarm, peers)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = log_path.stat().st_size if log_path.exists() else 0
        process = spawn(
            [str(engines.ipfs()), "daemon", *extra_args], log_path, env=kubo_env(repo), detach=detach
        )
        try:
            return _ready(name, repo, swarm_key, process, log_path, api, swarm, timeout)
        except KuboFailed:
            stop_process(process)
            this_run = log_since(log_path, offset)
            if "address already in use" not in this_run or attempt == START_ATTEMPTS:
                raise
            # Someone took a port after we chose it: choose again the ones that are not free now.
            for key, port in ports.items():
                if port is not None and not port_is_free(port):
                    ports[key] = 0
        except BaseException:
            stop_process(process)
            raise
    raise AssertionError("unreachable")


def _ready(
    name: str,
    repo: Path,
    swarm_key: Path,
    process: subprocess.Popen[bytes],
    log_path: Path,
    api_port: int,
    swarm_port: int,
    timeout: float,
) -> KuboDaemon:
    api = f"http://127.0.0.1:{api_port}"
    answer: dict[str, Any] = {}

    def answers() -> bool:
        if not listens_on(process.pid, api_port):
            return False
        try:
            response = httpx.post(f"{api}/api/v0/id", timeout=5.0, trust_env=False)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        answer.update(response.json())
        return True

    try:
        wait_until(answers, what=f"Kubo {name}", timeout=timeout, process=process, log_path=log_path)
    except ProcessError as exc:
        raise KuboFailed(str(exc)) from None
    peer_id = str(answer["ID"])
    ours = f"/ip4/127.0.0.1/tcp/{swarm_port}/p2p/{peer_id}"
    others = [str(a) for a in answer.get("Addresses") or [] if str(a) != ours]
    return KuboDaemon(
        name=name,
        repo=repo,
        swarm_key=swarm_key,
        process=process,
        log_path=log_path,
        peer_id=peer_id,
        api=api,
        api_port=api_port,
        swarm_port=swarm_port,
        swarm=[ours, *others],
    )


# -- the swarm --------------------------------------------------------------------------------------


def connect_swarm(apis: Sequence[str], swarm_addrs: Sequence[str], timeout: float = 30.0) -> None:
    """Connect every daemon (by RPC URL) to every other one, and wait until each sees all the others.

    `swarm_addrs[i]` is the `/ip4/.../p2p/ID` address of the daemon at `apis[i]`. With `Peering.Peers`
    they connect on their own; this makes it happen now and checks it.
    """
    asyncio.run(_connect_swarm(list(apis), list(swarm_addrs), timeout))


async def _connect_swarm(apis: list[str], addrs: list[str], timeout: float) -> None:
    peer_ids = [addr.rsplit("/p2p/", 1)[1] for addr in addrs]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for i, api in enumerate(apis):
        async with IpfsClient(api, timeout=timeout) as client:
            wanted = {peer for j, peer in enumerate(peer_ids) if j != i}
            while True:
                seen = {p.peer for p in await client.swarm_peers()}
                missing = wanted - seen
                if not missing:
                    break
                if loop.time() >= deadline:
                    raise KuboFailed(f"the IPFS daemon at {api} is not connected to {sorted(missing)}")
                for j, peer in enumerate(peer_ids):
                    if peer in missing:
                        # It may still be starting: the loop asks again until the deadline.
                        with suppress(IpfsClientError):
                            await client.swarm_connect(addrs[j], timeout=5.0)
                await asyncio.sleep(0.2)


def add_peering(api: str, swarm_addrs: Sequence[str], timeout: float = 10.0) -> None:
    """Tell a running daemon to keep peering with more daemons (`swarm peering add`, for an organisation
    that joins); `set_peering` writes the same into the repo for its next start."""
    with httpx.Client(base_url=f"{api}/api/v0", timeout=timeout, trust_env=False) as http:
        for addr in swarm_addrs:
            response = http.post("swarm/peering/add", params={"arg": addr})
            if response.status_code != 200:
                raise KuboFailed(f"the IPFS daemon at {api} refused to peer with {addr}: {response.text}")
