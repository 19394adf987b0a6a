"""Each asset function's state change and the fields of the events it emits.

Datasets are owned by B, models by C; validation is sent by V. Expected records are written out in
full as `proml.contracts.hash_chain.ChainedRecord` values and compared with the decoded events.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from eth_tester.exceptions import TransactionFailed
from eth_utils.conversions import to_bytes
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from proml.contracts.errors import ContractRevert
from proml.contracts.hash_chain import ZERO_HEAD, ChainedRecord, next_head, rollback_proof
from proml.core.workflow import (
    TRANSITIONS,
    Activity,
    AssetKind,
    ModelState,
    next_state,
)

from .consortium import GAS, OWNER, PATHS, Consortium, cid_for, random_digest, send, sender_of
from .deployment import dataset_at, model_at

BATCH_GAS = 20_000_000

# A model's way to production: (activity, sender). After it the model has records 0..7 and is Deployed.
LIFECYCLE = (
    (Activity.SELECT_DATA, "C"),
    (Activity.PREPROCESS, "C"),
    (Activity.ENGINEER_FEATURES, "C"),
    (Activity.TRAIN, "C"),
    (Activity.EVALUATE, "C"),
    (Activity.VALIDATE, "V"),
    (Activity.DEPLOY, "C"),
)
SEQ_TRAINED, SEQ_VALIDATED, SEQ_DEPLOYED = 4, 6, 7


# ---------------------------------------------------------------- helpers


def transact_and_return(
    consortium: Consortium, function: Any, sender: str, gas: int = GAS
) -> tuple[Any, TxReceipt]:
    """The function's return value (from an eth_call just before) and the receipt of the transaction."""
    try:
        returned = function.call({"from": consortium.accounts[sender]})
    except (ContractLogicError, TransactionFailed):
        # eth-tester's eth_call drops the revert data; the gas estimation names the custom error.
        consortium.tx(function, sender)
        raise
    return returned, send(consortium, function, sender, gas)


def records_in(receipt: TxReceipt, asset: Contract) -> list[ChainedRecord]:
    """The `ProvenanceRecorded` events that `asset` emitted in the transaction, in log order."""
    logs = asset.events.ProvenanceRecorded().process_receipt(receipt, errors=DISCARD)
    return [ChainedRecord.from_event_args(log["args"]) for log in logs if log["address"] == asset.address]


def only_record(receipt: TxReceipt, asset: Contract) -> ChainedRecord:
    records = records_in(receipt, asset)
    assert len(records) == 1
    return records[0]


def event_args(receipt: TxReceipt, asset: Contract, name: str) -> list[dict[str, Any]]:
    logs = getattr(asset.events, name)().process_receipt(receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs if log["address"] == asset.address]


def as_word(address: str) -> bytes:
    """An address as the contracts put it in a bytes32: left-padded with zeros."""
    return to_bytes(hexstr=address).rjust(32, b"\x00")


def seq_word(seq: int) -> bytes:
    return seq.to_bytes(32, "big")


def register(
    consortium: Consortium,
    kind: AssetKind,
    sender: str,
    ancestors: Sequence[str] = (),
    content: bytes | None = None,
) -> tuple[Contract, TxReceipt]:
    registry = consortium.registry.functions
    function = registry.registerDataset if kind == AssetKind.DATASET else registry.registerModel
    digest = random_digest()
    content = random_digest() if content is None else content
    receipt = send(consortium, function(content, digest, cid_for(digest), list(ancestors)), sender)
    (registered,) = consortium.registry.events.AssetRegistered().process_receipt(receipt, errors=DISCARD)
    bind = dataset_at if kind == AssetKind.DATASET else model_at
    return bind(consortium.w3, str(registered["args"]["asset"])), receipt


