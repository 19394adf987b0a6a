"""Every activity of both asset kinds from every state, driven by the single transition table.

For each asset kind, each activity of its table and each of its states, a fresh asset is brought into
that state along a path of accepted activities found in the table itself, and the activity is then
recorded: the contract must accept it exactly when the table allows it, move to the table's target
state, and keep the record either way.
"""

from __future__ import annotations

from typing import Any

import pytest
from web3.contract import Contract
from web3.logs import DISCARD

from proml.contracts.errors import ContractRevert
from proml.core.workflow import (
    STATES,
    TRANSITIONS,
    Activity,
    AssetKind,
    Transition,
)

from .consortium import OWNER, PATHS, Consortium, cid_for, random_digest, send, sender_of
from .deployment import dataset_at, model_at

# Gas given explicitly: eth-tester's gas estimation costs several times the transaction itself.

# Who registers each kind in these tests; validation is sent by V, who neither owns nor contributes.

# Functions of the asset contracts that record something but are not in the transition table.
NOT_IN_TABLE = {
    "initialize",
    "recordFromRegistry",
    "rollback",
    "anchor",
    "addContributor",
    "removeContributor",
}


def register(consortium: Consortium, kind: AssetKind, sender: str) -> Contract:
    """Register like `Consortium.register`, with a fixed gas limit."""
    registry = consortium.registry.functions
    function = registry.registerDataset if kind == AssetKind.DATASET else registry.registerModel
    digest = random_digest()
    receipt = send(consortium, function(random_digest(), digest, cid_for(digest), []), sender)
    (registered,) = consortium.registry.events.AssetRegistered().process_receipt(receipt, errors=DISCARD)
    bind = dataset_at if kind == AssetKind.DATASET else model_at
    asset: Contract = bind(consortium.w3, str(registered["args"]["asset"]))
    return asset


def record_activity(
    consortium: Consortium, asset: Contract, rule: Transition, sender: str
) -> tuple[bool, dict[str, Any]]:
    """Record `rule`'s activity; return what the function returned and the event's arguments."""
    digest = random_digest()
    function = getattr(asset.functions, rule.function)(
        digest, cid_for(digest), [random_digest()], [random_digest()]
    )
    returned = bool(function.call({"from": consortium.accounts[sender]}))
    receipt = send(consortium, function, sender)
    logs = [
        log
        for log in asset.events.ProvenanceRecorded().process_receipt(receipt, errors=DISCARD)
        if log["address"] == asset.address
    ]
    assert len(logs) == 1
    args = dict(logs[0]["args"])
    assert args["activity"] == rule.activity
    assert bytes(args["recordDigest"]) == digest
    return returned, args


def bring_to(consortium: Consortium, kind: AssetKind, state: int) -> tuple[Contract, int]:
    """A fresh asset of `kind` in `state`, driven there along the table's path, and its record count.

    Consecutive steps by the same sender go in one `recordBatch` to keep the suite fast; validation
    is sent by V.
    """
    asset = register(consortium, kind, OWNER[kind])
    groups: list[tuple[str, list[Activity]]] = []
    for activity in PATHS[kind][state]:
        sender = sender_of(kind, activity)
        if groups and groups[-1][0] == sender:
            groups[-1][1].append(activity)
        else:
            groups.append((sender, [activity]))
    to_state = 0
    for sender, activities in groups:
        batch: list[tuple[Any, ...]] = []
        for activity in activities:
            digest = random_digest()
            batch.append((asset.address, activity, digest, cid_for(digest), [], []))
        receipt = send(consortium, consortium.registry.functions.recordBatch(batch), sender)
        logs = asset.events.ProvenanceRecorded().process_receipt(receipt, errors=DISCARD)
        assert [log["args"]["activity"] for log in logs] == activities
        assert all(log["args"]["accepted"] for log in logs), f"a step towards state {state} was refused"
        to_state = logs[-1]["args"]["toState"]
    assert to_state == state
    return asset, 1 + len(PATHS[kind][state])


def _case_id(kind: AssetKind, activity: Activity, state: int) -> str:
    return (
        f"{kind.name.lower()}-{TRANSITIONS[kind][activity].function}-from-{STATES[kind](state).name.lower()}"
    )


CASES = [
    pytest.param(kind, activity, state, id=_case_id(kind, activity, state))
    for kind, table in TRANSITIONS.items()
    for activity in table
    for state in STATES[kind]
]


def test_every_state_is_reachable_through_the_table() -> None:
    for kind in TRANSITIONS:
        assert set(PATHS[kind]) == {int(s) for s in STATES[kind]}, kind.name


@pytest.mark.parametrize(("kind", "activity", "state"), CASES)
def test_activity_from_state_follows_the_table(
    consortium: Consortium, kind: AssetKind, activity: Activity, state: int
) -> None:
    rule = TRANSITIONS[kind][activity]
    asset, count_before = bring_to(consortium, kind, state)
    allowed = state in rule.allowed_from

    returned, event = record_activity(consortium, asset, rule, sender_of(kind, activity))

    assert returned == allowed
    assert event["accepted"] == allowed
    assert event["seq"] == count_before
    assert event["fromState"] == state
    assert event["toState"] == (rule.to_state if allowed else state)
    assert asset.functions.state().call() == (rule.to_state if allowed else state)
    # The record is kept whether or not the transition was allowed.
    assert asset.functions.recordCount().call() == count_before + 1


UNSUPPORTED = [
    pytest.param(kind, activity, id=f"{kind.name.lower()}-{activity.name.lower()}")
    for kind, table in TRANSITIONS.items()
    for activity in Activity
    if activity not in table
]


@pytest.mark.parametrize(("kind", "activity"), UNSUPPORTED)
def test_batch_refuses_an_activity_the_kind_does_not_have(
    consortium: Consortium, kind: AssetKind, activity: Activity
) -> None:
    """Whatever the table leaves out for a kind, the contract refuses: the table is the whole story."""
    asset = register(consortium, kind, "A")
    first = next(rule for rule in TRANSITIONS[kind].values() if 0 in rule.allowed_from)
    supported_digest, digest = random_digest(), random_digest()
    batch: list[tuple[Any, ...]] = [
        (asset.address, first.activity, supported_digest, cid_for(supported_digest), [], []),
        (asset.address, activity, digest, cid_for(digest), [], []),
    ]
    head_before = asset.functions.head().call()

    with pytest.raises(ContractRevert) as refused:
        consortium.tx(consortium.registry.functions.recordBatch(batch), "A")

    assert refused.value.name == "UnsupportedActivity"
    assert refused.value.args_by_name["activity"] == activity
    # Atomic: the supported record before it is gone too.
    assert asset.functions.recordCount().call() == 1
    assert asset.functions.head().call() == head_before
    assert asset.functions.state().call() == 0


@pytest.mark.parametrize("kind", list(TRANSITIONS), ids=lambda k: k.name.lower())
def test_table_names_every_activity_function_of_the_kind(consortium: Consortium, kind: AssetKind) -> None:
    asset = register(consortium, kind, "A")
    state_changing = {
        entry["name"]
        for entry in asset.abi
        if entry["type"] == "function" and entry["stateMutability"] not in ("view", "pure")
    }
    assert state_changing - NOT_IN_TABLE == {rule.function for rule in TRANSITIONS[kind].values()}
    assert asset.functions.kind().call() == kind
