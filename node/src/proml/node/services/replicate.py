"""Replication: pin other organisations' record documents and payloads in this node's IPFS daemon.

So that losing one organisation's storage loses no payload. The policy says which
assets: `all` of them, or only `dependencies`, the assets that this organisation's own assets derive from
(transitively, as the index's lineage says). Of those, every record that another organisation made is
replicated: its document, fetched and checked against the on-chain digest, then pinned, then every
payload CID that the document names, pinned.

What is done is remembered in a small SQLite file, so that a restart does not redo it; a failure (an IPFS
outage, a peer that is gone) is retried later with a growing delay. A document that does not match its
on-chain digest is marked invalid and not retried: the `verify` service reports it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proml.core.content.cid import CID
from proml.core.content.digest import ContentDigest
from proml.core.records import MAX_DOCUMENT_BYTES, RecordDocument, RecordDocumentError

from ..clients.ipfs import IpfsClientError
from ..providers.storage import PayloadMismatch, StorageError, StorageProvider
from .interruptible_sleep import wait_or_stop
from .query import MAX_LIMIT, Query, UnindexedAsset

log = logging.getLogger(__name__)

STATE_FILE = "replication.db"
MAX_DOCUMENT = MAX_DOCUMENT_BYTES  # a record document is a few kilobytes; capture refuses more
MAX_BACKOFF = 60.0  # seconds between two attempts at a record that keeps failing
POLICIES = ("all", "dependencies")

# Statuses of a record in the state file.
PINNED = "pinned"
FAILED = "failed"
INVALID = "invalid"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    record_cid TEXT PRIMARY KEY,
    asset TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    retry_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS payloads (
    cid TEXT PRIMARY KEY,
    record_cid TEXT NOT NULL
);
"""
_UPSERT_RECORD = """
INSERT INTO records (record_cid, asset, seq, status, attempts, error, retry_at) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(record_cid) DO UPDATE SET
    status = excluded.status, attempts = excluded.attempts,
    error = excluded.error, retry_at = excluded.retry_at
"""


@dataclass(frozen=True)
class Wanted:
    """A record to replicate: where its document is and what its on-chain digest says."""

    asset: str
    seq: int
    record_cid: str
    record_digest: str  # 0x-hex SHA-256 of the document's bytes


class _Invalid(Exception):
    """The document will never be right: it does not match its on-chain digest, or it is not one."""


class ReplicationState:
    """The state file: records done (or given up on), records to retry and when, payloads pinned."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        # The replicator reads it from a worker thread while the API's health reads it from the loop.
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def settled(self) -> set[str]:
        """Record CIDs not to try again: pinned with their payloads, or invalid."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record_cid FROM records WHERE status IN (?, ?)", (PINNED, INVALID)
            )
            return {row[0] for row in rows}

    def waiting(self, now: float) -> set[str]:
        """Record CIDs that failed and whose next attempt is not due yet."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record_cid FROM records WHERE status = ? AND retry_at > ?", (FAILED, now)
            )
            return {row[0] for row in rows}

    def payload_pinned(self, cid: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM payloads WHERE cid = ?", (cid,)).fetchone() is not None

    def mark_payload(self, cid: str, record_cid: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO payloads (cid, record_cid) VALUES (?, ?)", (cid, record_cid)
            )

    def mark(self, item: Wanted, status: str, error: str | None = None, base_delay: float = 0.0) -> None:
        """Store the outcome of an attempt; a failure's next attempt waits twice as long as the last."""
        with self._lock:
            attempts = self._attempts(item.record_cid) + 1
            delay = min(base_delay * 2 ** (attempts - 1), MAX_BACKOFF) if status == FAILED else 0.0
            self._db.execute(
                _UPSERT_RECORD,
                (item.record_cid, item.asset, item.seq, status, attempts, error, time.time() + delay),
            )

    def counts(self) -> dict[str, int]:
        """Records by status, and payloads pinned."""
        counts = {PINNED: 0, FAILED: 0, INVALID: 0}
        with self._lock:
            for status, count in self._db.execute("SELECT status, COUNT(*) FROM records GROUP BY status"):
                counts[status] = int(count)
            (payloads,) = self._db.execute("SELECT COUNT(*) FROM payloads").fetchone()
        return {**counts, "payloads": int(payloads)}

    def _attempts(self, record_cid: str) -> int:
        row = self._db.execute("SELECT attempts FROM records WHERE record_cid = ?", (record_cid,)).fetchone()
        return 0 if row is None else int(row[0])


