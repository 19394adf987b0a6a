"""The submitter, in process over a real outbox, against a scripted chain (a fake BlockchainProvider: a pool,
blocks, reorganisations) and a fake storage provider: what it sends for each kind of entry, references that
wait for their registration, the transaction stored before it is broadcast, batches the chain refuses,
nonces taken by another transaction, replacements, reorganisations and pins."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from eth_abi.abi import encode

from proml.contracts import calls
from proml.contracts.calls import ActivityCall
from proml.contracts.errors import ContractRevert
from proml.contracts.events import AssetRegistered, ProposalCreated, ProvenanceRecorded, topic_of
from proml.contracts.hash_chain import ChainedRecord
from proml.core.content.cid import CID
from proml.core.content.digest import ContentDigest
from proml.core.records import SCHEMA, RecordDocument
from proml.core.workflow import Activity, AssetKind
from proml.node.clients.chain import Block, ChainUnavailable, NonceTooLow, Receipt
from proml.node.providers.blockchain import BlockchainProvider, BlockchainProviderError, SignedTransaction
from proml.node.providers.storage import StorageProvider
from proml.node.services.document_cache import DocumentCache
from proml.node.services.outbox import Outbox, OutboxEntry, OutboxStatus
from proml.node.services.outbox_entries import GOVERNANCE, RECORD, REGISTER, ROLLBACK
from proml.node.services.submitter import Submitter

T = TypeVar("T")

ME = "0x" + "ab" * 20
REGISTRY = "0x" + "cd" * 20
DATASET = "0x" + "d1" * 20
MODEL = "0x" + "e1" * 20
NEW_ASSET = "0x" + "a5" * 20
DIGEST = "sha256:" + "11" * 32
WHEN = "2026-01-01T00:00:00Z"


# -- a scripted chain ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    hash: str
    to: str
    data: bytes
    nonce: int
    fee: int


@dataclass
class Mined:
    sent: Sent
    status: int
    logs: list[dict[str, Any]]


class FakeNonces:
    def __init__(self) -> None:
        self.resyncs = 0

    def resync(self) -> None:
        self.resyncs += 1


@dataclass
class FakeChain:
    """The part of `BlockchainProvider` the submitter uses. A transaction's raw bytes are its JSON, so
    that bytes sent again (without their nonce, as the outbox stores them) are read back."""

    confirmations: int = 1
    address: str = ME
    max_fee: int = 1_000
    down: bool = False
    refuses: Callable[[str, bytes], bool] = lambda to, data: False
    record_counts: dict[str, int] = field(default_factory=dict)
    nonces: FakeNonces = field(default_factory=FakeNonces)
    pool: dict[str, Sent] = field(default_factory=dict)
    blocks: list[tuple[str, list[Mined]]] = field(default_factory=lambda: [("0x" + "00" * 32, [])])
    prepared: list[Sent] = field(default_factory=list)
    broadcasts: list[str] = field(default_factory=list)
    receipts_asked: int = 0
    _next_nonce: int = 0
    _forks: int = 0

    # -- signing and sending --

    def prepare(self, to: str, data: bytes, gas: int | None = None) -> SignedTransaction:
        if self.refuses(to, data):
            raise ContractRevert("InvalidTransition", {}, b"")
        signed = self._sign(to, data, self._next_nonce, 10)
        self._next_nonce += 1
        self.prepared.append(self._sent(signed.raw))
        return signed

    def replacement(self, unsigned: dict[str, Any]) -> SignedTransaction | None:
        fee = int(unsigned["maxFeePerGas"]) + 1
        if fee > self.max_fee:
            return None
        return self._sign(str(unsigned["to"]), bytes(unsigned["data"]), int(unsigned["nonce"]), fee)

    def broadcast(self, signed: SignedTransaction) -> str:
        if self.down:
            raise ChainUnavailable("the chain is down")
        sent = self._sent(signed.raw)
        if sent.nonce in self.mined_nonces():
            raise NonceTooLow("nonce too low")
        self.pool.setdefault(sent.hash, sent)
        self.broadcasts.append(sent.hash)
        return sent.hash

    def _sign(self, to: str, data: bytes, nonce: int, fee: int) -> SignedTransaction:
        raw = json.dumps({"to": to, "data": data.hex(), "nonce": nonce, "fee": fee}).encode()
        unsigned = {"to": to, "data": data, "nonce": nonce, "maxFeePerGas": fee, "maxPriorityFeePerGas": 1}
        return SignedTransaction(_hash(raw), raw, nonce, unsigned)

    @staticmethod
    def _sent(raw: bytes) -> Sent:
        fields = json.loads(raw)
        return Sent(_hash(raw), fields["to"], bytes.fromhex(fields["data"]), fields["nonce"], fields["fee"])

    # -- the chain's side --

    def mine(
        self,
        *hashes: str,
        logs: Callable[[Sent], list[dict[str, Any]]] = lambda sent: [],
        status: int = 1,
    ) -> None:
        """A block with `hashes` (default: the pool, the first transaction of each nonce)."""
        chosen: dict[int, Sent] = {}
        for sent in (self.pool[h] for h in hashes) if hashes else self.pool.values():
            chosen.setdefault(sent.nonce, sent)
        for sent in chosen.values():
            for other in [h for h, s in self.pool.items() if s.nonce == sent.nonce]:
                del self.pool[other]  # a mined nonce leaves the pool
        self._forks += 1
        block_hash = "0x" + f"{self._forks:x}".rjust(64, "0")
        self.blocks.append((block_hash, [Mined(s, status, logs(s)) for s in chosen.values()]))

    def mine_foreign(self, nonce: int) -> None:
        """A block with another transaction of this account's key, with `nonce` (e.g. a chain reset)."""
        self.pool[f"foreign-{nonce}"] = Sent("0x" + "ee" * 32, REGISTRY, b"", nonce, 1)
        self.mine(f"foreign-{nonce}")

    def reorganise(self, depth: int = 1) -> None:
        """The last `depth` blocks leave the chain; their transactions are lost (in no pool)."""
        del self.blocks[-depth:]

    def mined_nonces(self) -> set[int]:
        return {m.sent.nonce for _, block in self.blocks for m in block}

    def nonce_used(self, nonce: int) -> bool:
        return nonce in self.mined_nonces()

    def is_known(self, tx_hash: str) -> bool:
        return tx_hash in self.pool or self._find(tx_hash) is not None

    def confirmed_receipt(self, tx_hash: str, confirmations: int | None = None) -> Receipt | None:
        self.receipts_asked += 1
        needed = max(self.confirmations if confirmations is None else confirmations, 1)
        found = self._find(tx_hash)
        if found is None:
            return None
        number, mined = found
        if len(self.blocks) - number < needed:
            return None
        block_hash = self.blocks[number][0]
        logs = [
            {
                **log,
                "blockNumber": hex(number),
                "blockHash": block_hash,
                "transactionHash": tx_hash,
                "logIndex": hex(i),
            }
            for i, log in enumerate(mined.logs)
        ]
        return Receipt(tx_hash, number, block_hash, mined.status, 21_000, None, logs)

    def _find(self, tx_hash: str) -> tuple[int, Mined] | None:
        for number, (_, block) in enumerate(self.blocks):
            for mined in block:
                if mined.sent.hash == tx_hash:
                    return number, mined
        return None

    def block_number(self) -> int:
        return len(self.blocks) - 1

    def head(self) -> Block:
        block = self.get_block(len(self.blocks) - 1)
        assert block is not None
        return block

    def get_block(self, number: int) -> Block | None:
        if not 0 <= number < len(self.blocks):
            return None
        parent = self.blocks[number - 1][0] if number else "0x" + "00" * 32
        return Block(number, self.blocks[number][0], parent, 1_700_000_000 + number, None)

    def revert_of(self, tx_hash: str, receipt: Receipt) -> ContractRevert:
        return ContractRevert("InvalidTransition", {}, b"")

    def call(self, to: str, data: bytes, block: int | str = "latest") -> bytes:
        assert data == calls.function("ModelAsset", "recordCount").encode()
        return encode(["uint256"], [self.record_counts.get(to, 0)])


