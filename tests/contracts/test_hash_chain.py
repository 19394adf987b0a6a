"""The hash chain over an asset's records, recomputed off chain from the events.

One model with a long mixed history (accepted and refused records, anchors, rollbacks, batched
records, several actors) is built once for the module; its records and its head on chain are then
checked, and tampered with, off chain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_abi.packed import encode_packed
from eth_utils.conversions import to_bytes
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from proml.contracts.hash_chain import (
    ZERO_HEAD,
    ChainedRecord,
    check_chain,
    next_head,
    recompute_head,
    record_hash,
    rollback_proof,
)
from proml.core.workflow import Activity, ModelState

from .consortium import Consortium, cid_for, random_digest, send
from .deployment import model_at

HEAD_PROBLEM = "the recomputed head differs from the head on chain"


# ---------------------------------------------------------------- building the history


def _word(address: str) -> bytes:
    return to_bytes(hexstr=address).rjust(32, b"\x00")


class HistoryBuilder:
    """Records on one model of C, asserting as it goes that each was accepted or refused as planned."""

    def __init__(self, consortium: Consortium) -> None:
        self.c = consortium
        registry = consortium.registry.functions
        digest = random_digest()
        self.data = self._register(
            registry.registerDataset(random_digest(), digest, cid_for(digest), []), "B"
        )
        digest = random_digest()
        self.base = self._register(registry.registerModel(random_digest(), digest, cid_for(digest), []), "C")
        digest = random_digest()
        self.model = model_at(
            consortium.w3,
            self._register(
                registry.registerModel(b"\x00" * 32, digest, cid_for(digest), [self.data, self.base]), "C"
            ),
        )

    def _register(self, function: Any, sender: str) -> str:
        receipt = send(self.c, function, sender)
        (registered,) = self.c.registry.events.AssetRegistered().process_receipt(receipt, errors=DISCARD)
        return str(registered["args"]["asset"])

    def _accepted(self, receipt: TxReceipt) -> list[bool]:
        logs = self.model.events.ProvenanceRecorded().process_receipt(receipt, errors=DISCARD)
        return [bool(log["args"]["accepted"]) for log in logs if log["address"] == self.model.address]

    def act(self, function: str, sender: str, accepted: bool, inputs: Sequence[bytes] = ()) -> None:
        digest = random_digest()
        fn = getattr(self.model.functions, function)(digest, cid_for(digest), list(inputs), [random_digest()])
        assert self._accepted(send(self.c, fn, sender)) == [accepted], function

    def anchor(self, phase: int, sender: str, accepted: bool) -> None:
        digest = random_digest()
        fn = self.model.functions.anchor(random_digest(), phase, digest, cid_for(digest))
        assert self._accepted(send(self.c, fn, sender)) == [accepted]

    def rollback(self, to_seq: int, accepted: bool) -> None:
        proof = rollback_proof(self.c.records(self.model), to_seq)
        digest = random_digest()
        fn = self.model.functions.rollback(proof, f"back to {to_seq}", digest, cid_for(digest))
        assert self._accepted(send(self.c, fn, "C")) == [accepted]

    def batch(self, sender: str, steps: Sequence[tuple[str, Activity, bool]]) -> None:
        """`steps`: (asset address, activity, accepted if it is a record of the model)."""
        records = []
        for address, activity, _ in steps:
            digest = random_digest()
            records.append((address, activity, digest, cid_for(digest), [random_digest()], [random_digest()]))
        receipt = send(self.c, self.c.registry.functions.recordBatch(records), sender)
        assert self._accepted(receipt) == [
            accepted for address, _, accepted in steps if address == self.model.address
        ]


def build_history(consortium: Consortium) -> Contract:
    h = HistoryBuilder(consortium)  # seq 0: registration, inputs = [dataset, base model]
    m = h.model.address
    send(consortium, h.model.functions.addContributor(consortium.accounts["A"]), "C")
    h.act("selectData", "C", True, inputs=[_word(h.data)])  # 1
    h.act("deploy", "C", False)  # 2: not validated
    h.act("preprocess", "A", True, inputs=[random_digest()])  # 3: a contributor
    h.anchor(0, "C", True)  # 4: before training
    h.act("engineerFeatures", "C", True, inputs=[random_digest(), random_digest()])  # 5
    h.act("train", "C", True, inputs=[random_digest()])  # 6
    h.anchor(1, "A", True)  # 7: after training
    h.batch(
        "C",
        [
            (m, Activity.EVALUATE, True),  # 8
            (h.base, Activity.SELECT_DATA, True),  # another asset in the same batch
            (m, Activity.DEPLOY, False),  # 9
            (m, Activity.EVALUATE, True),  # 10
        ],
    )
    h.act("validate", "V", True)  # 11
    h.act("deploy", "C", True)  # 12
    h.rollback(6, True)  # 13: back to Trained
    h.rollback(2, False)  # 14: to a refused record
    h.act("evaluate", "C", True)  # 15
    h.act("validate", "V", True)  # 16
    h.act("deploy", "A", True)  # 17
    h.act("retire", "C", True)  # 18
    h.anchor(1, "C", False)  # 19: retired
    h.act("selectData", "C", False)  # 20: retired
    h.rollback(17, True)  # 21: back to Deployed
    h.batch("A", [(m, Activity.EVALUATE, True), (m, Activity.RETIRE, True)])  # 22, 23
    model: Contract = h.model
    return model


@dataclasses.dataclass(frozen=True)
class History:
    records: tuple[ChainedRecord, ...]
    head: bytes
    state: int
    accounts: dict[str, str]


@pytest.fixture(scope="module")
def history(_chain: tuple[Web3, Consortium]) -> Iterator[History]:
    """The long history, read once; the chain itself is reverted right away."""
    w3, consortium = _chain
    snapshot = w3.testing.snapshot()
    try:
        model = build_history(consortium)
        result = History(
            records=tuple(consortium.records(model)),
            head=bytes(model.functions.head().call()),
            state=int(model.functions.state().call()),
            accounts=dict(consortium.accounts),
        )
    finally:
        w3.testing.revert(snapshot)
    yield result


def relinked(records: Sequence[ChainedRecord], renumber: bool = True) -> list[ChainedRecord]:
    """`records` re-linked (and renumbered) as a forger would: every prevHead (and seq) consistent."""
    result: list[ChainedRecord] = []
    head = ZERO_HEAD
    for position, record in enumerate(records):
        forged = dataclasses.replace(record, seq=position if renumber else record.seq, prev_head=head)
        result.append(forged)
        head = next_head(head, forged.hash())
    return result


# ---------------------------------------------------------------- the genuine history


def test_history_is_long_and_mixed(history: History) -> None:
    records = history.records
    assert [r.seq for r in records] == list(range(24))
    activities = {r.activity for r in records}
    assert {Activity.ANCHOR, Activity.ROLLBACK, Activity.VALIDATE, Activity.RETIRE} <= activities
    assert any(not r.accepted for r in records)
    assert len({r.actor for r in records}) == 3  # C, its contributor A, and V
    assert history.state == ModelState.RETIRED == records[-1].to_state


def test_recomputed_head_equals_head_on_chain(history: History) -> None:
    assert recompute_head(history.records) == history.head
    result = check_chain(history.records, history.head)
    assert result.ok
    assert result.problems == ()
    assert result.recomputed_head == history.head
    # Every event's prevHead is the head after the records before it.
    assert [r.prev_head for r in history.records] == [recompute_head(history.records[:i]) for i in range(24)]


def test_every_record_of_the_history_can_be_proved_on_chain(consortium: Consortium) -> None:
    model = build_history(consortium)
    records = consortium.records(model)
    assert check_chain(records, model.functions.head().call()).ok
    for seq, target in enumerate(records):
        proof = rollback_proof(records, seq)
        returned = model.functions.rollback(proof, "check", random_digest(), b"").call(
            {"from": consortium.accounts["C"]}
        )
        assert returned is target.accepted, seq


# ---------------------------------------------------------------- tampered histories


SWAPS = [pytest.param(0, 1, id="registration-and-next"), pytest.param(5, 6, id="adjacent"), (3, 17)]


@pytest.mark.parametrize(("i", "j"), SWAPS)
def test_reordered_records_do_not_lead_to_the_head(history: History, i: int, j: int) -> None:
    reordered = list(history.records)
    reordered[i], reordered[j] = reordered[j], reordered[i]

    assert recompute_head(reordered) != history.head
    result = check_chain(reordered, history.head)
    assert not result.ok
    assert HEAD_PROBLEM in result.problems
    assert any(f"position {i} has seq {j}" in p for p in result.problems)

    # Renumbered and re-linked, the forgery is consistent in itself; only the head gives it away.
    forged = relinked(reordered)
    assert check_chain(forged, history.head).problems == (HEAD_PROBLEM,)


def _flip_last_byte(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 1])


ALTERED_SEQ = 6  # train: one input, one output, accepted, in the middle of the history

ALTERATIONS: dict[str, Callable[[ChainedRecord, History], ChainedRecord]] = {
    "asset": lambda r, h: dataclasses.replace(r, asset=h.accounts["outsider"]),
    "seq": lambda r, h: dataclasses.replace(r, seq=r.seq + 1),
    "actor": lambda r, h: dataclasses.replace(r, actor=h.accounts["V"]),
    "activity": lambda r, h: dataclasses.replace(r, activity=Activity.EVALUATE),
    "fromState": lambda r, h: dataclasses.replace(r, from_state=r.from_state + 1),
    "toState": lambda r, h: dataclasses.replace(r, to_state=ModelState.DEPLOYED),
    "accepted": lambda r, h: dataclasses.replace(r, accepted=not r.accepted),
    "recordDigest": lambda r, h: dataclasses.replace(r, record_digest=bytes(32)),
    "recordCID": lambda r, h: dataclasses.replace(r, record_cid=_flip_last_byte(r.record_cid)),
    "one-input": lambda r, h: dataclasses.replace(r, inputs=(random_digest(), *r.inputs[1:])),
    "one-output": lambda r, h: dataclasses.replace(r, outputs=(*r.outputs[:-1], random_digest())),
    "input-added": lambda r, h: dataclasses.replace(r, inputs=(*r.inputs, random_digest())),
    "output-dropped": lambda r, h: dataclasses.replace(r, outputs=()),
}


@pytest.mark.parametrize("field", list(ALTERATIONS))
def test_an_altered_record_does_not_lead_to_the_head(history: History, field: str) -> None:
    original = history.records[ALTERED_SEQ]
    assert original.inputs and original.outputs and original.accepted
    altered = ALTERATIONS[field](original, history)
    assert altered != original
    assert altered.hash() != original.hash()
    tampered = list(history.records)
    tampered[ALTERED_SEQ] = altered

    assert recompute_head(tampered) != history.head
    result = check_chain(tampered, history.head)
    assert not result.ok
    assert HEAD_PROBLEM in result.problems

    forged = relinked(tampered, renumber=False)
    assert recompute_head(forged) != history.head
    assert not check_chain(forged, history.head).ok


@pytest.mark.parametrize("dropped", [0, 11, 23], ids=["registration", "middle", "last"])
def test_a_dropped_record_does_not_lead_to_the_head(history: History, dropped: int) -> None:
    shortened = [r for r in history.records if r.seq != dropped]

    assert recompute_head(shortened) != history.head
    result = check_chain(shortened, history.head)
    assert not result.ok
    assert HEAD_PROBLEM in result.problems

    forged = relinked(shortened)
    assert check_chain(forged, history.head).problems == (HEAD_PROBLEM,)


def test_check_chain_reports_a_broken_link_that_the_head_does_not_cover(history: History) -> None:
    """prevHead is not part of the record hash; check_chain still checks every link."""
    tampered = list(history.records)
    tampered[9] = dataclasses.replace(tampered[9], prev_head=tampered[8].prev_head)
    assert recompute_head(tampered) == history.head
    result = check_chain(tampered, history.head)
    assert not result.ok
    assert result.problems == ("record 9: prevHead does not match the records before it",)


# ---------------------------------------------------------------- the hash, computed independently


def test_record_hash_matches_an_independent_computation(history: History) -> None:
    r = history.records[ALTERED_SEQ]
    expected = keccak(
        encode(
            [
                "address",
                "uint256",
                "address",
                "uint8",
                "uint8",
                "uint8",
                "bool",
                "bytes32",
                "bytes32",
                "bytes32",
                "bytes32",
            ],
            [
                r.asset,
                r.seq,
                r.actor,
                int(r.activity),
                r.from_state,
                r.to_state,
                r.accepted,
                r.record_digest,
                keccak(r.record_cid),
                keccak(encode_packed(["bytes32[]"], [list(r.inputs)])),
                keccak(encode_packed(["bytes32[]"], [list(r.outputs)])),
            ],
        )
    )
    assert len(r.inputs) == len(r.outputs) == 1
    assert r.hash() == expected
    assert (
        record_hash(
            r.asset,
            r.seq,
            r.actor,
            r.activity,
            r.from_state,
            r.to_state,
            r.accepted,
            r.record_digest,
            keccak(r.record_cid),
            keccak(r.inputs[0]),
            keccak(r.outputs[0]),
        )
        == expected
    )
    # The contract linked it the same way: the next record's prevHead is bytes28(keccak(prevHead || hash)),
    # with the bytes28 padded to a 32-byte word.
    following = history.records[ALTERED_SEQ + 1]
    assert following.prev_head == keccak(r.prev_head + b"\x00" * 4 + expected)[:28]
