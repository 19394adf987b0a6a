"""The return of a process's freed heap to the operating system (glibc's malloc_trim)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from proml.node import heap


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def _fragment_a_thread_arena(mib: int) -> list[bytearray]:
    """`mib` MiB of 4 KiB blocks (malloc's, not Python's small-object allocator, and below malloc's mmap
    threshold) from a worker thread, which allocates in an arena of its own as asyncio.to_thread's
    workers do; all freed but every 64th, which pins the free pages between them in the arena."""
    kept: list[bytearray] = []

    def work() -> None:
        blocks = [bytearray(4096) for _ in range(mib * 256)]
        kept.extend(blocks[::64])
        del blocks

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    return kept


def test_freed_heap_goes_back_to_the_system() -> None:
    kept = _fragment_a_thread_arena(64)
    held = _rss_kib()
    assert heap.release_free_heap() is True
    assert _rss_kib() < held - 32 * 1024  # most of the 63 MiB that malloc had kept
    del kept  # held until here: the blocks that pin the free pages between them


def test_the_release_loop_ends_when_stopped() -> None:
    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(heap.release_periodically(stop, interval=0.01))
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 1.0)

    asyncio.run(run())
