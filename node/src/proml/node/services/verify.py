"""Verify: is this file the one recorded for that asset, and does the asset's whole history hold?

A file is compared, by its SHA-256 and BLAKE3 digests, with every digest the chain holds for the asset: its
registered content and the inputs and outputs of its records. A match names the record, who signed it,
when, and whether the state machine accepted it. Only an accepted record is proof: a file that only refused
records name is REJECTED_ONLY, not OK; one no record names is a MISMATCH, with what was recorded instead.

A history holds when every record document has the digest (and CID) recorded on chain and says what the
chain says (asset, activity, actor address and the member's on-chain name, inputs and outputs), and the
hash chain of the records recomputes to the head on chain. On request, every payload a document names by
CID is streamed from IPFS and checked against its CID and digest too.

Why a long history is fast: both ways, concurrent fetches and a local store. Documents are fetched from IPFS
at most `FETCH_CONCURRENCY` at a time, each within its own timeout, so that one that IPFS cannot serve is
reported unavailable (its record named, the history not OK) while the others are verified. Every document
whose bytes passed that check is kept in the node's store of verified documents (services/document_cache.py,
keyed by the digest on chain), and read from there the next time; a copy read from the store is checked
exactly as bytes from IPFS are (its SHA-256 against the digest on chain, its CID against the CID on chain),
not trusted because of where it was, so a copy altered on disk is dropped and fetched again, never an OK.
Re-hashing a document of a few KiB costs microseconds; the fetch it saves, a millisecond or more. Records
go through in batches of `BATCH` so that at most one batch of documents is in memory at once, and the hash
chain is recomputed in a worker thread meanwhile. A copy in the store says the node has held the document
the chain names, not that IPFS still serves it: that is the replicator's job (services/replicate.py).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from proml.contracts import calls
from proml.contracts.hash_chain import ChainedRecord, check_chain
from proml.core.content.cid import CID, RAW, SHA2_256
from proml.core.content.digest import ContentDigest, Hasher
from proml.core.content.fingerprint import Fingerprinter
from proml.core.records import MAX_DOCUMENT_BYTES, Artifact, RecordDocument, RecordDocumentError

from ..clients.ipfs import IpfsClientError, IpfsError
from ..providers.blockchain import BlockchainProvider
from ..providers.storage import DigestMismatch, PayloadMismatch, StorageError, StorageProvider
from .document_cache import DocumentCache
from .query import Query, UnindexedAsset

ALGORITHMS = ("sha256", "blake3")
MAX_DOCUMENT = MAX_DOCUMENT_BYTES  # the limit capture applies: what a node stores, it can verify
# Record documents fetched from IPFS at once; each within FETCH_TIMEOUT seconds (the daemon is told, and
# the wait is cut a little later should a daemon ignore it).
FETCH_CONCURRENCY = 48
FETCH_TIMEOUT = 30.0
_TIMEOUT_GRACE = 2.0
# Records checked per batch: what bounds the documents held in memory at once (each at most MAX_DOCUMENT).
BATCH = 512
# Payloads may be large: fewer at a time, each streamed through the hashers, never held.
PAYLOAD_CONCURRENCY = 4
PAYLOAD_TIMEOUT = 60.0

# The result of a file's verification.
OK = "OK"  # an accepted record holds the file
REJECTED_ONLY = "REJECTED_ONLY"  # only records the state machine refused hold it: they prove nothing
MISMATCH = "MISMATCH"  # no record of the asset holds it

# Records whose inputs and outputs are not files: a rollback's are its target seq and the hash of its
# reason, an anchor's its phase and Merkle root (their documents name no artifacts).
_NOT_FILES = ("rollback", "anchor")


async def digests_of(chunks: AsyncIterator[bytes]) -> dict[str, ContentDigest]:
    """SHA-256 and BLAKE3 of a stream, in one pass, never holding it whole."""
    hashers = {a: Hasher(a) for a in ALGORITHMS}
    async for chunk in chunks:
        for hasher in hashers.values():
            hasher.update(chunk)
    return {a: h.finish() for a, h in hashers.items()}


def file_result(matches: Sequence[Mapping[str, Any]]) -> str:
    if any(m["accepted"] for m in matches):
        return OK
    return REJECTED_ONLY if matches else MISMATCH


@dataclass
class _Checked:
    """One record's document check, and the payloads its document names by CID."""

    report: dict[str, Any]
    payloads: list[dict[str, Any]] = field(default_factory=list)


