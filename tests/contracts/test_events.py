"""proml.contracts.events against eth-tester receipts, checked field by field against web3's decoder."""

from __future__ import annotations

import re
from typing import Any

import pytest
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.logs import DISCARD

from proml.contracts.events import (
    ASSET_TOPICS,
    EVENT_TOPICS,
    REGISTRY_TOPICS,
    Anchored,
    AnchorPhase,
    AssetRegistered,
    ContributorAdded,
    ContributorRemoved,
    Event,
    EventDecodeError,
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
    decode_logs,
    event_fields,
    topic_of,
)
from proml.contracts.hash_chain import ChainedRecord, rollback_proof
from proml.core.workflow import Activity, AssetKind, Role

from .consortium import Consortium, cid_for, random_digest


def as_json_rpc(log: Any) -> dict[str, Any]:
    """A web3 log (bytes, ints) in the shape `eth_getLogs` returns it over JSON-RPC (hex strings)."""
    return {
        "address": str(log["address"]).lower(),
        "topics": ["0x" + bytes(t).hex() for t in log["topics"]],
        "data": "0x" + bytes(log["data"]).hex(),
        "blockNumber": hex(log["blockNumber"]),
        "blockHash": "0x" + bytes(log["blockHash"]).hex(),
        "transactionHash": "0x" + bytes(log["transactionHash"]).hex(),
        "logIndex": hex(log["logIndex"]),
        "transactionIndex": hex(log["transactionIndex"]),
        "removed": False,
    }


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def web3_events(contract: Contract, receipt: Any) -> dict[int, tuple[str, dict[str, Any]]]:
    """web3's own decoding of every event of `contract` in the receipt, by log index."""
    found: dict[int, tuple[str, dict[str, Any]]] = {}
    for event in contract.all_events():
        for log in event.process_receipt(receipt, errors=DISCARD):
            if log["address"] == contract.address:
                found[log["logIndex"]] = (log["event"], dict(log["args"]))
    return found


def check_receipt(receipt: Any, *contracts: Contract) -> list[Event]:
    """Decode every log of the receipt both ways (web3 shape and JSON-RPC shape) and check each event
    against web3's decoding; the decoded events in log order."""
    expected: dict[int, tuple[str, dict[str, Any]]] = {}
    for contract in contracts:
        expected.update(web3_events(contract, receipt))
    decoded = decode_logs(receipt["logs"])
    assert decoded == decode_logs([as_json_rpc(log) for log in receipt["logs"]])
    assert [e.log_index for e in decoded] == sorted(expected)
    for event in decoded:
        name, args = expected[event.log_index]
        assert type(event).__name__ == name
        assert event.block_number == receipt["blockNumber"]
        assert event.block_hash == "0x" + bytes(receipt["blockHash"]).hex()
        assert event.transaction_hash == "0x" + bytes(receipt["transactionHash"]).hex()
        if isinstance(event, ProvenanceRecorded):
            assert event.record == ChainedRecord.from_event_args(args)
            continue
        values = {snake(k): v for k, v in args.items()}
        assert set(values) == set(event_fields(type(event)))
        for field_name, value in values.items():
            got = getattr(event, field_name)
            assert got == (bytes(value) if isinstance(got, bytes) else value), field_name
    return decoded


def test_topics_cover_every_event_once() -> None:
    assert len(EVENT_TOPICS) == len(set(EVENT_TOPICS)) == 13
    assert set(EVENT_TOPICS) == set(REGISTRY_TOPICS) | set(ASSET_TOPICS)
    assert not set(REGISTRY_TOPICS) & set(ASSET_TOPICS)
    signature = "AssetRegistered(address,uint8,address,bytes32,bytes32,bytes)"
    assert topic_of(AssetRegistered) == "0x" + keccak(text=signature).hex()


def test_registration_decodes_asset_registered_then_the_register_record(consortium: Consortium) -> None:
    dataset = consortium.dataset("B")
    model, receipt = consortium.register_with_receipt(AssetKind.MODEL, "C", ancestors=[dataset.address])

    registered, recorded = check_receipt(receipt, consortium.registry, model)

    assert isinstance(registered, AssetRegistered) and isinstance(recorded, ProvenanceRecorded)
    assert registered.address == consortium.registry.address
    assert registered.asset == model.address == recorded.address
    assert registered.kind == AssetKind.MODEL
    assert registered.owner == consortium.accounts["C"]
    assert registered.log_index < recorded.log_index
    assert recorded.record.seq == 0 and recorded.record.activity == Activity.REGISTER
    assert recorded.record.inputs == (bytes(12) + bytes.fromhex(dataset.address[2:]),)
    assert recorded.record.hash() == consortium.records(model)[0].hash()