def _hash(raw: bytes) -> str:
    return "0x" + hashlib.sha256(raw).hexdigest()


def _word(address: str) -> str:
    return "0x" + "00" * 12 + address[2:]


def recorded(asset: str, seq: int, accepted: bool = True) -> dict[str, Any]:
    """A ProvenanceRecorded log, as a receipt holds it (without where it was emitted)."""
    topics = [topic_of(ProvenanceRecorded), _word(asset), _word(ME), "0x" + "00" * 32]
    types = ["uint256", "uint8", "uint8", "bool", "bytes32", "bytes", "bytes32[]", "bytes32[]", "bytes28"]
    values = [seq, 0, 1, accepted, b"\x03" * 32, b"", [], [], b"\x00" * 28]
    return {"address": asset, "topics": topics, "data": "0x" + encode(types, values).hex()}


def registered(asset: str) -> dict[str, Any]:
    topics = [topic_of(AssetRegistered), _word(asset), "0x" + "00" * 31 + "01", _word(ME)]
    data = encode(["bytes32", "bytes32", "bytes"], [b"\x01" * 32, b"\x02" * 32, b""])
    return {"address": REGISTRY, "topics": topics, "data": "0x" + data.hex()}


def proposed(proposal_id: int) -> dict[str, Any]:
    topics = [topic_of(ProposalCreated), "0x" + f"{proposal_id:x}".rjust(64, "0"), _word(ME)]
    data = encode(["uint8", "address", "string", "uint8", "uint16"], [3, "0x" + "00" * 20, "", 0, 6000])
    return {"address": REGISTRY, "topics": topics, "data": "0x" + data.hex()}


