"""Start, watch and stop local processes by PID: the one place that does it, for the devnet and the tests.

A process is identified by its PID *and* its start time (field 22 of /proc/PID/stat), so that a PID the
kernel has since given to another program is never signalled: we only ever stop what we started.
Stopping is SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 40

# Popen objects of the processes this Python process started, by PID: they are our children, so we
# reap them (a dead child stays a zombie, and looks alive to kill(0), until its parent waits for it).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ProcessError(RuntimeError):
    """A process could not be started, did not get ready, or a tool it needs is missing."""


class ToolMissing(ProcessError):
    """anvil or an engine (geth, Kubo, IPFS Cluster) is not installed; the message says how to install it."""


def repo_root() -> Path:
    """The ProML checkout that holds `node_modules` (anvil) and `deploy/engines` (`PROML_REPO_ROOT`
    overrides)."""
    override = os.environ.get("PROML_REPO_ROOT")
    if override:
        return Path(override).resolve()
    # deploy/devnet/src/proml/devnet/processes.py in a checkout (an editable install imports it from there).
    here = Path(__file__).resolve().parents[5]
    for folder in (here, Path.cwd(), *Path.cwd().parents):
        if (folder / "deploy" / "engines" / "build.sh").is_file():
            return folder
    raise ToolMissing(
        "the devnet runs from a ProML checkout: cd into it (or set PROML_REPO_ROOT) and run `make setup`"
    )


def anvil_binary() -> Path:
    """The anvil binary shipped in the npm package `@foundry-rs/anvil-linux-amd64`."""
    anvil = repo_root() / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if not anvil.is_file():
        raise ToolMissing(f"no anvil at {anvil}: run `make setup` (npm ci) first")
    return anvil


# -- ports ------------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (it may be taken again before it is bound: retry on failure)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Can a server listen on `port`? SO_REUSEADDR as the servers set it (Node.js, anvil, uvicorn), so that
    a port left in TIME_WAIT by a process just stopped still counts as free for its restart."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(preferred: int, taken: Sequence[int] = ()) -> int:
    """`preferred` if it is free and not in `taken`, else any free port; 0 means any free port."""
    if preferred and preferred not in taken and port_is_free(preferred):
        return preferred
    while True:
        port = free_port()
        if port not in taken:
            return port


def listens_on(pid: int, port: int) -> bool:
    """Does process `pid` itself listen on TCP `port`? So that a readiness check on a port is not
    answered by another program that took the port first (True where /proc cannot tell)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return not Path("/proc").is_dir()
    inodes = set()
    for fd in fds:
        with suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError):
            for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
                fields = line.split()
                listening = fields[3] == "0A"  # TCP_LISTEN
                if listening and fields[9] in inodes and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


# -- secrets on disk --------------------------------------------------------------------------------


def write_swarm_key(path: Path) -> Path:
    """A new random swarm key in the standard /key/swarm/psk/1.0.0/ format, mode 0600."""
    write_private(path, f"/key/swarm/psk/1.0.0/\n/base16/\n{secrets.token_hex(32)}\n")
    return path


