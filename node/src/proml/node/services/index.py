"""The event index: the registry's and every registered asset's events, in a local SQLite file.

The chain is the source of truth; this file is a cache of it that can be dropped and rebuilt at any
time (`reindex`). `sync` reads confirmed blocks in ranges with `eth_getLogs` and applies each range in
one SQLite transaction together with the cursor (last indexed block number and hash), so a crash never
half-applies a range and a restart resumes where the last commit stopped.

Reorgs: only blocks at least `confirmations` deep are indexed, and every sync first checks that the
cursor's block is still the canonical one. If it is not, every row from above the last stored block
that is still canonical is deleted, the aggregates (asset states, members, proposals) are recomputed
from the append-only event tables, and indexing continues from there.

Tables hold events (append-only, each with its block) and aggregates derived from them:
- `assets` (one row per AssetRegistered; `state`, `record_count`, `ancestors` derived from `records`),
- `records`, `anchors`, `rollbacks`, `contributors` (asset events),
- `member_events` -> `members`, `proposals` (+ `approvals` count and execution), `approvals`,
  `thresholds` (registry events),
- `blocks` (hash and time of blocks with events, and of the cursor block), `cursor`, `meta`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from proml.contracts import calls
from proml.contracts.addresses import checksum
from proml.contracts.events import (
    ASSET_TOPICS,
    REGISTRY_TOPICS,
    Anchored,
    AssetRegistered,
    ContributorAdded,
    ContributorRemoved,
    Event,
    MemberAdded,
    MemberRolesChanged,
    MemberSuspended,
    ProposalApproved,
    ProposalCreated,
    ProposalExecuted,
    ProvenanceRecorded,
    RolledBack,
    ThresholdChanged,
    decode_log,
)
from proml.core.workflow import Activity, MemberStatus
from proml.node.clients.chain import Block, ChainError, ChainUnavailable
from proml.node.providers.blockchain import BlockchainProvider

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2"
_MAX_RANGE_ATTEMPTS = 3

# Every table with a `block_number` column holds events: a reorg deletes its rows above the fork.
_EVENT_TABLES = (
    "assets",
    "records",
    "anchors",
    "rollbacks",
    "contributors",
    "member_events",
    "proposals",
    "approvals",
    "thresholds",
)
_POSITION = "block_number INTEGER NOT NULL, block_hash TEXT NOT NULL, tx_hash TEXT NOT NULL, "
_POSITION += "log_index INTEGER NOT NULL, timestamp INTEGER NOT NULL"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1), block_number INTEGER NOT NULL, block_hash TEXT
);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, hash TEXT NOT NULL, timestamp INTEGER NOT NULL, has_events INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assets (
    address TEXT PRIMARY KEY, kind INTEGER NOT NULL, owner TEXT NOT NULL,
    content_digest BLOB NOT NULL, record_digest BLOB NOT NULL, record_cid BLOB NOT NULL,
    ancestors TEXT NOT NULL DEFAULT '[]', state INTEGER NOT NULL DEFAULT 0,
    record_count INTEGER NOT NULL DEFAULT 0, {_POSITION}
);
CREATE INDEX IF NOT EXISTS assets_by_owner ON assets (owner);
CREATE INDEX IF NOT EXISTS assets_by_kind_state ON assets (kind, state);
CREATE INDEX IF NOT EXISTS assets_by_position ON assets (block_number, log_index);
CREATE TABLE IF NOT EXISTS records (
    asset TEXT NOT NULL, seq INTEGER NOT NULL, actor TEXT NOT NULL, activity INTEGER NOT NULL,
    from_state INTEGER NOT NULL, to_state INTEGER NOT NULL, accepted INTEGER NOT NULL,
    record_digest BLOB NOT NULL, record_cid BLOB NOT NULL, inputs TEXT NOT NULL, outputs TEXT NOT NULL,
    prev_head BLOB NOT NULL, {_POSITION}, PRIMARY KEY (asset, seq)
);
CREATE INDEX IF NOT EXISTS records_by_block ON records (block_number);
CREATE TABLE IF NOT EXISTS anchors (
    asset TEXT NOT NULL, seq INTEGER NOT NULL, phase INTEGER NOT NULL, root BLOB NOT NULL, {_POSITION},
    PRIMARY KEY (asset, seq)
);
CREATE TABLE IF NOT EXISTS rollbacks (
    asset TEXT NOT NULL, seq INTEGER NOT NULL, to_seq INTEGER NOT NULL, accepted INTEGER NOT NULL,
    reason TEXT NOT NULL, {_POSITION}, PRIMARY KEY (asset, seq)
);
CREATE TABLE IF NOT EXISTS contributors (
    asset TEXT NOT NULL, account TEXT NOT NULL, added INTEGER NOT NULL, {_POSITION},
    PRIMARY KEY (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS member_events (
    member TEXT NOT NULL, event TEXT NOT NULL, name TEXT, roles INTEGER, {_POSITION},
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX IF NOT EXISTS member_events_by_member ON member_events (member);
CREATE TABLE IF NOT EXISTS members (
    address TEXT PRIMARY KEY, name TEXT NOT NULL, roles INTEGER NOT NULL, status INTEGER NOT NULL,
    joined_block INTEGER NOT NULL, joined_log_index INTEGER NOT NULL, updated_block INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS proposals (
    id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, proposer TEXT NOT NULL, target TEXT NOT NULL,
    name TEXT NOT NULL, roles INTEGER NOT NULL, threshold_bps INTEGER NOT NULL,
    approvals INTEGER NOT NULL DEFAULT 0, executed INTEGER NOT NULL DEFAULT 0,
    executed_block INTEGER, executed_tx TEXT, executed_at INTEGER, {_POSITION}
);
CREATE TABLE IF NOT EXISTS approvals (
    proposal_id INTEGER NOT NULL, approver TEXT NOT NULL, approvals INTEGER NOT NULL, {_POSITION},
    PRIMARY KEY (proposal_id, approver)
);
CREATE TABLE IF NOT EXISTS thresholds (
    old_bps INTEGER NOT NULL, new_bps INTEGER NOT NULL, {_POSITION}, PRIMARY KEY (block_number, log_index)
);
"""