def record(
    consortium: Consortium,
    asset: Contract,
    function: str,
    sender: str,
    inputs: Sequence[bytes] = (),
    outputs: Sequence[bytes] = (),
) -> ChainedRecord:
    """Record an ordinary activity; return its record."""
    digest = random_digest()
    fn = getattr(asset.functions, function)(digest, cid_for(digest), list(inputs), list(outputs))
    return only_record(send(consortium, fn, sender), asset)


def drive(consortium: Consortium, asset: Contract, steps: Sequence[tuple[Activity, str]]) -> None:
    """Record `steps` (activity, sender), all of which must be accepted. To keep the suite fast,
    consecutive steps of the same sender go in one `recordBatch`, which records exactly as the
    asset's own functions do (test_record_batch_of_fifty_matches_recording_one_by_one)."""
    position = 0
    while position < len(steps):
        sender = steps[position][1]
        end = position
        while end < len(steps) and steps[end][1] == sender:
            end += 1
        batch: list[tuple[Any, ...]] = []
        for activity, _ in steps[position:end]:
            digest = random_digest()
            batch.append(
                (asset.address, activity, digest, cid_for(digest), [random_digest()], [random_digest()])
            )
        receipt = send(consortium, consortium.registry.functions.recordBatch(batch), sender)
        assert [r.accepted for r in records_in(receipt, asset)] == [True] * (end - position)
        position = end


def deployed_model(consortium: Consortium) -> Contract:
    """A model of C through the whole lifecycle: records 0..7, Deployed."""
    model, _ = register(consortium, AssetKind.MODEL, "C")
    drive(consortium, model, LIFECYCLE)
    assert model.functions.state().call() == ModelState.DEPLOYED
    return model


def bring_to(consortium: Consortium, kind: AssetKind, state: int) -> Contract:
    """A fresh asset of `kind`, driven to `state` along the transition table."""
    asset, _ = register(consortium, kind, OWNER[kind])
    drive(consortium, asset, [(activity, sender_of(kind, activity)) for activity in PATHS[kind][state]])
    return asset


def rollback(
    consortium: Consortium, model: Contract, proof: Any, sender: str = "C", reason: str = "regression"
) -> tuple[bool, TxReceipt, bytes]:
    digest = random_digest()
    fn = model.functions.rollback(proof, reason, digest, cid_for(digest))
    returned, receipt = transact_and_return(consortium, fn, sender)
    return bool(returned), receipt, digest


# ---------------------------------------------------------------- registration


REGISTRATIONS = [
    pytest.param(AssetKind.DATASET, (), False, id="dataset-without-ancestors"),
    pytest.param(
        AssetKind.DATASET, (AssetKind.DATASET, AssetKind.DATASET), False, id="dataset-from-two-datasets"
    ),
    pytest.param(AssetKind.MODEL, (), True, id="untrained-model-zero-content"),
    pytest.param(
        AssetKind.MODEL, (AssetKind.DATASET, AssetKind.MODEL), False, id="model-from-dataset-and-base"
    ),
]