# -- a storage provider -------------------------------------------------------------------------------


class FakeStorage:
    """Documents added (in requests, in order) and CIDs pinned; `down` as an IPFS outage."""

    def __init__(self) -> None:
        self.requests: list[list[bytes]] = []
        self.pinned: list[str] = []

    @property
    def documents(self) -> list[bytes]:
        return [document for request in self.requests for document in request]

    async def add_documents(self, documents: Sequence[bytes], *, pin: bool = True) -> list[CID]:
        assert not pin  # pinned afterwards, by `pin_documents`
        self.requests.append(list(documents))
        return [CID.of_block(document, codec=0x55) for document in documents]

    async def pin_many(self, cids: Sequence[CID], *, timeout: float | None = None) -> None:
        self.pinned.extend(str(cid) for cid in cids)


# -- entries ------------------------------------------------------------------------------------------


def document(asset: str, activity: str, **fields: Any) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "asset": asset,
        "activity": activity,
        "actor": {"name": "Org A", "address": ME},
        "inputs": [],
        "outputs": [],
        "parameters": {},
        "metrics": {},
        "environment": {"python": "unspecified", "packages": {}},
        "started_at": WHEN,
        "ended_at": WHEN,
        **fields,
    }


def record(outbox: Outbox, asset: str = DATASET, activity: str = "label", **fields: Any) -> OutboxEntry:
    kind = "model" if asset == MODEL else "dataset"
    payload = {"asset": asset, "kind": kind, "document": document(asset, activity, **fields)}
    entry, _ = outbox.enqueue(RECORD, payload)
    return entry


def registration(outbox: Outbox) -> OutboxEntry:
    outputs = [{"digest": DIGEST, "name": "digits", "kind": "dataset"}]
    parameters = {"name": "digits", "ancestors": []}
    payload = {
        "kind": "dataset",
        "ancestors": [],
        "document": document(REGISTRY, "register", outputs=outputs, parameters=parameters),
    }
    entry, _ = outbox.enqueue(REGISTER, payload)
    return entry


@dataclass
class Rig:
    outbox: Outbox
    chain: FakeChain
    storage: FakeStorage
    submitter: Submitter
    records: dict[str, list[ChainedRecord]]

    def status(self, entry: OutboxEntry) -> OutboxStatus:
        return self.outbox.get(entry.id).status

    def send(self) -> bool:
        return run(self.submitter.send_next())


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def rig(outbox: Outbox, chain: FakeChain | None = None, **options: Any) -> Rig:
    chain = chain or FakeChain()
    storage = FakeStorage()
    records: dict[str, list[ChainedRecord]] = {}

    def records_of(asset: str) -> list[ChainedRecord]:
        if asset not in records:
            raise LookupError(asset)
        return records[asset]

    submitter = Submitter(
        outbox,
        cast(BlockchainProvider, chain),
        cast(StorageProvider, storage),
        REGISTRY,
        records_of,
        **{"batch_interval": 0.0, "follow_interval": 0.0, **options},
    )
    return Rig(outbox, chain, storage, submitter, records)


@pytest.fixture
def r(outbox: Outbox) -> Rig:
    return rig(outbox)


def digest_and_cid(stored: bytes) -> tuple[bytes, bytes]:
    return hashlib.sha256(stored).digest(), CID.of_block(stored, codec=0x55).to_bytes()


