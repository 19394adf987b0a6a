"""Waiting for what a node does in the background (an outbox entry going final, an index catching up)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
TIMEOUT = 60.0


def eventually(
    probe: Callable[[], T | None], what: str, timeout: float = TIMEOUT, interval: float = 0.05
) -> T:
    """The first value of `probe()` that is not None; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (value := probe()) is None:
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(interval)
    return value


def wait_entry(
    http: httpx.Client, entry_id: str, *, headers: Mapping[str, str] | None = None, status: str = "final"
) -> dict[str, Any]:
    """The outbox entry once it has `status`; an entry that fails on the way fails the test with its error."""

    def probe() -> dict[str, Any] | None:
        entry: dict[str, Any] = http.get(f"/v1/outbox/{entry_id}", headers=headers).json()
        if entry["status"] != status:
            assert entry["status"] != "failed", entry["error"]
            return None
        return entry

    return eventually(probe, f"outbox entry {entry_id} is {status}")