@pytest.mark.parametrize(("kind", "ancestor_kinds", "zero_content"), REGISTRATIONS)
def test_registration_is_record_zero(
    consortium: Consortium, kind: AssetKind, ancestor_kinds: tuple[AssetKind, ...], zero_content: bool
) -> None:
    ancestors = [register(consortium, k, "A")[0].address for k in ancestor_kinds]
    owner = OWNER[kind]
    content = b"\x00" * 32 if zero_content else random_digest()
    digest = random_digest()
    registry = consortium.registry.functions
    function = registry.registerDataset if kind == AssetKind.DATASET else registry.registerModel
    returned, receipt = transact_and_return(
        consortium, function(content, digest, cid_for(digest), ancestors), owner
    )

    (registered,) = consortium.registry.events.AssetRegistered().process_receipt(receipt, errors=DISCARD)
    address = registered["args"]["asset"]
    assert registered["args"]["kind"] == kind
    assert registered["args"]["owner"] == consortium.accounts[owner]
    assert registered["args"]["contentDigest"] == content
    assert registered["args"]["recordDigest"] == digest
    assert registered["args"]["recordCID"] == cid_for(digest)
    asset = (dataset_at if kind == AssetKind.DATASET else model_at)(consortium.w3, address)
    # The eth_call just before the transaction returned the same clone address (CREATE, registry nonce).
    assert returned == address

    registration = only_record(receipt, asset)
    assert registration == ChainedRecord(
        asset=address,
        seq=0,
        actor=consortium.accounts[owner],
        activity=Activity.REGISTER,
        from_state=0,
        to_state=0,
        accepted=True,
        record_digest=digest,
        record_cid=cid_for(digest),
        inputs=tuple(as_word(a) for a in ancestors),
        outputs=(content,),
        prev_head=ZERO_HEAD,
    )
    assert asset.functions.head().call() == next_head(ZERO_HEAD, registration.hash())
    assert asset.functions.recordCount().call() == 1
    assert asset.functions.state().call() == 0
    assert asset.functions.owner().call() == consortium.accounts[owner]
    assert asset.functions.ancestors().call() == ancestors
    assert asset.functions.kind().call() == kind
    assert consortium.registry.functions.assetKind(address).call() == kind


# ---------------------------------------------------------------- ordinary activities


def _allowed_state(kind: AssetKind, activity: Activity) -> int:
    """The state nearest to registration from which `activity` is accepted."""
    return int(min(TRANSITIONS[kind][activity].allowed_from, key=lambda s: len(PATHS[kind][s])))


ACTIVITIES = [
    pytest.param(kind, activity, id=f"{kind.name.lower()}-{rule.function}")
    for kind, table in TRANSITIONS.items()
    for activity, rule in table.items()
]


@pytest.mark.parametrize(("kind", "activity"), ACTIVITIES)
def test_activity_emits_its_record(consortium: Consortium, kind: AssetKind, activity: Activity) -> None:
    rule = TRANSITIONS[kind][activity]
    from_state = _allowed_state(kind, activity)
    asset = bring_to(consortium, kind, from_state)
    count = asset.functions.recordCount().call()
    head_before = asset.functions.head().call()
    sender = sender_of(kind, activity)
    digest, inputs, outputs = random_digest(), [random_digest(), as_word(asset.address)], [random_digest()]
    cid = cid_for(digest) + b"\x07"  # any bytes: the contract does not parse CIDs

    fn = getattr(asset.functions, rule.function)(digest, cid, inputs, outputs)
    returned, receipt = transact_and_return(consortium, fn, sender)

    emitted = only_record(receipt, asset)
    assert emitted == ChainedRecord(
        asset=asset.address,
        seq=count,
        actor=consortium.accounts[sender],
        activity=activity,
        from_state=from_state,
        to_state=rule.to_state,
        accepted=True,
        record_digest=digest,
        record_cid=cid,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        prev_head=head_before,
    )
    assert returned is True
    assert asset.functions.state().call() == rule.to_state
    assert asset.functions.recordCount().call() == count + 1
    assert asset.functions.head().call() == next_head(head_before, emitted.hash())


def test_activity_with_empty_cid_and_lists(consortium: Consortium) -> None:
    dataset = bring_to(consortium, AssetKind.DATASET, 0)
    digest = random_digest()
    emitted = only_record(send(consortium, dataset.functions.collect(digest, b"", [], []), "B"), dataset)
    assert (emitted.record_cid, emitted.inputs, emitted.outputs) == (b"", (), ())
    assert emitted.record_digest == digest
    assert emitted.accepted
    assert dataset.functions.head().call() == next_head(emitted.prev_head, emitted.hash())


