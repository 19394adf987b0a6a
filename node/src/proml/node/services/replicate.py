"""Replication: every CID recorded on chain stays held by the consortium, and comes back when it is lost.

The chain says what must be held: each record's document (its CID and digest are on chain) and the payload
CIDs that the document names. A document is trusted only once its bytes match the on-chain digest; then
its payloads are wanted too. IPFS Cluster does the holding, when the node has a cluster peer
(`cluster.api`): the shared pinset says which CIDs the consortium keeps and on which organisations'
daemons (the replication factor). The pinset is not the truth: any member can unpin, and a daemon can lose
its repository. So every pass, the replicator compares what the chain records with what the cluster and
the daemon say now, and repairs what differs:

- a recorded CID missing from the pinset (a member unpinned it) is pinned again, with the configured
  replication;
- a recorded CID that this peer should hold (replication "all", or allocated to this peer) and that the
  cluster does not see pinned, pinning or queued here (its daemon lost it) is *recovered* on this peer:
  the cluster queues the pin again and its daemon fetches the blocks from the others. Recover, not a pin
  in the daemon directly: the cluster's pin tracker then runs, retries and reports the pin (status,
  attempts, errors), it returns at once instead of holding a request open while a large DAG is fetched,
  and the cluster's view and the daemon's stay one.

Without a cluster, the node pins every recorded CID in its own daemon (what it does not hold yet).

`replication.policy` says which records this node takes care of: `all` of them, or only `dependencies`,
its own assets and those they derive from. With a cluster, which daemons hold a CID is the cluster's
allocation (the same for every member); the policy only narrows what this node checks and repairs.

Nothing blocks on one CID: each repair runs as a task of its own, at most `concurrency` at a time (first
attempts have slots that retries cannot take), each bounded by a short timeout, and cluster pins are
asynchronous (nothing waits for a daemon to finish). A failed repair is tried again with a growing delay,
while the rest go on. The small state file (`replication.db`) keeps only what is expensive to redo: which
documents were verified and the payloads they name, and which are invalid. What is pinned is always asked
of the cluster and the daemon, never remembered: a daemon whose repository was deleted is seen at once,
reported (`census`), and filled again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proml.core.content.cid import CID
from proml.core.content.digest import ContentDigest
from proml.core.records import MAX_DOCUMENT_BYTES, RecordDocument, RecordDocumentError

from ..clients.cluster import (
    EVERYWHERE,
    PIN_QUEUED,
    PINNED,
    PINNING,
    REMOTE,
    UNPINNED,
    ClusterClient,
    ClusterClientError,
    PinStatus,
)
from ..clients.ipfs import IpfsClientError
from ..providers.storage import (
    EMPTY_RAW_BLOCK,
    DigestMismatch,
    PayloadMismatch,
    StorageError,
    StorageProvider,
)
from .document_cache import DocumentCache
from .interruptible_sleep import wait_or_stop
from .query import MAX_LIMIT, Query, UnindexedAsset
from .verify import checked_copy

log = logging.getLogger(__name__)

STATE_FILE = "replication.db"
MAX_DOCUMENT = MAX_DOCUMENT_BYTES  # a record document is a few kilobytes; capture refuses more
MAX_BACKOFF = 60.0  # seconds between two attempts at a repair that keeps failing
POLICIES = ("all", "dependencies")
# A pass compares every recorded CID with the whole pinset, so its cost grows with the history. The loop
# waits at least PAUSE_RATIO times as long as its last pass took: replication then never takes more than
# 1/(PAUSE_RATIO + 1) of the node's time (and of its cluster peer's), however long the history grows. With
# 10,000 records and a pass every 2 s, an idle node's background process spent 45% of a core on them.
PAUSE_RATIO = 20
NAME_LIMIT = 120  # characters of a pin's name in the cluster (operators read them in `ipfs-cluster-ctl`)

# Kinds of work, each retried on its own.
VERIFY = "verify"  # fetch a record document and check it against its on-chain digest
ADD_TO_PINSET = "pinset"  # pin a recorded CID in the cluster again
RECOVER = "recover"  # have this cluster peer pin again what its daemon lost
PIN_HERE = "pin"  # pin in this node's own daemon (no cluster)

# Statuses of a document in the state file.
VERIFIED = "verified"
INVALID = "invalid"

_SCHEMA = """
DROP TABLE IF EXISTS records;
DROP TABLE IF EXISTS payloads;
CREATE TABLE IF NOT EXISTS documents (
    record_cid TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    payloads TEXT NOT NULL DEFAULT '[]',
    error TEXT
);
"""


@dataclass(frozen=True)
class Wanted:
    """A record on chain: where its document is and what its on-chain digest says."""

    asset: str
    seq: int
    record_cid: str
    record_digest: str  # 0x-hex SHA-256 of the document's bytes


@dataclass(frozen=True)
class Guarded:
    """A recorded CID to keep: a verified document's, or a payload's that such a document names."""

    cid: str
    name: str


@dataclass(frozen=True)
class _Document:
    status: str
    payloads: tuple[Guarded, ...]


@dataclass
class _Retry:
    attempts: int = 0
    due: float = 0.0


@dataclass
class Census:
    """What a pass found: recorded CIDs against what the cluster and the daemon hold now."""

    records: int = 0  # records in scope on chain
    unverified: int = 0  # their documents not fetched and checked yet
    invalid: int = 0  # documents that do not match their on-chain digest
    recorded: int = 0  # CIDs checked: verified documents and the payloads they name
    payloads: int = 0
    pinned: int = 0  # of those, held by this peer's daemon
    missing_here: int = 0  # this peer should hold them and does not (yet)
    not_in_pinset: int = 0  # missing from the cluster's pinset (no cluster: not counted)
    remote: int = 0  # allocated to other peers only
    pinset: int | None = None  # the cluster's pinset, all of it (None without a cluster)
    actions: list[tuple[str, Guarded]] = field(default_factory=list)  # repairs to make, by kind

    def report(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "unverified": self.unverified,
            "invalid": self.invalid,
            "recorded": self.recorded,
            "payloads": self.payloads,
            "pinned": self.pinned,
            "missing_here": self.missing_here,
            "not_in_pinset": self.not_in_pinset,
            "remote": self.remote,
            "pinset": self.pinset,
        }


@dataclass(frozen=True)
class Verdict:
    """What checking one record document found: VERIFIED (with the payloads it names) or INVALID."""

    record_cid: str
    status: str
    payloads: tuple[Guarded, ...] = ()
    error: str | None = None


class ReplicationState:
    """The state file: documents verified (with the payloads they name) or found invalid. Not what is
    pinned: that is asked of the cluster and the daemon on every pass."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        # What a crash of the machine could lose is the latest verdicts, which the next pass gives again;
        # a disk sync per commit would compete with the outbox's, which a client waits for.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # Written by the background process's replicator, read by the API's health (another process).
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def documents(self) -> dict[str, _Document]:
        with self._lock:
            rows = self._db.execute("SELECT record_cid, status, payloads FROM documents").fetchall()
        return {
            cid: _Document(status, tuple(Guarded(c, n) for c, n in json.loads(payloads)))
            for cid, status, payloads in rows
        }

    def put(self, verdicts: Iterable[Verdict]) -> None:
        """Store verdicts together: one commit for a pass's documents, not one each."""
        rows = [
            (v.record_cid, v.status, json.dumps([[p.cid, p.name] for p in v.payloads]), v.error)
            for v in verdicts
        ]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO documents (record_cid, status, payloads, error)"
                    " VALUES (?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


