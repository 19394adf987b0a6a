"""`proml.node.services.verify`: what verification concludes, and VerifyService over its boundaries.

The service's neighbours are fakes at their boundary: the index's answers for one asset (`Ledger`, in
place of the Query), the asset's `head()` on chain (`Chain`, in place of the blockchain provider) and the
IPFS daemon (`Daemon`) behind a real StorageProvider, so that the CID and digest checks are the real ones.
The store of verified documents is a real DocumentCache in the test's folder. The whole path runs against
a real devnet in tests/integration/test_verify_truth.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode

from proml.contracts import calls
from proml.contracts.addresses import checksum
from proml.contracts.hash_chain import ZERO_HEAD, ChainedRecord, next_head, recompute_head
from proml.core.content.cid import CID, cid_of_bytes
from proml.core.content.digest import ContentDigest
from proml.core.records import SCHEMA, Actor, Artifact, Environment, RecordDocument
from proml.core.workflow import Activity
from proml.node.clients.ipfs import IpfsError
from proml.node.providers.storage import DigestMismatch, PayloadMismatch, StorageProvider
from proml.node.services.document_cache import DocumentCache
from proml.node.services.query import UnindexedAsset
from proml.node.services.verify import (
    BATCH,
    FETCH_CONCURRENCY,
    MAX_DOCUMENT,
    VerifyService,
    _disagreements,
    checked_copy,
    digests_of,
    file_result,
    recorded_files,
)

ASSET = "0x" + "ab" * 20
SIGNER = "0x" + "cd" * 20
WEIGHTS = "0x" + "11" * 32


def record(seq: int, activity: str, accepted: bool = True, **words: list[str]) -> dict[str, Any]:
    return {
        "seq": seq,
        "activity": activity,
        "accepted": accepted,
        "actor": SIGNER,
        "actor_name": "B",
        "timestamp": "2026-12-02T00:00:00.000Z",
        "transaction_hash": "0x" + "00" * 32,
        "record_cid": None,
        "inputs": words.get("inputs", []),
        "outputs": words.get("outputs", []),
    }


def document(name: str, outputs: list[dict[str, Any]] | None = None) -> RecordDocument:
    return RecordDocument.from_dict(
        {
            "schema": SCHEMA,
            "asset": ASSET,
            "activity": "train",
            "actor": {"name": name, "address": SIGNER},
            "inputs": [],
            "outputs": outputs or [],
            "parameters": {},
            "metrics": {},
            "environment": {"python": "3.12", "packages": {}},
            "started_at": "2026-12-02T00:00:00.000Z",
            "ended_at": "2026-12-02T00:00:00.000Z",
        }
    )


def test_only_an_accepted_record_makes_a_match_ok() -> None:
    assert file_result([{"accepted": False}]) == "REJECTED_ONLY"
    assert file_result([{"accepted": False}, {"accepted": True}]) == "OK"
    assert file_result([]) == "MISMATCH"


def test_every_recorded_file_says_whether_its_record_was_accepted_and_roots_and_reasons_are_no_files() -> (
    None
):
    history = [
        record(0, "register", outputs=["0x" + "00" * 32]),  # a model registered without a file
        record(1, "train", accepted=False, outputs=[WEIGHTS]),
        record(2, "anchor", inputs=["0x" + "00" * 31 + "01"], outputs=["0x" + "22" * 32]),
        record(3, "rollback", inputs=["0x" + "00" * 31 + "01", "0x" + "33" * 32]),
        record(4, "select_data", inputs=["0x" + "00" * 12 + "ef" * 20]),  # an asset, not a file
    ]
    assert [(r["seq"], r["where"], r["digest"], r["accepted"]) for r in recorded_files(history)] == [
        (1, "output", WEIGHTS, False)
    ]


def test_a_document_must_name_its_signer_by_the_members_on_chain_name() -> None:
    trained = record(1, "train")
    assert _disagreements(ASSET, "0x" + "99" * 20, trained, document("B"), "B") == []
    assert _disagreements(ASSET, "0x" + "99" * 20, trained, document("A"), "B") == [
        f"record 1: the document's actor is named 'A', but its signer {SIGNER} is the member 'B' on chain"
    ]
    [unknown] = _disagreements(ASSET, "0x" + "99" * 20, trained, document("B"), None)
    assert "cannot be checked" in unknown


def test_a_documents_outputs_must_be_the_words_on_chain() -> None:
    output = {"name": "weights", "kind": "file", "digest": "sha256:" + "11" * 32}
    on_chain = record(1, "train", outputs=[WEIGHTS])
    assert _disagreements(ASSET, "0x" + "99" * 20, on_chain, document("B", [output]), "B") == []
    other = record(1, "train", outputs=["0x" + "44" * 32])
    [problem] = _disagreements(ASSET, "0x" + "99" * 20, other, document("B", [output]), "B")
    assert problem.startswith("record 1: the document's outputs")


# -- VerifyService ------------------------------------------------------------------------------------

REGISTRY = "0x" + "99" * 20
NOW = "2026-12-02T00:00:00.000Z"


class Daemon:
    """The IPFS daemon: serves what was put, or what a test swapped in; notes what it was asked."""

    def __init__(self) -> None:
        self.served: dict[str, bytes] = {}
        self.hanging: set[str] = set()  # CIDs the daemon looks for and never finds, and never says so
        self.documents_asked: list[tuple[str, int | None]] = []
        self.timeouts: set[float | None] = set()
        self.streams_asked: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.on_ask: Callable[[str], object] = lambda cid: None

    def put(self, data: bytes) -> str:
        cid = str(cid_of_bytes(data, cid_version=1))
        self.served[cid] = data
        return cid

    def _serve(self, cid: CID | str) -> bytes:
        try:
            return self.served[str(cid)]
        except KeyError:
            raise IpfsError(f"{cid}: block was not found locally", status=500, endpoint="cat") from None

    async def cat(self, cid: CID | str, *, timeout: float | None = None) -> AsyncIterator[bytes]:
        self.streams_asked.append(str(cid))
        data = self._serve(cid)
        for start in range(0, len(data), 5):
            yield data[start : start + 5]

    async def cat_bytes(
        self, cid: CID | str, *, max_size: int | None = None, timeout: float | None = None
    ) -> bytes:
        self.documents_asked.append((str(cid), max_size))
        self.on_ask(str(cid))
        self.timeouts.add(timeout)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # others start meanwhile, as they would over HTTP
            if str(cid) in self.hanging:
                await asyncio.Event().wait()
            data = self._serve(cid)
        finally:
            self.in_flight -= 1
        if max_size is not None and len(data) > max_size:
            raise IpfsError(f"{cid} is larger than {max_size} bytes", status=200, endpoint="cat")
        return data


class Ledger:
    """The index's answers about one asset, as the Query gives them: its history, its records, each linked
    to the one before as the contract links them, and the name each record's signer was admitted under."""

    def __init__(self, kind: str = "model") -> None:
        self.kind = kind
        self.entries: list[dict[str, Any]] = []
        self.chain: list[ChainedRecord] = []
        self.names: dict[int, str | None] = {}
        self.head = ZERO_HEAD  # what the records so far lead to, as the contract keeps it

    def add(
        self,
        activity: str,
        cid: str | None,
        record_digest: bytes,
        *,
        accepted: bool = True,
        inputs: Sequence[bytes] = (),
        outputs: Sequence[bytes] = (),
        name: str | None = "B",
    ) -> int:
        seq = len(self.chain)
        self.chain.append(
            ChainedRecord(
                asset=checksum(ASSET),
                seq=seq,
                actor=checksum(SIGNER),
                activity=int(Activity[activity.upper()]),
                from_state=0,
                to_state=0,
                accepted=accepted,
                record_digest=record_digest,
                record_cid=b"" if cid is None else CID.parse(cid).to_bytes(),
                inputs=tuple(inputs),
                outputs=tuple(outputs),
                prev_head=self.head,
            )
        )
        self.head = next_head(self.head, self.chain[-1].hash())
        entry = record(
            seq,
            activity,
            accepted,
            inputs=["0x" + w.hex() for w in inputs],
            outputs=["0x" + w.hex() for w in outputs],
        )
        entry.update(record_cid=cid, record_digest="0x" + record_digest.hex())
        self.entries.append(entry)
        self.names[seq] = name
        return seq

    def asset(self, address: str) -> dict[str, Any] | None:
        return {"address": checksum(ASSET), "kind": self.kind} if address.lower() == ASSET else None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        yield  # nothing syncs beside a test

    def history(self, address: str) -> list[dict[str, Any]]:
        return self.entries

    def records(self, address: str) -> list[ChainedRecord]:
        return self.chain

    def history_and_records(self, address: str) -> tuple[list[dict[str, Any]], list[ChainedRecord]]:
        return self.entries, self.chain

    def actor_names(self, address: str) -> dict[int, str | None]:
        return dict(self.names)


