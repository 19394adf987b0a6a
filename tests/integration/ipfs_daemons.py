"""Real Kubo daemons (`proml.devnet.engines.ipfs()`) in one private network, as processes, for integration
tests.

Each daemon gets its own repo directory and free ports (chosen by `proml.devnet.processes.choose_port`,
chosen again if another program takes one first), and is always stopped by PID: SIGTERM, then SIGKILL
after a grace period, whatever the test did. Starting and stopping live in `proml.devnet.kubo`, shared
with `proml devnet`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from proml.devnet import engines
from proml.devnet.kubo import KuboDaemon, KuboFailed, start_kubo
from proml.devnet.processes import stop_process, write_swarm_key

__all__ = [
    "DaemonSet",
    "KuboDaemon",
    "KuboFailed",
    "daemon_set",
    "kubo_binary",
    "stop_process",
    "write_swarm_key",
]


def kubo_binary() -> Path:
    """The `ipfs` binary (raises `ToolMissing`, saying how to build it, when it is not there)."""
    return engines.ipfs()


class DaemonSet:
    """Starts daemons under one base directory and stops every one of them at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.daemons: list[KuboDaemon] = []
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
    ) -> KuboDaemon:
        """Start a Kubo on `repo` (default: `<base>/<name>`, made on first use) on free ports.

        `bootstrap` are `/ip4/.../p2p/<id>` addresses of daemons to peer with (`Peering.Peers`, which Kubo
        dials at start and keeps connected); `extra_args` are more options of `ipfs daemon`.
        """
        stamp = f"{name}-{self._started}"
        self._started += 1
        peers = [(addr.rsplit("/p2p/", 1)[1], addr) for addr in bootstrap]
        daemon = start_kubo(
            name,
            repo if repo is not None else self.base / name,
            swarm_key if swarm_key is not None else self.shared_key,
            log_path=self.base / "run" / f"{stamp}.log",
            api_port=0,
            swarm_port=0,
            peers=peers,
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
