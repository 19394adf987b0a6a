"""What this machine allows an acknowledgement, without ProML: a bare ASGI app under uvicorn that stores
each request in SQLite (WAL, synchronous=FULL), asked by an httpx client at a steady rate.

The capture benchmark prints it next to the node's figures: the difference is what the node adds (FastAPI,
validation, the record document), the rest is the machine (waking idle processes, the disk's sync).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from proml.devnet.processes import free_port

START_TIMEOUT = 30.0
UVICORN = ("--log-level", "warning", "--http", "httptools", "--port")


def _database(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS requests (body TEXT NOT NULL)")
    return db


Message = dict[str, Any]
Asgi = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


def app_factory() -> Asgi:
    """The ASGI app, for `uvicorn --factory`; its database is named by PROML_FLOOR_DB."""
    db = _database(os.environ["PROML_FLOOR_DB"])

    async def app(
        scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            return
        body = (await receive())["body"]
        db.execute("INSERT INTO requests (body) VALUES (?)", (body.decode(),))
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def measure(folder: Path, samples: int, per_second: float) -> list[float]:
    """Latencies (ms) of `samples` POSTs at `per_second`, each answered once its row is synced."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:app_factory", *UVICORN, str(port)],
        env={**_environment(), "PROML_FLOOR_DB": str(folder / "floor.db")},
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            _wait_up(http, server)
            latencies = []
            start = time.perf_counter()
            for i in range(samples):
                time.sleep(max(0.0, start + i / per_second - time.perf_counter()))
                sent = time.perf_counter()
                http.post("/", json={"activity": "collect"}).raise_for_status()
                latencies.append((time.perf_counter() - sent) * 1000)
            return latencies
    finally:
        server.terminate()
        server.wait(10)


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def _wait_up(http: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            http.post("/", json={}).raise_for_status()
            return
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bare ASGI server did not start") from None
            time.sleep(0.1)
