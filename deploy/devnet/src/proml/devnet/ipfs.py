"""The embedded IPFS daemon (deploy/ipfs/daemon.mjs) as a process: start it, read its ready line, stop it.

The daemon prints one JSON line on stdout once its RPC API and libp2p are up: `{"peerId", "api",
"swarm"}`; everything else goes to stderr (the log).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from proml.node.clients.ipfs import IpfsClient, IpfsClientError

from .processes import (
    ProcessError,
    ipfs_daemon_script,
    node_binary,
    repo_root,
    spawn,
    stop_process,
    wait_until,
)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class DaemonFailed(ProcessError):
    pass


@dataclass
class IpfsDaemon:
    """One running daemon: its process, its repo, and what its ready line said."""

    name: str
    repo: Path
    swarm_key: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    peer_id: str
    api: str
    swarm: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def swarm_addr(self) -> str:
        return self.swarm[0]

    def client(self, timeout: float | None = 60.0) -> IpfsClient:
        return IpfsClient(self.api, timeout=timeout)

    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait, then SIGKILL: the exit code (0 for a clean stop)."""
        return stop_process(self.process, timeout)


def start_ipfs_daemon(
    name: str,
    repo: Path,
    swarm_key: Path,
    *,
    stdout_path: Path,
    log_path: Path,
    api_port: int = 0,
    swarm_port: int = 0,
    bootstrap: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    detach: bool = False,
    timeout: float = START_TIMEOUT,
) -> IpfsDaemon:
    """Start a daemon on `repo` and wait for its ready line; on failure it is stopped and `DaemonFailed`
    quotes its log. Port 0 lets the daemon pick a free one (the ready line says which)."""
    command = [
        node_binary(),
        str(ipfs_daemon_script()),
        "--repo",
        str(repo),
        "--swarm-key",
        str(swarm_key),
        "--api-port",
        str(api_port),
        "--swarm-port",
        str(swarm_port),
        *[arg for addr in bootstrap for arg in ("--bootstrap", addr)],
        *extra_args,
    ]
    process = spawn(command, log_path, stdout_path=stdout_path, cwd=repo_root(), detach=detach)
    try:
        ready = _ready_line(process, stdout_path, log_path, name, timeout)
    except BaseException:
        stop_process(process)
        raise
    swarm = ready.get("swarm")
    return IpfsDaemon(
        name=name,
        repo=repo,
        swarm_key=swarm_key,
        process=process,
        log_path=log_path,
        peer_id=str(ready["peerId"]),
        api=str(ready["api"]),
        swarm=[str(a) for a in swarm] if isinstance(swarm, list) else [],
    )


def _ready_line(
    process: subprocess.Popen[bytes], stdout_path: Path, log_path: Path, name: str, timeout: float
) -> dict[str, object]:
    def printed() -> bool:
        return "\n" in stdout_path.read_text(encoding="utf-8", errors="replace")

    try:
        wait_until(printed, what=f"IPFS daemon {name}", timeout=timeout, process=process, log_path=log_path)
    except ProcessError as exc:
        raise DaemonFailed(str(exc)) from None
    line = stdout_path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
    try:
        ready = json.loads(line)
    except ValueError:
        ready = None
    if not isinstance(ready, dict):
        raise DaemonFailed(f"IPFS daemon {name}: not a ready line: {line!r}")
    return ready


def connect_swarm(apis: Sequence[str], swarm_addrs: Sequence[str], timeout: float = 30.0) -> None:
    """Connect every daemon (by RPC URL) to every other one, and wait until each sees all the others.

    `swarm_addrs[i]` is the `/ip4/.../p2p/ID` address of the daemon at `apis[i]`.
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
                    raise DaemonFailed(f"the IPFS daemon at {api} is not connected to {sorted(missing)}")
                for j, peer in enumerate(peer_ids):
                    if peer in missing:
                        # It may still be starting: the loop asks again until the deadline.
                        with suppress(IpfsClientError):
                            await client.swarm_connect(addrs[j], timeout=5.0)
                await asyncio.sleep(0.2)