class Replicator:
    """Follows the index and pins, in the local IPFS daemon, what other organisations recorded."""

    def __init__(
        self,
        query: Query,
        storage: StorageProvider,
        my_address: str,
        policy: str,
        state_path: Path,
        *,
        interval: float = 0.5,
        pin_timeout: float = 60.0,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"replication policy must be one of {', '.join(POLICIES)}, not {policy!r}")
        self._query = query
        self._storage = storage
        self._me = my_address.lower()
        self.policy = policy
        self._state = ReplicationState(state_path)
        self._interval = interval
        self._pin_timeout = pin_timeout
        self.pending = 0
        self.last_error: str | None = None
        # Asset -> the seq below which every record is settled: only newer records are read again (the
        # walk runs every `interval`; histories only grow).
        self._settled_below: dict[str, int] = {}

    def close(self) -> None:
        self._state.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Replicate until `stop` is set. Outages only delay: nothing escapes this loop."""
        while not stop.is_set():
            try:
                await self.step(stop)
            except Exception as exc:
                # Anything, not only IPFS errors: a background task that dies stops replication silently.
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("replicate: %s", self.last_error)
            await wait_or_stop(stop, self._interval)

    async def step(self, stop: asyncio.Event | None = None) -> int:
        """One pass over what the policy wants and is not done yet: the number of new pins (a record
        retried after a failure counts its document again). Ends early once `stop` is set."""
        wanted = await asyncio.to_thread(self.wanted)
        self.pending = len(wanted)
        pins = 0
        for item in wanted:
            if stop is not None and stop.is_set():
                break
            pins += await self._replicate(item)
            self.pending -= 1
        return pins

    def status(self) -> dict[str, Any]:
        counts = self._state.counts()
        return {
            "policy": self.policy,
            "pending": self.pending,
            "pinned": counts[PINNED],
            "payloads": counts["payloads"],
            "failed": counts[FAILED],
            "invalid": counts[INVALID],
            "error": self.last_error,
        }

    # -- what to replicate ------------------------------------------------------------------------

    def wanted(self) -> list[Wanted]:
        """Records in scope that another organisation made, not settled, not waiting for a retry."""
        settled = self._state.settled()
        skip = settled | self._state.waiting(time.time())
        found: list[Wanted] = []
        for asset in self._scope():
            address, count = asset["address"], asset.get("record_count")
            since = self._settled_below.get(address, 0)
            if count is not None and since >= count:
                continue
            try:
                history = self._query.history(address, since)
            except UnindexedAsset:
                continue  # dropped by a reorganisation since the listing
            todo = [w for w in _records_of_others(history, self._me) if w.record_cid not in settled]
            if history:
                self._settled_below[address] = min([w.seq for w in todo], default=history[-1]["seq"] + 1)
            found.extend(w for w in todo if w.record_cid not in skip)
        return found

    def _scope(self) -> list[dict[str, Any]]:
        assets = list(_all_assets(self._query))
        if self.policy == "all":
            return assets
        # My own assets are in scope too: another organisation may record on them (an audit, say).
        mine = [a["address"] for a in assets if str(a["owner"]).lower() == self._me]
        scope = set(mine)
        for address in mine:
            scope |= _upstream(self._query.lineage(address))
        return [a for a in assets if a["address"] in scope]

    # -- replicating one record -------------------------------------------------------------------

    async def _replicate(self, item: Wanted) -> int:
        """Fetch and check the document, pin it, pin its payloads; the number of new pins."""
        pins = 0
        try:
            document = await self._fetch_document(item)
            await self._storage.pin(CID.parse(item.record_cid), timeout=self._pin_timeout)
            pins += 1
            for cid in _payload_cids(document):
                if not self._state.payload_pinned(cid):
                    await self._storage.pin(CID.parse(cid), timeout=self._pin_timeout)
                    self._state.mark_payload(cid, item.record_cid)
                    pins += 1
        except _Invalid as exc:
            log.warning("replicate: record %s of %s: %s", item.seq, item.asset, exc)
            self._state.mark(item, INVALID, str(exc))
            return pins
        except (IpfsClientError, StorageError, TimeoutError) as exc:
            self.last_error = f"record {item.seq} of {item.asset}: {type(exc).__name__}: {exc}"
            log.warning("replicate: %s; retrying later", self.last_error)
            self._state.mark(item, FAILED, self.last_error, base_delay=self._interval)
            return pins
        self._state.mark(item, PINNED)
        self.last_error = None
        return pins

    async def _fetch_document(self, item: Wanted) -> RecordDocument:
        expected = ContentDigest("sha256", bytes.fromhex(item.record_digest.removeprefix("0x")))
        try:
            data = await self._storage.fetch_bytes(
                CID.parse(item.record_cid),
                max_size=MAX_DOCUMENT,
                expected_digest=expected,
                timeout=self._pin_timeout,
            )
            return RecordDocument.from_json_bytes(data)
        except PayloadMismatch as exc:
            # The CID is checked too: content that matches the CID but not the digest will never change.
            raise _Invalid(str(exc)) from None
        except RecordDocumentError as exc:
            raise _Invalid(f"not a record document: {exc}") from None


def _all_assets(query: Query) -> Iterable[dict[str, Any]]:
    offset = 0
    while True:
        page = query.assets(limit=MAX_LIMIT, offset=offset)
        yield from page
        if len(page) < MAX_LIMIT:
            return
        offset += MAX_LIMIT


def _upstream(lineage: dict[str, Any]) -> set[str]:
    """The assets the lineage's root derives from, transitively: its edges walked backwards."""
    sources: dict[str, list[str]] = {}
    for edge in lineage["edges"]:
        sources.setdefault(edge["to"], []).append(edge["from"])
    found: set[str] = set()
    queue = [lineage["root"]]
    while queue:
        for source in sources.get(queue.pop(), []):
            if source not in found:
                found.add(source)
                queue.append(source)
    return found


def _records_of_others(history: list[dict[str, Any]], me: str) -> Iterable[Wanted]:
    for entry in history:
        # My own records were published through my node: their documents and payloads are pinned here.
        if str(entry["actor"]).lower() == me or not entry["record_cid"] or not entry["record_digest"]:
            continue
        yield Wanted(entry["asset"], int(entry["seq"]), entry["record_cid"], entry["record_digest"])


def _payload_cids(document: RecordDocument) -> list[str]:
    cids = (artifact.cid for artifact in (*document.inputs, *document.outputs))
    return list(dict.fromkeys(cid for cid in cids if cid is not None))
