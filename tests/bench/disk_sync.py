"""How long the disk takes to make a small write durable, measured beside another measurement.

The node's acknowledgement waits for one `fdatasync` of its outbox; on a machine that the consortium's
other processes write to at the same time, that sync's latency is the floor under the acknowledgement's.
`SyncProbe` overwrites one 4 KiB block of a file in the given folder and syncs it, a few times a second,
until stopped, and keeps each sync's time (ms).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType

PER_SECOND = 20.0  # few enough beside the 50 syncs a second of the acknowledgements it accompanies
BLOCK = 4096


class SyncProbe:
    def __init__(self, folder: Path, per_second: float = PER_SECOND) -> None:
        self._path = folder / "sync-probe.bin"
        self._interval = 1.0 / per_second
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-probe", daemon=True)
        self.latencies_ms: list[float] = []

    def __enter__(self) -> SyncProbe:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._path.unlink(missing_ok=True)

    def _run(self) -> None:
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, bytes(BLOCK), 0)
            os.fsync(fd)  # allocated once: each probe is an overwrite, as most of a WAL's writes are
            while not self._stop.wait(self._interval):
                os.pwrite(fd, os.urandom(BLOCK), 0)
                started = time.perf_counter()
                os.fdatasync(fd)
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
        finally:
            os.close(fd)
