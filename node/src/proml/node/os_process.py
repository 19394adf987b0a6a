"""The operating system's side of the node's background process: spawning it and waiting until it is
ready, stopping it, its death with its parent, its name and priority, its lock, its signals.

A process started by `BackgroundProcess` runs `target(*args, parent, log_level, ready)`. It sends on `ready`
either None once it works (`serve` does) or the reason it cannot (`refuse_start`), never a secret.
It dies with the process that started it (a SIGKILLed node leaves no worker behind to send
transactions twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

from .services.interruptible_sleep import wait_or_stop

log = logging.getLogger(__name__)

READY_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
LOCK_TIMEOUT = 10.0
PARENT_CHECK_INTERVAL = 1.0
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


class BackgroundError(Exception):
    """The background process could not start; the message says why (never a secret)."""


class BackgroundProcess:
    """The node's handle on its background process: start it, see whether it runs, stop it."""

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
        self._target = target
        self._args = args  # handed to each process it starts (a restart too), through multiprocessing's pipe
        self._name = name
        self._process: multiprocessing.process.BaseProcess | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.exitcode

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Start the process and wait until it says it is ready (`BackgroundError` if it does not)."""
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=self._target,
            args=(*self._args, os.getpid(), logging.getLogger().level, send),
            name=self._name,
            daemon=True,
        )
        process.start()
        send.close()
        self._process = process
        try:
            message = _wait_ready(receive, process, timeout)
        finally:
            receive.close()
        if message is not None:
            self.stop()
            raise BackgroundError(message)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL if it has not finished its current step within `timeout`."""
        process = self._process
        if process is None or not process.is_alive():
            return
        process.terminate()
        process.join(timeout)
        if process.is_alive():
            log.warning("the background process did not stop within %.0fs; killing it", timeout)
            process.kill()
            process.join()


def _wait_ready(
    receive: Connection, process: multiprocessing.process.BaseProcess, timeout: float
) -> str | None:
    """None once the process says it is ready, else why it is not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if receive.poll(0.1):
            try:
                error: str | None = receive.recv()
            except EOFError:
                break
            return error
        if not process.is_alive():
            break
    process.join(0.5)
    if process.is_alive():
        return f"the background process was not ready within {timeout:.0f}s"
    return f"the background process exited (code {process.exitcode}) before it was ready; see the log above"


# -- in the background process ------------------------------------------------------------------------


def become_background(parent: int, name: str, niceness: int) -> None:
    """Die with `parent` (Linux's parent-death signal), take `name` in `ps`, and run at `niceness`."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        libc.prctl(_PR_SET_NAME, name.encode())
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(1)
    os.nice(niceness)


def refuse_start(ready: Connection, reason: str) -> NoReturn:
    """Tell the parent why this process cannot work, and exit."""
    ready.send(reason)
    sys.exit(1)


@contextlib.contextmanager
def exclusive(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[bool]:
    """An exclusive lock on `path` for as long as this process holds it (waiting up to `timeout`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        yield True


async def serve(
    work: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    parent: int,
    ready: Connection,
    close: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    """Say ready, then `work(stop)` until SIGTERM or SIGINT, or until `parent` is gone; then `close()`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ready.send(None)
    ready.close()
    try:
        await asyncio.gather(work(stop), _watch_parent(parent, stop))
    finally:
        await close()


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """Where the kernel cannot kill us with the parent (not Linux), notice that it is gone."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("the node that started this process is gone; stopping")
            stop.set()
        await wait_or_stop(stop, PARENT_CHECK_INTERVAL)