_ALL_TABLES = ("meta", "cursor", "blocks", *_EVENT_TABLES, "members")


class _ChainMoved(Exception):
    """The chain reorganised while a range was read; read it again after the reorg check."""


@dataclass(frozen=True)
class Cursor:
    """The last indexed block; `block_hash` is None before anything was indexed."""

    block_number: int
    block_hash: str | None


@dataclass
class _Touched:
    """What a range changed, so that only those aggregates are recomputed."""

    assets: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    proposals: set[int] = field(default_factory=set)


def address_word(address: str) -> str:
    """`address` as the bytes32 that record inputs carry, 0x-hex (lower case, as the index stores it)."""
    word: bytes = calls.address_word(address)
    return "0x" + word.hex()


class Index:
    """The SQLite index of one registry. One instance syncs (the node's background process); others, in
    that process or another, read consistent snapshots meanwhile. Thread-safe."""

    def __init__(
        self,
        path: Path,
        chain: BlockchainProvider,
        registry: str,
        confirmations: int = 1,
        start_block: int = 0,
        blocks_per_query: int = 2000,
    ) -> None:
        if confirmations < 1:
            raise ValueError("confirmations must be at least 1 (1: the latest block counts)")
        if start_block < 0 or blocks_per_query < 1:
            raise ValueError("start_block must be >= 0 and blocks_per_query >= 1")
        self._chain = chain
        self.registry = to_checksum_address(registry)
        self.confirmations = confirmations
        self.start_block = start_block
        self.blocks_per_query = blocks_per_query
        self._db_lock = threading.RLock()
        self._sync_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL keeps every commit atomic in WAL mode; a power cut may lose the last commits, and the
        # index then resumes from an older cursor, which is harmless.
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db_lock:
            self._open_schema()
            self._cursor = self._load_cursor()
            self._assets = self._load_assets()

    # -- public -----------------------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        """The last indexed block (`start_block - 1` before anything was indexed), by whichever syncs."""
        return self.cursor_position().block_number

    def cursor_position(self) -> Cursor:
        """The last indexed block with its hash (the hash is None before anything was indexed)."""
        with self._db_lock:
            return self._load_cursor()

    def sync(self) -> int:
        """Index every new confirmed block; the number of events stored (after a reorg: re-stored)."""
        with self._sync_lock:
            stored = 0
            attempts = 0
            self._check_reorg()
            target = int(self._chain.block_number()) - self.confirmations + 1
            while self._cursor.block_number < target:
                end = min(target, self._cursor.block_number + self.blocks_per_query)
                try:
                    stored += self._sync_range(self._cursor.block_number + 1, end)
                except _ChainMoved:
                    attempts += 1
                    if attempts >= _MAX_RANGE_ATTEMPTS:
                        log.warning("the chain kept reorganising while indexing; trying again later")
                        break
                    self._check_reorg()
            return stored

    def lag(self) -> int:
        """Blocks on the chain not yet indexed: head minus cursor (confirmation depth included)."""
        return max(0, int(self._chain.block_number()) - self.cursor)

    def reindex(self) -> int:
        """Drop every table and rebuild from `start_block`; the number of events stored."""
        with self._sync_lock, self._db_lock:
            for table in _ALL_TABLES:
                self._db.execute(f"DROP TABLE IF EXISTS {table}")
            self._open_schema()
            self._cursor = self._load_cursor()
            self._assets = self._load_assets()
        return self.sync()

    def close(self) -> None:
        with self._sync_lock, self._db_lock:
            self._db.close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads only, in one read transaction: its queries see one snapshot, whatever
        a sync (here or in another process) commits meanwhile."""
        with self._db_lock:
            if self._db.in_transaction:  # nested in another reading()
                yield self._db
                return
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def is_asset(self, address: str) -> bool:
        with self.reading() as db:
            row = db.execute("SELECT 1 FROM assets WHERE address = ?", (to_checksum_address(address),))
            return row.fetchone() is not None

    # -- schema and state -------------------------------------------------------------------------

    def _open_schema(self) -> None:
        self._db.executescript(_SCHEMA)
        wanted = {"schema": SCHEMA_VERSION, "registry": self.registry, "start_block": str(self.start_block)}
        found = {row["key"]: row["value"] for row in self._db.execute("SELECT key, value FROM meta")}
        if found and found != wanted:
            # Built for another registry, start block or schema: it describes something else. Rebuild.
            log.warning("index %s was built for %s; rebuilding it for %s", self, found, wanted)
            for table in _ALL_TABLES:
                self._db.execute(f"DROP TABLE IF EXISTS {table}")
            self._db.executescript(_SCHEMA)
            found = {}
        if not found:
            self._db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(wanted.items()))
            self._db.execute(
                "INSERT INTO cursor (id, block_number, block_hash) VALUES (1, ?, NULL)",
                (self.start_block - 1,),
            )

    def _load_cursor(self) -> Cursor:
        row = self._db.execute("SELECT block_number, block_hash FROM cursor WHERE id = 1").fetchone()
        return Cursor(int(row["block_number"]), row["block_hash"])

    def _load_assets(self) -> frozenset[str]:
        return frozenset(row[0] for row in self._db.execute("SELECT address FROM assets"))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- reading the chain ------------------------------------------------------------------------

    def _sync_range(self, start: int, end: int) -> int:
        """Read blocks `start`..`end` and apply them with the cursor in one transaction."""
        end_block = self._chain.get_block(end)
        if end_block is None:
            raise _ChainMoved(f"block {end} is gone")
        registry_logs = self._logs(start, end, [self.registry], [list(REGISTRY_TOPICS)])
        asset_logs = self._logs(start, end, None, [list(ASSET_TOPICS)])
        blocks = self._blocks_of([*registry_logs, *asset_logs])
        # The range must have been read from one chain that extends the indexed one: the end block is
        # unchanged after the reads, and the cursor's block is still canonical.
        again = self._chain.get_block(end)
        if again is None or again.hash != end_block.hash:
            raise _ChainMoved(f"block {end} changed while it was read")
        if not self._cursor_canonical():
            raise _ChainMoved(f"block {self._cursor.block_number} was replaced")
        registry_events = _decoded(registry_logs)
        with self._transaction() as db:
            known = set(self._assets)
            touched = _Touched()
            for event in registry_events:
                _apply_registry(db, event, blocks[event.block_number].timestamp, touched)
                if isinstance(event, AssetRegistered):
                    known.add(event.asset)
            # Asset logs only from registered assets: foreign contracts may emit the same topics.
            asset_events = _decoded([lg for lg in asset_logs if checksum(lg["address"]) in known])
            for event in asset_events:
                _apply_asset(db, event, blocks[event.block_number].timestamp, touched)
            _refresh(db, touched)
            self._store_blocks(db, blocks.values(), end_block)
            self._assets = frozenset(known)
            self._cursor = Cursor(end_block.number, end_block.hash)
        return len(registry_events) + len(asset_events)

    def _logs(
        self, start: int, end: int, addresses: list[str] | None, topics: list[Any]
    ) -> list[dict[str, Any]]:
        """`eth_getLogs`, halving the range when the chain refuses it as too large."""
        try:
            return list(self._chain.get_logs(start, end, addresses, topics))
        except ChainUnavailable:
            raise
        except ChainError:
            if start >= end:
                raise
            middle = (start + end) // 2
            return [
                *self._logs(start, middle, addresses, topics),
                *self._logs(middle + 1, end, addresses, topics),
            ]

    def _blocks_of(self, logs: Sequence[Mapping[str, Any]]) -> dict[int, Block]:
        """The header of each block that has logs, fetched once; the logs must be from those blocks."""
        blocks: dict[int, Block] = {}
        for entry in logs:
            number = _quantity(entry["blockNumber"])
            if number not in blocks:
                block = self._chain.get_block(number)
                if block is None:
                    raise _ChainMoved(f"block {number} is gone")
                blocks[number] = block
            if str(entry["blockHash"]).lower() != blocks[number].hash.lower():
                raise _ChainMoved(f"block {number} changed while it was read")
        return blocks

    def _store_blocks(self, db: sqlite3.Connection, blocks: Iterable[Block], end: Block) -> None:
        """Keep the hashes of blocks with events (to find a fork point) and of the new cursor block."""
        db.executemany(
            "INSERT OR REPLACE INTO blocks (number, hash, timestamp, has_events) VALUES (?, ?, ?, 1)",
            [(b.number, b.hash, b.timestamp) for b in blocks],
        )
        db.execute("DELETE FROM blocks WHERE has_events = 0")  # the previous cursor block
        db.execute(
            "INSERT OR IGNORE INTO blocks (number, hash, timestamp, has_events) VALUES (?, ?, ?, 0)",
            (end.number, end.hash, end.timestamp),
        )
        db.execute("UPDATE cursor SET block_number = ?, block_hash = ? WHERE id = 1", (end.number, end.hash))

    # -- reorgs -----------------------------------------------------------------------------------

    def _check_reorg(self) -> None:
        """If the cursor's block is no longer canonical, rewind to the last stored block that is."""
        if self._cursor_canonical():
            return
        cursor = self._cursor
        fork = self._last_canonical(cursor.block_number)
        log.warning("reorg: block %d is no longer canonical; rewinding to %s", cursor.block_number, fork)
        self._rewind(fork)

    def _cursor_canonical(self) -> bool:
        cursor = self._cursor
        if cursor.block_hash is None:
            return True
        block = self._chain.get_block(cursor.block_number)
        return block is not None and block.hash == cursor.block_hash

    def _last_canonical(self, below: int) -> Cursor:
        with self._db_lock:
            stored = self._db.execute(
                "SELECT number, hash FROM blocks WHERE number < ? ORDER BY number DESC", (below,)
            ).fetchall()
        for row in stored:
            block = self._chain.get_block(int(row["number"]))
            if block is not None and block.hash == row["hash"]:
                return Cursor(block.number, block.hash)
        return Cursor(self.start_block - 1, None)

    def _rewind(self, to: Cursor) -> None:
        with self._transaction() as db:
            for table in _EVENT_TABLES:
                db.execute(f"DELETE FROM {table} WHERE block_number > ?", (to.block_number,))
            db.execute(
                "UPDATE proposals SET executed = 0, executed_block = NULL, executed_tx = NULL,"
                " executed_at = NULL WHERE executed_block > ?",
                (to.block_number,),
            )
            db.execute("DELETE FROM blocks WHERE number > ?", (to.block_number,))
            db.execute(
                "UPDATE cursor SET block_number = ?, block_hash = ? WHERE id = 1",
                (to.block_number, to.block_hash),
            )
            _refresh_all(db)
            self._assets = self._load_assets()
            self._cursor = to


