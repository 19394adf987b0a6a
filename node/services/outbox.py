"""The durable outbox: every write a node accepts is stored here before it is acknowledged.

SQLite in WAL mode with `synchronous=FULL`: once `enqueue` returns, the entry survives a crash of the
process or of the machine. A worker takes queued entries, submits them, and moves them through
queued -> submitted -> included -> final. Idempotency keys make a retried request return the entry
it created the first time instead of recording twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    INCLUDED = "included"
    FINAL = "final"
    FAILED = "failed"


# Which status may follow which. Back to queued: a submitted transaction was dropped or its block
# was reorganised away, so the entry must be sent again.
_NEXT: dict[OutboxStatus, frozenset[OutboxStatus]] = {
    OutboxStatus.QUEUED: frozenset({OutboxStatus.SUBMITTED, OutboxStatus.FAILED}),
    OutboxStatus.SUBMITTED: frozenset({OutboxStatus.INCLUDED, OutboxStatus.QUEUED, OutboxStatus.FAILED}),
    OutboxStatus.INCLUDED: frozenset({OutboxStatus.FINAL, OutboxStatus.QUEUED}),
    OutboxStatus.FINAL: frozenset(),
    OutboxStatus.FAILED: frozenset(),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    tx_hash TEXT,
    block_number INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_status ON entries (status, created_at);
CREATE INDEX IF NOT EXISTS entries_by_tx ON entries (tx_hash);
CREATE TABLE IF NOT EXISTS nonces (address TEXT PRIMARY KEY, next_nonce INTEGER NOT NULL);
"""


class OutboxError(Exception):
    pass


class IdempotencyConflict(OutboxError):
    """The idempotency key was used before for a different request."""


class UnknownEntry(OutboxError, LookupError):
    pass


class IllegalTransition(OutboxError):
    pass


@dataclass(frozen=True)
class OutboxEntry:
    id: str
    idempotency_key: str | None
    kind: str
    payload: dict[str, Any]
    status: OutboxStatus
    tx_hash: str | None
    block_number: int | None
    attempts: int
    error: str | None
    created_at: float
    updated_at: float


class Outbox:
    """One SQLite file; safe to share between the API's threads and the worker."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def enqueue(
        self, kind: str, payload: Mapping[str, Any], idempotency_key: str | None = None
    ) -> tuple[OutboxEntry, bool]:
        """Store a new entry durably; return it and whether it is new.

        With an idempotency key used before for the same request, the first entry is returned
        (`False`); used before for a different request, `IdempotencyConflict`.
        """
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        with self._lock:
            if idempotency_key is not None:
                row = self._db.execute(
                    "SELECT * FROM entries WHERE idempotency_key = ?", (idempotency_key,)
                ).fetchone()
                if row is not None:
                    if (row[2], row[3]) != (kind, text):
                        raise IdempotencyConflict(
                            f"idempotency key {idempotency_key!r} was used for a different request; "
                            "use a new key for a new request"
                        )
                    return _entry(row), False
            now = time.time()
            entry_id = uuid.uuid4().hex
            self._db.execute(
                "INSERT INTO entries (id, idempotency_key, kind, payload, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (entry_id, idempotency_key, kind, text, OutboxStatus.QUEUED.value, now, now),
            )
            return self._get(entry_id), True

    def get(self, entry_id: str) -> OutboxEntry:
        with self._lock:
            return self._get(entry_id)

    def queued(self, limit: int) -> list[OutboxEntry]:
        """The oldest queued entries, at most `limit`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM entries WHERE status = ? ORDER BY created_at, rowid LIMIT ?",
                (OutboxStatus.QUEUED.value, limit),
            ).fetchall()
        return [_entry(r) for r in rows]

    def with_status(self, status: OutboxStatus) -> list[OutboxEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM entries WHERE status = ? ORDER BY created_at, rowid", (status.value,)
            ).fetchall()
        return [_entry(r) for r in rows]

    def depth(self) -> int:
        """Entries not yet final nor failed."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM entries WHERE status NOT IN (?, ?)",
                (OutboxStatus.FINAL.value, OutboxStatus.FAILED.value),
            ).fetchone()
        return int(count)

    def mark_submitted(self, entry_ids: Iterable[str], tx_hash: str) -> None:
        self._move(entry_ids, OutboxStatus.SUBMITTED, tx_hash=tx_hash, count_attempt=True)

    def mark_included(self, entry_ids: Iterable[str], block_number: int) -> None:
        self._move(entry_ids, OutboxStatus.INCLUDED, block_number=block_number)

    def mark_final(self, entry_ids: Iterable[str]) -> None:
        self._move(entry_ids, OutboxStatus.FINAL)

    def requeue(self, entry_ids: Iterable[str], reason: str) -> None:
        """Send again: the transaction was dropped, replaced or reorganised away."""
        self._move(entry_ids, OutboxStatus.QUEUED, error=reason, clear_tx=True)

    def mark_failed(self, entry_ids: Iterable[str], reason: str) -> None:
        """Give up on entries that can never be recorded (the chain refuses them)."""
        self._move(entry_ids, OutboxStatus.FAILED, error=reason)

    def next_nonce(self, address: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT next_nonce FROM nonces WHERE address = ?", (address.lower(),)
            ).fetchone()
        return None if row is None else int(row[0])

    def store_next_nonce(self, address: str, next_nonce: int) -> None:
        """Persist the next nonce to use, so that a restart never reuses one that is in flight."""
        with self._lock:
            self._db.execute(
                "INSERT INTO nonces (address, next_nonce) VALUES (?, ?)"
                " ON CONFLICT(address) DO UPDATE SET next_nonce = MAX(next_nonce, excluded.next_nonce)",
                (address.lower(), next_nonce),
            )

    def _get(self, entry_id: str) -> OutboxEntry:
        row = self._db.execute("SELECT * FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise UnknownEntry(f"no outbox entry {entry_id!r}")
        return _entry(row)

    def _move(
        self,
        entry_ids: Iterable[str],
        status: OutboxStatus,
        *,
        tx_hash: str | None = None,
        block_number: int | None = None,
        error: str | None = None,
        clear_tx: bool = False,
        count_attempt: bool = False,
    ) -> None:
        ids = list(entry_ids)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for entry_id in ids:
                    current = self._get(entry_id).status
                    if status not in _NEXT[current]:
                        raise IllegalTransition(f"entry {entry_id} cannot go from {current} to {status}")
                    self._db.execute(
                        "UPDATE entries SET status = ?, updated_at = ?,"
                        " tx_hash = CASE WHEN ? THEN NULL ELSE COALESCE(?, tx_hash) END,"
                        " block_number = CASE WHEN ? THEN NULL ELSE COALESCE(?, block_number) END,"
                        " error = COALESCE(?, error), attempts = attempts + ? WHERE id = ?",
                        (
                            status.value,
                            time.time(),
                            clear_tx,
                            tx_hash,
                            clear_tx,
                            block_number,
                            error,
                            int(count_attempt),
                            entry_id,
                        ),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    return OutboxEntry(
        id=row[0],
        idempotency_key=row[1],
        kind=row[2],
        payload=json.loads(row[3]),
        status=OutboxStatus(row[4]),
        tx_hash=row[5],
        block_number=row[6],
        attempts=row[7],
        error=row[8],
        created_at=row[9],
        updated_at=row[10],
    )