class Replicator:
    """Keeps every CID recorded on chain (in the policy's scope) held: in the cluster's pinset and, where
    this peer should hold it, in its daemon; without a cluster, in its daemon. `run` repairs until
    stopped; `census` only looks (the node's health)."""

    def __init__(
        self,
        query: Query,
        storage: StorageProvider,
        my_address: str,
        policy: str,
        state_path: Path,
        *,
        cluster: ClusterClient | None = None,
        replication: tuple[int, int] = (EVERYWHERE, EVERYWHERE),
        interval: float = 2.0,
        timeout: float = 15.0,
        pin_timeout: float = 60.0,
        concurrency: int = 8,
        documents: DocumentCache | None = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"replication policy must be one of {', '.join(POLICIES)}, not {policy!r}")
        if concurrency < 2:
            raise ValueError("concurrency must be 2 or more (first attempts and retries each need a slot)")
        self._query = query
        self._storage = storage
        self._me = my_address.lower()
        self.policy = policy
        self._state = ReplicationState(state_path)
        self._cluster = cluster
        self._replication = replication
        self._interval = interval
        self._timeout = timeout
        self._pin_timeout = pin_timeout
        self._concurrency = concurrency
        # Documents verified here, kept for the verify service (the first whole-history verification
        # then fetches nothing): written once a pass, in one transaction.
        self._documents = documents
        self._checked_documents: list[tuple[bytes, bytes]] = []
        self._verdicts: list[Verdict] = []
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, asyncio.Semaphore] | None = None
        self._retries: dict[tuple[str, str], _Retry] = {}
        self._in_flight: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._failed: set[tuple[str, str]] = set()  # repairs whose last attempt failed
        self._histories: dict[str, tuple[int | None, list[Wanted]]] = {}
        self._scope_key: tuple[tuple[str, int | None], ...] | None = None
        self._scope: list[str] = []
        self.last: Census | None = None
        self.last_error: str | None = None
        self.checked_at: float | None = None
        self.pass_seconds = 0.0  # how long the last pass (or census) took

    @property
    def everywhere(self) -> bool:
        return self._replication == (EVERYWHERE, EVERYWHERE)

    def close(self) -> None:
        self._state.close()
        if self._documents is not None:
            self._documents.close()

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile until `stop` is set. Outages only delay: nothing escapes this loop."""
        try:
            while not stop.is_set():
                try:
                    await self.step(stop, wait=False)
                except Exception as exc:
                    # Anything: a background task that dies stops replication silently.
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.exception("replicate: %s", self.last_error)
                await wait_or_stop(stop, self.pause())
        finally:
            for task in list(self._in_flight.values()):
                task.cancel()
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    def pause(self) -> float:
        """Seconds to wait before the next pass: the configured interval, or longer after a long pass."""
        return max(self._interval, PAUSE_RATIO * self.pass_seconds)

    async def step(self, stop: asyncio.Event | None = None, *, wait: bool = True) -> int:
        """One pass: verify the documents not verified yet, compare what is recorded with what the cluster
        and the daemon hold, and start the repairs that are due; the number of repairs started (pins,
        recoveries). With `wait`, returns once this pass's work is done or has timed out (tests, tools);
        the loop does not wait, so that a slow repair never holds up the next pass."""
        started = time.monotonic()
        await self._keep_verdicts()
        wanted = await asyncio.to_thread(self.wanted)
        documents = await asyncio.to_thread(self._state.documents)
        unverified = [
            item
            for item in wanted
            if item.record_cid not in documents and (VERIFY, item.record_cid) not in self._in_flight
        ]
        stored = await asyncio.to_thread(self._stored_copies, unverified)
        for item in unverified:
            if stop is not None and stop.is_set():
                return 0
            if not self._verify_stored(item, stored.get(_digest(item).value)):
                self._start(VERIFY, item.record_cid, functools.partial(self._verify, item))
        if wait:
            await self._settle()
            await self._keep_verdicts()
            documents = await asyncio.to_thread(self._state.documents)
        try:
            census = await self._survey(wanted, documents)
        except (ClusterClientError, IpfsClientError, TimeoutError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("replicate: cannot compare with what is held: %s", self.last_error)
            return 0
        repairs = 0
        for kind, guarded in census.actions:
            if stop is not None and stop.is_set():
                break
            repairs += self._start(kind, guarded.cid, self._repair(kind, guarded))
        self.last, self.checked_at = census, time.time()
        if not wait:  # a pass that waited for its repairs says nothing of what comparing costs
            self.pass_seconds = time.monotonic() - started
        if not self._failed:
            self.last_error = None
        if wait:
            await self._settle()
        return repairs

    async def census(self) -> Census:
        """What is recorded against what the cluster and the daemon hold now, without repairing anything
        (`ClusterClientError` or `IpfsClientError` if they cannot be asked)."""
        started = time.monotonic()
        wanted = await asyncio.to_thread(self.wanted)
        documents = await asyncio.to_thread(self._state.documents)
        census = await self._survey(wanted, documents)
        self.pass_seconds = time.monotonic() - started
        return census

    def status(self) -> dict[str, Any]:
        """The last pass, for the health report (written by the background process once a second)."""
        now = time.time()
        report: dict[str, Any] = {
            "policy": self.policy,
            "cluster": self._cluster is not None,
            "replication": "all" if self.everywhere else self._replication[0],
            "pending": 0,
            "failed": len(self._failed),
            "waiting": sum(1 for r in self._retries.values() if r.due > now),
            "in_flight": len(self._in_flight),
            "error": self.last_error,
            "checked_at": self.checked_at,
        }
        last = self.last or Census()
        report.update(last.report())
        report["pending"] = last.unverified + last.recorded - last.pinned - last.remote
        return report

    # -- what is recorded ---------------------------------------------------------------------------

    def wanted(self) -> list[Wanted]:
        """Every record in the policy's scope that has a document, own records included (this node's
        daemon can lose what it published too)."""
        assets = list(_all_assets(self._query))
        counts = {a["address"]: a.get("record_count") for a in assets}
        found: list[Wanted] = []
        for address in self._in_scope(assets):
            count = counts.get(address)
            cached = self._histories.get(address)
            if cached is not None and count is not None and cached[0] == count:
                found.extend(cached[1])
                continue
            try:
                history = self._query.history(address)
            except UnindexedAsset:
                continue  # dropped by a reorganisation since the listing
            records = list(_records(history))
            self._histories[address] = (count, records)
            found.extend(records)
        return found

    def _in_scope(self, assets: list[dict[str, Any]]) -> list[str]:
        if self.policy == "all":
            return [a["address"] for a in assets]
        key = tuple((a["address"], a.get("record_count")) for a in assets)
        if key != self._scope_key:
            mine = [a["address"] for a in assets if str(a["owner"]).lower() == self._me]
            scope = set(mine)
            for address in mine:
                scope |= _upstream(self._query.lineage(address))
            self._scope_key, self._scope = key, [a["address"] for a in assets if a["address"] in scope]
        return self._scope

    # -- comparing ----------------------------------------------------------------------------------

    async def _survey(self, wanted: list[Wanted], documents: dict[str, _Document]) -> Census:
        census = Census(records=len(wanted))
        guarded: dict[str, Guarded] = {}
        for item in wanted:
            document = documents.get(item.record_cid)
            if document is None:
                census.unverified += 1
            elif document.status == INVALID:
                census.invalid += 1
            else:
                guarded.setdefault(_key(item.record_cid), Guarded(item.record_cid, _name(item)))
                for payload in document.payloads:
                    if guarded.setdefault(_key(payload.cid), payload) is payload:
                        census.payloads += 1
        census.recorded = len(guarded)
        if self._cluster is None:
            held = {_key(cid) for cid in await asyncio.wait_for(self._storage.pins(), self._timeout)}
            self._judge_here(census, guarded, held)
        else:
            statuses = await asyncio.wait_for(self._local_statuses(self._cluster), self._timeout)
            census.pinset = len(statuses)
            self._judge_cluster(census, guarded, statuses)
        return census

    @staticmethod
    async def _local_statuses(cluster: ClusterClient) -> dict[str, str]:
        """Every pin of the pinset with its status on this peer (one listing, by the peer, of its
        daemon's pins)."""
        return {_key(status.cid): _here(status) async for status in cluster.statuses(local=True)}

    def _judge_here(self, census: Census, guarded: dict[str, Guarded], held: set[str]) -> None:
        for key, item in guarded.items():
            if key in held:
                census.pinned += 1
                self._settled(item.cid)
            else:
                census.missing_here += 1
                census.actions.append((PIN_HERE, item))

    def _judge_cluster(self, census: Census, guarded: dict[str, Guarded], statuses: dict[str, str]) -> None:
        for key, item in guarded.items():
            status = statuses.get(key)
            if status is None:
                # Not in the pinset: a member unpinned it, or it never got there.
                census.not_in_pinset += 1
                if self.everywhere:
                    census.missing_here += 1
                census.actions.append((ADD_TO_PINSET, item))
            elif status == PINNED:
                census.pinned += 1
                self._settled(item.cid)
            elif status == REMOTE:
                census.remote += 1
                self._settled(item.cid)
            elif status in (PINNING, PIN_QUEUED):
                census.missing_here += 1  # on the way: nothing to do but wait
            else:  # unexpectedly_unpinned, pin_error, cluster_error...: this peer's daemon lacks it
                census.missing_here += 1
                census.actions.append((RECOVER, item))

    def _settled(self, cid: str) -> None:
        for kind in (ADD_TO_PINSET, RECOVER, PIN_HERE):
            self._retries.pop((kind, cid), None)
            self._failed.discard((kind, cid))

    # -- repairing ----------------------------------------------------------------------------------

    def _repair(self, kind: str, item: Guarded) -> Callable[[], Awaitable[None]]:
        cid, name = item.cid, item.name
        if kind == PIN_HERE:
            return lambda: self._storage.pin(CID.parse(cid), timeout=self._pin_timeout, name=name)
        cluster = self._cluster
        assert cluster is not None
        if kind == RECOVER:

            async def recover() -> None:
                if CID.parse(cid) == EMPTY_RAW_BLOCK:  # no peer's Kubo fetches it: make it here
                    await self._storage.pin(EMPTY_RAW_BLOCK, timeout=self._pin_timeout, name=name)
                await cluster.recover(cid, local=True)

            return recover

        async def add_to_pinset() -> None:
            # The listing may have been cut short: ask about this one CID before pinning it again.
            if await cluster.allocation(cid) is None:
                low, high = self._replication
                await cluster.pin(cid, replication_min=low, replication_max=high, name=name)
                log.info("replicate: %s was not in the cluster's pinset; pinned it again", cid)

        return add_to_pinset

    def _start(self, kind: str, cid: str, work: Callable[[], Awaitable[None]]) -> int:
        """Start `work` as a task of its own unless it runs already or its retry is not due; 1 if started."""
        key = (kind, cid)
        retry = self._retries.setdefault(key, _Retry())
        if key in self._in_flight or retry.due > time.time():
            return 0
        slots = self._slots_for(first=retry.attempts == 0)
        retry.attempts += 1
        retry.due = time.time() + min(self._interval * 2 ** (retry.attempts - 1), MAX_BACKOFF)
        limit = self._pin_timeout + self._timeout if kind == PIN_HERE else self._timeout
        task = asyncio.create_task(self._attempt(key, work, slots, limit))
        self._in_flight[key] = task
        return 0 if kind == VERIFY else 1

    def _slots_for(self, *, first: bool) -> asyncio.Semaphore:
        """First attempts have slots of their own: they never wait behind retries of CIDs that nobody
        serves. (Made for the running loop: tests run passes in loops of their own.)"""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            half = self._concurrency // 2
            self._slots = (loop, asyncio.Semaphore(self._concurrency - half), asyncio.Semaphore(half))
        return self._slots[1] if first else self._slots[2]

    async def _attempt(
        self,
        key: tuple[str, str],
        work: Callable[[], Awaitable[None]],
        slots: asyncio.Semaphore,
        limit: float,
    ) -> None:
        kind, cid = key
        try:
            async with slots:
                await asyncio.wait_for(work(), limit)
            self._failed.discard(key)
            if kind in (VERIFY, PIN_HERE):
                # Done for good. A recovery or a pinset entry only started the cluster's work: its
                # retry stays due until a pass sees the CID held.
                self._retries.pop(key, None)
        except asyncio.CancelledError:
            raise
        except (ClusterClientError, IpfsClientError, StorageError, TimeoutError) as exc:
            self._failed.add(key)
            self.last_error = f"{kind} {cid}: {type(exc).__name__}: {exc}"
            log.warning("replicate: %s; retrying later", self.last_error)
        except Exception as exc:
            self._failed.add(key)
            self.last_error = f"{kind} {cid}: {type(exc).__name__}: {exc}"
            log.exception("replicate: %s", self.last_error)
        finally:
            self._in_flight.pop(key, None)

    async def _settle(self) -> None:
        """Wait for the work started so far (each piece is bounded by its timeout)."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    def _stored_copies(self, items: list[Wanted]) -> dict[bytes, bytes]:
        """The document store's copies of `items`' documents (unchecked), by digest: those this node
        published itself are there (the submitter keeps them), and need no fetch."""
        if self._documents is None or not items:
            return {}
        return self._documents.get_many({_digest(item).value for item in items})

    def _verify_stored(self, item: Wanted, data: bytes | None) -> bool:
        """Verify `item`'s document from a stored copy, checked as bytes from IPFS are; False when there
        is none or it fails (then it is fetched, and the fetched copy replaces it)."""
        if data is None:
            return False
        try:
            checked_copy(CID.parse(item.record_cid), _digest(item), data)
            document = RecordDocument.from_json_bytes(data)
        except (PayloadMismatch, RecordDocumentError):
            return False
        self._verdicts.append(Verdict(item.record_cid, VERIFIED, tuple(_payloads(item, document))))
        return True

    async def _verify(self, item: Wanted) -> None:
        """Fetch the document, check it against its on-chain digest, and remember the payloads it names
        (or that it is invalid: a document whose bytes have its CID but not its digest never will)."""
        expected = _digest(item)
        try:
            data = await self._storage.fetch_bytes(
                CID.parse(item.record_cid),
                max_size=MAX_DOCUMENT,
                expected_digest=expected,
                timeout=self._timeout,
            )
            document = RecordDocument.from_json_bytes(data)
        except DigestMismatch as exc:
            log.warning("replicate: record %s of %s: %s", item.seq, item.asset, exc)
            self._verdicts.append(Verdict(item.record_cid, INVALID, error=str(exc)))
            return
        except RecordDocumentError as exc:
            log.warning("replicate: record %s of %s is not a record document: %s", item.seq, item.asset, exc)
            self._verdicts.append(Verdict(item.record_cid, INVALID, error=f"not a record document: {exc}"))
            return
        self._verdicts.append(Verdict(item.record_cid, VERIFIED, tuple(_payloads(item, document))))
        if self._documents is not None:
            self._checked_documents.append((expected.value, data))

    async def _keep_verdicts(self) -> None:
        """Store what the verifications since the last call found, and the documents they checked."""
        verdicts, self._verdicts = self._verdicts, []
        checked, self._checked_documents = self._checked_documents, []
        if verdicts:
            await asyncio.to_thread(self._state.put, verdicts)
        if checked and self._documents is not None:
            await asyncio.to_thread(self._documents.put_many, checked)


def _digest(item: Wanted) -> ContentDigest:
    """The document's digest on chain."""
    return ContentDigest("sha256", bytes.fromhex(item.record_digest.removeprefix("0x")))


def _here(status: PinStatus) -> str:
    """The status of the one peer a local status answer holds."""
    return next(iter(status.peers.values())).status if status.peers else UNPINNED


@functools.lru_cache(maxsize=1 << 16)  # the same CIDs, pass after pass: parsing them was a third of a pass
def _key(cid: str) -> str:
    """One spelling per content: a CIDv0 and its CIDv1 name the same blocks."""
    try:
        return str(CID.parse(cid).to_v1())
    except ValueError:
        return cid


def _name(item: Wanted) -> str:
    return f"proml:{item.asset}:{item.seq}:record"[:NAME_LIMIT]


def _payloads(item: Wanted, document: RecordDocument) -> list[Guarded]:
    found: dict[str, Guarded] = {}
    for artifact in (*document.inputs, *document.outputs):
        if artifact.cid is not None and artifact.cid not in found:
            found[artifact.cid] = Guarded(
                artifact.cid, f"proml:{item.asset}:{item.seq}:{artifact.name}"[:NAME_LIMIT]
            )
    return list(found.values())


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


def _records(history: list[dict[str, Any]]) -> Iterable[Wanted]:
    for entry in history:
        if entry["record_cid"] and entry["record_digest"]:
            yield Wanted(entry["asset"], int(entry["seq"]), entry["record_cid"], entry["record_digest"])