def private_dir(path: Path) -> Path:
    """`path` as a folder that only its owner can open (made so if it exists already)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _private_output(path: Path, *, append: bool = False) -> BinaryIO:
    """A log or output file readable by the owner only (made so if it exists already)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab" if append else "wb")


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only, atomically (never a half-written secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


# -- starting ---------------------------------------------------------------------------------------


def spawn(
    command: Sequence[str],
    log_path: Path,
    *,
    stdout_path: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    detach: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `command` with stderr (and stdout, unless `stdout_path`) appended to `log_path`.

    `detach` puts it in its own session, so that it outlives the command that started it and a Ctrl-C in
    that terminal does not reach it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as files:
        log = files.enter_context(_private_output(log_path, append=True))
        out = files.enter_context(_private_output(stdout_path)) if stdout_path is not None else log
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=log,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=detach,
            # What the chain, the IPFS daemons and the nodes write is their organisation's only.
            umask=0o077,
        )
    _CHILDREN[process.pid] = process
    return process


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    interval: float = 0.05,
) -> None:
    """Poll `ready()` until it is true; raise `ProcessError` (quoting the log's tail) if `process` exits
    first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if process is not None and process.poll() is not None:
            raise ProcessError(
                f"{what} exited with {process.returncode} before it was ready{_tail_note(log_path)}"
            )
        if time.monotonic() >= deadline:
            raise ProcessError(f"{what} was not ready within {timeout:g} s{_tail_note(log_path)}")
        time.sleep(interval)


def log_tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None:
        return ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def log_since(path: Path, offset: int) -> str:
    """What a log gained after byte `offset` (e.g. what one start attempt wrote)."""
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


class RunningProcess:
    """What a started engine (a Kubo daemon, a cluster peer) offers about its process: it has a
    `process` we started and a `log_path` it writes to."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (the engines shut down cleanly), wait, then SIGKILL: the exit code."""
        return stop_process(self.process, timeout)


def _tail_note(path: Path | None) -> str:
    tail = log_tail(path)
    return f"; the end of {path}:\n{tail}" if tail else ""


# -- stopping ---------------------------------------------------------------------------------------


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM, wait, then SIGKILL a child we hold the Popen of: its exit code."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            return _forget(process, process.wait(timeout))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
    return _forget(process, process.wait(timeout))


def _forget(process: subprocess.Popen[bytes], code: int) -> int:
    _CHILDREN.pop(process.pid, None)
    return code


@dataclass(frozen=True)
class ProcessRecord:
    """A process we started, as recorded on disk: its PID and the kernel's start time of that PID."""

    pid: int
    started: int | None

    @classmethod
    def of(cls, process: subprocess.Popen[bytes]) -> ProcessRecord:
        return cls(process.pid, start_time(process.pid))

    def to_json(self) -> dict[str, int | None]:
        return {"pid": self.pid, "started": self.started}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ProcessRecord:
        pid, started = data["pid"], data.get("started")
        if not isinstance(pid, int) or not (started is None or isinstance(started, int)):
            raise ValueError(f"not a process record: {dict(data)!r}")
        return cls(pid, started)

    def alive(self) -> bool:
        """Is the process we started still running (not a zombie, and not a PID reused since)?"""
        child = _CHILDREN.get(self.pid)
        if child is not None and (self.started is None or start_time(self.pid) in (None, self.started)):
            # Our own child: its Popen knows for sure (and collects it), whatever /proc shows mid-exit.
            if child.poll() is None:
                return True
            _CHILDREN.pop(self.pid, None)
            return False
        _reap(self.pid)
        status = _proc_stat(self.pid)
        if status is None:
            return _exists(self.pid) if not Path("/proc").is_dir() else False
        state, started = status
        if self.started is not None and started != self.started:
            return False  # the PID belongs to another process now
        if state in ("Z", "X"):
            # It died after the first look: if it is our child, collect it now, so that nothing (e.g. the
            # IPFS repo lock, which names the PID) mistakes the zombie for a live process.
            _reap(self.pid)
            return False
        return True

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """SIGTERM, wait, SIGKILL if needed; False if it was not running (nothing was signalled)."""
        child = _CHILDREN.get(self.pid)
        if child is not None and self.started == start_time(self.pid):
            stop_process(child, timeout)
            return True
        if not self.alive():
            return False
        for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if not self.alive():
                    return True
                time.sleep(0.05)
        raise ProcessError(f"process {self.pid} did not stop after SIGKILL")


def start_time(pid: int) -> int | None:
    status = _proc_stat(pid)
    return None if status is None else status[1]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) from /proc/PID/stat; None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    fields = text[text.rfind(")") + 2 :].split()
    return fields[0], int(fields[19])


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    # A child of ours started by another Popen (e.g. in an earlier `up` in this process): reap it too.
    with suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