class VerifyService:
    """With `documents`, record documents already checked are read from that store (and checked again),
    not fetched; without it, every verification fetches every document."""

    def __init__(
        self,
        query: Query,
        storage: StorageProvider,
        chain: BlockchainProvider,
        registry: str,
        documents: DocumentCache | None = None,
        *,
        fetch_timeout: float = FETCH_TIMEOUT,
        fetch_concurrency: int = FETCH_CONCURRENCY,
    ) -> None:
        self._query = query
        self._storage = storage
        self._chain = chain
        self._registry = registry.lower()
        self._documents = documents
        self._fetch_timeout = fetch_timeout
        self._fetch_concurrency = fetch_concurrency

    def close(self) -> None:
        if self._documents is not None:
            self._documents.close()

    def _summary(self, asset: str) -> dict[str, Any]:
        summary = self._query.asset(asset)
        if summary is None:
            raise UnindexedAsset(f"{asset} is not an asset this node has indexed")
        return summary

    # -- a file against an asset ------------------------------------------------------------------

    def verify_file(self, asset: str, digests: Mapping[str, ContentDigest]) -> dict[str, Any]:
        summary = self._summary(asset)
        recorded = recorded_files(self._query.history(summary["address"]))
        values = {d.value.hex() for d in digests.values()}
        matches = [r for r in recorded if r["digest"].removeprefix("0x") in values]
        result = file_result(matches)
        return {
            "asset": summary["address"],
            "kind": summary["kind"],
            "ok": result == OK,
            "result": result,
            "file": {a: str(d) for a, d in digests.items()},
            "matches": matches,
            "recorded": recorded,
        }

    # -- the whole history ------------------------------------------------------------------------

    async def verify_history(
        self, asset: str, *, payloads: bool = False, payload_timeout: float = PAYLOAD_TIMEOUT
    ) -> dict[str, Any]:
        summary = self._summary(asset)
        address = summary["address"]
        with self._query.snapshot():  # the history, its records and their names agree
            history, records = self._query.history_and_records(address)
            names = self._query.actor_names(address)
        head = await asyncio.to_thread(self._head, address, summary["kind"])
        # Pure computation, in a thread of its own while the documents are fetched and checked.
        chain_check = asyncio.ensure_future(asyncio.to_thread(check_chain, records, head))
        try:
            checked = await self._check_documents(address, history, records, names)
        finally:
            chain = await chain_check
        named = [p for c in checked for p in c.payloads]
        if payloads:
            await self._check_payloads(named, payload_timeout)
        documents = [c.report for c in checked]
        problems = list(chain.problems) + [p for d in documents for p in d["problems"]]
        payload_problems = [
            f"record {p['seq']}: {p['where']} {p['name']} ({p['cid']}): {p['problem']}"
            for p in named
            if p["ok"] is False
        ]
        ok = not problems and not payload_problems
        return {
            "asset": address,
            "kind": summary["kind"],
            "ok": ok,
            "result": OK if ok else "FAILED",
            "records": len(history),
            "head": "0x" + head.hex(),
            "recomputed_head": "0x" + chain.recomputed_head.hex(),
            "chain_ok": chain.ok,
            "documents": documents,
            "problems": problems,
            "recorded": recorded_files(history),
            "payloads_checked": payloads,
            "payloads": named,
            "payload_problems": payload_problems,
        }

    def _head(self, address: str, kind: str) -> bytes:
        contract = "DatasetAsset" if kind == "dataset" else "ModelAsset"
        function = calls.function(contract, "head")
        (head,) = function.decode_output(self._chain.call(address, function.encode()))
        return bytes(head)

    async def _check_documents(
        self,
        asset: str,
        history: Sequence[dict[str, Any]],
        records: Sequence[ChainedRecord],
        names: Mapping[int, str | None],
    ) -> list[_Checked]:
        """Each record's document check, in order, a batch of records at a time. Copies from the store are
        checked one after the other (a hash and a parse each: a task apiece would cost more than the
        check); only the documents the store lacks wait for IPFS, concurrently."""
        limit = asyncio.Semaphore(self._fetch_concurrency)
        checked: list[_Checked] = []
        for start in range(0, len(history), BATCH):
            batch = _Batch(history[start : start + BATCH], records[start : start + BATCH])
            if self._documents is not None:
                batch.stored = await asyncio.to_thread(self._documents.get_many, batch.digests())
            pairs = list(zip(batch.history, batch.records, strict=True))
            results = [self._check_stored(asset, r, c, names.get(r["seq"]), batch) for r, c in pairs]
            missing = [i for i, result in enumerate(results) if result is None]
            fetched = await asyncio.gather(
                *(
                    self._check_fetched(asset, *pairs[i], names.get(pairs[i][0]["seq"]), limit, batch)
                    for i in missing
                )
            )
            for i, result in zip(missing, fetched, strict=True):
                results[i] = result
            checked += [result for result in results if result is not None]  # each None was fetched above
            if self._documents is not None:
                await asyncio.to_thread(self._documents.discard, batch.bad - batch.fetched.keys())
                await asyncio.to_thread(self._documents.put_many, batch.fetched.items())
        return checked

    def _check_stored(
        self,
        asset: str,
        record: dict[str, Any],
        chained: ChainedRecord,
        member_name: str | None,
        batch: _Batch,
    ) -> _Checked | None:
        """The check of a record whose document needs no fetch: it has none on chain, or the store holds a
        copy that passes the checks a fetch makes. None when IPFS must be asked."""
        if record["record_cid"] is None:
            return _unchecked(record, f"record {record['seq']}: no record document CID on chain")
        expected = _record_digest(record)
        stored = batch.stored.get(expected.value)
        if stored is None:
            return None
        try:
            data = checked_copy(CID.from_bytes(chained.record_cid), expected, stored)
        except PayloadMismatch:
            batch.bad.add(expected.value)
            return None
        return _judged(asset, self._registry, record, member_name, data)

    async def _check_fetched(
        self,
        asset: str,
        record: dict[str, Any],
        chained: ChainedRecord,
        member_name: str | None,
        limit: asyncio.Semaphore,
        batch: _Batch,
    ) -> _Checked:
        """The check of a record whose document is fetched from IPFS, against its CID and digest on chain
        (and then kept in the store)."""
        seq, cid = record["seq"], CID.from_bytes(chained.record_cid)
        expected = _record_digest(record)
        try:
            async with limit:
                data = await asyncio.wait_for(
                    self._storage.fetch_bytes(
                        cid, max_size=MAX_DOCUMENT, expected_digest=expected, timeout=self._fetch_timeout
                    ),
                    self._fetch_timeout + _TIMEOUT_GRACE,
                )
        except StorageError as exc:  # IPFS served other bytes than the chain names
            return _unchecked(record, f"record {seq}: document {cid}: {exc}")
        except (IpfsClientError, TimeoutError) as exc:
            if isinstance(exc, IpfsError) and exc.status == 200:  # served, but more than a document
                return _unchecked(record, f"record {seq}: document {cid}: {exc}")
            reason = str(exc) or f"no answer within {self._fetch_timeout:g} s"
            return _unchecked(record, f"record {seq}: document {cid} is unavailable: {reason}")
        batch.fetched[expected.value] = data
        return _judged(asset, self._registry, record, member_name, data)

    async def _check_payloads(self, payloads: list[dict[str, Any]], timeout: float) -> None:
        """Stream each payload (once per CID and digest) through the hashers; note on each entry whether
        IPFS holds exactly the recorded content."""
        limit = asyncio.Semaphore(PAYLOAD_CONCURRENCY)

        async def check(cid: str, digest: str) -> str | None:
            async with limit:
                try:
                    await self._storage.check(
                        CID.parse(cid), expected_digest=ContentDigest.parse(digest), timeout=timeout
                    )
                except (StorageError, IpfsClientError, ValueError) as exc:
                    return str(exc) or type(exc).__name__
                return None

        keys = sorted({(p["cid"], p["digest"]) for p in payloads})
        found = dict(zip(keys, await asyncio.gather(*(check(*k) for k in keys)), strict=True))
        for payload in payloads:
            problem = found[(payload["cid"], payload["digest"])]
            payload.update(checked=True, ok=problem is None, problem=problem)


