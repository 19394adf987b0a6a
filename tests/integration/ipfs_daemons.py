"""Real embedded IPFS daemons (deploy/ipfs/daemon.mjs) as processes, for integration tests.

Each daemon gets its own repo directory, listens on ports the OS picks (port 0: free by construction, read
back from the daemon's ready line), and is always stopped by PID: SIGTERM, then SIGKILL after a grace
period, whatever the test did. Starting and stopping live in `proml.devnet`, shared with `proml devnet`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from proml.devnet.ipfs import DaemonFailed, IpfsDaemon, start_ipfs_daemon
from proml.devnet.processes import (
    ipfs_daemon_script,
    node_binary,
    repo_root,
    stop_process,
    write_swarm_key,
)

REPO_ROOT = repo_root()
DAEMON = ipfs_daemon_script()

__all__ = [
    "DAEMON",
    "REPO_ROOT",
    "DaemonFailed",
    "DaemonSet",
    "IpfsDaemon",
    "daemon_set",
    "node_binary",
    "stop_process",
    "write_swarm_key",
]


class DaemonSet:
    """Starts daemons under one base directory and stops every one of them at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.daemons: list[IpfsDaemon] = []
        self._processes: list[subprocess.Popen[bytes]] = []
        self._started = 0
        self.shared_key = write_swarm_key(base / "swarm.key")

    def start(
        self,
        name: str,
        *,
        repo: Path | None = None,
        swarm_key: Path | None = None,
        bootstrap: Sequence[str] = (),
        extra_args: Sequence[str] = (),
    ) -> IpfsDaemon:
        run_dir = self.base / "run"
        stamp = f"{name}-{self._started}"
        self._started += 1
        daemon = start_ipfs_daemon(
            name,
            repo if repo is not None else self.base / name,
            swarm_key if swarm_key is not None else self.shared_key,
            stdout_path=run_dir / f"{stamp}.stdout",
            log_path=run_dir / f"{stamp}.log",
            bootstrap=bootstrap,
            extra_args=extra_args,
        )
        self._processes.append(daemon.process)
        self.daemons.append(daemon)
        return daemon

    def stop_all(self) -> None:
        for process in reversed(self._processes):
            stop_process(process)


@contextmanager
def daemon_set(base: Path) -> Iterator[DaemonSet]:
    daemons = DaemonSet(base)
    try:
        yield daemons
    finally:
        daemons.stop_all()
