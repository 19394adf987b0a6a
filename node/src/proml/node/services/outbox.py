"""The durable outbox: every write a node accepts is stored here before it is acknowledged.

SQLite in WAL mode with `synchronous=FULL`: once `enqueue` returns, the entry survives a crash of the
process or of the machine. A worker takes queued entries, submits them, and moves them through
queued -> submitted -> included -> final. Idempotency keys make a retried request return the entry
it created the first time instead of recording twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Literal


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    INCLUDED = "included"
    FINAL = "final"
    FAILED = "failed"


# Which status may follow which. Submitted again: a replacement (same nonce, higher fees). Back to
# submitted: the block that included the transaction was reorganised away (even a final one, by a reorg
# deeper than the confirmations), so the same transaction is followed, and sent, again. Final back to
# included: a reorganisation moved the transaction to another block, not yet deep enough. Back to queued:
# the transaction can never be mined (its nonce went elsewhere, or the batch reverted), so the entry must
# be sent anew.
_NEXT: dict[OutboxStatus, frozenset[OutboxStatus]] = {
    OutboxStatus.QUEUED: frozenset({OutboxStatus.SUBMITTED, OutboxStatus.FAILED}),
    OutboxStatus.SUBMITTED: frozenset(
        {OutboxStatus.SUBMITTED, OutboxStatus.INCLUDED, OutboxStatus.QUEUED, OutboxStatus.FAILED}
    ),
    OutboxStatus.INCLUDED: frozenset({OutboxStatus.FINAL, OutboxStatus.SUBMITTED, OutboxStatus.QUEUED}),
    OutboxStatus.FINAL: frozenset({OutboxStatus.SUBMITTED, OutboxStatus.INCLUDED}),
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
    updated_at REAL NOT NULL,
    raw_tx TEXT,
    result TEXT,
    request_hash TEXT,
    document_pinned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entries_unpinned ON entries (document_pinned) WHERE document_pinned = 0;
CREATE INDEX IF NOT EXISTS entries_by_status ON entries (status, created_at);
CREATE INDEX IF NOT EXISTS entries_by_tx ON entries (tx_hash);
CREATE INDEX IF NOT EXISTS entries_by_block ON entries (status, block_number);
CREATE TABLE IF NOT EXISTS nonces (address TEXT PRIMARY KEY, next_nonce INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS transactions (
    hash TEXT PRIMARY KEY, origin TEXT NOT NULL, nonce INTEGER NOT NULL, raw TEXT NOT NULL,
    unsigned TEXT NOT NULL, sent_at REAL NOT NULL, block_hash TEXT
);
CREATE INDEX IF NOT EXISTS transactions_by_origin ON transactions (origin);
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
    # Signed bytes of a transaction stored without its `Attempt` (by an older version, or without
    # what replacing it needs); else they are the attempt's `raw`.
    raw_tx: str | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class Attempt:
    """One signed transaction for a group of entries. A replacement (same nonce, higher fees) shares the
    `origin` (the first one's hash) of the transactions it replaces: whichever of them is mined records
    the entries."""

    hash: str
    origin: str
    nonce: int
    raw: str
    unsigned: str
    sent_at: float
    block_hash: str | None = None


@dataclass(frozen=True)
class FinalTransaction:
    """A transaction that holds final entries: its hash, the block it is final in, the entries' ids."""

    hash: str
    block_number: int
    entry_ids: list[str]


@dataclass
class _Request:
    """An entry waiting to be stored by a group commit, and what became of it."""

    kind: str
    text: str
    idempotency_key: str | None
    request_hash: str | None
    done: bool = False
    entry: OutboxEntry | None = None
    created: bool = False
    error: Exception | None = None
    # Set once stored, for a request from an event loop (`enqueue_on_loop`).
    stored: asyncio.Future[None] | None = None

    def outcome(self) -> tuple[OutboxEntry, bool]:
        if self.error is not None:
            raise self.error
        assert self.entry is not None
        return self.entry, self.created


class Outbox:
    """One SQLite file; safe to share between the API's threads and the background process's."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Writers of both processes take this file lock in turn. SQLite's own lock would do, but a writer
        # that finds it taken sleeps and polls (1, 2, 5, 10 ms...), which an acknowledgement cannot afford;
        # a waiter on the file lock wakes the moment it is released.
        self._writers = path.with_name(path.name + ".lock").open("a")
        self._commit_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: list[_Request] = []
        self._loop_pending: list[_Request] = []
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # Checkpoints copy the WAL into the database and sync it: slow, so not on the path of a commit
        # that a client waits for. `checkpoint()` does it, from a connection of its own.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(_SCHEMA)
        self._path = path

    def close(self) -> None:
        self.checkpoint()
        with self._lock:
            self._db.close()
            self._writers.close()

    def checkpoint(self) -> None:
        """Move what the WAL holds into the database file, without blocking writers."""
        db = sqlite3.connect(self._path, isolation_level=None)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> tuple[OutboxEntry, bool]:
        """Store a new entry durably; return it and whether it is new.

        With an idempotency key used before for the same request, the first entry is returned
        (`False`); used before for a different request, `IdempotencyConflict`. The request is the same
        when `request_hash` is (if given: a payload may hold the time it was made), else the payload.

        Group commit: requests that arrive while another commit waits for the disk are stored together,
        in one transaction and one disk sync, by whichever of their threads gets there first.
        """
        request = _Request(kind, _text(payload), idempotency_key, request_hash)
        with self._pending_lock:
            self._pending.append(request)
        with self._commit_lock:
            if not request.done:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                self._store(batch)
        return request.outcome()

    async def enqueue_on_loop(
        self,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> tuple[OutboxEntry, bool]:
        """`enqueue`, for a coroutine, without a thread: the requests that reach this point in one pass of
        the event loop are stored together (one transaction, one disk sync) by a callback that runs once
        they are all in. The loop itself waits for that sync. Every request waiting here waits for it
        anyway, and handing each request to a thread and back costs more than the sync does, in wake-ups
        that a busy machine delays."""
        loop = asyncio.get_running_loop()
        stored = loop.create_future()
        request = _Request(kind, _text(payload), idempotency_key, request_hash, stored=stored)
        self._loop_pending.append(request)
        if len(self._loop_pending) == 1:
            loop.call_soon(self._store_loop_pending)
        await stored
        return request.outcome()

    def _store_loop_pending(self) -> None:
        batch, self._loop_pending = self._loop_pending, []
        with self._commit_lock, contextlib.suppress(Exception):  # each request holds its error
            self._store(batch)
        for request in batch:
            # A waiter cancelled meanwhile (its client went away) finds its entry stored all the same.
            if request.stored is not None and not request.stored.done():
                request.stored.set_result(None)

    def _store(self, batch: list[_Request]) -> None:
        try:
            with self._transaction():
                for request in batch:
                    try:
                        request.entry, request.created = self._insert(request)
                    except IdempotencyConflict as exc:
                        request.error = exc
        except BaseException as exc:
            for request in batch:
                request.error = request.error or OutboxError(f"the outbox could not store the entry: {exc}")
            raise
        finally:
            for request in batch:
                request.done = True

    def _insert(self, request: _Request) -> tuple[OutboxEntry, bool]:
        if request.idempotency_key is not None:
            row = self._db.execute(
                "SELECT * FROM entries WHERE idempotency_key = ?", (request.idempotency_key,)
            ).fetchone()
            if row is not None:
                same_as = request.request_hash if request.request_hash is not None else request.text
                if (row[2], row[13] if row[13] is not None else row[3]) != (request.kind, same_as):
                    raise IdempotencyConflict(
                        f"idempotency key {request.idempotency_key!r} was used for a different request; "
                        "use a new key for a new request"
                    )
                return _entry(row), False
        now = time.time()
        entry_id = uuid.uuid4().hex
        self._db.execute(
            "INSERT INTO entries (id, idempotency_key, kind, payload, status, created_at, updated_at,"
            " request_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry_id,
                request.idempotency_key,
                request.kind,
                request.text,
                OutboxStatus.QUEUED.value,
                now,
                now,
                request.request_hash,
            ),
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

    def mark_submitted(
        self,
        entry_ids: Iterable[str],
        tx_hash: str,
        raw_tx: str | None = None,
        *,
        next_nonce: tuple[str, int] | None = None,
        unsigned: str | None = None,
    ) -> None:
        """Record the signed transaction *before* it is sent: after a crash the same bytes are sent
        again, never a second transaction for the same entries.

        `next_nonce` (sender, nonce after this transaction's) is stored in the same transaction and disk
        sync: a nonce matters from the moment a transaction with it may be sent, which is after this.
        With `unsigned` (what was signed, JSON), the transaction can be replaced later."""
        attempt = None
        if raw_tx is not None and unsigned is not None and next_nonce is not None:
            attempt = Attempt(tx_hash, tx_hash, next_nonce[1] - 1, raw_tx, unsigned, time.time())
        self._move(
            entry_ids,
            OutboxStatus.SUBMITTED,
            tx_hash=tx_hash,
            raw_tx=raw_tx,
            count_attempt=True,
            next_nonce=next_nonce,
            attempt=attempt,
        )

    def mark_replaced(
        self, entry_ids: Iterable[str], replaced: Attempt, tx_hash: str, raw: str, unsigned: str
    ) -> None:
        """Record a replacement of `replaced` (same nonce, higher fees) *before* it is sent; both stay
        candidates until one of them is mined."""
        attempt = Attempt(tx_hash, replaced.origin, replaced.nonce, raw, unsigned, time.time())
        self._move(entry_ids, OutboxStatus.SUBMITTED, tx_hash=tx_hash, raw_tx=raw, attempt=attempt)

    def attempt(self, tx_hash: str) -> Attempt | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM transactions WHERE hash = ?", (tx_hash,)).fetchone()
        return None if row is None else Attempt(*row)

    def attempts(self, tx_hash: str) -> list[Attempt]:
        """Every transaction that may record the entries of `tx_hash` (it and the transactions it replaced
        or that replaced it), the latest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM transactions WHERE origin = (SELECT origin FROM transactions WHERE hash = ?)"
                " ORDER BY sent_at DESC, rowid DESC",
                (tx_hash,),
            ).fetchall()
        return [Attempt(*row) for row in rows]

    def final_since(self, block_number: int) -> list[FinalTransaction]:
        """The transactions of final entries in block `block_number` or later, the latest block first.
        Read about once a second while the node runs: no payloads, and an index on the block."""
        with self._lock:
            rows = self._db.execute(
                "SELECT tx_hash, block_number, group_concat(id) FROM entries"
                " WHERE status = ? AND block_number >= ? GROUP BY tx_hash ORDER BY block_number DESC",
                (OutboxStatus.FINAL.value, block_number),
            ).fetchall()
        return [FinalTransaction(tx_hash, number, ids.split(",")) for tx_hash, number, ids in rows]

    def set_result(self, entry_id: str, result: Mapping[str, Any]) -> None:
        """Merge `result` into what the entry reports (record digest and CID, asset, seq, accepted...)."""
        self.set_results({entry_id: result})

    def set_results(self, results: Mapping[str, Mapping[str, Any]]) -> None:
        """`set_result` for several entries in one transaction."""
        with self._transaction(durable=False):
            stored = self._by_id("result", results)
            if missing := set(results) - set(stored):
                raise UnknownEntry(f"no outbox entry {sorted(missing)[0]!r}")
            merged = {
                entry_id: {**(json.loads(stored[entry_id]) if stored[entry_id] else {}), **result}
                for entry_id, result in results.items()
            }
            # One statement for the batch (see `_by_id`): each entry's result is looked up in the object.
            self._db.execute(
                "UPDATE entries SET updated_at = ?,"
                " result = (SELECT value FROM json_each(?2) WHERE key = entries.id)"
                " WHERE id IN (SELECT key FROM json_each(?2))",
                (time.time(), json.dumps(merged, sort_keys=True)),
            )

    def registered_kind(self, asset: str) -> str | None:
        """The kind of an asset this node registered ("dataset" or "model"), once its address is known."""
        with self._lock:
            row = self._db.execute(
                "SELECT json_extract(payload, '$.kind') FROM entries WHERE kind = 'register'"
                " AND lower(json_extract(result, '$.asset')) = lower(?)",
                (asset,),
            ).fetchone()
        return None if row is None else str(row[0])

    def unpinned_documents(self, limit: int) -> list[tuple[str, str]]:
        """(entry id, record document CID) of documents stored on IPFS but not pinned yet."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, json_extract(result, '$.record_cid') FROM entries"
                " WHERE document_pinned = 0 AND json_extract(result, '$.record_cid') IS NOT NULL"
                " ORDER BY rowid LIMIT ?",
                (limit,),
            ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def mark_documents_pinned(self, entry_ids: Iterable[str]) -> None:
        with self._transaction(durable=False):
            self._db.execute(
                "UPDATE entries SET document_pinned = 1 WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(entry_ids)),),
            )

    def mark_included(
        self,
        entry_ids: Iterable[str],
        block_number: int,
        *,
        tx_hash: str | None = None,
        block_hash: str | None = None,
    ) -> None:
        """In block `block_number` (hash `block_hash`), by transaction `tx_hash` (default: the entries'
        own; else one of the transactions it replaced, or that replaced it)."""
        self._move(
            entry_ids,
            OutboxStatus.INCLUDED,
            block_number=block_number,
            tx_hash=tx_hash,
            durable=False,
            block_hash=(tx_hash, block_hash) if tx_hash and block_hash else None,
        )

    def mark_resubmitted(self, entry_ids: Iterable[str]) -> None:
        """Included no more (a reorganisation): wait again for the same transaction. Its wait before a
        replacement starts again: it was mined once at its fees, and may be back in the pool."""
        ids = list(entry_ids)
        self._move(ids, OutboxStatus.SUBMITTED)
        with self._transaction(durable=False):
            self._db.executemany(
                "UPDATE transactions SET sent_at = ? WHERE hash = (SELECT tx_hash FROM entries WHERE id = ?)",
                [(time.time(), entry_id) for entry_id in ids],
            )

    def mark_final(
        self,
        entry_ids: Iterable[str],
        block_number: int | None = None,
        *,
        block_hash: tuple[str, str] | None = None,
    ) -> None:
        """Final (in block `block_number`, if it moved; `block_hash`: (transaction, its block's hash))."""
        self._move(entry_ids, OutboxStatus.FINAL, block_number=block_number, block_hash=block_hash)

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

    def _raise_nonce(self, address: str, next_nonce: int) -> None:
        """The next nonce to use, so that a restart never reuses one that is in flight; it only rises."""
        self._db.execute(
            "INSERT INTO nonces (address, next_nonce) VALUES (?, ?)"
            " ON CONFLICT(address) DO UPDATE SET next_nonce = MAX(next_nonce, excluded.next_nonce)",
            (address.lower(), next_nonce),
        )

    def _statuses(self, entry_ids: list[str]) -> dict[str, OutboxStatus]:
        """The entries' statuses, in the order given."""
        found = {k: OutboxStatus(v) for k, v in self._by_id("status", entry_ids).items()}
        for entry_id in entry_ids:
            if entry_id not in found:
                raise UnknownEntry(f"no outbox entry {entry_id!r}")
        return {entry_id: found[entry_id] for entry_id in entry_ids}

    def _by_id(self, column: Literal["status", "result"], entry_ids: Iterable[str]) -> dict[str, Any]:
        """{id: column} of the entries that exist, as one row. Every row a statement yields costs the
        calling thread a release and a retake of the GIL; in the background process, where other threads
        keep it busy, a batch's row-by-row reads and writes held the writers' lock (and so the API's
        next acknowledgement) for a tenth of a second."""
        (text,) = self._db.execute(
            f"SELECT json_group_object(id, {column}) FROM entries"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(entry_ids)),),
        ).fetchone()
        found: dict[str, Any] = json.loads(text)
        return found

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
        raw_tx: str | None = None,
        error: str | None = None,
        clear_tx: bool = False,
        count_attempt: bool = False,
        next_nonce: tuple[str, int] | None = None,
        attempt: Attempt | None = None,
        durable: bool | None = None,
        block_hash: tuple[str, str] | None = None,
    ) -> None:
        ids = list(entry_ids)
        # What must survive a crash of the machine: a signed transaction before it is sent (else a
        # second one could be made for the same entries) and a final failure. Other moves can be
        # learned again from the chain, so they skip the disk sync; they still survive a crash of
        # the process (WAL).
        if durable is None:
            durable = raw_tx is not None or status == OutboxStatus.FAILED
        # The signed bytes are stored once, in the transaction's row: on each of a batch's entries they
        # were 50 copies of some 30 kB, written (and synced) with every move of the batch, while the API
        # process waits for the same database to store a request.
        entry_raw, clear_raw = (None, True) if attempt is not None else (raw_tx, clear_tx)
        with self._transaction(durable=durable):
            if attempt is not None:
                self._db.execute(
                    "INSERT OR IGNORE INTO transactions (hash, origin, nonce, raw, unsigned, sent_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        attempt.hash,
                        attempt.origin,
                        attempt.nonce,
                        attempt.raw,
                        attempt.unsigned,
                        attempt.sent_at,
                    ),
                )
            if block_hash is not None:
                self._db.execute(
                    "UPDATE transactions SET block_hash = ? WHERE hash = ?", (block_hash[1], block_hash[0])
                )
            for entry_id, current in self._statuses(ids).items():
                if status not in _NEXT[current]:
                    raise IllegalTransition(f"entry {entry_id} cannot go from {current} to {status}")
            self._db.execute(
                "UPDATE entries SET status = ?, updated_at = ?,"
                " tx_hash = CASE WHEN ? THEN NULL ELSE COALESCE(?, tx_hash) END,"
                " raw_tx = CASE WHEN ? THEN NULL ELSE COALESCE(?, raw_tx) END,"
                " block_number = CASE WHEN ? THEN NULL ELSE COALESCE(?, block_number) END,"
                " error = COALESCE(?, error), attempts = attempts + ?"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (
                    status.value,
                    time.time(),
                    clear_tx,
                    tx_hash,
                    clear_raw,
                    entry_raw,
                    clear_tx,
                    block_number,
                    error,
                    int(count_attempt),
                    json.dumps(ids),
                ),
            )
            if next_nonce is not None:
                self._raise_nonce(*next_nonce)

    @contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[None]:
        """One write transaction under the lock; `durable=False` commits without waiting for the disk."""
        with self._lock, _locked(self._writers):
            if not durable:
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                if self._db.in_transaction:
                    self._db.execute("COMMIT")
                if not durable:
                    self._db.execute("PRAGMA synchronous=FULL")


@contextmanager
def _locked(handle: IO[str]) -> Iterator[None]:
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


def _text(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


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
        raw_tx=row[11],
        result=None if row[12] is None else json.loads(row[12]),
    )