@dataclass
class _Batch:
    """Records checked together (each as the history lists it and as the hash chain has it, whose CID is
    in bytes already): the store's copies of their documents (unchecked), the digests of copies that
    failed their check, and the documents fetched (checked) to keep."""

    history: Sequence[dict[str, Any]]
    records: Sequence[ChainedRecord]
    stored: dict[bytes, bytes] = field(default_factory=dict)
    bad: set[bytes] = field(default_factory=set)
    fetched: dict[bytes, bytes] = field(default_factory=dict)

    def digests(self) -> set[bytes]:
        return {_record_digest(r).value for r in self.history if r["record_cid"] is not None}


def _unchecked(record: Mapping[str, Any], *problems: str) -> _Checked:
    return _Checked({"seq": record["seq"], "record_cid": record["record_cid"], "problems": list(problems)})


def _judged(
    asset: str, registry: str, record: Mapping[str, Any], member_name: str | None, data: bytes
) -> _Checked:
    """A document whose bytes are the ones the chain names, against what the chain says of its record."""
    checked = _unchecked(record)
    problems: list[str] = checked.report["problems"]
    try:
        document = RecordDocument.from_json_bytes(data, require_canonical=True)
    except RecordDocumentError as exc:
        problems.append(f"record {record['seq']}: the document is not a valid record document: {exc}")
        return checked
    problems.extend(_disagreements(asset, registry, record, document, member_name))
    checked.payloads = _payloads_named(record, document)
    return checked