REJECTIONS = [
    pytest.param(AssetKind.DATASET, Activity.PUBLISH, 0, id="dataset-publish-from-registered"),
    pytest.param(AssetKind.DATASET, Activity.LABEL, 0, id="dataset-label-from-registered"),
    pytest.param(AssetKind.DATASET, Activity.COLLECT, 5, id="dataset-collect-from-deprecated"),
    pytest.param(AssetKind.DATASET, Activity.DEPRECATE, 5, id="dataset-deprecate-from-deprecated"),
    pytest.param(
        AssetKind.MODEL, Activity.DEPLOY, ModelState.EVALUATED, id="model-deploy-without-validation"
    ),
    pytest.param(AssetKind.MODEL, Activity.TRAIN, ModelState.REGISTERED, id="model-train-from-registered"),
    pytest.param(
        AssetKind.MODEL, Activity.VALIDATE, ModelState.TRAINED, id="model-validate-before-evaluation"
    ),
    pytest.param(
        AssetKind.MODEL, Activity.SELECT_DATA, ModelState.RETIRED, id="model-select-data-when-retired"
    ),
    pytest.param(AssetKind.MODEL, Activity.RETIRE, ModelState.RETIRED, id="model-retire-when-retired"),
]


@pytest.mark.parametrize(("kind", "activity", "state"), REJECTIONS)
def test_rejected_transition_keeps_its_record(
    consortium: Consortium, kind: AssetKind, activity: Activity, state: int
) -> None:
    assert next_state(kind, activity, state) == (False, state)
    asset = bring_to(consortium, kind, state)
    count = asset.functions.recordCount().call()
    head_before = asset.functions.head().call()
    sender = sender_of(kind, activity)
    digest, inputs = random_digest(), [random_digest()]

    fn = getattr(asset.functions, TRANSITIONS[kind][activity].function)(digest, cid_for(digest), inputs, [])
    returned, receipt = transact_and_return(consortium, fn, sender)

    emitted = only_record(receipt, asset)
    assert emitted == ChainedRecord(
        asset=asset.address,
        seq=count,
        actor=consortium.accounts[sender],
        activity=activity,
        from_state=state,
        to_state=state,
        accepted=False,
        record_digest=digest,
        record_cid=cid_for(digest),
        inputs=tuple(inputs),
        outputs=(),
        prev_head=head_before,
    )
    assert returned is False
    assert asset.functions.state().call() == state
    assert asset.functions.recordCount().call() == count + 1
    assert asset.functions.head().call() == next_head(head_before, emitted.hash())


# ---------------------------------------------------------------- anchor


@pytest.mark.parametrize("phase", [0, 1], ids=["before-training", "after-training"])
@pytest.mark.parametrize(
    "state", [ModelState.REGISTERED, ModelState.TRAINED, ModelState.DEPLOYED], ids=lambda s: s.name.lower()
)
def test_anchor_records_the_root_and_keeps_the_state(
    consortium: Consortium, phase: int, state: ModelState
) -> None:
    model = bring_to(consortium, AssetKind.MODEL, state)
    count = model.functions.recordCount().call()
    head_before = model.functions.head().call()
    root, digest = random_digest(), random_digest()

    returned, receipt = transact_and_return(
        consortium, model.functions.anchor(root, phase, digest, cid_for(digest)), "C"
    )

    assert returned is True
    assert event_args(receipt, model, "Anchored") == [{"seq": count, "phase": phase, "root": root}]
    emitted = only_record(receipt, model)
    assert emitted == ChainedRecord(
        asset=model.address,
        seq=count,
        actor=consortium.accounts["C"],
        activity=Activity.ANCHOR,
        from_state=state,
        to_state=state,
        accepted=True,
        record_digest=digest,
        record_cid=cid_for(digest),
        inputs=(phase.to_bytes(32, "big"),),
        outputs=(root,),
        prev_head=head_before,
    )
    assert model.functions.state().call() == state
    assert model.functions.recordCount().call() == count + 1
    assert model.functions.head().call() == next_head(head_before, emitted.hash())