class Chain:
    """The asset's `head()` on chain: the head its records lead to, unless a test sets another."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.head: bytes | None = None
        self.calls: list[tuple[str, bytes]] = []

    def call(self, to: str, data: bytes) -> bytes:
        self.calls.append((to, data))
        head = recompute_head(self.ledger.chain) if self.head is None else self.head
        return encode(["bytes28"], [head])


class World:
    """An asset's records (the Ledger), the chain, IPFS and the verify service over them; with `store`, the
    service keeps the documents it checked in a DocumentCache at that path."""

    def __init__(self, kind: str = "model", store: Path | None = None, **options: Any) -> None:
        self.ledger = Ledger(kind)
        self.daemon = Daemon()
        self.chain = Chain(self.ledger)
        self.store = None if store is None else DocumentCache(store)
        storage = StorageProvider(self.daemon)  # type: ignore[arg-type]
        self.service = VerifyService(
            self.ledger,  # type: ignore[arg-type]
            storage,
            self.chain,  # type: ignore[arg-type]
            REGISTRY,
            self.store,
            **options,
        )

    def document(
        self,
        activity: str,
        *,
        inputs: Sequence[Artifact] = (),
        outputs: Sequence[Artifact] = (),
        name: str = "B",
    ) -> RecordDocument:
        return RecordDocument(
            asset=REGISTRY if activity == "register" else ASSET,
            activity=activity,
            actor=Actor(name, SIGNER),
            environment=Environment("3.12"),
            started_at=NOW,
            ended_at=NOW,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
        )

    def records(self, document: RecordDocument, *, accepted: bool = True, on_chain_name: str = "B") -> int:
        """Store the document in IPFS and its record on chain, with the words the chain keeps."""
        data = document.to_json_bytes()
        outputs = [word_of(a) for a in document.outputs]
        if document.activity == "register" and not outputs:
            outputs = [calls.ZERO32]
        return self.ledger.add(
            document.activity,
            self.daemon.put(data),
            document.digest(),
            accepted=accepted,
            inputs=[] if document.activity == "register" else [word_of(a) for a in document.inputs],
            outputs=outputs,
            name=on_chain_name,
        )

    def verify(self, **options: Any) -> dict[str, Any]:
        return asyncio.run(self.service.verify_history(ASSET, **options))


def word_of(artifact: Artifact) -> bytes:
    if artifact.asset is not None:
        return calls.address_word(artifact.asset)
    return ContentDigest.parse(artifact.digest).value


def payload(world: World, name: str, content: bytes) -> Artifact:
    cid = world.daemon.put(content)
    return Artifact(name, "file", "sha256:" + sha256(content), cid=cid, size=len(content))


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def trained(world: World) -> Artifact:
    """A model registered without a file, then trained into weights that IPFS holds."""
    world.records(world.document("register"))
    weights = payload(world, "weights", b"the trained weights")
    world.records(world.document("train", outputs=[weights]))
    return weights


def test_a_history_whose_documents_and_hash_chain_hold_is_ok() -> None:
    world = World()
    weights = trained(world)
    report = world.verify()
    assert (report["ok"], report["result"], report["chain_ok"], report["problems"]) == (True, "OK", True, [])
    assert report["asset"] == checksum(ASSET) and report["records"] == 2
    assert report["head"] == report["recomputed_head"] == "0x" + recompute_head(world.ledger.chain).hex()
    assert [(d["seq"], d["problems"]) for d in report["documents"]] == [(0, []), (1, [])]
    assert [(r["seq"], r["digest"]) for r in report["recorded"]] == [
        (1, "0x" + sha256(b"the trained weights"))
    ]
    # The head is read from the asset itself; each document is fetched by its CID within the size a node
    # stores, and no payload is streamed unless asked.
    assert world.chain.calls == [(checksum(ASSET), calls.function("ModelAsset", "head").encode())]
    assert world.daemon.documents_asked == [(e["record_cid"], MAX_DOCUMENT) for e in world.ledger.entries]
    assert world.daemon.streams_asked == []
    assert report["payloads_checked"] is False
    assert [(p["seq"], p["cid"], p["checked"], p["ok"]) for p in report["payloads"]] == [
        (1, weights.cid, False, None)
    ]


def test_a_head_on_chain_that_the_records_do_not_lead_to_fails_the_history() -> None:
    world = World()
    trained(world)
    world.chain.head = b"\x07" * 28
    report = world.verify()
    assert (report["ok"], report["result"], report["chain_ok"]) == (False, "FAILED", False)
    assert report["head"] == "0x" + "07" * 28
    assert report["recomputed_head"] == "0x" + recompute_head(world.ledger.chain).hex()
    assert report["problems"] == ["the recomputed head differs from the head on chain"]


def problems_of(report: dict[str, Any], seq: int) -> list[str]:
    assert report["ok"] is False and report["result"] == "FAILED"
    [document] = [d for d in report["documents"] if d["seq"] == seq]
    assert document["problems"] and set(document["problems"]) <= set(report["problems"])
    return list(document["problems"])


def test_a_document_ipfs_serves_altered_is_named_by_its_record() -> None:
    world = World()
    trained(world)
    cid = world.ledger.entries[1]["record_cid"]
    world.daemon.served[cid] = world.daemon.served[cid].replace(b'"B"', b'"C"')
    [problem] = problems_of(world.verify(), 1)
    assert problem.startswith(f"record 1: document {cid}: asked IPFS for {cid}, received content")


def test_a_document_whose_digest_is_not_the_one_on_chain_is_refused() -> None:
    world = World()
    world.records(world.document("register"))
    genuine = world.document("train", outputs=[payload(world, "weights", b"w")])
    # The chain holds the digest of another document than the one its CID names.
    world.ledger.add("train", world.daemon.put(genuine.to_json_bytes()), b"\x05" * 32, outputs=[b"\x01" * 32])
    [problem] = problems_of(world.verify(), 1)
    assert f"but sha256:{'05' * 32} was recorded" in problem


def test_a_document_ipfs_does_not_have_is_a_problem_not_a_crash() -> None:
    world = World()
    trained(world)
    cid = world.ledger.entries[1]["record_cid"]
    del world.daemon.served[cid]
    [problem] = problems_of(world.verify(), 1)
    assert problem == f"record 1: document {cid} is unavailable: cat: {cid}: block was not found locally"


def test_a_record_without_a_document_cid_is_a_problem() -> None:
    world = World()
    world.records(world.document("register"))
    world.ledger.add("train", None, b"\x05" * 32)
    assert problems_of(world.verify(), 1) == ["record 1: no record document CID on chain"]
    assert len(world.daemon.documents_asked) == 1


@pytest.mark.parametrize(
    "data",
    [
        b'{"schema": "something else"}',
        json.dumps(World().document("train").to_dict(), indent=1).encode(),
        b"\xff not json",
    ],
    ids=["not a record document", "a record document, not canonical", "not JSON"],
)
def test_bytes_that_are_not_a_canonical_record_document_are_refused(data: bytes) -> None:
    world = World()
    world.records(world.document("register"))
    world.ledger.add("train", world.daemon.put(data), bytes.fromhex(sha256(data)))
    [problem] = problems_of(world.verify(), 1)
    assert problem.startswith("record 1: the document is not a valid record document")


def test_each_document_is_checked_against_the_name_its_signer_had_at_that_record() -> None:
    world = World()
    world.records(world.document("register", name="Bee"), on_chain_name="Bee")
    world.records(world.document("collect", name="B"))  # readmitted under a new name since
    assert world.verify()["ok"] is True

    world.records(world.document("label", name="Bee"))  # the old name, after the readmission
    assert problems_of(world.verify(), 2) == [
        f"record 2: the document's actor is named 'Bee', but its signer {SIGNER} is the member 'B' on chain"
    ]


def test_a_signer_the_index_has_no_admission_for_cannot_have_its_name_checked() -> None:
    world = World()
    world.records(world.document("register"), on_chain_name=None)  # type: ignore[arg-type]
    [problem] = problems_of(world.verify(), 0)
    assert "has no admission in this node's index before the record" in problem


def test_payloads_are_streamed_once_each_and_a_tampered_one_is_named() -> None:
    world = World()
    weights = trained(world)
    metrics = payload(world, "metrics", b"accuracy 0.97")
    # An asset input is verified as an asset of its own, even with a CID.
    dataset = Artifact("data", "dataset", "sha256:" + "aa" * 32, cid=weights.cid, asset="0x" + "ee" * 20)
    unstored = Artifact("notes", "file", "sha256:" + "bb" * 32)  # recorded by digest only
    world.records(world.document("evaluate", inputs=[weights, dataset], outputs=[metrics, unstored]))
    assert weights.cid is not None and metrics.cid is not None
    world.daemon.served[metrics.cid] = b"accuracy 0.99"

    report = world.verify(payloads=True)
    assert report["problems"] == [] and report["chain_ok"] is True
    assert (report["ok"], report["result"], report["payloads_checked"]) == (False, "FAILED", True)
    assert sorted(world.daemon.streams_asked) == sorted([weights.cid, metrics.cid])  # weights: once
    assert [(p["seq"], p["where"], p["name"], p["checked"], p["ok"]) for p in report["payloads"]] == [
        (1, "output", "weights", True, True),
        (2, "input", "weights", True, True),
        (2, "output", "metrics", True, False),
    ]
    [problem] = report["payload_problems"]
    assert problem.startswith(f"record 2: output metrics ({metrics.cid}): asked IPFS for {metrics.cid}")


def test_a_payload_ipfs_does_not_have_is_named() -> None:
    world = World()
    weights = trained(world)
    assert weights.cid is not None
    del world.daemon.served[weights.cid]
    report = world.verify(payloads=True)
    assert report["ok"] is False
    assert report["payload_problems"] == [
        f"record 1: output weights ({weights.cid}): cat: {weights.cid}: block was not found locally"
    ]


def test_an_asset_this_node_has_not_indexed_is_unknown() -> None:
    world = World()
    with pytest.raises(UnindexedAsset, match="not an asset this node has indexed"):
        asyncio.run(world.service.verify_history("0x" + "12" * 20))
    with pytest.raises(UnindexedAsset):
        world.service.verify_file("0x" + "12" * 20, {})


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def digests(content: bytes) -> dict[str, ContentDigest]:
    return asyncio.run(digests_of(_chunks(content[:3], content[3:])))


def test_a_file_is_ok_only_when_an_accepted_record_holds_it() -> None:
    world = World()
    trained(world)
    world.records(world.document("evaluate", outputs=[payload(world, "refused", b"refused")]), accepted=False)

    held = world.service.verify_file(ASSET, digests(b"the trained weights"))
    assert (held["ok"], held["result"], held["asset"], held["kind"]) == (True, "OK", checksum(ASSET), "model")
    assert [(m["seq"], m["where"], m["accepted"]) for m in held["matches"]] == [(1, "output", True)]
    assert held["file"]["sha256"] == "sha256:" + sha256(b"the trained weights")

    refused = world.service.verify_file(ASSET, digests(b"refused"))
    assert (refused["ok"], refused["result"]) == (False, "REJECTED_ONLY")
    assert [m["seq"] for m in refused["matches"]] == [2]

    other = world.service.verify_file(ASSET, digests(b"another file"))
    assert (other["ok"], other["result"], other["matches"]) == (False, "MISMATCH", [])
    assert [r["seq"] for r in other["recorded"]] == [1, 2]  # what was recorded instead


def test_a_file_recorded_by_its_blake3_digest_matches() -> None:
    world = World()
    world.records(world.document("register"))
    file = digests(b"weights hashed with BLAKE3")
    recorded = Artifact("weights", "file", str(file["blake3"]))
    world.records(world.document("train", outputs=[recorded]))
    assert world.service.verify_file(ASSET, file)["result"] == "OK"
    assert world.service.verify_file(ASSET, {"sha256": file["sha256"]})["result"] == "MISMATCH"


# -- many documents: fetched concurrently, bounded, each within its timeout; the store of checked ones -----


def long_history(world: World, records: int) -> list[str]:
    """A registration and `records - 1` trainings, each with a document of its own; their CIDs."""
    world.records(world.document("register"))
    for i in range(records - 1):
        world.records(world.document("train", outputs=[payload(world, "weights", b"w%d" % i)]))
    return [e["record_cid"] for e in world.ledger.entries]


def test_a_document_ipfs_never_answers_for_is_unavailable_and_the_others_are_still_verified() -> None:
    world = World(fetch_timeout=0.2, fetch_concurrency=8)
    cids = long_history(world, 60)
    world.daemon.hanging.add(cids[17])  # the daemon looks for it and never gives up
    del world.daemon.served[cids[40]]  # the daemon says at once it has not got it

    report = world.verify()
    assert report["ok"] is False and report["result"] == "FAILED" and report["chain_ok"] is True
    failed = {d["seq"]: d["problems"] for d in report["documents"] if d["problems"]}
    assert sorted(failed) == [17, 40]
    assert failed[17] == [f"record 17: document {cids[17]} is unavailable: no answer within 0.2 s"]
    assert failed[40][0].startswith(f"record 40: document {cids[40]} is unavailable: cat:")
    assert report["problems"] == failed[17] + failed[40]
    # Every other document was fetched and verified; never more than the bound at once; the daemon was
    # told the timeout too.
    assert sorted(c for c, _ in world.daemon.documents_asked) == sorted(cids)
    assert world.daemon.most_in_flight == 8
    assert world.daemon.timeouts == {0.2}


def test_documents_are_fetched_one_batch_after_the_other(tmp_path: Path) -> None:
    world = World(store=tmp_path / "documents.db")
    cids = long_history(world, BATCH + 3)
    digests = [bytes.fromhex(e["record_digest"][2:]) for e in world.ledger.entries]
    assert world.store is not None
    store = world.store
    stored_before_second_batch: list[int] = []
    world.daemon.on_ask = lambda cid: (
        stored_before_second_batch.append(len(store.get_many(digests))) if cid == cids[BATCH] else None
    )
    assert world.verify()["ok"] is True
    # The first batch was done (its documents kept, and let go) before the next was asked for.
    assert stored_before_second_batch == [BATCH]
    assert world.daemon.most_in_flight == FETCH_CONCURRENCY
    assert len(world.daemon.documents_asked) == BATCH + 3


def test_checked_documents_are_read_from_the_store_next_time_and_checked_again(tmp_path: Path) -> None:
    world = World(store=tmp_path / "documents.db")
    cids = long_history(world, 5)
    first = world.verify()
    assert first["ok"] is True and len(world.daemon.documents_asked) == 5

    # IPFS loses them all: the node verifies from its store, without asking IPFS.
    world.daemon.served.clear()
    again = world.verify()
    assert (again["ok"], again["problems"], again["documents"]) == (True, [], first["documents"])
    assert len(world.daemon.documents_asked) == 5
    assert world.store is not None
    stored = world.store.get_many([bytes.fromhex(e["record_digest"][2:]) for e in world.ledger.entries])
    assert sorted(str(cid_of_bytes(d, cid_version=1)) for d in stored.values()) == sorted(cids)

    # The store does not make a document agree with the chain: the checks of its fields are made anew.
    world.ledger.names[3] = "C"
    [problem] = problems_of(world.verify(), 3)
    assert "is the member 'C' on chain" in problem


def test_a_document_ipfs_serves_tampered_is_caught_on_first_fetch_and_not_kept(tmp_path: Path) -> None:
    world = World(store=tmp_path / "documents.db")
    cids = long_history(world, 4)
    genuine = world.daemon.served[cids[2]]
    world.daemon.served[cids[2]] = genuine.replace(b'"B"', b'"C"')
    [problem] = problems_of(world.verify(), 2)
    assert problem.startswith(f"record 2: document {cids[2]}: asked IPFS for {cids[2]}, received content")
    assert world.store is not None
    assert world.store.get_many([bytes.fromhex(world.ledger.entries[2]["record_digest"][2:])]) == {}
    # Asked again next time (the others come from the store), and caught again.
    problems_of(world.verify(), 2)
    assert [c for c, _ in world.daemon.documents_asked].count(cids[2]) == 2
    assert len(world.daemon.documents_asked) == 5


def tamper(store: Path, digest: str, data: bytes) -> None:
    """Change an entry in the store's file behind the node's back."""
    with sqlite3.connect(store) as db:
        changed = db.execute(
            "UPDATE documents SET data = ? WHERE digest = ?", (data, bytes.fromhex(digest[2:]))
        ).rowcount
    assert changed == 1


def test_a_copy_altered_in_the_store_is_not_trusted_but_fetched_again(tmp_path: Path) -> None:
    world = World(store=tmp_path / "documents.db")
    cids = long_history(world, 4)
    assert world.verify()["ok"] is True
    entries = world.ledger.entries
    genuine = world.daemon.served[cids[1]]
    tamper(tmp_path / "documents.db", entries[1]["record_digest"], genuine.replace(b'"B"', b'"C"'))
    # Another record's genuine document, under this record's digest: a real document, not this one.
    tamper(tmp_path / "documents.db", entries[2]["record_digest"], world.daemon.served[cids[3]])

    report = world.verify()
    assert (report["ok"], report["problems"]) == (True, [])
    assert [c for c, _ in world.daemon.documents_asked[4:]] == [cids[1], cids[2]]
    # The copies were replaced by the documents fetched: the next verification asks IPFS for nothing.
    assert world.verify()["ok"] is True
    assert len(world.daemon.documents_asked) == 6


def test_a_copy_altered_in_the_store_of_a_document_ipfs_lost_fails_the_history(tmp_path: Path) -> None:
    world = World(store=tmp_path / "documents.db")
    cids = long_history(world, 3)
    assert world.verify()["ok"] is True
    record = world.ledger.entries[1]
    tamper(tmp_path / "documents.db", record["record_digest"], world.daemon.served[cids[1]] + b" ")
    del world.daemon.served[cids[1]]
    [problem] = problems_of(world.verify(), 1)
    assert problem.startswith(f"record 1: document {cids[1]} is unavailable")


def test_a_store_sqlite_cannot_read_is_started_afresh(tmp_path: Path) -> None:
    path = tmp_path / "documents.db"
    path.write_bytes(b"not a database " * 100)
    store = DocumentCache(path)
    try:
        assert store.get_many([b"\x01" * 32]) == {}
        store.put_many([(b"\x01" * 32, b"document")])
        assert store.get_many([b"\x01" * 32, b"\x02" * 32]) == {b"\x01" * 32: b"document"}
        store.discard([b"\x01" * 32])
        assert store.get_many([b"\x01" * 32]) == {}
    finally:
        store.close()


@pytest.mark.parametrize("version", [0, 1], ids=["CIDv0 (dag-pb)", "CIDv1 (raw)"])
def test_a_copy_passes_only_with_the_cid_and_the_digest_on_chain(version: int) -> None:
    data = World().document("train").to_json_bytes()
    cid = cid_of_bytes(data, cid_version=version)
    digest = ContentDigest("sha256", hashlib.sha256(data).digest())
    assert checked_copy(cid, digest, data) == data
    with pytest.raises(PayloadMismatch, match="has the CID"):
        checked_copy(cid, digest, data + b" ")
    with pytest.raises(DigestMismatch, match="was recorded"):
        checked_copy(cid, ContentDigest("sha256", b"\x05" * 32), data)
    with pytest.raises(PayloadMismatch, match="larger than"):
        checked_copy(cid, digest, b" " * (MAX_DOCUMENT + 1))
