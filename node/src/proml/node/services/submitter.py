"""The outbox's worker: sends queued entries to the chain and follows them until they are final.

Exactly once, even across crashes: a transaction is signed and stored with its entries (status
`submitted`) *before* it is broadcast, so after a crash the same bytes are sent again, which the chain
accepts at most once. Entries that wait together are appended by one `recordBatch`; a registration goes
alone, and entries that name a registration still waiting for its block (`outbox:<id>`) wait for it.

Exactly once, whatever the chain does: every transaction for a group of entries has the same nonce (a
replacement only raises the fees), so at most one of them is ever mined. A group is sent anew (a new
transaction, a new nonce) only once that nonce is used, in a final block, by a transaction that is none
of them. A transaction whose block is reorganised away, even after it was final, is followed and sent
again (the same bytes).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from proml.contracts import calls
from proml.contracts.calls import ActivityCall
from proml.contracts.errors import ContractRevert
from proml.contracts.events import AssetRegistered, ProposalCreated, ProvenanceRecorded, decode_log
from proml.contracts.hash_chain import ChainedRecord, ProofError, rollback_proof
from proml.core.content.cid import CID
from proml.core.content.digest import ContentDigest
from proml.core.records import RecordDocument, RecordDocumentError
from proml.core.workflow import ASSET_KINDS, Activity, AssetKind

from ..clients.chain import (
    ChainClientError,
    NonceTooLow,
    Receipt,
    ReplacementUnderpriced,
    Underpriced,
)
from ..clients.ipfs import IpfsClientError
from ..providers.blockchain import (
    BlockchainProvider,
    BlockchainProviderError,
    SignedTransaction,
    unsigned_from_json,
    unsigned_to_json,
)
from ..providers.storage import StorageError, StorageProvider
from .document_cache import DocumentCache
from .interruptible_sleep import wait_or_stop
from .outbox import Attempt, Outbox, OutboxEntry, OutboxStatus
from .outbox_entries import (
    ANCHOR,
    GOVERNANCE,
    PHASES,
    RECORD,
    REGISTER,
    ROLLBACK,
    refs_in,
    resolve_refs,
)

log = logging.getLogger(__name__)

MAX_BATCH = 50
# A batch that reverts once mined is split and sent again; after this many attempts an entry fails.
MAX_ATTEMPTS = 5
# Record documents pinned in one request, and how often.
PIN_BATCH = 200
PIN_INTERVAL = 0.5
# Under a stream of records, the least time between two transactions (records meanwhile share one).
BATCH_INTERVAL = 0.1
# A transaction not mined after this many seconds is replaced with higher fees (same nonce).
REPLACE_AFTER = 60.0
# Final entries of this many blocks below the head are still checked against the canonical chain.
WATCH_BLOCKS = 256
WATCH_INTERVAL = 1.0
# A transaction that is neither in a block nor in the pool is sent again at most this often.
RESEND_INTERVAL = 1.0
# What the chain says of a transaction in flight (its receipt, its depth, its block's place) changes only
# with a new block: it is asked for again when the head moves, and at least this often (a transaction the
# pool dropped or that waits to be replaced, a competing branch of the same height).
FOLLOW_INTERVAL = 1.0
_TRANSIENT = (ChainClientError, IpfsClientError, StorageError, BlockchainProviderError)


@dataclass(frozen=True)
class _Prepared:
    """An entry ready to go on chain: its document is on IPFS, its references resolved."""

    entry: OutboxEntry
    payload: dict[str, Any]
    record_digest: bytes
    record_cid: bytes
    cid: str


class _IndexBehind(BlockchainProviderError):
    """The index has not caught up with the chain yet: retried shortly."""


class _Blocked(Exception):
    """The entry names a registration that is not on chain yet."""


class Submitter:
    def __init__(
        self,
        outbox: Outbox,
        chain: BlockchainProvider,
        storage: StorageProvider,
        registry: str,
        records_of: Callable[[str], Sequence[ChainedRecord]],
        *,
        max_batch: int = MAX_BATCH,
        idle_interval: float = 0.05,
        batch_interval: float = BATCH_INTERVAL,
        pin_interval: float = PIN_INTERVAL,
        error_backoff: float = 1.0,
        replace_after: float = REPLACE_AFTER,
        watch_blocks: int = WATCH_BLOCKS,
        follow_interval: float = FOLLOW_INTERVAL,
        documents: DocumentCache | None = None,
    ) -> None:
        self._outbox = outbox
        self._chain = chain
        self._storage = storage
        self._registry = registry
        self._records_of = records_of
        self._max_batch = max_batch
        self._idle_interval = idle_interval
        self._batch_interval = batch_interval
        self._pin_interval = pin_interval
        self._error_backoff = error_backoff
        self._replace_after = replace_after
        self._watch_blocks = watch_blocks
        self._follow_interval = follow_interval
        self._followed: tuple[int, float] | None = None  # the head last followed at, and until when
        # The record documents this node stores, kept where its replicator and verify service look
        # first: neither then fetches back from IPFS what the node wrote itself.
        self._documents = documents
        self._watched_head: str | None = None  # the head whose final entries were last checked
        self._next_watch = 0.0
        self._at_max_fee: set[str] = set()  # transactions already reported as unable to pay more
        self._next_resend: dict[str, float] = {}  # transaction -> when it may be sent again
        self._last_sent = 0.0
        self._prefetched: asyncio.Task[list[_Prepared]] | None = None
        self.last_error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; an outage of the chain or of IPFS only delays."""
        while not stop.is_set():
            try:
                busy = await self.step()
                self.last_error = None
            except _TRANSIENT as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("submitter: %s; retrying in %.1fs", self.last_error, self._error_backoff)
                busy = False
                await wait_or_stop(stop, self._error_backoff)
                continue
            if not busy:
                await wait_or_stop(stop, self._idle_interval)

    async def step(self) -> bool:
        """Follow what is in flight, then send what waits. True when anything moved."""
        followed = await asyncio.to_thread(self.follow)
        sent = await self.send_next()
        return followed or sent

    # -- following transactions -------------------------------------------------------------------

    def follow(self) -> bool:
        moved = False
        submitted = _by_transaction(self._outbox.with_status(OutboxStatus.SUBMITTED))
        included = self._outbox.with_status(OutboxStatus.INCLUDED)
        if (submitted or included) and self._head_moved():
            for tx_hash, entries in submitted:
                moved |= self._follow_submitted(tx_hash, entries)
            if moved:  # what was just included is followed on, to final if it is deep enough already
                included = self._outbox.with_status(OutboxStatus.INCLUDED)
            for tx_hash, entries in _by_transaction(included):
                moved |= self._follow_included(tx_hash, entries)
        moved |= self._watch_final()
        return moved

    def _head_moved(self) -> bool:
        """Whether a block came since transactions were last followed, or FOLLOW_INTERVAL passed: one
        call, instead of a receipt (and its block) for every transaction in flight, while nothing can
        have changed."""
        head, now = self._chain.block_number(), time.monotonic()
        if self._followed is not None and self._followed[0] == head and now < self._followed[1]:
            return False
        self._followed = (head, now + self._follow_interval)
        return True

    def _follow_submitted(self, tx_hash: str, entries: list[OutboxEntry]) -> bool:
        ids = [e.id for e in entries]
        candidates = self._candidates(tx_hash)
        mined = self._mined(candidates)
        if mined is None:
            return self._not_mined(tx_hash, candidates, entries)
        mined_hash, receipt = mined
        self._next_resend.pop(tx_hash, None)
        if not receipt.succeeded:
            self._mined_but_failed(mined_hash, receipt, entries)
            return True
        self._store_results(receipt, entries)
        self._outbox.mark_included(
            ids, receipt.block_number, tx_hash=mined_hash, block_hash=receipt.block_hash
        )
        if self._chain.confirmations <= 1:  # the receipt was just checked at that depth
            self._outbox.mark_final(ids)
        return True

    def _candidates(self, tx_hash: str) -> list[str]:
        """The transactions that may record these entries: the current one first, then those it replaced."""
        hashes = [a.hash for a in self._outbox.attempts(tx_hash)]
        return [tx_hash, *(h for h in hashes if h != tx_hash)]

    def _mined(self, candidates: Sequence[str]) -> tuple[str, Receipt] | None:
        for candidate in candidates:
            receipt = self._chain.confirmed_receipt(candidate, 1)
            if receipt is not None:
                return candidate, receipt
        return None

    def _not_mined(self, tx_hash: str, candidates: Sequence[str], entries: list[OutboxEntry]) -> bool:
        """None of the entries' transactions is in a block: see whether their nonce went to another one,
        else send the transaction again if the chain lost it, or replace it if it waits too long."""
        ids = [e.id for e in entries]
        attempt = self._outbox.attempt(tx_hash)
        if self._chain.is_known(tx_hash):  # in the pool (or mined since the receipt was asked for)
            return self._replace_if_stuck(attempt, entries)
        # Neither in a block nor in the pool: looked into (and sent again) at most once a RESEND_INTERVAL.
        if time.monotonic() < self._next_resend.get(tx_hash, 0.0):
            return False
        self._next_resend[tx_hash] = time.monotonic() + RESEND_INTERVAL
        if attempt is not None and self._chain.nonce_used(attempt.nonce):
            # Asked after the count: a candidate mined meanwhile is found here, not sent anew.
            if self._mined(candidates) is not None:
                return False
            # The nonce went, in a final block, to a transaction that is none of these: they can never
            # be mined (the chain was reset, or someone else used the key). Send the entries anew.
            self._chain.nonces.resync()
            self._outbox.requeue(ids, f"nonce {attempt.nonce} was used by another transaction; sent again")
            return True
        raw = attempt.raw if attempt is not None else entries[0].raw_tx
        if raw is None:
            self._outbox.requeue(ids, "the transaction was lost before it was stored")
            return True
        # Not in a block nor in the pool: dropped, or its block was reorganised away and the pool did
        # not take it back. The same bytes again: at most one transaction with this nonce is ever mined.
        try:
            self._chain.broadcast(SignedTransaction(tx_hash, bytes.fromhex(raw), -1))
        except NonceTooLow as exc:
            # Its nonce is used: by one of the candidates (its receipt comes next pass) or by another
            # transaction (`nonce_used` above tells, once that block is final).
            if attempt is None:  # stored by an older version, without its nonce: as that version did
                self._chain.nonces.resync()
                self._outbox.requeue(ids, f"sent again: {exc}")
                return True
            return False
        except (Underpriced, ReplacementUnderpriced) as exc:
            # The pool wants higher fees than it pays (or an older candidate holds the nonce there).
            log.warning("submitter: %s is refused for its fees (%s)", tx_hash, exc)
            return self._replace_if_stuck(attempt, entries)
        log.info("submitter: sent %s again (it was neither in a block nor in the pool)", tx_hash)
        return False

    def _replace_if_stuck(self, attempt: Attempt | None, entries: list[OutboxEntry]) -> bool:
        """Once the current transaction has waited `replace_after`, sign it again with the same nonce and
        higher fees, store that, then send it. Either may be mined; both stay candidates."""
        if attempt is None or time.time() - attempt.sent_at < self._replace_after:
            return False
        replacement = self._chain.replacement(unsigned_from_json(attempt.unsigned))
        if replacement is None:
            if attempt.hash not in self._at_max_fee:
                self._at_max_fee.add(attempt.hash)
                log.warning(
                    "submitter: %s is not mined after %.0fs and pays the maximum fee (fees.max_fee_gwei)"
                    " already; it waits",
                    attempt.hash,
                    time.time() - attempt.sent_at,
                )
            return False
        self._outbox.mark_replaced(
            [e.id for e in entries],
            attempt,
            replacement.hash,
            replacement.raw.hex(),
            unsigned_to_json(replacement.unsigned),
        )
        log.info(
            "submitter: %s not mined after %.0fs: replaced by %s (same nonce %d, higher fees)",
            attempt.hash,
            time.time() - attempt.sent_at,
            replacement.hash,
            attempt.nonce,
        )
        try:
            self._chain.broadcast(replacement)
        except ChainClientError as exc:
            log.warning(
                "submitter: sending replacement %s failed (%s); it will be sent again", replacement.hash, exc
            )
        return True

    def _follow_included(self, tx_hash: str, entries: list[OutboxEntry]) -> bool:
        receipt = self._chain.confirmed_receipt(tx_hash)
        if receipt is not None:
            self._outbox.mark_final(
                [e.id for e in entries], receipt.block_number, block_hash=(tx_hash, receipt.block_hash)
            )
            return True
        if self._chain.confirmed_receipt(tx_hash, 1) is None:
            # Its block was reorganised away: the transaction is back in the pool, or lost; follow it again.
            self._outbox.mark_resubmitted([e.id for e in entries])
            return True
        return False

    def _watch_final(self) -> bool:
        """Check the final entries of the last `watch_blocks` blocks against the canonical chain, once per
        new head: the newest of their blocks first, since a block that is still canonical vouches for
        every block below it. An entry whose transaction left the chain (a reorganisation deeper than
        `confirmations`) is followed and sent again; one whose transaction moved waits for its depth."""
        if time.monotonic() < self._next_watch:
            return False
        self._next_watch = time.monotonic() + WATCH_INTERVAL
        head = self._chain.head()
        if head.hash == self._watched_head:
            return False
        moved = False
        for final in self._outbox.final_since(head.number - self._watch_blocks):
            attempt = self._outbox.attempt(final.hash)
            stored = attempt.block_hash if attempt is not None else None
            block = self._chain.get_block(final.block_number)
            if stored is not None and block is not None and block.hash == stored:
                break
            receipt = self._chain.confirmed_receipt(final.hash, 1)
            if receipt is not None and receipt.block_hash == stored:
                break
            if receipt is not None and stored is None:
                continue  # stored before blocks were noted: it is on chain, nothing to compare
            if receipt is None:
                log.error(
                    "submitter: final transaction %s (block %s) was reorganised away: sending it again;"
                    " chain.confirmations (%d) is too low for this chain",
                    final.hash,
                    final.block_number,
                    self._chain.confirmations,
                )
                self._outbox.mark_resubmitted(final.entry_ids)
            else:
                self._outbox.mark_included(
                    final.entry_ids, receipt.block_number, tx_hash=final.hash, block_hash=receipt.block_hash
                )
            moved = True
        self._watched_head = head.hash
        return moved

    def _mined_but_failed(self, tx_hash: str, receipt: Receipt, entries: list[OutboxEntry]) -> None:
        ids = [e.id for e in entries]
        reason = str(self._chain.revert_of(tx_hash, receipt))
        if len(entries) > 1 and max(e.attempts for e in entries) < MAX_ATTEMPTS:
            self._outbox.requeue(ids, f"the batch reverted ({reason}); its records are sent again")
        else:
            self._outbox.mark_failed(ids, reason)

    def _store_results(self, receipt: Receipt, entries: list[OutboxEntry]) -> None:
        events = [decode_log(entry) for entry in receipt.logs]
        records = [e.record for e in events if isinstance(e, ProvenanceRecorded)]
        registered = [e.asset for e in events if isinstance(e, AssetRegistered)]
        proposals = [e.proposal_id for e in events if isinstance(e, ProposalCreated)]
        if entries[0].kind == GOVERNANCE:
            result: dict[str, Any] = {"block_number": receipt.block_number}
            if proposals:
                result["proposal_id"] = proposals[0]
            self._outbox.set_result(entries[0].id, result)
            return
        results = {}
        for entry, record in zip(entries, records, strict=False):
            asset = registered[0] if entry.kind == REGISTER and registered else record.asset
            results[entry.id] = {
                "seq": record.seq,
                "accepted": record.accepted,
                "asset": asset,
                "block_number": receipt.block_number,
            }
        self._outbox.set_results(results)

    # -- sending ----------------------------------------------------------------------------------

    async def send_next(self) -> bool:
        """Send the next registration, or the next run of records; False when nothing could go.

        A record that comes alone goes at once; under a stream of records, transactions are spaced by
        `batch_interval`, so that the records that arrive meanwhile share one (a transaction costs the
        node, the chain and IPFS far more than a record in it). While a full batch goes to the chain, the
        documents of the next full batch are stored on IPFS."""
        run = await self._take_prefetched()
        if not run:
            queued = self._outbox.queued(self._max_batch)
            spacing = self._last_sent + self._batch_interval - time.monotonic()
            if queued and spacing > 0 and len(queued) < self._max_batch:
                await asyncio.sleep(spacing)
                queued = self._outbox.queued(self._max_batch)
            run = await self._prepare_run(queued)
        if not run:
            return False
        after = [e for e in self._outbox.queued(2 * self._max_batch) if e.id not in {p.entry.id for p in run}]
        prefetch = (
            asyncio.create_task(self._prepare_run(after[: self._max_batch]))
            if len(after) >= self._max_batch
            else None
        )
        try:
            await self._send(run)
        except BaseException:
            if prefetch is not None:
                prefetch.cancel()
                await asyncio.gather(prefetch, return_exceptions=True)
            raise
        self._prefetched = prefetch
        return True

    async def _take_prefetched(self) -> list[_Prepared]:
        """The batch prepared while the last one was sent, if it is still next in line."""
        task, self._prefetched = self._prefetched, None
        if task is None:
            return []
        try:
            run = await task
        except _TRANSIENT:
            return []
        queued = self._outbox.queued(len(run))
        if [e.id for e in queued] != [p.entry.id for p in run]:
            return []  # something went back to the queue in front of it: prepare again, in order
        return run

    async def _prepare_run(self, queued: Sequence[OutboxEntry]) -> list[_Prepared]:
        """The longest run at the head of `queued` that can go in one transaction, documents stored."""
        waiting: list[tuple[OutboxEntry, dict[str, Any]]] = []
        for entry in queued:
            if entry.kind != RECORD and waiting:
                break  # registrations, anchors, rollbacks and governance go alone
            try:
                payload = self._resolved(entry)
            except _Blocked:
                break
            if payload is not None:
                waiting.append((entry, payload))
            if entry.kind != RECORD:
                break
        if not waiting:
            return []
        run = await self._prepare(waiting)
        self._outbox.set_results(
            {
                p.entry.id: {"record_digest": "0x" + p.record_digest.hex(), "record_cid": p.cid}
                for p in run
                if p.cid
            }
        )
        return run

    def _resolved(self, entry: OutboxEntry) -> dict[str, Any] | None:
        """The payload with addresses for its references; None if a reference failed (so does the entry)."""
        addresses: dict[str, str] = {}
        for ref in refs_in(entry.payload):
            registration = self._outbox.get(ref)
            if registration.status == OutboxStatus.FAILED:
                self._outbox.mark_failed([entry.id], f"its asset's registration outbox:{ref} failed")
                return None
            asset = (registration.result or {}).get("asset")
            if asset is None or registration.status not in (OutboxStatus.INCLUDED, OutboxStatus.FINAL):
                raise _Blocked(ref)
            addresses[ref] = asset
        resolved: dict[str, Any] = resolve_refs(entry.payload, addresses)
        return resolved

    async def _prepare(self, waiting: Sequence[tuple[OutboxEntry, dict[str, Any]]]) -> list[_Prepared]:
        """Store the entries' record documents on IPFS, in one request. They are pinned afterwards, by
        `pin_documents`: pinning is the slow part of storing a small document, and the document is on the
        daemon already, so the record need not wait for it."""
        if waiting[0][0].kind == GOVERNANCE:  # not a provenance record: no document
            entry, payload = waiting[0]
            return [_Prepared(entry, payload, calls.ZERO32, b"", "")]
        documents = []
        for entry, payload in waiting:
            try:
                documents.append(RecordDocument.from_dict(payload["document"]).to_json_bytes())
            except RecordDocumentError as err:  # validated when accepted: only a changed schema gets here
                raise BlockchainProviderError(f"outbox entry {entry.id}: {err}") from err
        cids = await self._storage.add_documents(documents, pin=False)
        prepared = [
            _Prepared(entry, payload, hashlib.sha256(document).digest(), cid.to_bytes(), str(cid))
            for (entry, payload), document, cid in zip(waiting, documents, cids, strict=True)
        ]
        if self._documents is not None:
            kept = [(p.record_digest, document) for p, document in zip(prepared, documents, strict=True)]
            await asyncio.to_thread(self._documents.put_many, kept)
        return prepared

    async def run_pins(self, stop: asyncio.Event) -> None:
        """Pin stored record documents until `stop` is set; an IPFS outage only delays."""
        while not stop.is_set():
            try:
                # Pinning goes in rounds, many documents a request, and yields to records waiting to be
                # sent: a stored document is safe on the daemon's disk meanwhile (pins only keep it
                # from a garbage collection, which the embedded daemon never runs on its own).
                if not self._outbox.queued(1):
                    await self.pin_documents()
                await wait_or_stop(stop, self._pin_interval)
            except (IpfsClientError, StorageError) as exc:
                log.warning("pinning record documents: %s; retrying", exc)
                await wait_or_stop(stop, self._error_backoff)

    async def pin_documents(self, limit: int = PIN_BATCH) -> int:
        waiting = self._outbox.unpinned_documents(limit)
        if waiting:
            await self._storage.pin_many([CID.parse(cid) for _, cid in waiting])
            self._outbox.mark_documents_pinned([entry_id for entry_id, _ in waiting])
        return len(waiting)

    async def _send(self, run: Sequence[_Prepared]) -> None:
        try:
            to, data = await asyncio.to_thread(self._call, run)
            signed = await asyncio.to_thread(self._chain.prepare, to, data)
        except ContractRevert as revert:
            if len(run) == 1:
                self._outbox.mark_failed([run[0].entry.id], f"the chain refuses it: {revert}")
                return
            for single in run:  # find the one the chain refuses; the others go alone
                await self._send([single])
            return
        self._outbox.mark_submitted(
            [p.entry.id for p in run],
            signed.hash,
            signed.raw.hex(),
            next_nonce=(self._chain.address, signed.nonce + 1),
            unsigned=unsigned_to_json(signed.unsigned),
        )
        self._last_sent = time.monotonic()
        try:
            await asyncio.to_thread(self._chain.broadcast, signed)
        except ChainClientError as exc:
            # Stored: `follow` sends the same bytes again once the chain answers.
            log.warning("submitter: broadcasting %s failed (%s); it will be sent again", signed.hash, exc)

    def _call(self, run: Sequence[_Prepared]) -> tuple[str, bytes]:
        first = run[0]
        payload = first.payload
        if first.entry.kind == GOVERNANCE:
            return self._registry, calls.function("ProML", payload["function"]).encode(*payload["args"])
        if first.entry.kind == ANCHOR:
            parameters = payload["document"]["parameters"]
            data = calls.function("ModelAsset", "anchor").encode(
                bytes.fromhex(parameters["root"][2:]),
                PHASES[parameters["phase"]],
                first.record_digest,
                first.record_cid,
            )
            return payload["asset"], data
        if first.entry.kind == ROLLBACK:
            return payload["asset"], self._rollback_call(first)
        if first.entry.kind == REGISTER:
            content = payload["document"]["outputs"]
            content_digest = _digest_word(content[0]["digest"]) if content else calls.ZERO32
            data = calls.register(
                ASSET_KINDS[payload["kind"]],
                content_digest,
                first.record_digest,
                first.record_cid,
                payload["ancestors"],
            )
            return self._registry, data
        activities = [_activity_call(p) for p in run]
        if len(activities) == 1:
            return activities[0].asset, calls.activity(activities[0])
        return self._registry, calls.record_batch(activities)

    def _rollback_call(self, prepared: _Prepared) -> bytes:
        """`rollback` with its proof, built from the index against the head it will meet on chain. The
        index must hold every record of the asset: a proof from a lagging index would not verify."""
        asset = prepared.payload["asset"]
        parameters = prepared.payload["document"]["parameters"]
        try:
            records = list(self._records_of(asset))
        except LookupError:
            raise _IndexBehind(f"the index does not know {asset} yet") from None
        count = calls.function("ModelAsset", "recordCount")
        (on_chain,) = count.decode_output(self._chain.call(asset, count.encode()))
        if len(records) != int(on_chain):
            raise _IndexBehind(f"the index holds {len(records)} of {on_chain} records of {asset}")
        try:
            proof = rollback_proof(records, int(parameters["to_seq"]))
        except ProofError as exc:
            raise ContractRevert("NoSuchRecord", {"detail": str(exc)}, b"") from exc
        return bytes(
            calls.function("ModelAsset", "rollback").encode(
                proof, parameters["reason"], prepared.record_digest, prepared.record_cid
            )
        )


def _activity_call(prepared: _Prepared) -> ActivityCall:
    document = prepared.payload["document"]
    return ActivityCall(
        asset=prepared.payload["asset"],
        kind=AssetKind[prepared.payload["kind"].upper()],
        activity=Activity[document["activity"].upper()],
        record_digest=prepared.record_digest,
        record_cid=prepared.record_cid,
        inputs=tuple(_artifact_word(a) for a in document["inputs"]),
        outputs=tuple(_artifact_word(a) for a in document["outputs"]),
    )


def _artifact_word(artifact: dict[str, Any]) -> bytes:
    """On chain an artifact is its asset's address when it is an asset, else its content digest."""
    if artifact.get("asset"):
        return bytes(calls.address_word(artifact["asset"]))
    return _digest_word(artifact["digest"])


def _digest_word(text: str) -> bytes:
    return ContentDigest.parse(text).value


def _by_transaction(entries: Iterable[OutboxEntry]) -> list[tuple[str, list[OutboxEntry]]]:
    groups: dict[str, list[OutboxEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.tx_hash or "", []).append(entry)
    return list(groups.items())