@pytest.mark.parametrize("phase", [0, 1], ids=["before-training", "after-training"])
def test_anchor_is_refused_when_retired(consortium: Consortium, phase: int) -> None:
    model = bring_to(consortium, AssetKind.MODEL, ModelState.RETIRED)
    count = model.functions.recordCount().call()
    root, digest = random_digest(), random_digest()

    returned, receipt = transact_and_return(
        consortium, model.functions.anchor(root, phase, digest, cid_for(digest)), "C"
    )

    assert returned is False
    emitted = only_record(receipt, model)
    assert (emitted.seq, emitted.activity, emitted.accepted) == (count, Activity.ANCHOR, False)
    assert (emitted.from_state, emitted.to_state, emitted.inputs, emitted.outputs) == (
        ModelState.RETIRED,
        ModelState.RETIRED,
        (phase.to_bytes(32, "big"),),
        (root,),
    )
    # Anchored announces anchors that count: a refused one is only in the record.
    assert event_args(receipt, model, "Anchored") == []
    assert model.functions.state().call() == ModelState.RETIRED
    assert model.functions.recordCount().call() == count + 1


def test_anchor_with_an_unknown_phase_reverts(consortium: Consortium) -> None:
    model = bring_to(consortium, AssetKind.MODEL, ModelState.TRAINED)
    count = model.functions.recordCount().call()
    head_before = model.functions.head().call()
    digest = random_digest()
    with pytest.raises(ContractRevert) as refused:
        consortium.tx(model.functions.anchor(random_digest(), 2, digest, cid_for(digest)), "C")
    assert (refused.value.name, refused.value.args_by_name) == ("UnknownAnchorPhase", {"phase": 2})
    assert model.functions.recordCount().call() == count
    assert model.functions.head().call() == head_before


# ---------------------------------------------------------------- rollback


@pytest.mark.parametrize(
    ("to_seq", "expected_state"),
    [
        pytest.param(0, ModelState.REGISTERED, id="to-registration"),
        pytest.param(SEQ_TRAINED, ModelState.TRAINED, id="to-trained"),
        pytest.param(SEQ_VALIDATED, ModelState.VALIDATED, id="to-validated"),
        pytest.param(SEQ_DEPLOYED, ModelState.DEPLOYED, id="to-latest-record"),
    ],
)
def test_rollback_returns_to_the_state_of_the_record(
    consortium: Consortium, to_seq: int, expected_state: ModelState
) -> None:
    model = deployed_model(consortium)
    records = consortium.records(model)
    head_before = model.functions.head().call()
    proof = rollback_proof(records, to_seq)
    assert len(proof[11]) == len(records) - 1 - to_seq

    accepted, receipt, digest = rollback(consortium, model, proof, reason="drift in production")

    assert accepted is True
    assert event_args(receipt, model, "RolledBack") == [
        {"seq": 8, "toSeq": to_seq, "accepted": True, "reason": "drift in production"}
    ]
    emitted = only_record(receipt, model)
    assert emitted == ChainedRecord(
        asset=model.address,
        seq=8,
        actor=consortium.accounts["C"],
        activity=Activity.ROLLBACK,
        from_state=ModelState.DEPLOYED,
        to_state=expected_state,
        accepted=True,
        record_digest=digest,
        record_cid=cid_for(digest),
        inputs=(seq_word(to_seq), keccak(text="drift in production")),
        outputs=(),
        prev_head=head_before,
    )
    assert model.functions.state().call() == expected_state
    assert model.functions.recordCount().call() == 9
    assert model.functions.head().call() == next_head(head_before, emitted.hash())


def test_after_rollback_the_table_applies_from_the_restored_state(consortium: Consortium) -> None:
    model = deployed_model(consortium)
    rollback(consortium, model, rollback_proof(consortium.records(model), SEQ_TRAINED))
    assert not record(consortium, model, "deploy", "C").accepted  # needs a validation again
    assert record(consortium, model, "evaluate", "C").accepted
    assert model.functions.state().call() == ModelState.EVALUATED