def test_governance_events(consortium: Consortium) -> None:
    registry = consortium.registry
    count = int(registry.functions.proposalCount().call())

    # Four active members, threshold 50 %: three approvals execute.
    receipt = consortium.tx(registry.functions.proposeChangeRoles(consortium.accounts["B"], 3), "A")
    created, approved = check_receipt(receipt, registry)
    assert isinstance(created, ProposalCreated) and isinstance(approved, ProposalApproved)
    assert (created.proposal_id, created.kind, created.target, created.roles) == (
        count,
        2,
        consortium.accounts["B"],
        Role.DATA_ADMIN | Role.MODEL_DEVELOPER,
    )
    assert (approved.approver, approved.approvals) == (consortium.accounts["A"], 1)
    consortium.tx(registry.functions.approve(count), "V")
    receipt = consortium.tx(registry.functions.approve(count), "C")
    approved, changed, executed = check_receipt(receipt, registry)
    assert isinstance(changed, MemberRolesChanged) and isinstance(executed, ProposalExecuted)
    assert (changed.member, changed.old_roles, changed.new_roles) == (consortium.accounts["B"], 1, 3)
    assert executed.proposal_id == count

    consortium.tx(registry.functions.proposeThreshold(2500), "A")
    consortium.tx(registry.functions.approve(count + 1), "B")
    receipt = consortium.tx(registry.functions.approve(count + 1), "C")
    threshold = check_receipt(receipt, registry)[1]
    assert isinstance(threshold, ThresholdChanged)
    assert (threshold.old_threshold_bps, threshold.new_threshold_bps) == (5000, 2500)

    # Now more than a quarter: two of four approvals.
    consortium.tx(registry.functions.proposeSuspendMember(consortium.accounts["V"]), "A")
    receipt = consortium.tx(registry.functions.approve(count + 2), "B")
    suspended = check_receipt(receipt, registry)[1]
    assert suspended == MemberSuspended(**{**_position(suspended), "member": consortium.accounts["V"]})

    # One of three: the proposer alone.
    receipt = consortium.tx(registry.functions.proposeAddMember(consortium.accounts["V"], "V2", 4), "A")
    events = check_receipt(receipt, registry)
    assert [type(e) for e in events] == [ProposalCreated, ProposalApproved, MemberAdded, ProposalExecuted]
    added = events[2]
    assert isinstance(added, MemberAdded)
    assert (added.member, added.name, added.roles) == (consortium.accounts["V"], "V2", 4)


def _position(event: Event) -> dict[str, Any]:
    return {
        k: getattr(event, k)
        for k in ("address", "block_number", "block_hash", "transaction_hash", "log_index")
    }


def test_asset_events_contributors_anchor_rollback(consortium: Consortium) -> None:
    model = consortium.model("C")
    receipt = consortium.tx(model.functions.addContributor(consortium.accounts["A"]), "C")
    (added,) = check_receipt(receipt, model)
    assert isinstance(added, ContributorAdded) and added.account == consortium.accounts["A"]
    receipt = consortium.tx(model.functions.removeContributor(consortium.accounts["A"]), "C")
    (removed,) = check_receipt(receipt, model)
    assert isinstance(removed, ContributorRemoved) and removed.address == model.address

    consortium.record(model, "selectData", "C")
    root = random_digest()
    digest = random_digest()
    receipt = consortium.tx(model.functions.anchor(root, 1, digest, cid_for(digest)), "C")
    recorded, anchored = check_receipt(receipt, model)
    assert isinstance(recorded, ProvenanceRecorded) and recorded.record.activity == Activity.ANCHOR
    assert anchored == Anchored(**_position(anchored), seq=2, phase=AnchorPhase.AFTER_TRAINING, root=root)

    proof = rollback_proof(consortium.records(model), 0)
    receipt = consortium.tx(model.functions.rollback(proof, "wrong data", digest, cid_for(digest)), "C")
    recorded, rolled = check_receipt(receipt, model)
    assert isinstance(recorded, ProvenanceRecorded) and recorded.record.activity == Activity.ROLLBACK
    assert isinstance(rolled, RolledBack)
    assert (rolled.seq, rolled.to_seq, rolled.accepted, rolled.reason) == (3, 0, True, "wrong data")


def test_batch_decodes_records_of_several_assets_with_a_rejected_one(consortium: Consortium) -> None:
    first, second = consortium.dataset("A"), consortium.dataset("A")
    batch = [
        (first.address, Activity.COLLECT, random_digest(), cid_for(b"x" * 32), [random_digest()], []),
        (second.address, Activity.PUBLISH, random_digest(), cid_for(b"y" * 32), [], [random_digest()]),
    ]
    receipt = consortium.tx(consortium.registry.functions.recordBatch(batch), "A")
    events = check_receipt(receipt, first, second)
    records = [e.record for e in events if isinstance(e, ProvenanceRecorded)]
    assert [(r.asset, r.activity, r.accepted) for r in records] == [
        (first.address, Activity.COLLECT, True),
        (second.address, Activity.PUBLISH, False),
    ]


def test_unknown_and_malformed_logs(consortium: Consortium) -> None:
    _, receipt = consortium.register_with_receipt(AssetKind.DATASET, "B")
    log = as_json_rpc(receipt["logs"][0])
    assert decode_log({**log, "topics": ["0x" + "11" * 32]}) is None
    assert decode_log({**log, "topics": []}) is None
    with pytest.raises(EventDecodeError, match="AssetRegistered: expected 4 topics"):
        decode_log({**log, "topics": log["topics"][:2]})
    with pytest.raises(EventDecodeError, match="AssetRegistered"):
        decode_log({**log, "data": "0x1234"})
    # Addresses come out checksummed whatever case the node sends.
    event = decode_log({**log, "address": log["address"].upper().replace("0X", "0x")})
    assert event is not None and event.address == consortium.registry.address