# -- applying events --------------------------------------------------------------------------------


def _decoded(logs: Sequence[Mapping[str, Any]]) -> list[Event]:
    events = [event for event in map(decode_log, logs) if event is not None]
    return sorted(events, key=lambda e: (e.block_number, e.log_index))


def _position(event: Event, timestamp: int) -> tuple[int, str, str, int, int]:
    return event.block_number, event.block_hash, event.transaction_hash, event.log_index, timestamp


_POSITION_COLUMNS = "block_number, block_hash, tx_hash, log_index, timestamp"


def _insert(db: sqlite3.Connection, table: str, values: Mapping[str, Any], position: tuple[Any, ...]) -> None:
    columns = ", ".join(values) + ", " + _POSITION_COLUMNS
    marks = ", ".join("?" * (len(values) + len(position)))
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", (*values.values(), *position))


def _apply_registry(db: sqlite3.Connection, event: Event, timestamp: int, touched: _Touched) -> None:
    at = _position(event, timestamp)
    match event:
        case AssetRegistered():
            values = {
                "address": event.asset,
                "kind": event.kind,
                "owner": event.owner,
                "content_digest": event.content_digest,
                "record_digest": event.record_digest,
                "record_cid": event.record_cid,
            }
            _insert(db, "assets", values, at)
        case MemberAdded():
            _member_event(db, event.member, "added", event.name, event.roles, at, touched)
        case MemberSuspended():
            _member_event(db, event.member, "suspended", None, None, at, touched)
        case MemberRolesChanged():
            _member_event(db, event.member, "roles", None, event.new_roles, at, touched)
        case ProposalCreated():
            values = {
                "id": event.proposal_id,
                "kind": event.kind,
                "proposer": event.proposer,
                "target": event.target,
                "name": event.name,
                "roles": event.roles,
                "threshold_bps": event.threshold_bps,
            }
            _insert(db, "proposals", values, at)
        case ProposalApproved():
            values = {
                "proposal_id": event.proposal_id,
                "approver": event.approver,
                "approvals": event.approvals,
            }
            _insert(db, "approvals", values, at)
            touched.proposals.add(event.proposal_id)
        case ProposalExecuted():
            db.execute(
                "UPDATE proposals SET executed = 1, executed_block = ?, executed_tx = ?, executed_at = ?"
                " WHERE id = ?",
                (event.block_number, event.transaction_hash, timestamp, event.proposal_id),
            )
        case ThresholdChanged():
            _insert(
                db, "thresholds", {"old_bps": event.old_threshold_bps, "new_bps": event.new_threshold_bps}, at
            )
        case _:
            log.debug("ignoring %s from the registry", type(event).__name__)