def test_rollback_to_a_rejected_record_is_kept_and_refused(consortium: Consortium) -> None:
    model, _ = register(consortium, AssetKind.MODEL, "C")
    record(consortium, model, "selectData", "C")
    refused = record(consortium, model, "deploy", "C")  # seq 2: not validated
    assert not refused.accepted
    record(consortium, model, "preprocess", "C")
    head_before = model.functions.head().call()

    accepted, receipt, digest = rollback(consortium, model, rollback_proof(consortium.records(model), 2))

    assert accepted is False
    assert event_args(receipt, model, "RolledBack") == [
        {"seq": 4, "toSeq": 2, "accepted": False, "reason": "regression"}
    ]
    emitted = only_record(receipt, model)
    assert emitted == ChainedRecord(
        asset=model.address,
        seq=4,
        actor=consortium.accounts["C"],
        activity=Activity.ROLLBACK,
        from_state=ModelState.PREPROCESSED,
        to_state=ModelState.PREPROCESSED,
        accepted=False,
        record_digest=digest,
        record_cid=cid_for(digest),
        inputs=(seq_word(2), keccak(text="regression")),
        outputs=(),
        prev_head=head_before,
    )
    assert model.functions.state().call() == ModelState.PREPROCESSED
    assert model.functions.recordCount().call() == 5


def test_rollback_from_retired_back_to_deployed(consortium: Consortium) -> None:
    model = deployed_model(consortium)
    assert record(consortium, model, "retire", "C").accepted  # seq 8
    assert not record(consortium, model, "deploy", "C").accepted  # seq 9: retired accepts nothing else

    accepted, receipt, _ = rollback(
        consortium, model, rollback_proof(consortium.records(model), SEQ_DEPLOYED)
    )

    assert accepted is True
    assert event_args(receipt, model, "RolledBack") == [
        {"seq": 10, "toSeq": SEQ_DEPLOYED, "accepted": True, "reason": "regression"}
    ]
    emitted = only_record(receipt, model)
    assert (emitted.from_state, emitted.to_state) == (ModelState.RETIRED, ModelState.DEPLOYED)
    assert model.functions.state().call() == ModelState.DEPLOYED
    assert record(consortium, model, "deploy", "C").accepted


def _proof_for_seq(records: Sequence[ChainedRecord], to_seq: int) -> tuple[Any, ...]:
    """A proof shaped like one for the last record, but naming `to_seq`."""
    proof = list(rollback_proof(records, len(records) - 1))
    proof[0] = to_seq
    return tuple(proof)


@pytest.mark.parametrize("past_end", [0, 1, 2**256 - 1 - 8], ids=["count", "count-plus-one", "max-uint"])
def test_rollback_to_a_seq_out_of_range_reverts(consortium: Consortium, past_end: int) -> None:
    model = deployed_model(consortium)
    records = consortium.records(model)
    to_seq = len(records) + past_end
    with pytest.raises(ContractRevert) as refused:
        rollback(consortium, model, _proof_for_seq(records, to_seq))
    assert refused.value.name == "SeqOutOfRange"
    assert refused.value.args_by_name == {"toSeq": to_seq, "recordCount": len(records)}
    assert model.functions.recordCount().call() == len(records)


@pytest.mark.parametrize("length", [0, 2, 4], ids=["empty", "one-short", "one-extra"])
def test_rollback_with_a_proof_of_the_wrong_length_reverts(consortium: Consortium, length: int) -> None:
    model = deployed_model(consortium)
    records = consortium.records(model)
    proof = list(rollback_proof(records, SEQ_TRAINED))
    expected = len(records) - 1 - SEQ_TRAINED
    assert len(proof[11]) == expected == 3
    proof[11] = (proof[11] + [random_digest()])[:length]
    with pytest.raises(ContractRevert) as refused:
        rollback(consortium, model, tuple(proof))
    assert refused.value.name == "WrongProofLength"
    assert refused.value.args_by_name == {"given": length, "expected": expected}
    assert model.functions.recordCount().call() == len(records)


