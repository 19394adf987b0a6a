"""Random activity sequences from several organisations, against the contracts and a small Python model.

The model knows, per asset, its kind, owner, contributors, state and the records it expects (from
which it computes the head with `proml.contracts.hash_chain`), and per organisation its status and roles.
It predicts every call: a revert with a named error and its arguments and nothing changed, or the
records appended, their accepted flags from `proml.core.workflow.next_state` (as returned by
the call and as emitted), and every field of every ProvenanceRecorded event. After every step each
asset's head, state and record count on chain must equal the model's (see `chain_matches_model`).

Every example starts from the consortium fixture's chain (A, B, C and V active) and reverts to it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxParams, TxReceipt

from proml.contracts.errors import ContractRevert
from proml.contracts.hash_chain import ZERO_HEAD, ChainedRecord, next_head, record_hash, rollback_proof
from proml.core.workflow import (
    ALL_ROLES,
    REGISTRATION_ROLES,
    ROLE_ACTIVITIES,
    TRANSITIONS,
    Activity,
    AssetKind,
    MemberStatus,
    ModelState,
    Role,
    next_state,
)

from .consortium import Consortium, cid_for
from .deployment import call, dataset_at, model_at, transact

# A is the founder with every role; B supplies data, C develops models, V validates (see consortium.py).
# D is admitted only through governance, if at all; the outsider never is.
INITIAL_MEMBERS: dict[str, tuple[MemberStatus, int]] = {
    "A": (MemberStatus.ACTIVE, ALL_ROLES),
    "B": (MemberStatus.ACTIVE, Role.DATA_ADMIN),
    "C": (MemberStatus.ACTIVE, Role.MODEL_DEVELOPER | Role.DATA_ADMIN),
    "V": (MemberStatus.ACTIVE, Role.VALIDATOR | Role.AUDITOR),
    "D": (MemberStatus.NONE, 0),
    "outsider": (MemberStatus.NONE, 0),
}
ORGS: tuple[str, ...] = tuple(INITIAL_MEMBERS)
GOVERNABLE = ("A", "B", "C", "V", "D")
ZERO_ADDRESS = "0x" + "00" * 20
CATEGORIES = ("owner", "contributor", "validator", "member", "outsider")
OFTEN_OWNER = ("owner", "owner", "owner", "contributor", "validator", "member", "outsider")
GAS = 3_000_000
MAX_ASSETS = 3
NOT_ASSET_ACTIVITIES = (Activity.REGISTER, Activity.ROLLBACK, Activity.ANCHOR)

# Shrinking replays the machine hundreds of times, about a second each: minutes for one failure. It is
# off unless PROML_STATEFUL_SHRINK=1; a failure still prints its steps, and its seed to replay it.
PHASES = tuple(p for p in Phase if os.environ.get("PROML_STATEFUL_SHRINK") == "1" or p is not Phase.shrink)

DIGESTS = st.binary(min_size=32, max_size=32)
CONTENT = st.binary(min_size=31, max_size=31).map(lambda b: b"\x01" + b)  # never the empty digest
DIGEST_LISTS = st.lists(DIGESTS, max_size=2)


@dataclass
class MemberModel:
    status: MemberStatus
    roles: int


@dataclass
class AssetModel:
    address: str
    kind: AssetKind
    owner: str
    contract: Contract
    contributors: set[str] = field(default_factory=set)
    state: int = 0
    head: bytes = ZERO_HEAD
    records: list[ChainedRecord] = field(default_factory=list)
    block: int = 0  # the block of its registration, where its events start

    def copy(self) -> AssetModel:
        return replace(self, contributors=set(self.contributors), records=list(self.records))

    def append(self, record: ChainedRecord) -> None:
        """Take `record` as the next one: new state, head and count."""
        assert record.seq == len(self.records) and record.prev_head == self.head
        self.records.append(record)
        self.state = record.to_state
        self.head = next_head(
            self.head,
            record_hash(
                record.asset,
                record.seq,
                record.actor,
                record.activity,
                record.from_state,
                record.to_state,
                record.accepted,
                record.record_digest,
                keccak(record.record_cid),
                keccak(b"".join(record.inputs)),
                keccak(b"".join(record.outputs)),
            ),
        )


@dataclass
class BatchPlan:
    """A recordBatch being put together: its entries, and what the model expects of them so far."""

    sender: str
    entries: list[tuple[str, int, bytes, bytes, list[bytes], list[bytes]]] = field(default_factory=list)
    shadows: dict[str, AssetModel] = field(default_factory=dict)  # the assets as the batch leaves them
    expected: list[ChainedRecord] = field(default_factory=list)
    error: tuple[str, dict[str, Any]] | None = None  # the first entry the batch reverts on


def as_word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def majority(active: int) -> int:
    """The fewest approvals that are more than half of `active`."""
    return next(n for n in range(1, active + 2) if 2 * n > active)


class ProMLMachine(RuleBasedStateMachine):
    """Set `consortium` on a subclass; every example starts from a chain snapshot and reverts to it."""

    consortium: Consortium

    assets = Bundle("assets")
    models = Bundle("models")

    def __init__(self) -> None:
        super().__init__()
        self.w3: Web3 = self.consortium.w3
        self.registry: Contract = self.consortium.registry
        self.snapshot = self.w3.testing.snapshot()
        self.addr: dict[str, str] = {**self.consortium.accounts, "D": self.w3.eth.accounts[4]}
        # Views with an explicit sender: web3 would otherwise ask the node for its accounts every time.
        self.query: TxParams = {"from": self.addr["outsider"]}
        self.members = {org: MemberModel(status, roles) for org, (status, roles) in INITIAL_MEMBERS.items()}
        self.asset_models: dict[str, AssetModel] = {}
        self.asset_order: list[str] = []
        # The record count of each asset when its getters were last called (see chain_matches_model).
        self.checked: dict[str, int] = {}
        # Any contract with the ProvenanceRecorded event decodes it from every asset in a receipt.
        self.events_abi = model_at(self.w3, self.registry.address)
        assert int(self.registry.functions.assetCount().call(self.query)) == 0
        self.check_members()

    def teardown(self) -> None:
        self.w3.testing.revert(self.snapshot)

    # ------------------------------------------------------------------ predictions

    def is_active(self, org: str) -> bool:
        return self.members[org].status == MemberStatus.ACTIVE

    def active_orgs(self) -> list[str]:
        return [org for org in GOVERNABLE if self.is_active(org)]

    def status_error(self, org: str) -> tuple[str, dict[str, Any]] | None:
        status = self.members[org].status
        if status == MemberStatus.NONE:
            return "NotAMember", {"account": self.addr[org]}
        if status == MemberStatus.SUSPENDED:
            return "SuspendedMember", {"account": self.addr[org]}
        return None

    def auth_error(
        self, asset: AssetModel, org: str, activity: Activity
    ) -> tuple[str, dict[str, Any]] | None:
        """ProvenanceAsset._authorize as the model sees it."""
        error = self.status_error(org)
        if error is not None:
            return error
        role = ROLE_ACTIVITIES.get(activity)
        if role is not None:
            if self.members[org].roles & role == 0:
                return "MissingRole", {"account": self.addr[org], "role": int(role)}
            return None
        if org != asset.owner and org not in asset.contributors:
            return "NotOwnerOrContributor", {"account": self.addr[org]}
        return None

    def expect_record(
        self,
        asset: AssetModel,
        actor: str,
        activity: Activity,
        accepted: bool,
        to_state: int,
        digest: bytes,
        inputs: Sequence[bytes],
        outputs: Sequence[bytes],
    ) -> ChainedRecord:
        return ChainedRecord(
            asset=asset.address,
            seq=len(asset.records),
            actor=self.addr[actor],
            activity=int(activity),
            from_state=asset.state,
            to_state=to_state if accepted else asset.state,
            accepted=accepted,
            record_digest=digest,
            record_cid=cid_for(digest),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            prev_head=asset.head,
        )

    # ------------------------------------------------------------------ chain access

    def expect_revert(self, function: ContractFunction, sender: str, name: str, args: dict[str, Any]) -> None:
        block = self.w3.eth.block_number
        with pytest.raises(ContractRevert) as info:
            transact(function, {"from": self.addr[sender]})
        assert info.value.name == name, f"expected {name}, got {info.value}"
        for key, value in args.items():
            got = info.value.args_by_name[key]
            if isinstance(value, str):
                assert Web3.to_checksum_address(got) == value, info.value
            else:
                assert got == value, info.value
        assert self.w3.eth.block_number == block

    def send(self, function: ContractFunction, sender: str) -> tuple[Any, TxReceipt]:
        """The call's return value, then the mined transaction's receipt."""
        returned = call(function, {"from": self.addr[sender]})
        return returned, self.mine(function, sender)

    def mine(self, function: ContractFunction, sender: str) -> TxReceipt:
        """Send as a transaction. The gas is given, which spares a gas estimate (one more execution) but
        leaves a revert without its reason: if it fails, a call names the error."""
        try:
            return transact(function, {"from": self.addr[sender], "gas": GAS})
        except ContractRevert:
            call(function, {"from": self.addr[sender]})
            raise

    def recorded(self, receipt: TxReceipt) -> list[ChainedRecord]:
        events = self.events_abi.events.ProvenanceRecorded().process_receipt(receipt, errors=DISCARD)
        return [ChainedRecord.from_event_args(e["args"]) for e in events]

    def check_members(self, orgs: Sequence[str] = ORGS) -> None:
        """Status and roles of `orgs`, and the number of active members, as the model has them. (The
        majority rule itself shows in which approval executes a proposal: see `decide`.)"""
        for org in orgs:
            member = self.members[org]
            status, roles = self.registry.functions.memberStatus(self.addr[org]).call(self.query)
            assert (MemberStatus(status), roles) == (member.status, member.roles), org
        assert self.registry.functions.activeMemberCount().call(self.query) == len(self.active_orgs())

    # ------------------------------------------------------------------ registration

    def register(
        self, kind: AssetKind, sender: str, picks: list[int], content: bytes, digest: bytes
    ) -> str | None:
        ancestors = [self.asset_order[i % len(self.asset_order)] for i in picks] if self.asset_order else []
        fn = (
            self.registry.functions.registerDataset
            if kind == AssetKind.DATASET
            else self.registry.functions.registerModel
        )
        function = fn(content, digest, cid_for(digest), ancestors)
        role = REGISTRATION_ROLES[kind]
        error = self.status_error(sender)
        if error is None and self.members[sender].roles & role != role:
            error = "MissingRole", {"account": self.addr[sender], "role": int(role)}
        if error is None and kind == AssetKind.DATASET and content == bytes(32):
            error = "EmptyContentDigest", {}
        if error is None:
            for ancestor in ancestors:
                if kind == AssetKind.DATASET and self.asset_models[ancestor].kind != AssetKind.DATASET:
                    error = "InvalidAncestor", {"ancestor": ancestor}
                    break
        if error is not None:
            self.expect_revert(function, sender, *error)
            assert self.registry.functions.assetCount().call(self.query) == len(self.asset_order)
            return None

        receipt = self.mine(function, sender)
        address: str = self.registry.functions.assetAt(len(self.asset_order)).call(self.query)
        contract = dataset_at(self.w3, address) if kind == AssetKind.DATASET else model_at(self.w3, address)
        registered = self.registry.events.AssetRegistered().process_receipt(receipt, errors=DISCARD)
        assert [(e["args"]["asset"], e["args"]["kind"], e["args"]["owner"]) for e in registered] == [
            (address, kind, self.addr[sender])
        ]
        asset = AssetModel(address, kind, sender, contract, block=receipt["blockNumber"])
        expected = self.expect_record(
            asset, sender, Activity.REGISTER, True, 0, digest, [as_word(a) for a in ancestors], [content]
        )
        assert self.recorded(receipt) == [expected]
        asset.append(expected)
        assert contract.functions.owner().call(self.query) == self.addr[sender]
        assert contract.functions.ancestors().call(self.query) == ancestors
        assert self.registry.functions.assetKind(address).call(self.query) == kind
        self.asset_models[address] = asset
        self.asset_order.append(address)
        assert self.registry.functions.assetCount().call(self.query) == len(self.asset_order)
        return address

    def registrant(self, kind: AssetKind, qualified: bool, other: str, data: st.DataObject) -> str:
        """Mostly an active member with the role that registering `kind` needs; else anyone."""
        role = REGISTRATION_ROLES[kind]
        holders = [o for o in ORGS if self.is_active(o) and self.members[o].roles & role == role]
        if qualified and holders:
            return data.draw(st.sampled_from(holders), label="sender")
        return other

    def first_asset(self, kind: AssetKind, content: bytes, digest: bytes, data: st.DataObject) -> str:
        """Registered by a member that may, then, whatever rules this example enables, perhaps given a
        contributor and a history: one batch by the owner, mostly steps along the workflow."""
        address = self.register(kind, self.registrant(kind, True, "A", data), [], content, digest)
        assert address is not None
        owner = self.asset_models[address].owner
        if data.draw(st.booleans(), label="with_contributor"):
            self.set_contributor(
                address, owner, data.draw(st.sampled_from(GOVERNABLE), label="contributor"), True
            )
        plan = BatchPlan(owner)
        for _ in range(data.draw(st.integers(min_value=0, max_value=6), label="history")):
            shadow = self.shadow(plan, address)
            assert shadow is not None
            activity = self.pick_activity(data, shadow)
            role = ROLE_ACTIVITIES.get(activity)
            if role is not None and self.members[owner].roles & role == 0:
                break
            record_digest = data.draw(DIGESTS, label="digest")
            self.plan_record(plan, address, activity, record_digest, [], [record_digest])
        if plan.entries:
            self.run_batch(plan)
        return address

    @initialize(target=assets, content=CONTENT, digest=DIGESTS, data=st.data())
    def first_dataset(self, content: bytes, digest: bytes, data: st.DataObject) -> str:
        return self.first_asset(AssetKind.DATASET, content, digest, data)

    @initialize(targets=(assets, models), content=CONTENT, digest=DIGESTS, data=st.data())
    def first_model(self, content: bytes, digest: bytes, data: st.DataObject) -> str:
        return self.first_asset(AssetKind.MODEL, content, digest, data)

    @precondition(lambda self: len(self.asset_order) < MAX_ASSETS)
    @rule(
        target=assets,
        qualified=st.booleans(),
        other=st.sampled_from(ORGS),
        picks=st.lists(st.integers(min_value=0, max_value=MAX_ASSETS), max_size=2),
        content=st.one_of(CONTENT, st.just(bytes(32))),
        digest=DIGESTS,
        data=st.data(),
    )
    def register_dataset(
        self,
        qualified: bool,
        other: str,
        picks: list[int],
        content: bytes,
        digest: bytes,
        data: st.DataObject,
    ) -> str | MultipleResults[str]:
        sender = self.registrant(AssetKind.DATASET, qualified, other, data)
        address = self.register(AssetKind.DATASET, sender, picks, content, digest)
        return multiple() if address is None else address

    @precondition(lambda self: len(self.asset_order) < MAX_ASSETS)
    @rule(
        targets=(assets, models),
        qualified=st.booleans(),
        other=st.sampled_from(ORGS),
        picks=st.lists(st.integers(min_value=0, max_value=MAX_ASSETS), max_size=2),
        content=st.one_of(CONTENT, st.just(bytes(32))),
        digest=DIGESTS,
        data=st.data(),
    )
    def register_model(
        self,
        qualified: bool,
        other: str,
        picks: list[int],
        content: bytes,
        digest: bytes,
        data: st.DataObject,
    ) -> str | MultipleResults[str]:
        sender = self.registrant(AssetKind.MODEL, qualified, other, data)
        address = self.register(AssetKind.MODEL, sender, picks, content, digest)
        return multiple() if address is None else address

    # ------------------------------------------------------------------ activities

    def pick_actor(self, data: st.DataObject, asset: AssetModel, category: str) -> str:
        """An organisation of `category` relative to `asset`; any organisation if there is none."""
        if category == "owner":
            return asset.owner
        if category == "writer":
            candidates = sorted({asset.owner} | asset.contributors)
        elif category == "contributor":
            candidates = sorted(asset.contributors - {asset.owner})
        elif category == "validator":
            candidates = [o for o in ORGS if self.members[o].roles & Role.VALIDATOR]
        elif category == "member":
            candidates = [
                o
                for o in ORGS
                if self.members[o].status != MemberStatus.NONE
                and o != asset.owner
                and o not in asset.contributors
            ]
        else:
            candidates = [o for o in ORGS if self.members[o].status == MemberStatus.NONE]
        return data.draw(st.sampled_from(candidates or list(ORGS)), label="actor")

    def pick_activity(self, data: st.DataObject, asset: AssetModel) -> Activity:
        """Mostly the next step of the asset's workflow; now and then its end (deprecate, retire), a step
        that is not allowed from where it is (a rejected record), or any activity of its kind.
        Hypothesis favours the first option of a choice: the next step."""
        table = TRANSITIONS[asset.kind]
        final = (Activity.RETIRE, Activity.DEPRECATE)
        forward = sorted(
            (a for a, t in table.items() if asset.state in t.allowed_from and t.to_state > asset.state),
            key=lambda a: (a in final, table[a].to_state),
        )
        refused = sorted(a for a, t in table.items() if asset.state not in t.allowed_from)
        choice = data.draw(st.integers(min_value=0, max_value=15), label="activity_choice")
        if choice < 12 and forward and forward[0] not in final:
            return data.draw(st.sampled_from([a for a in forward if a not in final]), label="activity")
        if choice == 12:
            return next(a for a in table if a in final)
        if choice == 13 and refused:
            return data.draw(st.sampled_from(refused), label="activity")
        return data.draw(st.sampled_from(sorted(table)), label="activity")

    def record(
        self,
        address: str,
        category: str,
        digest: bytes,
        inputs: list[bytes],
        outputs: list[bytes],
        data: st.DataObject,
        call_first: bool = True,
    ) -> None:
        """One activity on `address`; with `call_first`, its return value is checked too (a call before
        the transaction, one more execution), else only the record it emits."""
        asset = self.asset_models[address]
        if category == "permitted":
            activity = self.pick_activity(data, asset)
            # Whoever the activity is meant for: a validator for validation, else the owner or a contributor.
            category = "validator" if activity in ROLE_ACTIVITIES else "writer"
        else:
            activity = data.draw(st.sampled_from(sorted(TRANSITIONS[asset.kind])), label="activity")
        actor = self.pick_actor(data, asset, category)
        name = TRANSITIONS[asset.kind][activity].function
        function = getattr(asset.contract.functions, name)(digest, cid_for(digest), inputs, outputs)
        error = self.auth_error(asset, actor, activity)
        if error is not None:
            self.expect_revert(function, actor, *error)
            return
        accepted, to_state = next_state(asset.kind, activity, asset.state)
        expected = self.expect_record(asset, actor, activity, accepted, to_state, digest, inputs, outputs)
        if call_first:
            returned, receipt = self.send(function, actor)
            assert returned is accepted
        else:
            receipt = self.mine(function, actor)
        assert self.recorded(receipt) == [expected]
        asset.append(expected)

    @rule(
        asset=assets,
        category=st.sampled_from(CATEGORIES),
        digest=DIGESTS,
        inputs=DIGEST_LISTS,
        outputs=DIGEST_LISTS,
        data=st.data(),
    )
    def record_activity(
        self,
        asset: str,
        category: str,
        digest: bytes,
        inputs: list[bytes],
        outputs: list[bytes],
        data: st.DataObject,
    ) -> None:
        """Any activity of the asset's kind by any organisation: owner, contributor, validator, another
        member or an outsider."""
        self.record(asset, category, digest, inputs, outputs, data)

    # Hypothesis favours the first rule in its order (fewest arguments first): keep this one first.
    @rule(asset=assets, data=st.data())
    def record_permitted_activity(self, asset: str, data: st.DataObject) -> None:
        """By an organisation the activity is meant for, once or twice, so that assets get far along their
        workflows within a few steps. Each record is predicted and checked on its own; the return value
        of the first (the cost of one more execution each is what keeps it to the first)."""
        for i in range(data.draw(st.integers(min_value=1, max_value=2), label="records")):
            digest = data.draw(DIGESTS, label="digest")
            inputs = data.draw(DIGEST_LISTS, label="inputs")
            outputs = data.draw(DIGEST_LISTS, label="outputs")
            self.record(asset, "permitted", digest, inputs, outputs, data, call_first=i == 0)

    # ------------------------------------------------------------------ contributors

    def set_contributor(self, address: str, sender: str, account: str, add: bool) -> None:
        """addContributor or removeContributor: the owner only, and only while an active member (a
        suspended organisation can no longer act); the zero address cannot be added."""
        asset = self.asset_models[address]
        target = ZERO_ADDRESS if account == "zero" else self.addr[account]
        functions = asset.contract.functions
        function = functions.addContributor(target) if add else functions.removeContributor(target)
        if sender != asset.owner:
            self.expect_revert(function, sender, "NotOwner", {"account": self.addr[sender]})
            return
        error = self.status_error(sender)
        if error is not None:
            self.expect_revert(function, sender, *error)
            return
        if add and account == "zero":
            self.expect_revert(function, sender, "ZeroAddress", {})
            return
        receipt = self.mine(function, sender)
        events = asset.contract.events
        event = events.ContributorAdded() if add else events.ContributorRemoved()
        assert [e["args"]["account"] for e in event.process_receipt(receipt, errors=DISCARD)] == [target]
        if add:
            asset.contributors.add(account)
        else:
            asset.contributors.discard(account)
        assert functions.isContributor(target).call(self.query) is add

    @rule(
        asset=assets,
        add=st.booleans(),
        owner_sends=st.booleans(),
        other=st.sampled_from(ORGS),
        account=st.sampled_from((*ORGS, "zero")),
        data=st.data(),
    )
    def change_contributor(
        self, asset: str, add: bool, owner_sends: bool, other: str, account: str, data: st.DataObject
    ) -> None:
        model = self.asset_models[asset]
        if not add and model.contributors and data.draw(st.booleans(), label="a_contributor"):
            account = data.draw(st.sampled_from(sorted(model.contributors)), label="account")
        self.set_contributor(asset, model.owner if owner_sends else other, account, add)

    # ------------------------------------------------------------------ anchor and rollback

    @rule(
        model=models,
        category=st.sampled_from(OFTEN_OWNER),
        root=DIGESTS,
        phase=st.one_of(st.sampled_from((0, 1)), st.integers(min_value=2, max_value=255)),
        digest=DIGESTS,
        data=st.data(),
    )
    def anchor(
        self, model: str, category: str, root: bytes, phase: int, digest: bytes, data: st.DataObject
    ) -> None:
        """Anchor a Merkle root before (0) or after (1) training; any other phase is refused first. The
        record commits to the phase (inputs) and the root (outputs); a retired model keeps the attempt
        with accepted = false, and only an accepted anchor emits Anchored."""
        asset = self.asset_models[model]
        actor = self.pick_actor(data, asset, category)
        function = asset.contract.functions.anchor(root, phase, digest, cid_for(digest))
        error = ("UnknownAnchorPhase", {"phase": phase}) if phase > 1 else None
        error = error or self.auth_error(asset, actor, Activity.ANCHOR)
        if error is not None:
            self.expect_revert(function, actor, *error)
            return
        accepted = asset.state != ModelState.RETIRED
        expected = self.expect_record(
            asset, actor, Activity.ANCHOR, accepted, asset.state, digest, [phase.to_bytes(32, "big")], [root]
        )
        returned, receipt = self.send(function, actor)
        assert returned is accepted
        assert self.recorded(receipt) == [expected]
        anchored = asset.contract.events.Anchored().process_receipt(receipt, errors=DISCARD)
        assert [(e["args"]["seq"], e["args"]["phase"], e["args"]["root"]) for e in anchored] == (
            [(expected.seq, phase, root)] if accepted else []
        )
        asset.append(expected)

    @rule(
        model=models,
        category=st.sampled_from(OFTEN_OWNER),
        variant=st.sampled_from(("valid",) * 5 + ("tampered", "wrong_length", "out_of_range")),
        reason=st.text(max_size=12),
        digest=DIGESTS,
        data=st.data(),
    )
    def rollback(
        self, model: str, category: str, variant: str, reason: str, digest: bytes, data: st.DataObject
    ) -> None:
        """Roll back to an earlier record (one that changes the state, a rejected one, any), with a proof
        built from the chain's events; now and then a tampered proof, a proof of the wrong length, or a
        record that does not exist. The model returns to the target's state if the target was accepted,
        and otherwise stays where it is."""
        asset = self.asset_models[model]
        actor = self.pick_actor(data, asset, category)
        # The proof comes from the chain's events, which must tell the history the model expects.
        logs = asset.contract.events.ProvenanceRecorded().get_logs(from_block=asset.block)
        history = [
            ChainedRecord.from_event_args(log["args"])
            for log in sorted(logs, key=lambda e: int(e["args"]["seq"]))
        ]
        assert history == asset.records
        count = len(history)
        # Mostly a record that leads to another state than the current one, else a rejected one or any.
        pools = {
            "elsewhere": [r.seq for r in asset.records if r.accepted and r.to_state != asset.state],
            "rejected": [r.seq for r in asset.records if not r.accepted],
            "anywhere": list(range(count)),
        }
        pool = data.draw(st.sampled_from(list(pools)), label="pool")
        to_seq = data.draw(st.sampled_from(pools[pool] or pools["anywhere"]), label="to_seq")
        proof: list[Any] = list(rollback_proof(history, to_seq))
        later = count - 1 - to_seq
        variant_error: tuple[str, dict[str, Any]] | None = None
        if variant == "tampered":
            proof[6] = not proof[6]  # claim the opposite accepted flag
            variant_error = "InvalidProof", {}
        elif variant == "wrong_length":
            proof[11] = proof[11][:-1] if later else [bytes(32)]
            variant_error = "WrongProofLength", {"given": len(proof[11]), "expected": later}
        elif variant == "out_of_range":
            proof[0] = count + data.draw(st.integers(min_value=0, max_value=2), label="beyond")
            variant_error = "SeqOutOfRange", {"toSeq": proof[0], "recordCount": count}
        function = asset.contract.functions.rollback(tuple(proof), reason, digest, cid_for(digest))
        error = self.auth_error(asset, actor, Activity.ROLLBACK) or variant_error
        if error is not None:
            self.expect_revert(function, actor, *error)
            return
        target = asset.records[to_seq]
        expected = self.expect_record(
            asset,
            actor,
            Activity.ROLLBACK,
            target.accepted,
            target.to_state,
            digest,
            [to_seq.to_bytes(32, "big"), keccak(reason.encode())],  # the chain covers target and reason
            [],
        )
        returned, receipt = self.send(function, actor)
        assert returned is target.accepted
        assert self.recorded(receipt) == [expected]
        rolled = asset.contract.events.RolledBack().process_receipt(receipt, errors=DISCARD)
        assert [
            (e["args"]["seq"], e["args"]["toSeq"], e["args"]["accepted"], e["args"]["reason"]) for e in rolled
        ] == [(expected.seq, to_seq, target.accepted, reason)]
        asset.append(expected)

    # ------------------------------------------------------------------ batch

    def shadow(self, plan: BatchPlan, address: str) -> AssetModel | None:
        if address not in self.asset_models:
            return None
        return plan.shadows.setdefault(address, self.asset_models[address].copy())

    def plan_record(
        self,
        plan: BatchPlan,
        address: str,
        activity: Activity,
        digest: bytes,
        inputs: list[bytes],
        outputs: list[bytes],
    ) -> None:
        """Add an entry; predict it as ProML.recordBatch and the asset check it, in their order."""
        plan.entries.append((address, int(activity), digest, cid_for(digest), inputs, outputs))
        if plan.error is not None:
            return
        shadow = self.shadow(plan, address)
        if shadow is None:
            plan.error = "NotAnAsset", {"asset": address}
        elif activity in NOT_ASSET_ACTIVITIES:
            plan.error = "UnsupportedActivity", {"activity": int(activity)}
        else:
            plan.error = self.auth_error(shadow, plan.sender, activity)
            if plan.error is None and activity not in TRANSITIONS[shadow.kind]:
                plan.error = "UnsupportedActivity", {"activity": int(activity)}
        if plan.error is None and shadow is not None:
            accepted, to_state = next_state(shadow.kind, activity, shadow.state)
            record = self.expect_record(
                shadow, plan.sender, activity, accepted, to_state, digest, inputs, outputs
            )
            shadow.append(record)
            plan.expected.append(record)

    def run_batch(self, plan: BatchPlan) -> None:
        """Send the batch: all of it as predicted, or a revert on the first refused entry and nothing."""
        function = self.registry.functions.recordBatch(plan.entries)
        error = plan.error if plan.entries else ("EmptyBatch", {})
        if error is not None:
            self.expect_revert(function, plan.sender, *error)
            return
        returned, receipt = self.send(function, plan.sender)
        assert returned == [r.accepted for r in plan.expected]
        assert self.recorded(receipt) == plan.expected
        self.asset_models.update(plan.shadows)

    @rule(
        entries=st.lists(assets, min_size=1, max_size=4),
        focus=st.booleans(),
        other=st.sampled_from(ORGS),
        data=st.data(),
    )
    def record_batch(self, entries: list[str], focus: bool, other: str, data: st.DataObject) -> None:
        """A few records across assets by one sender; now and then an empty batch, an address that is
        not an asset, or an activity that cannot be batched or is not of the asset's kind."""
        sender = other
        if data.draw(st.integers(min_value=0, max_value=9), label="empty") == 0:
            entries = []
        if focus and entries:
            # Mostly assets the sender may write to, so that whole batches go through.
            first = self.asset_models[entries[0]]
            sender = data.draw(st.sampled_from(sorted({first.owner} | first.contributors)), label="sender")
            entries = [
                e
                for e in entries
                if sender == self.asset_models[e].owner or sender in self.asset_models[e].contributors
            ]
        plan = BatchPlan(sender)
        for entry in entries:
            address = entry
            if data.draw(st.integers(min_value=0, max_value=11), label="not_an_asset") == 0:
                address = self.addr["outsider"]
            shadow = self.shadow(plan, address)
            choice = data.draw(st.integers(min_value=0, max_value=9), label="activity_choice")
            if shadow is None or choice == 8:
                activity = data.draw(st.sampled_from(list(Activity)), label="activity")
            elif choice == 9:
                activity = data.draw(st.sampled_from(NOT_ASSET_ACTIVITIES), label="activity")
            else:
                activity = self.pick_activity(data, shadow)
            digest = data.draw(DIGESTS, label="digest")
            inputs = data.draw(DIGEST_LISTS, label="inputs")
            outputs = data.draw(DIGEST_LISTS, label="outputs")
            self.plan_record(plan, address, activity, digest, inputs, outputs)
        self.run_batch(plan)

    # ------------------------------------------------------------------ governance

    def decide(
        self, propose: ContractFunction, proposer: str, approvers: Sequence[str], complete: bool
    ) -> None:
        """Propose, then approve; the last approval of a complete round executes the proposal."""
        events = self.registry.events
        receipt = self.mine(propose, proposer)
        created = events.ProposalCreated().process_receipt(receipt, errors=DISCARD)
        assert len(created) == 1
        proposal = created[0]["args"]["proposalId"]
        executed = [bool(events.ProposalExecuted().process_receipt(receipt, errors=DISCARD))]
        for approver in approvers:
            receipt = self.mine(self.registry.functions.approve(proposal), approver)
            executed.append(bool(events.ProposalExecuted().process_receipt(receipt, errors=DISCARD)))
        # Only the approval that reaches a majority of the active members executes the proposal.
        assert executed == [False] * len(approvers) + [complete]

    def approvers(self, data: st.DataObject, proposer: str, complete: bool) -> list[str]:
        active = self.active_orgs()
        needed = majority(len(active)) - (1 if complete else 2)
        others = data.draw(st.permutations([o for o in active if o != proposer]), label="approvers")
        return list(others[:needed])

    @rule(suspend=st.booleans(), complete=st.booleans(), roles=st.integers(0, ALL_ROLES), data=st.data())
    def govern(self, suspend: bool, complete: bool, roles: int, data: st.DataObject) -> None:
        """Suspend an active member (never below two active ones), or admit or reinstate one with `roles`."""
        active = self.active_orgs()
        inactive = [o for o in GOVERNABLE if not self.is_active(o)]
        if len(active) <= 2 or not inactive:
            suspend = len(active) > 2
        proposer = data.draw(st.sampled_from(active), label="proposer")
        target = data.draw(st.sampled_from(active if suspend else inactive), label="target")
        approvers = self.approvers(data, proposer, complete)
        functions = self.registry.functions
        if suspend:
            self.decide(functions.proposeSuspendMember(self.addr[target]), proposer, approvers, complete)
            if complete:
                self.members[target].status = MemberStatus.SUSPENDED
        else:
            self.decide(
                functions.proposeAddMember(self.addr[target], target, roles), proposer, approvers, complete
            )
            if complete:
                self.members[target] = MemberModel(MemberStatus.ACTIVE, roles)
        self.check_members([target])

    # ------------------------------------------------------------------ invariants

    @invariant()
    def chain_matches_model(self) -> None:
        """Every asset's head, state and count equal the model's.

        Every asset's packed storage word (head | state | count in slot 0, as ProvenanceAsset documents
        it) is read after every step: one cheap read instead of three calls, which shows that nothing
        changed where the model expects nothing to change. The getters state(), recordCount() and
        head() are called on every asset whose records changed since they were last called.
        """
        for address in self.asset_order:
            asset = self.asset_models[address]
            word = bytes(self.w3.eth.get_storage_at(Web3.to_checksum_address(address), 0))
            packed = (word[:28], word[28], int.from_bytes(word[29:], "big"))
            assert packed == (asset.head, asset.state, len(asset.records)), address
            if self.checked.get(address) != len(asset.records):
                functions = asset.contract.functions
                assert functions.state().call(self.query) == asset.state, address
                assert functions.recordCount().call(self.query) == len(asset.records), address
                assert bytes(functions.head().call(self.query)) == asset.head, address
                self.checked[address] = len(asset.records)


def test_contracts_follow_the_model(consortium: Consortium) -> None:
    """20 random sequences of up to 25 steps (two of them registrations with a history): about half a
    minute on a two-core machine, most of it the EVM executing the contracts."""
    machine = type("ProMLStateMachine", (ProMLMachine,), {"consortium": consortium})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            phases=PHASES,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