# -- what is sent -------------------------------------------------------------------------------------


def test_records_that_wait_together_go_in_one_record_batch(r: Rig) -> None:
    entries = [record(r.outbox, notes=f"run {i}") for i in range(3)]
    assert r.send()
    assert len(r.storage.requests) == 1 and len(r.storage.documents) == 3  # one request to IPFS
    (sent,) = r.chain.prepared
    expected = [
        ActivityCall(DATASET, AssetKind.DATASET, Activity.LABEL, *digest_and_cid(stored), (), ())
        for stored in r.storage.documents
    ]
    assert (sent.to, sent.data) == (REGISTRY, calls.record_batch(expected))
    for entry, stored in zip(entries, r.storage.documents, strict=True):
        after = r.outbox.get(entry.id)
        assert after.status == OutboxStatus.SUBMITTED and after.tx_hash == sent.hash
        assert (
            after.result is not None
            and after.result["record_digest"] == "0x" + hashlib.sha256(stored).hexdigest()
        )
    assert RecordDocument.from_json_bytes(r.storage.documents[0]).notes == "run 0"


def test_a_record_alone_goes_to_its_asset_with_its_artifacts_as_words(r: Rig) -> None:
    inputs = [{"name": "raw", "kind": "dataset", "digest": DIGEST, "asset": DATASET}]
    outputs = [{"name": "weights", "kind": "file", "digest": DIGEST}]
    record(r.outbox, MODEL, "train", inputs=inputs, outputs=outputs)
    assert r.send()
    (sent,) = r.chain.prepared
    (stored,) = r.storage.documents
    call = ActivityCall(
        MODEL,
        AssetKind.MODEL,
        Activity.TRAIN,
        *digest_and_cid(stored),
        (calls.address_word(DATASET),),
        (ContentDigest.parse(DIGEST).value,),
    )
    assert (sent.to, sent.data) == (MODEL, calls.activity(call))


def test_results_come_from_the_receipts_events_and_a_final_entry_is_final(r: Rig) -> None:
    entries = [record(r.outbox), record(r.outbox)]
    r.send()
    r.chain.mine(logs=lambda sent: [recorded(DATASET, 4), recorded(DATASET, 5, accepted=False)])
    assert r.submitter.follow()
    results = [r.outbox.get(e.id) for e in entries]
    assert [e.status for e in results] == [OutboxStatus.FINAL, OutboxStatus.FINAL]  # confirmations 1
    assert [(e.result or {}).get("seq") for e in results] == [4, 5]
    assert [(e.result or {}).get("accepted") for e in results] == [True, False]
    assert all((e.result or {}).get("block_number") == 1 for e in results)


def test_a_governance_entry_calls_the_registry_and_reports_its_proposal(r: Rig) -> None:
    entry, _ = r.outbox.enqueue(GOVERNANCE, {"function": "proposeThreshold", "args": [6000]})
    assert r.send()
    (sent,) = r.chain.prepared
    assert (sent.to, sent.data) == (REGISTRY, calls.function("ProML", "proposeThreshold").encode(6000))
    assert r.storage.requests == []  # not a provenance record: no document
    r.chain.mine(logs=lambda sent: [proposed(7)])
    r.submitter.follow()
    assert (r.outbox.get(entry.id).result or {}).get("proposal_id") == 7


def test_documents_are_pinned_after_they_are_sent(r: Rig) -> None:
    record(r.outbox)
    record(r.outbox)
    r.send()
    assert r.storage.pinned == []
    assert run(r.submitter.pin_documents()) == 2
    assert r.storage.pinned == [str(CID.of_block(d, codec=0x55)) for d in r.storage.documents]
    assert run(r.submitter.pin_documents()) == 0  # done is remembered


def test_the_documents_it_stores_are_kept_for_the_replicator_and_verification(
    outbox: Outbox, tmp_path: Path
) -> None:
    store = DocumentCache(tmp_path / "verified-documents.db")
    r = rig(outbox, documents=store)
    record(r.outbox, notes="one")
    record(r.outbox, notes="two")
    assert r.send()
    kept = store.get_many({hashlib.sha256(d).digest() for d in r.storage.documents})
    assert sorted(kept.values()) == sorted(r.storage.documents)
    store.close()


