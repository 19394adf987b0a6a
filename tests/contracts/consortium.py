"""A small consortium on eth-tester for the contract tests: accounts, governance and asset helpers."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from proml.contracts.errors import ContractRevert
from proml.contracts.hash_chain import ChainedRecord
from proml.core.workflow import ALL_ROLES, ROLE_ACTIVITIES, TRANSITIONS, Activity, AssetKind, Role

from .deployment import dataset_at, deploy_registry, model_at, transact

CID_PREFIX = bytes.fromhex("01551220")  # CIDv1, raw, sha2-256, 32 bytes
GAS = 3_000_000  # a fixed limit: eth-tester's gas estimation costs several times the transaction
OWNER = {AssetKind.DATASET: "B", AssetKind.MODEL: "C"}
VALIDATOR = "V"


def random_digest() -> bytes:
    return os.urandom(32)


def cid_for(digest: bytes) -> bytes:
    return CID_PREFIX + digest


@dataclass
class Consortium:
    """The founder A holds every role; B is a data supplier, C a model developer, V a validator.

    `outsider` is not a member. Every member is admitted through governance.
    """

    w3: Web3
    registry: Contract
    accounts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, w3: Web3) -> Consortium:
        acc = w3.eth.accounts
        registry = deploy_registry(w3, "A", acc[0])
        consortium = cls(
            w3, registry, {"A": acc[0], "B": acc[1], "C": acc[2], "V": acc[3], "outsider": acc[9]}
        )
        # Admit B, C and V. More than half of the active members must approve: A alone decides
        # while A is alone; then A and B; with three members, two of them.
        consortium.admit("B", Role.DATA_ADMIN, approvers=[])
        consortium.admit("C", Role.MODEL_DEVELOPER | Role.DATA_ADMIN, approvers=["B"])
        consortium.admit("V", Role.VALIDATOR | Role.AUDITOR, approvers=["B"])
        return consortium

    def admit(self, name: str, roles: int, approvers: Sequence[str], proposer: str = "A") -> int:
        proposal_id = int(self.registry.functions.proposalCount().call())
        self.tx(self.registry.functions.proposeAddMember(self.accounts[name], name, roles), proposer)
        for approver in approvers:
            self.tx(self.registry.functions.approve(proposal_id), approver)
        return proposal_id

    def tx(self, function: Any, sender: str, **params: Any) -> Any:
        """Send `function` from the named account (or raw address); return the receipt."""
        address = self.accounts.get(sender, sender)
        return transact(function, {"from": address, **params})

    def register(
        self,
        kind: AssetKind,
        sender: str = "A",
        ancestors: Sequence[str] = (),
        content_digest: bytes | None = None,
    ) -> Contract:
        return self.register_with_receipt(kind, sender, ancestors, content_digest)[0]

    def register_with_receipt(
        self,
        kind: AssetKind,
        sender: str = "A",
        ancestors: Sequence[str] = (),
        content_digest: bytes | None = None,
    ) -> tuple[Contract, Any]:
        record_digest = random_digest()
        content = content_digest if content_digest is not None else random_digest()
        functions = self.registry.functions
        fn = functions.registerDataset if kind == AssetKind.DATASET else functions.registerModel
        receipt = self.tx(fn(content, record_digest, cid_for(record_digest), list(ancestors)), sender)
        event = self.registry.events.AssetRegistered().process_receipt(receipt, errors=DISCARD)[0]
        address = event["args"]["asset"]
        bind = dataset_at if kind == AssetKind.DATASET else model_at
        return bind(self.w3, address), receipt

    def dataset(self, sender: str = "A", ancestors: Sequence[str] = ()) -> Contract:
        return self.register(AssetKind.DATASET, sender, ancestors)

    def model(self, sender: str = "A", ancestors: Sequence[str] = ()) -> Contract:
        return self.register(AssetKind.MODEL, sender, ancestors)

    def record(
        self,
        asset: Contract,
        function: str,
        sender: str = "A",
        inputs: Sequence[bytes] = (),
        outputs: Sequence[bytes] = (),
    ) -> Any:
        digest = random_digest()
        fn = getattr(asset.functions, function)(digest, cid_for(digest), list(inputs), list(outputs))
        return self.tx(fn, sender)

    def records(self, asset: Contract) -> list[ChainedRecord]:
        """Every record of `asset` from its events (eth-tester: a filter from block 0 is cheap here)."""
        logs = asset.events.ProvenanceRecorded().get_logs(from_block=0)
        return [
            ChainedRecord.from_event_args(log["args"]) for log in sorted(logs, key=lambda e: e["args"]["seq"])
        ]


ROLE_NAMES = {int(r): r.name for r in Role}
assert sum(ROLE_NAMES) == ALL_ROLES


def reverts(consortium: Consortium, function: Any, sender: str, name: str, **expected: Any) -> None:
    """Sending `function` from `sender` reverts with the custom error `name(**expected)`, exactly."""
    with pytest.raises(ContractRevert) as info:
        consortium.tx(function, sender)
    error = info.value
    assert error.name == name, f"expected {name}, got {error}"
    assert error.args_by_name == expected


def send(consortium: Consortium, function: Any, sender: str, gas: int = GAS) -> Any:
    """Send with a fixed gas limit; a revert is re-raised as the decoded custom error."""
    try:
        return consortium.tx(function, sender, gas=gas)
    except ContractRevert as exc:
        if exc.name != "TransactionFailed":
            raise
        # Sent again without a gas limit, the gas estimation reverts and names the custom error.
        consortium.tx(function, sender)
        raise


def shortest_paths(kind: AssetKind) -> dict[int, tuple[Activity, ...]]:
    """For every state reachable from Registered (0), the shortest list of accepted activities to it."""
    paths: dict[int, tuple[Activity, ...]] = {0: ()}
    queue = deque([0])
    while queue:
        state = queue.popleft()
        for activity, rule in TRANSITIONS[kind].items():
            if state in rule.allowed_from and rule.to_state not in paths:
                paths[rule.to_state] = (*paths[state], activity)
                queue.append(rule.to_state)
    return paths


PATHS = {kind: shortest_paths(kind) for kind in TRANSITIONS}


def sender_of(kind: AssetKind, activity: Activity) -> str:
    """Who may send `activity` on an asset of `kind` owned as in `OWNER`."""
    return VALIDATOR if activity in ROLE_ACTIVITIES else OWNER[kind]


def event_log(contract: Contract, receipt: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every event that `contract` emitted in the transaction, in order, with its arguments."""
    found: list[tuple[int, str, dict[str, Any]]] = []
    for event in contract.all_events():
        for log in event.process_receipt(receipt, errors=DISCARD):
            if log["address"] == contract.address:
                found.append((log["logIndex"], log["event"], dict(log["args"])))
    return [(name, args) for _, name, args in sorted(found, key=lambda f: f[0])]