def _member_event(
    db: sqlite3.Connection,
    member: str,
    kind: str,
    name: str | None,
    roles: int | None,
    at: tuple[Any, ...],
    touched: _Touched,
) -> None:
    _insert(db, "member_events", {"member": member, "event": kind, "name": name, "roles": roles}, at)
    touched.members.add(member)


def _apply_asset(db: sqlite3.Connection, event: Event, timestamp: int, touched: _Touched) -> None:
    at = _position(event, timestamp)
    match event:
        case ProvenanceRecorded():
            record = event.record
            values = {
                "asset": event.address,
                "seq": record.seq,
                "actor": record.actor,
                "activity": record.activity,
                "from_state": record.from_state,
                "to_state": record.to_state,
                "accepted": int(record.accepted),
                "record_digest": record.record_digest,
                "record_cid": record.record_cid,
                "inputs": _hex_list(record.inputs),
                "outputs": _hex_list(record.outputs),
                "prev_head": record.prev_head,
            }
            _insert(db, "records", values, at)
            if record.seq == 0 and record.activity == Activity.REGISTER:
                # The registration record's inputs are the ancestors, as the clone's immutable args hold them.
                ancestors = [checksum("0x" + word[12:].hex()) for word in record.inputs]
                db.execute(
                    "UPDATE assets SET ancestors = ? WHERE address = ?",
                    (json.dumps(ancestors), event.address),
                )
            touched.assets.add(event.address)
        case ContributorAdded() | ContributorRemoved():
            added = int(isinstance(event, ContributorAdded))
            _insert(
                db, "contributors", {"asset": event.address, "account": event.account, "added": added}, at
            )
        case Anchored():
            values = {"asset": event.address, "seq": event.seq, "phase": event.phase, "root": event.root}
            _insert(db, "anchors", values, at)
        case RolledBack():
            values = {
                "asset": event.address,
                "seq": event.seq,
                "to_seq": event.to_seq,
                "accepted": int(event.accepted),
                "reason": event.reason,
            }
            _insert(db, "rollbacks", values, at)
        case _:
            log.debug("ignoring %s from asset %s", type(event).__name__, event.address)