def test_transactions_in_flight_are_followed_when_a_block_comes_not_on_every_pass(outbox: Outbox) -> None:
    r = rig(outbox, follow_interval=60.0)
    entry = record(r.outbox)
    assert r.send()
    assert not r.submitter.follow()  # looked: not mined
    asked = r.chain.receipts_asked
    for _ in range(5):
        assert not r.submitter.follow()
    assert r.chain.receipts_asked == asked  # no block came: nothing to ask
    r.chain.mine()
    assert r.submitter.follow()
    assert r.status(entry) == OutboxStatus.FINAL


# -- registrations and the records that name them -----------------------------------------------------


def test_a_record_naming_a_registration_waits_for_its_block_then_names_its_address(r: Rig) -> None:
    registering = registration(r.outbox)
    waiting = record(r.outbox, f"outbox:{registering.id}")
    assert r.send()
    (sent,) = r.chain.prepared
    (stored,) = r.storage.documents
    assert (sent.to, sent.data) == (
        REGISTRY,
        calls.register(AssetKind.DATASET, ContentDigest.parse(DIGEST).value, *digest_and_cid(stored), []),
    )
    assert not r.send()  # the record waits for the registration's block
    assert r.status(waiting) == OutboxStatus.QUEUED and len(r.chain.prepared) == 1

    r.chain.mine(logs=lambda sent: [registered(NEW_ASSET), recorded(NEW_ASSET, 0)])
    r.submitter.follow()
    assert str((r.outbox.get(registering.id).result or {}).get("asset")).lower() == NEW_ASSET
    assert r.send()
    assert r.chain.prepared[-1].to == NEW_ASSET
    assert RecordDocument.from_json_bytes(r.storage.documents[-1]).asset == NEW_ASSET


def test_a_registration_goes_alone(r: Rig) -> None:
    registering = registration(r.outbox)
    other = record(r.outbox)
    assert r.send()
    assert [s.to for s in r.chain.prepared] == [REGISTRY]
    assert r.status(registering) == OutboxStatus.SUBMITTED and r.status(other) == OutboxStatus.QUEUED
    assert r.send()
    assert [s.to for s in r.chain.prepared] == [REGISTRY, DATASET]


def test_a_record_naming_a_failed_registration_fails_too(r: Rig) -> None:
    registering = registration(r.outbox)
    waiting = record(r.outbox, f"outbox:{registering.id}")
    r.outbox.mark_failed([registering.id], "refused")
    assert not r.send()
    after = r.outbox.get(waiting.id)
    assert after.status == OutboxStatus.FAILED and f"outbox:{registering.id}" in (after.error or "")
    assert r.chain.prepared == []


# -- exactly once -------------------------------------------------------------------------------------


def test_a_transaction_is_stored_before_it_is_broadcast_and_the_same_bytes_go_again(r: Rig) -> None:
    entry = record(r.outbox)
    r.chain.down = True
    assert r.send()  # stored; broadcasting failed
    (sent,) = r.chain.prepared
    stored = r.outbox.get(entry.id)
    attempt = r.outbox.attempt(sent.hash)
    assert stored.status == OutboxStatus.SUBMITTED and attempt is not None and attempt.raw
    assert r.chain.pool == {}
    r.chain.down = False
    r.submitter.follow()
    assert r.chain.broadcasts == [sent.hash]  # the very transaction, not a new one
    assert len(r.chain.prepared) == 1
    r.chain.mine(logs=lambda sent: [recorded(DATASET, 0)])
    r.submitter.follow()
    assert r.status(entry) == OutboxStatus.FINAL


def test_a_batch_the_chain_refuses_goes_record_by_record_and_only_the_refused_one_fails(
    outbox: Outbox,
) -> None:
    bad = "refused by the chain"
    r = rig(outbox)

    def refuses(to: str, data: bytes) -> bool:
        bad_digests = [hashlib.sha256(d).digest() for d in r.storage.documents if bad.encode() in d]
        return any(digest in data for digest in bad_digests)

    r.chain.refuses = refuses
    entries = [record(outbox, notes="fine"), record(outbox, notes=bad), record(outbox, notes="fine too")]
    assert r.send()
    assert [r.status(e) for e in entries] == [
        OutboxStatus.SUBMITTED,
        OutboxStatus.FAILED,
        OutboxStatus.SUBMITTED,
    ]
    assert "the chain refuses it" in (outbox.get(entries[1].id).error or "")
    assert [s.to for s in r.chain.prepared] == [DATASET, DATASET]  # the others went alone