def _record_digest(record: Mapping[str, Any]) -> ContentDigest:
    return ContentDigest("sha256", bytes.fromhex(record["record_digest"].removeprefix("0x")))


def checked_copy(cid: CID, expected: ContentDigest, data: bytes) -> bytes:
    """`data` if it is the document the chain names (the checks a fetch makes: its size within what a node
    stores, its CID and its digest); `PayloadMismatch` otherwise."""
    if len(data) > MAX_DOCUMENT:
        raise PayloadMismatch(f"a copy of {cid} is larger than {MAX_DOCUMENT} bytes")
    if cid.codec == RAW and cid.hash_code == SHA2_256 and expected.algorithm == "sha256":
        # A raw CID names one block, the bytes themselves, by their SHA-256 here: one hash checks both
        # (what Fingerprinter would conclude, in a fraction of its time).
        got = ContentDigest("sha256", hashlib.sha256(data).digest())
        if cid.digest != got.value:
            raise PayloadMismatch(f"a copy of {cid} has the CID {CID.of_block(data, codec=RAW)}")
    else:
        fingerprint = Fingerprinter(expected.algorithm, cid_version=cid.version)
        fingerprint.update(data)
        found = fingerprint.finish()
        if not found.cid.same_content(cid):
            raise PayloadMismatch(f"a copy of {cid} has the CID {found.cid}")
        got = found.digest
    if got != expected:
        raise DigestMismatch(f"a copy of {cid} has digest {got}, but {expected} was recorded")
    return data


