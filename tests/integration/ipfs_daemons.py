"""Real embedded IPFS daemons (deploy/ipfs/daemon.mjs) as processes, for integration tests.

Each daemon gets its own repo directory, listens on ports the OS picks (port 0: free by construction, read
back from the daemon's ready line), and is always stopped by PID: SIGTERM, then SIGKILL after a grace
period, whatever the test did.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from proml.node.clients.ipfs import IpfsClient

REPO_ROOT = Path(__file__).resolve().parents[2]
DAEMON = REPO_ROOT / "deploy" / "ipfs" / "daemon.mjs"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not on PATH: the embedded IPFS daemon needs it (see docs/development.md)")
    if not (REPO_ROOT / "node_modules" / "helia").is_dir():
        pytest.fail("node_modules has no helia: run `make setup` (npm ci) first")
    return node


def write_swarm_key(path: Path) -> Path:
    """A new random swarm key in the standard /key/swarm/psk/1.0.0/ format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"/key/swarm/psk/1.0.0/\n/base16/\n{secrets.token_hex(32)}\n", encoding="ascii")
    path.chmod(0o600)
    return path


class DaemonFailed(RuntimeError):
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


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
    return process.wait(timeout)


def _wait_ready(
    process: subprocess.Popen[bytes], stdout_path: Path, log_path: Path, name: str
) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = stdout_path.read_text(encoding="utf-8", errors="replace")
        if "\n" in text:
            line = text.split("\n", 1)[0]
            try:
                ready = json.loads(line)
            except ValueError as err:
                raise DaemonFailed(f"daemon {name}: not a ready line: {line!r}") from err
            if not isinstance(ready, dict):
                raise DaemonFailed(f"daemon {name}: not a ready line: {line!r}")
            return ready
        if process.poll() is not None:
            log = log_path.read_text(encoding="utf-8", errors="replace")
            raise DaemonFailed(f"daemon {name} exited with {process.returncode} before it was ready:\n{log}")
        time.sleep(0.05)
    raise DaemonFailed(f"daemon {name} was not ready within {START_TIMEOUT} s")


class DaemonSet:
    """Starts daemons under one base directory and stops every one of them at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.daemons: list[IpfsDaemon] = []
        self._processes: list[subprocess.Popen[bytes]] = []
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
        repo = repo if repo is not None else self.base / name
        key = swarm_key if swarm_key is not None else self.shared_key
        run_dir = self.base / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{name}-{len(self._processes)}"
        stdout_path = run_dir / f"{stamp}.stdout"
        log_path = run_dir / f"{stamp}.log"
        args = [
            node_binary(),
            str(DAEMON),
            "--repo",
            str(repo),
            "--swarm-key",
            str(key),
            "--api-port",
            "0",
            "--swarm-port",
            "0",
            *[arg for addr in bootstrap for arg in ("--bootstrap", addr)],
            *extra_args,
        ]
        with open(stdout_path, "wb") as out, open(log_path, "wb") as log:
            process = subprocess.Popen(args, stdout=out, stderr=log, stdin=subprocess.DEVNULL, cwd=REPO_ROOT)
        self._processes.append(process)
        try:
            ready = _wait_ready(process, stdout_path, log_path, name)
        except BaseException:
            stop_process(process)
            raise
        swarm = ready.get("swarm")
        daemon = IpfsDaemon(
            name=name,
            repo=repo,
            swarm_key=key,
            process=process,
            log_path=log_path,
            peer_id=str(ready["peerId"]),
            api=str(ready["api"]),
            swarm=[str(a) for a in swarm] if isinstance(swarm, list) else [],
        )
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