def test_a_mined_batch_that_reverted_is_sent_again_and_a_lone_record_fails(r: Rig) -> None:
    batch = [record(r.outbox), record(r.outbox)]
    r.send()
    r.chain.mine(status=0)
    r.submitter.follow()
    assert [r.status(e) for e in batch] == [OutboxStatus.QUEUED, OutboxStatus.QUEUED]
    assert "sent again" in (r.outbox.get(batch[0].id).error or "")

    alone = record(r.outbox, MODEL, "train")
    r.outbox.mark_failed([e.id for e in batch], "out of the way")
    r.send()
    r.chain.mine(status=0)
    r.submitter.follow()
    after = r.outbox.get(alone.id)
    assert after.status == OutboxStatus.FAILED and "InvalidTransition" in (after.error or "")


def test_a_nonce_taken_by_another_transaction_sends_the_entries_anew(r: Rig) -> None:
    entry = record(r.outbox)
    r.send()
    r.chain.pool.clear()  # dropped...
    r.chain.mine_foreign(nonce=0)  # ...and its nonce went to another transaction of the key
    assert r.submitter.follow()
    after = r.outbox.get(entry.id)
    assert after.status == OutboxStatus.QUEUED and after.tx_hash is None
    assert "nonce 0" in (after.error or "")
    assert r.chain.nonces.resyncs == 1


def test_a_transaction_left_waiting_is_replaced_and_whichever_is_mined_records_the_entries(
    outbox: Outbox,
) -> None:
    r = rig(outbox, replace_after=0.0)
    entry = record(outbox)
    r.send()
    (first,) = r.chain.prepared
    assert r.submitter.follow()  # in the pool, waiting longer than replace_after
    replaced = outbox.get(entry.id)
    assert replaced.tx_hash != first.hash
    attempts = outbox.attempts(first.hash)
    assert {a.hash for a in attempts} == {first.hash, replaced.tx_hash}
    assert {a.nonce for a in attempts} == {0}  # a replacement, not another transaction
    assert r.chain.broadcasts[-1] == replaced.tx_hash

    r.chain.mine(first.hash, logs=lambda sent: [recorded(DATASET, 0)])  # the first one is mined after all
    r.submitter.follow()
    final = outbox.get(entry.id)
    assert final.status == OutboxStatus.FINAL and final.tx_hash == first.hash


def test_a_transaction_at_the_maximum_fee_is_not_replaced(outbox: Outbox) -> None:
    r = rig(outbox, FakeChain(max_fee=10), replace_after=0.0)
    entry = record(outbox)
    r.send()
    assert not r.submitter.follow()
    assert outbox.get(entry.id).tx_hash == r.chain.prepared[0].hash


def test_a_block_reorganised_away_sends_the_same_transaction_again(outbox: Outbox) -> None:
    r = rig(outbox, FakeChain(confirmations=2))
    entry = record(outbox)
    r.send()
    (sent,) = r.chain.prepared
    r.chain.mine(logs=lambda sent: [recorded(DATASET, 0)])
    r.submitter.follow()
    assert r.status(entry) == OutboxStatus.INCLUDED  # one block deep of the two
    r.chain.reorganise()
    r.submitter.follow()
    assert r.status(entry) == OutboxStatus.SUBMITTED
    r.submitter.follow()
    assert r.chain.broadcasts == [sent.hash, sent.hash]  # the same bytes again
    r.chain.mine(logs=lambda sent: [recorded(DATASET, 0)])
    r.chain.mine()
    r.submitter.follow()
    assert r.status(entry) == OutboxStatus.FINAL and len(r.chain.prepared) == 1


# -- rollbacks ----------------------------------------------------------------------------------------


def test_a_rollback_waits_until_the_index_holds_every_record_of_its_model(r: Rig) -> None:
    entry, _ = r.outbox.enqueue(
        ROLLBACK,
        {
            "asset": MODEL,
            "kind": "model",
            "document": document(MODEL, "rollback", parameters={"to_seq": 0, "reason": "bad data"}),
        },
    )
    r.chain.record_counts[MODEL] = 1
    with pytest.raises(BlockchainProviderError, match="does not know"):
        r.send()
    r.records[MODEL] = []
    with pytest.raises(BlockchainProviderError, match="holds 0 of 1"):
        r.send()
    assert r.status(entry) == OutboxStatus.QUEUED and r.chain.prepared == []