def recorded_files(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every file digest the chain holds for an asset, with the record that holds it and whether the state
    machine accepted that record: its registered content (the registration's output) and its records'
    inputs and outputs. Asset addresses and empty digests (a model registered before it was trained) are
    not files."""
    found = []
    for record in history:
        if record["activity"] in _NOT_FILES:
            continue
        for where in ("inputs", "outputs"):
            for word in record[where]:
                raw = bytes.fromhex(word.removeprefix("0x"))
                if not any(raw) or calls.word_address(raw) is not None:
                    continue
                found.append(
                    {
                        "where": "content" if record["activity"] == "register" else where[:-1],
                        "digest": word,
                        "seq": record["seq"],
                        "activity": record["activity"],
                        "accepted": record["accepted"],
                        "actor": record["actor"],
                        "actor_name": record["actor_name"],
                        "timestamp": record["timestamp"],
                        "transaction_hash": record["transaction_hash"],
                        "record_cid": record["record_cid"],
                    }
                )
    return found


def _payloads_named(record: Mapping[str, Any], document: RecordDocument) -> list[dict[str, Any]]:
    """The files a record document names by CID (asset inputs are verified as assets of their own), not
    checked yet."""
    content = "content" if record["activity"] == "register" else "output"
    named = [("input", a) for a in document.inputs] + [(content, a) for a in document.outputs]
    return [
        {
            "seq": record["seq"],
            "activity": record["activity"],
            "accepted": record["accepted"],
            "where": where,
            "name": artifact.name,
            "cid": artifact.cid,
            "digest": artifact.digest,
            "checked": False,
            "ok": None,
            "problem": None,
        }
        for where, artifact in named
        if artifact.cid is not None and artifact.asset is None
    ]


def _disagreements(
    asset: str,
    registry: str,
    record: Mapping[str, Any],
    document: RecordDocument,
    member_name: str | None,
) -> list[str]:
    seq = record["seq"]
    signer = record["actor"]
    problems = []
    named = registry if record["activity"] == "register" else asset.lower()
    if document.asset.lower() != named:
        problems.append(f"record {seq}: the document names asset {document.asset}, the chain {named}")
    if document.activity != record["activity"]:
        problems.append(
            f"record {seq}: the document says {document.activity}, the chain {record['activity']}"
        )
    if document.actor.address.lower() != signer.lower():
        problems.append(
            f"record {seq}: the document's actor is {document.actor.address}, the signer {signer}"
        )
    if member_name is None:
        problems.append(
            f"record {seq}: the signer {signer} has no admission in this node's index before the record, "
            f"so the document's actor name {document.actor.name!r} cannot be checked"
        )
    elif document.actor.name != member_name:
        problems.append(
            f"record {seq}: the document's actor is named {document.actor.name!r}, but its signer "
            f"{signer} is the member {member_name!r} on chain"
        )
    problems.extend(_artifact_disagreements(record, document))
    return problems


def _artifact_disagreements(record: Mapping[str, Any], document: RecordDocument) -> list[str]:
    """The document's inputs and outputs against the words the chain recorded. A registration's chain
    inputs are its ancestors (the document has them as a parameter) and its output is the content digest,
    or zero for a model registered without a file."""
    seq = record["seq"]
    if record["activity"] in _NOT_FILES:
        return []
    sides: list[tuple[str, tuple[Artifact, ...], list[str]]] = [
        ("outputs", document.outputs, record["outputs"])
    ]
    if record["activity"] != "register":
        sides.append(("inputs", document.inputs, record["inputs"]))
    problems = []
    for where, artifacts, words in sides:
        said = ["0x" + _word(a).hex() for a in artifacts]
        if record["activity"] == "register" and not artifacts:
            said = ["0x" + calls.ZERO32.hex()]
        if said != [w.lower() for w in words]:
            problems.append(f"record {seq}: the document's {where} {said} are not the chain's {words}")
    return problems


def _word(artifact: Artifact) -> bytes:
    if artifact.asset is not None:
        return bytes(calls.address_word(artifact.asset))
    return ContentDigest.parse(artifact.digest).value