PROOF_FIELDS = (
    "seq",
    "prevHead",
    "actor",
    "activity",
    "fromState",
    "toState",
    "accepted",
    "recordDigest",
    "recordCIDHash",
    "inputsHash",
    "outputsHash",
    "laterRecordHashes",
)


def _flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 0x01]) + value[1:]


# Changes to the proof of a record in the history register, selectData, deploy (refused, seq 2),
# preprocess, engineerFeatures, train. The proof is of record 2 unless ALTERED_TARGET says otherwise.
ALTERATIONS: dict[str, Callable[[dict[str, Any], Consortium], dict[str, Any]]] = {
    "seq": lambda p, c: {"seq": p["seq"] + 1, "laterRecordHashes": p["laterRecordHashes"][1:]},
    "prevHead": lambda p, c: {"prevHead": _flip(p["prevHead"])},
    "actor": lambda p, c: {"actor": c.accounts["V"]},
    "activity": lambda p, c: {"activity": Activity.VALIDATE},
    "fromState": lambda p, c: {"fromState": ModelState.VALIDATED},
    "toState-claims-deployed": lambda p, c: {"toState": ModelState.DEPLOYED},
    "toState-of-accepted-record": lambda p, c: {"toState": ModelState.VALIDATED},
    "accepted-flipped": lambda p, c: {"accepted": not p["accepted"]},
    "accepted-and-toState": lambda p, c: {"accepted": True, "toState": ModelState.DEPLOYED},
    "recordDigest": lambda p, c: {"recordDigest": _flip(p["recordDigest"])},
    "recordCIDHash": lambda p, c: {"recordCIDHash": _flip(p["recordCIDHash"])},
    "inputsHash": lambda p, c: {"inputsHash": _flip(p["inputsHash"])},
    "outputsHash": lambda p, c: {"outputsHash": _flip(p["outputsHash"])},
    "first-later-hash": lambda p, c: {
        "laterRecordHashes": [_flip(p["laterRecordHashes"][0]), *p["laterRecordHashes"][1:]]
    },
    "last-later-hash": lambda p, c: {
        "laterRecordHashes": [*p["laterRecordHashes"][:-1], _flip(p["laterRecordHashes"][-1])]
    },
    "later-hashes-swapped": lambda p, c: {
        "laterRecordHashes": [
            p["laterRecordHashes"][1],
            p["laterRecordHashes"][0],
            *p["laterRecordHashes"][2:],
        ]
    },
}


ALTERED_TARGET = {"toState-of-accepted-record": 1}


@pytest.mark.parametrize("field", list(ALTERATIONS))
def test_rollback_with_an_altered_proof_reverts(consortium: Consortium, field: str) -> None:
    model, _ = register(consortium, AssetKind.MODEL, "C")
    for function in ("selectData", "deploy", "preprocess", "engineerFeatures", "train"):
        record(consortium, model, function, "C", inputs=[random_digest()], outputs=[random_digest()])
    records = consortium.records(model)
    assert not records[2].accepted
    target = ALTERED_TARGET.get(field, 2)
    genuine = rollback_proof(records, target)
    digest = random_digest()
    # The genuine proof is valid: the rollback would go through, accepted as the record was.
    returned = model.functions.rollback(genuine, "r", digest, b"").call({"from": consortium.accounts["C"]})
    assert returned is records[target].accepted
    fields = dict(zip(PROOF_FIELDS, genuine, strict=True))
    fields.update(ALTERATIONS[field](fields, consortium))
    altered = tuple(fields[name] for name in PROOF_FIELDS)
    assert altered != genuine
    head_before = model.functions.head().call()

    with pytest.raises(ContractRevert) as refused:
        rollback(consortium, model, altered)

    assert refused.value.name == "InvalidProof"
    assert model.functions.recordCount().call() == len(records)
    assert model.functions.state().call() == ModelState.TRAINED
    assert model.functions.head().call() == head_before


# ---------------------------------------------------------------- recordBatch and the head