def _quantity(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 16)


def _hex_list(words: Sequence[bytes]) -> str:
    return json.dumps(["0x" + word.hex() for word in words])


# -- aggregates -------------------------------------------------------------------------------------

_REFRESH_ASSET = """
UPDATE assets SET
    record_count = (SELECT COUNT(*) FROM records r WHERE r.asset = assets.address),
    state = COALESCE(
        (SELECT r.to_state FROM records r WHERE r.asset = assets.address AND r.accepted = 1
         ORDER BY r.seq DESC LIMIT 1), 0)
"""
_REFRESH_PROPOSAL = """
UPDATE proposals SET approvals = COALESCE(
    (SELECT MAX(a.approvals) FROM approvals a WHERE a.proposal_id = proposals.id), 0)
"""


def _refresh(db: sqlite3.Connection, touched: _Touched) -> None:
    db.executemany(_REFRESH_ASSET + " WHERE address = ?", [(a,) for a in touched.assets])
    db.executemany(_REFRESH_PROPOSAL + " WHERE id = ?", [(p,) for p in touched.proposals])
    for member in touched.members:
        _refresh_member(db, member)


def _refresh_all(db: sqlite3.Connection) -> None:
    db.execute(_REFRESH_ASSET)
    db.execute(_REFRESH_PROPOSAL)
    db.execute("DELETE FROM members")
    members = [row[0] for row in db.execute("SELECT DISTINCT member FROM member_events")]
    for member in members:
        _refresh_member(db, member)


def _refresh_member(db: sqlite3.Connection, member: str) -> None:
    """Replay the member's events in chain order into its one row (none if it has no events left)."""
    events = db.execute(
        "SELECT event, name, roles, block_number, log_index, timestamp FROM member_events"
        " WHERE member = ? ORDER BY block_number, log_index",
        (member,),
    ).fetchall()
    db.execute("DELETE FROM members WHERE address = ?", (member,))
    if not events:
        return
    name, roles, status = "", 0, MemberStatus.NONE
    for row in events:
        if row["event"] == "added":
            name, roles, status = row["name"], row["roles"], MemberStatus.ACTIVE
        elif row["event"] == "suspended":
            status = MemberStatus.SUSPENDED
        else:
            roles = row["roles"]
    first, last = events[0], events[-1]
    db.execute(
        "INSERT INTO members (address, name, roles, status, joined_block, joined_log_index, updated_block,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            member,
            name,
            roles,
            int(status),
            first["block_number"],
            first["log_index"],
            last["block_number"],
            last["timestamp"],
        ),
    )
