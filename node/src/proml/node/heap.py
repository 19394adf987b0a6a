"""Handing the heap that a node's process freed back to the operating system, while it idles.

Why: glibc's malloc keeps what Python frees in its arenas (one for each thread that allocated, and the
node's work runs in `asyncio.to_thread` workers as well as in its event loop), so after a burst (a
whole-history verification, a replication pass over thousands of documents, a flood of writes) a
process's resident memory stays near its peak for as long as it runs. `malloc_trim(0)` returns the free
pages of every arena; it walks the heap and takes each arena's lock, so it runs every `TRIM_INTERVAL`
seconds, not after each piece of work. Where the C library is not glibc it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
from collections.abc import Callable

from .services.interruptible_sleep import wait_or_stop

TRIM_INTERVAL = 30.0


def _malloc_trim() -> Callable[[int], int] | None:
    # The process's own symbols, as os_process reaches prctl: the C library is among them, and nothing
    # is searched for (ctypes.util.find_library would run ldconfig at import).
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


_TRIM = _malloc_trim()


def release_free_heap() -> bool:
    """Return the free pages of every malloc arena to the OS; whether any were returned."""
    return _TRIM is not None and _TRIM(0) == 1


async def release_periodically(stop: asyncio.Event, interval: float = TRIM_INTERVAL) -> None:
    """`release_free_heap` every `interval` seconds until `stop` is set."""
    while not stop.is_set():
        await wait_or_stop(stop, interval)
        release_free_heap()