def test_record_batch_of_fifty_matches_recording_one_by_one(consortium: Consortium) -> None:
    w3 = consortium.w3
    # A, holding every role, owns two datasets and two models and contributes to a dataset of B.
    owned = [(kind, register(consortium, kind, "A")[0]) for kind in (AssetKind.DATASET, AssetKind.MODEL) * 2]
    foreign, _ = register(consortium, AssetKind.DATASET, "B")
    send(consortium, foreign.functions.addContributor(consortium.accounts["A"]), "B")
    assets = [asset for _, asset in owned] + [foreign]
    kinds = {asset.address: kind for kind, asset in [*owned, (AssetKind.DATASET, foreign)]}

    rng = random.Random(20240501)
    states = {a.address: 0 for a in assets}
    batch: list[tuple[Any, ...]] = []
    expected: list[bool] = []
    for _ in range(50):
        asset = rng.choice(assets)
        kind = kinds[asset.address]
        activity = rng.choice(list(TRANSITIONS[kind]))
        digest = random_digest()
        batch.append((asset.address, activity, digest, cid_for(digest), [random_digest()], [random_digest()]))
        accepted, states[asset.address] = next_state(kind, activity, states[asset.address])
        expected.append(accepted)
    assert True in expected and False in expected
    assert {b[0] for b in batch} == set(kinds)

    # One by one, from a snapshot, with the same arguments.
    snapshot = w3.testing.snapshot()
    by_asset = {a.address: a for a in assets}
    for address, activity, digest, cid, inputs, outputs in batch:
        function = TRANSITIONS[kinds[address]][activity].function
        fn = getattr(by_asset[address].functions, function)(digest, cid, inputs, outputs)
        send(consortium, fn, "A")
    one_by_one = {a.address: consortium.records(a) for a in assets}
    heads = {a.address: a.functions.head().call() for a in assets}
    w3.testing.revert(snapshot)
    assert all(a.functions.recordCount().call() == 1 for a in assets)

    returned, receipt = transact_and_return(
        consortium, consortium.registry.functions.recordBatch(batch), "A", gas=BATCH_GAS
    )

    assert returned == expected
    emitted = [r for a in assets for r in records_in(receipt, a)]
    assert len(emitted) == 50
    assert sorted(r.record_digest for r in emitted) == sorted(b[2] for b in batch)
    for asset in assets:
        assert consortium.records(asset) == one_by_one[asset.address]
        assert [r.accepted for r in one_by_one[asset.address][1:]] == [
            e for b, e in zip(batch, expected, strict=True) if b[0] == asset.address
        ]
        assert asset.functions.head().call() == heads[asset.address]
        assert asset.functions.state().call() == states[asset.address]
        assert asset.functions.recordCount().call() == len(one_by_one[asset.address])


def test_head_changes_with_every_record(consortium: Consortium) -> None:
    model, _ = register(consortium, AssetKind.MODEL, "C")
    heads = [model.functions.head().call()]
    steps: list[Callable[[], ChainedRecord]] = [
        lambda: record(consortium, model, "selectData", "C"),
        lambda: record(consortium, model, "deploy", "C"),  # refused
        lambda: record(consortium, model, "selectData", "C"),  # the same activity again
        lambda: only_record(
            send(consortium, model.functions.anchor(random_digest(), 0, random_digest(), b""), "C"), model
        ),
        lambda: only_record(
            rollback(consortium, model, rollback_proof(consortium.records(model), 1))[1], model
        ),
        lambda: record(consortium, model, "retire", "C"),
        lambda: only_record(
            send(consortium, model.functions.anchor(random_digest(), 1, random_digest(), b""), "C"), model
        ),  # refused
    ]
    for step in steps:
        emitted = step()
        assert emitted.prev_head == heads[-1]
        heads.append(model.functions.head().call())
        assert heads[-1] == next_head(heads[-2], emitted.hash())
    assert len(set(heads)) == len(heads) == 8
    assert ZERO_HEAD not in heads
