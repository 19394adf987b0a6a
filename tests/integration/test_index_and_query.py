"""The event index and its queries against a real anvil: a consortium's governance, datasets and models
with accepted and rejected records, a batch, an anchor and a rollback; restart, reindex, crash and reorg."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from web3 import Web3

import proml.node.services.index as index_module
from proml.contracts.artifacts import load_artifact
from proml.contracts.events import AssetRegistered, ProvenanceRecorded, decode_log
from proml.contracts.hash_chain import check_chain, rollback_proof
from proml.core.workflow import Activity, AssetKind, Role
from proml.node.clients.chain import Receipt
from proml.node.providers.blockchain import BlockchainProvider
from proml.node.providers.signer import Signer
from proml.node.services.index import Index
from proml.node.services.query import InvalidQuery, Query, UnindexedAsset
from tests.integration.anvil import Anvil, anvil_fixture  # noqa: F401  (fixture)

CID_PREFIX = bytes.fromhex("01551220")  # CIDv1, raw, sha2-256
_W3 = Web3()
REGISTRY = _W3.eth.contract(abi=load_artifact("ProML").abi)
DATASET = _W3.eth.contract(abi=load_artifact("DatasetAsset").abi)
MODEL = _W3.eth.contract(abi=load_artifact("ModelAsset").abi)
NAMES = ("A", "B", "C", "V")


def calldata(contract: Any, function: str, *args: Any) -> bytes:
    return bytes.fromhex(contract.encode_abi(function, args=list(args))[2:])


def digest() -> bytes:
    return os.urandom(32)


def word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


@dataclass
class World:
    """A consortium on anvil, driven through BlockchainProviders (no unlocked accounts)."""

    anvil: Anvil
    providers: dict[str, BlockchainProvider] = field(default_factory=dict)
    registry: str = ""

    @classmethod
    def create(cls, anvil: Anvil) -> World:
        world = cls(anvil)
        for i, name in enumerate(NAMES):
            world.providers[name] = BlockchainProvider(anvil.client(), Signer(anvil.keys[i]), anvil.chain_id)
        artifact = load_artifact("ProML")
        world.registry = world.providers["A"].deploy_contract(artifact.bytecode, artifact.abi, ["A"])
        return world

    def address(self, name: str) -> str:
        return str(Account.from_key(self.anvil.keys[NAMES.index(name)]).address)

    def tx(self, sender: str, to: str, data: bytes) -> Receipt:
        receipt = self.providers[sender].transact(to, data)
        assert receipt.succeeded
        return receipt

    def governance(self, sender: str, function: str, *args: Any) -> Receipt:
        return self.tx(sender, self.registry, calldata(REGISTRY, function, *args))

    def register(self, sender: str, kind: AssetKind, ancestors: Sequence[str] = ()) -> str:
        function = "registerDataset" if kind == AssetKind.DATASET else "registerModel"
        record = digest()
        receipt = self.governance(sender, function, digest(), record, CID_PREFIX + record, list(ancestors))
        (registered,) = [e for e in map(decode_log, receipt.logs) if isinstance(e, AssetRegistered)]
        return registered.asset

    def record(self, sender: str, asset: str, function: str, inputs: Sequence[bytes] = ()) -> bool:
        contract = DATASET if function in ("collect", "label", "publish", "deprecate") else MODEL
        record = digest()
        data = calldata(contract, function, record, CID_PREFIX + record, list(inputs), [digest()])
        return accepted(self.tx(sender, asset, data))

    def head(self, asset: str) -> bytes:
        (value,) = abi_decode(["bytes28"], self.providers["A"].call(asset, calldata(MODEL, "head")))
        return bytes(value)


def accepted(receipt: Receipt) -> bool:
    (event,) = [e for e in map(decode_log, receipt.logs) if isinstance(e, ProvenanceRecorded)]
    return event.record.accepted


@dataclass
class Scenario:
    d1: str
    d2: str
    d3: str
    model: str
    events: int


def admit(world: World) -> int:
    """B, C and V admitted through governance; a threshold proposal left pending. Returns events."""
    world.governance("A", "proposeAddMember", world.address("B"), "B", int(Role.DATA_ADMIN))  # 4
    world.governance(
        "A", "proposeAddMember", world.address("C"), "C", int(Role.MODEL_DEVELOPER | Role.DATA_ADMIN)
    )
    world.governance("B", "approve", 1)  # 2 + 1 + 3
    world.governance("A", "proposeAddMember", world.address("V"), "V", int(Role.VALIDATOR | Role.AUDITOR))
    world.governance("B", "approve", 2)  # 2 + 3
    world.governance("A", "proposeThreshold", 6000)  # 2 (three of four needed: stays pending)
    world.governance("B", "approve", 3)  # 1
    return 1 + 4 + 2 + 3 + 2 + 3 + 2 + 1  # the founder's MemberAdded at deployment first


def build(world: World) -> Scenario:
    events = admit(world)
    d1 = world.register("B", AssetKind.DATASET)  # 2 events each registration
    assert world.record("B", d1, "collect")
    assert world.record("B", d1, "label")
    assert not world.record("B", d1, "publish")  # not preprocessed yet: kept, rejected
    assert world.record("B", d1, "preprocess")
    assert world.record("B", d1, "publish")
    d2 = world.register("B", AssetKind.DATASET, [d1])
    model = world.register("C", AssetKind.MODEL, [d2])
    assert world.record("C", model, "selectData", [word(d1)])  # D1 used without being declared
    d3 = world.register("C", AssetKind.DATASET)
    batch = [
        (model, int(Activity.PREPROCESS), digest(), CID_PREFIX + digest(), [], []),
        (d3, int(Activity.COLLECT), digest(), CID_PREFIX + digest(), [word(d2)], []),
        (model, int(Activity.ENGINEER_FEATURES), digest(), CID_PREFIX + digest(), [], []),
        (model, int(Activity.TRAIN), digest(), CID_PREFIX + digest(), [word(d3)], []),
    ]
    world.governance("C", "recordBatch", batch)
    world.tx("C", model, calldata(MODEL, "addContributor", world.address("A")))
    world.tx("C", model, calldata(MODEL, "removeContributor", world.address("A")))
    record = digest()
    world.tx("C", model, calldata(MODEL, "anchor", digest(), 1, record, CID_PREFIX + record))  # 2 events
    events += 4 * 2 + 5 + 1 + 4 + 2 + 2
    return Scenario(d1, d2, d3, model, events)


def rollback(world: World, query: Query, model: str, to_seq: int) -> None:
    proof = rollback_proof(query.records(model), to_seq)
    record = digest()
    world.tx("C", model, calldata(MODEL, "rollback", proof, "data drift", record, CID_PREFIX + record))


def snapshot(query: Query) -> dict[str, Any]:
    """Everything the queries answer, to compare two indexes."""
    assets = query.assets(limit=1000)
    return {
        "assets": assets,
        "history": {a["address"]: query.history(a["address"]) for a in assets},
        "lineage": {a["address"]: query.lineage(a["address"]) for a in assets},
        "members": query.members(),
        "proposals": query.proposals(),
    }


@pytest.fixture
def world(anvil: Anvil) -> World:
    return World.create(anvil)


@pytest.fixture
def index(world: World, tmp_path: Path) -> Iterator[Index]:
    index = Index(tmp_path / "index.db", world.providers["A"], world.registry, blocks_per_query=5)
    yield index
    index.close()


def test_index_and_query_a_consortium(world: World, index: Index, tmp_path: Path) -> None:
    scenario = build(world)
    query = Query(index)

    assert index.sync() == scenario.events
    assert index.cursor == world.anvil.client().block_number() and index.lag() == 0

    rollback(world, query, scenario.model, 1)  # back to DataSelected
    assert index.sync() == 2
    assert index.sync() == 0

    # Assets, in order of registration, with their state and the names of their owners.
    assets = query.assets()
    assert [(a["address"], a["kind"], a["owner_name"], a["state"], a["record_count"]) for a in assets] == [
        (scenario.d1, "dataset", "B", "published", 6),
        (scenario.d2, "dataset", "B", "registered", 1),
        (scenario.model, "model", "C", "data_selected", 7),
        (scenario.d3, "dataset", "C", "collected", 2),
    ]
    model = query.asset(scenario.model.lower())
    assert model == assets[2]
    assert model["kind_id"] == 2 and model["state_id"] == 1
    assert model["ancestors"] == [scenario.d2] and model["owner"] == world.address("C")
    assert model["record_cid"].startswith("b") and model["registered_at"].endswith("Z")
    assert query.asset("0x" + "12" * 20) is None

    # Filters.
    assert [a["address"] for a in query.assets(kind="model")] == [scenario.model]
    assert [a["address"] for a in query.assets(owner=world.address("B").lower())] == [
        scenario.d1,
        scenario.d2,
    ]
    assert [a["address"] for a in query.assets(state="Published")] == [scenario.d1]
    assert [a["address"] for a in query.assets(kind="dataset", state="registered")] == [scenario.d2]
    assert [a["address"] for a in query.assets(limit=2, offset=1)] == [scenario.d2, scenario.model]
    with pytest.raises(InvalidQuery, match="use one of dataset, model"):
        query.assets(kind="pipeline")
    with pytest.raises(InvalidQuery, match=r"unknown state 'trained'.*published"):
        query.assets(kind="dataset", state="trained")
    with pytest.raises(InvalidQuery, match=r"owner: 'acme' is not an address"):
        query.assets(owner="acme")
    with pytest.raises(InvalidQuery, match="limit"):
        query.assets(limit=0)

    # The history keeps the rejected record, with who tried what.
    history = query.history(scenario.d1)
    assert [(h["seq"], h["activity"], h["accepted"], h["from_state"], h["to_state"]) for h in history] == [
        (0, "register", True, "registered", "registered"),
        (1, "collect", True, "registered", "collected"),
        (2, "label", True, "collected", "labelled"),
        (3, "publish", False, "labelled", "labelled"),
        (4, "preprocess", True, "labelled", "preprocessed"),
        (5, "publish", True, "preprocessed", "published"),
    ]
    assert {h["actor_name"] for h in history} == {"B"}
    assert all(h["timestamp"].endswith("Z") and h["record_cid"].startswith("b") for h in history)
    model_history = query.history(scenario.model)
    assert [h["activity"] for h in model_history] == [
        "register",
        "select_data",
        "preprocess",
        "engineer_features",
        "train",
        "anchor",
        "rollback",
    ]
    assert model_history[5]["anchor"]["phase"] == "after_training"
    assert model_history[6]["rollback"] == {"to_seq": 1, "accepted": True, "reason": "data drift"}
    assert model_history[6]["to_state"] == "data_selected"
    batch_tx = {h["transaction_hash"] for h in model_history[2:5]}
    assert len(batch_tx) == 1 and batch_tx == {query.history(scenario.d3)[1]["transaction_hash"]}

    # The records rebuild the hash chain to the head on chain.
    for asset in (scenario.d1, scenario.model, scenario.d3):
        assert check_chain(query.records(asset), world.head(asset)).ok
    with pytest.raises(UnindexedAsset):
        query.history("0x" + "12" * 20)

    # Lineage: declared ancestors and assets named among the inputs, both ways.
    lineage = query.lineage(scenario.model)
    assert lineage["root"] == scenario.model
    assert [n["address"] for n in lineage["nodes"]] == [scenario.d1, scenario.d2, scenario.model, scenario.d3]
    assert {(e["from"], e["to"], e["via"]) for e in lineage["edges"]} == {
        (scenario.d1, scenario.d2, "ancestor"),
        (scenario.d2, scenario.model, "ancestor"),
        (scenario.d1, scenario.model, "input"),
        (scenario.d3, scenario.model, "input"),
        (scenario.d2, scenario.d3, "input"),
    }
    down = query.lineage(scenario.d1)  # D3 descends from D1 through D2, and feeds the model
    assert [n["address"] for n in down["nodes"]] == [scenario.d1, scenario.d2, scenario.model, scenario.d3]
    assert {(e["from"], e["to"]) for e in down["edges"]} == {
        (scenario.d1, scenario.d2),
        (scenario.d2, scenario.model),
        (scenario.d1, scenario.model),
        (scenario.d2, scenario.d3),
        (scenario.d3, scenario.model),
    }
    up = query.lineage(scenario.d2)
    assert [n["address"] for n in up["nodes"]] == [scenario.d1, scenario.d2, scenario.model, scenario.d3]

    # Governance.
    members = query.members()
    assert [(m["name"], m["status"], m["role_names"]) for m in members] == [
        ("A", "active", ["data_admin", "model_developer", "validator", "auditor"]),
        ("B", "active", ["data_admin"]),
        ("C", "active", ["data_admin", "model_developer"]),
        ("V", "active", ["validator", "auditor"]),
    ]
    proposals = query.proposals()
    assert [(p["id"], p["kind"], p["target_name"], p["approvals"], p["executed"]) for p in proposals] == [
        (0, "add_member", "B", 1, True),
        (1, "add_member", "C", 2, True),
        (2, "add_member", "V", 2, True),
        (3, "change_threshold", None, 2, False),
    ]
    assert proposals[1]["approvers"] == [world.address("A"), world.address("B")]
    assert proposals[3]["threshold_bps"] == 6000 and proposals[3]["executed_at"] is None
    assert query.member_name(world.address("V").lower()) == "V"
    assert query.member_name("0x" + "12" * 20) is None


def test_restart_resumes_from_the_cursor_and_reindex_rebuilds_the_same(
    world: World, index: Index, tmp_path: Path
) -> None:
    scenario = build(world)
    first = index.sync()
    cursor = index.cursor
    index.close()

    assert world.record("B", scenario.d1, "deprecate")
    world.governance("C", "approve", 3)  # executes the threshold change: 3 events
    world.anvil.mine(3)

    reopened = Index(tmp_path / "index.db", world.providers["B"], world.registry, blocks_per_query=5)
    try:
        assert reopened.cursor == cursor
        assert reopened.sync() == 4  # only what is new
        query = Query(reopened)
        assert [h["activity"] for h in query.history(scenario.d1)][-2:] == ["publish", "deprecate"]
        assert query.asset(scenario.d1)["state"] == "deprecated"  # type: ignore[index]
        assert query.proposals()[3]["executed"] is True

        before = snapshot(query)
        assert reopened.reindex() == first + 4
        assert snapshot(query) == before
    finally:
        reopened.close()


def test_a_failing_range_leaves_nothing_behind(
    world: World, index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = build(world)
    original = index_module._apply_asset
    calls = 0

    def crash_on_third(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("crash in the middle of a range")
        original(*args)

    monkeypatch.setattr(index_module, "_apply_asset", crash_on_third)
    index.blocks_per_query = 10_000  # everything in one range
    with pytest.raises(RuntimeError, match="crash"):
        index.sync()
    assert index.cursor == -1
    query = Query(index)
    assert query.assets() == [] and query.members() == []

    monkeypatch.setattr(index_module, "_apply_asset", original)
    assert index.sync() == scenario.events
    assert len(query.history(scenario.d1)) == 6


def test_confirmations_hold_back_recent_blocks(world: World, tmp_path: Path) -> None:
    index = Index(tmp_path / "confirmed.db", world.providers["A"], world.registry, confirmations=3)
    try:
        index.sync()
        dataset = world.register("A", AssetKind.DATASET)
        assert index.sync() == 0 and index.lag() == 2
        assert not Query(index).assets()
        world.anvil.mine(2)
        assert index.sync() == 3  # the founder's MemberAdded, then the registration
        assert [a["address"] for a in Query(index).assets()] == [dataset]
        assert index.lag() == 2
    finally:
        index.close()


def test_reorg_drops_orphaned_rows_and_indexes_the_new_branch(world: World, index: Index) -> None:
    kept = world.register("A", AssetKind.DATASET)
    index.sync()
    snapshot_id = world.anvil.rpc("evm_snapshot")

    # An orphaned branch: a dataset, a record, a new member; longer than the branch that replaces it.
    orphan = world.register("A", AssetKind.DATASET)
    assert world.record("A", kept, "collect")
    world.governance("A", "proposeAddMember", world.address("B"), "B", int(Role.DATA_ADMIN))
    world.anvil.mine(4)
    index.sync()
    query = Query(index)
    assert [a["address"] for a in query.assets()] == [kept, orphan]
    assert len(query.members()) == 2
    orphaned_cursor = index.cursor
    orphaned = query.asset(orphan)

    assert world.anvil.rpc("evm_revert", snapshot_id) is True
    world.providers["A"].nonces.resync()
    replacement = world.register("A", AssetKind.DATASET)
    assert world.record("A", kept, "deprecate")
    assert world.anvil.client().block_number() < orphaned_cursor  # the cursor's block is gone

    assert index.sync() == 3
    assert [a["address"] for a in query.assets()] == [kept, replacement]
    assert query.asset(kept)["state"] == "deprecated"  # type: ignore[index]
    assert [h["activity"] for h in query.history(kept)] == ["register", "deprecate"]
    assert [m["name"] for m in query.members()] == ["A"]
    # The registry's clones are created by nonce: the new branch's first dataset reuses the address,
    # and the index holds the new registration, not the orphaned one.
    assert replacement == orphan
    fresh = query.asset(replacement)
    assert fresh is not None and orphaned is not None
    assert fresh["registered_transaction"] != orphaned["registered_transaction"]
    assert fresh["content_digest"] != orphaned["content_digest"]
    assert [h["activity"] for h in query.history(replacement)] == ["register"]
    client = world.anvil.client()
    block = client.get_block(index.cursor)
    assert block is not None and index.cursor_position().block_hash == block.hash

    # Same height, different blocks: the cursor's hash no longer matches.
    snapshot_id = world.anvil.rpc("evm_snapshot")
    world.anvil.mine(1)
    index.sync()
    world.anvil.rpc("evm_revert", snapshot_id)
    world.providers["A"].nonces.resync()
    late = world.register("A", AssetKind.DATASET)
    assert index.sync() == 2
    assert [a["address"] for a in query.assets()] == [kept, replacement, late]
    assert check_chain(query.records(kept), world.head(kept)).ok
