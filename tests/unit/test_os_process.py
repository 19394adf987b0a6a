"""The operating system's side of the background process, with small targets of its own: ready or the reason
it is not, a stop by SIGTERM that lets it finish, a process that notices its parent is gone, its name and
priority, and the data folder's lock."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from proml.node import os_process
from proml.node.os_process import BackgroundError, BackgroundProcess

NAME = "proml-test-bg"
PATIENCE = 60.0  # a bound on waiting for a spawned interpreter, not a measurement


async def _until_stopped(stop: asyncio.Event) -> None:
    await stop.wait()


async def _nothing() -> None:
    return None


def _serves(parent: int, log_level: int, ready: Connection) -> None:
    os_process.become_background(parent, NAME, 5)
    asyncio.run(os_process.serve(_until_stopped, parent, ready, _nothing))


def _refuses(reason: str, parent: int, log_level: int, ready: Connection) -> None:
    os_process.refuse_start(ready, reason)


def _dies(parent: int, log_level: int, ready: Connection) -> None:
    os._exit(3)


def _orphaned(parent: int, log_level: int, ready: Connection) -> None:
    # As if the process that started it were gone: it is not this one's parent.
    asyncio.run(os_process.serve(_until_stopped, parent + 1_000_000, ready, _nothing))


def _stopped(process: BackgroundProcess) -> bool:
    deadline = time.monotonic() + PATIENCE
    while process.running and time.monotonic() < deadline:
        time.sleep(0.05)
    return not process.running


def test_a_process_that_says_ready_runs_until_sigterm_and_finishes_its_work() -> None:
    process = BackgroundProcess(_serves, (), NAME)
    process.start()
    try:
        assert process.running and process.pid is not None
    finally:
        process.stop()
    assert not process.running
    assert process.exit_code == 0  # SIGTERM set `stop`; it was not killed (-15)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_process_takes_its_name_and_a_lower_priority() -> None:
    process = BackgroundProcess(_serves, (), NAME)
    process.start()
    try:
        assert process.pid is not None
        assert Path(f"/proc/{process.pid}/comm").read_text().strip() == NAME
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == os.getpriority(os.PRIO_PROCESS, 0) + 5
    finally:
        process.stop()


def test_a_process_that_cannot_work_says_why() -> None:
    process = BackgroundProcess(_refuses, ("no passphrase in PROML_PASSPHRASE",), NAME)
    with pytest.raises(BackgroundError) as refused:
        process.start()
    assert str(refused.value) == "no passphrase in PROML_PASSPHRASE"
    assert not process.running


def test_a_process_that_exits_before_it_is_ready_is_reported_with_its_code() -> None:
    process = BackgroundProcess(_dies, (), NAME)
    with pytest.raises(BackgroundError, match=r"exited \(code 3\) before it was ready"):
        process.start()


def test_a_process_whose_parent_is_gone_stops_by_itself() -> None:
    process = BackgroundProcess(_orphaned, (), NAME)
    process.start()
    try:
        assert _stopped(process)
    finally:
        process.stop()
    assert process.exit_code == 0


def test_the_lock_is_held_by_one_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "data" / "background.lock"
    with os_process.exclusive(path) as first, os_process.exclusive(path, timeout=0.2) as second:
        assert (first, second) == (True, False)
    with os_process.exclusive(path, timeout=0.2) as again:
        assert again  # released with its holder
