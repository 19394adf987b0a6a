"""Verify: is this file the one recorded for that asset, and does the asset's whole history hold?

A file is compared, by its SHA-256 and BLAKE3 digests, with every digest the chain holds for the asset: its
registered content and the inputs and outputs of its records. A match names the record, who signed it and
when; a mismatch lists what was recorded instead, by whom and when.

A history holds when every record document fetched from IPFS has the digest recorded on chain and says what
the chain says (asset, activity, actor), and the hash chain of the records recomputes to the head on chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from proml.content.cid import CID
from proml.content.digest import ContentDigest, Hasher
from proml.contracts import calls
from proml.contracts.chain import check_chain
from proml.records import RecordDocument, RecordDocumentError

from ..clients.ipfs import IpfsClientError
from ..providers.blockchain import BlockchainProvider
from ..providers.storage import StorageError, StorageProvider
from .query import Query, UnknownAsset

ALGORITHMS = ("sha256", "blake3")
MAX_DOCUMENT = 1 << 20
FETCH_CONCURRENCY = 16
FETCH_TIMEOUT = 30.0


async def digests_of(chunks: AsyncIterator[bytes]) -> dict[str, ContentDigest]:
    """SHA-256 and BLAKE3 of a stream, in one pass, never holding it whole."""
    hashers = {a: Hasher(a) for a in ALGORITHMS}
    async for chunk in chunks:
        for hasher in hashers.values():
            hasher.update(chunk)
    return {a: h.finish() for a, h in hashers.items()}


class VerifyService:
    def __init__(
        self, query: Query, storage: StorageProvider, chain: BlockchainProvider, registry: str
    ) -> None:
        self._query = query
        self._storage = storage
        self._chain = chain
        self._registry = registry.lower()

    def _summary(self, asset: str) -> dict[str, Any]:
        summary = self._query.asset(asset)
        if summary is None:
            raise UnknownAsset(f"{asset} is not an asset this node has indexed")
        return summary

    # -- a file against an asset ------------------------------------------------------------------

    def verify_file(self, asset: str, digests: Mapping[str, ContentDigest]) -> dict[str, Any]:
        summary = self._summary(asset)
        recorded = self._recorded(summary)
        values = {d.value.hex() for d in digests.values()}
        matches = [r for r in recorded if r["digest"].removeprefix("0x") in values]
        return {
            "asset": summary["address"],
            "kind": summary["kind"],
            "ok": bool(matches),
            "result": "OK" if matches else "MISMATCH",
            "file": {a: str(d) for a, d in digests.items()},
            "matches": matches,
            "recorded": recorded,
        }

    def _recorded(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        """Every file digest the chain holds for the asset, with the record that holds it: its registered
        content (the registration's output) and its records' inputs and outputs. Asset addresses and empty
        digests (a model registered before it was trained) are not files."""
        found = []
        for record in self._query.history(summary["address"]):
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
                            "actor": record["actor"],
                            "actor_name": record["actor_name"],
                            "timestamp": record["timestamp"],
                            "transaction_hash": record["transaction_hash"],
                            "record_cid": record["record_cid"],
                        }
                    )
        return found

    # -- the whole history ------------------------------------------------------------------------

    async def verify_history(self, asset: str) -> dict[str, Any]:
        summary = self._summary(asset)
        address = summary["address"]
        history = self._query.history(address)
        records = self._query.records(address)
        head = await asyncio.to_thread(self._head, address, summary["kind"])
        chain = check_chain(records, head)
        limit = asyncio.Semaphore(FETCH_CONCURRENCY)
        documents = await asyncio.gather(*(self._check_document(address, r, limit) for r in history))
        problems = list(chain.problems) + [p for d in documents for p in d["problems"]]
        return {
            "asset": address,
            "kind": summary["kind"],
            "ok": not problems,
            "result": "OK" if not problems else "FAILED",
            "records": len(history),
            "head": "0x" + head.hex(),
            "recomputed_head": "0x" + chain.recomputed_head.hex(),
            "chain_ok": chain.ok,
            "documents": documents,
            "problems": problems,
        }

    def _head(self, address: str, kind: str) -> bytes:
        contract = "DatasetAsset" if kind == "dataset" else "ModelAsset"
        function = calls.function(contract, "head")
        (head,) = function.decode_output(self._chain.call(address, function.encode()))
        return bytes(head)

    async def _check_document(
        self, asset: str, record: dict[str, Any], limit: asyncio.Semaphore
    ) -> dict[str, Any]:
        seq = record["seq"]
        result: dict[str, Any] = {"seq": seq, "record_cid": record["record_cid"], "problems": []}
        if record["record_cid"] is None:
            result["problems"].append(f"record {seq}: no record document CID on chain")
            return result
        expected = ContentDigest("sha256", bytes.fromhex(record["record_digest"].removeprefix("0x")))
        try:
            async with limit:
                data = await self._storage.fetch_bytes(
                    CID.parse(record["record_cid"]),
                    max_size=MAX_DOCUMENT,
                    expected_digest=expected,
                    timeout=FETCH_TIMEOUT,
                )
        except (StorageError, IpfsClientError) as exc:
            result["problems"].append(f"record {seq}: document {record['record_cid']}: {exc}")
            return result
        result["problems"].extend(_disagreements(asset, self._registry, record, data))
        return result


def _disagreements(asset: str, registry: str, record: dict[str, Any], data: bytes) -> list[str]:
    seq = record["seq"]
    try:
        document = RecordDocument.from_json_bytes(data, require_canonical=True)
    except RecordDocumentError as exc:
        return [f"record {seq}: the document is not a valid record document: {exc}"]
    problems = []
    named = registry if record["activity"] == "register" else asset.lower()
    if document.asset.lower() != named:
        problems.append(f"record {seq}: the document names asset {document.asset}, the chain {named}")
    if document.activity != record["activity"]:
        problems.append(
            f"record {seq}: the document says {document.activity}, the chain {record['activity']}"
        )
    if document.actor.address.lower() != record["actor"].lower():
        signer = record["actor"]
        problems.append(
            f"record {seq}: the document's actor is {document.actor.address}, the signer {signer}"
        )
    return problems
