"""The SDK against a real node: a one-organisation devnet (anvil, the IPFS daemon, `proml node start`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from proml import sdk
from proml.core.content.digest import digest_bytes
from proml.devnet.processes import free_port
from proml.sdk import (
    AuthenticationError,
    ConfigurationError,
    Node,
    NodeUnavailable,
    PayloadMismatch,
    RequestRejected,
    TransitionRejected,
)
from proml.sdk.audit import audit
from proml.sdk.views import LineageEdge
from tests.integration.polling import eventually


@pytest.fixture(name="node")
def node_fixture(sdk_node: Node) -> Node:
    return sdk_node


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_connect_needs_a_url_and_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROML_NODE_URL", raising=False)
    monkeypatch.delenv("PROML_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="PROML_NODE_URL"):
        sdk.connect()


def test_a_training_script_reports_its_lifecycle(node: Node, tmp_path: Path) -> None:
    data = node.register_dataset(write(tmp_path / "train.csv", os.urandom(3000)), name="train")
    # Used at once, before its registration has a block.
    model = node.register_model(name="clf", ancestors=[data])
    for activity in ("select_data", "preprocess", "engineer_features"):
        model.record(activity, inputs={"train": data})
    weights = write(tmp_path / "model.bin", os.urandom(20_000))
    with model.activity("train", inputs={"train": data}, params={"C": 1.0}) as act:
        act.metric("train_accuracy", 0.97)
        act.output("weights", weights)
    assert act.record is not None
    trained = act.record.wait()
    assert (trained.accepted, trained.seq) == (True, 4)
    assert model.address.startswith("0x")
    history = model.history()
    assert [r["activity"] for r in history] == [
        "register",
        "select_data",
        "preprocess",
        "engineer_features",
        "train",
    ]
    assert node.verify(model, weights)["result"] == "OK"
    assert node.verify(model, write(tmp_path / "other.bin", os.urandom(20_000)))["result"] == "MISMATCH"
    assert node.verify_history(model)["ok"] is True


def test_an_activity_that_raises_is_recorded_with_the_failure(node: Node, devnet_org: dict[str, Any]) -> None:
    model = node.register_model(name="fails")
    with pytest.raises(ZeroDivisionError), model.activity("select_data") as act:
        act.metric("rows", 10)
        1 / 0  # noqa: B018
    assert act.record is not None
    act.record.wait()
    assert model.history()[-1]["activity"] == "select_data"
    assert node.verify_history(model)["ok"] is True
    document = record_document(devnet_org, act.record.view["record_cid"])
    assert document["notes"].startswith("failed: ZeroDivisionError: division by zero at test_sdk.py:")
    assert document["metrics"] == {"rows": 10}


def record_document(org: dict[str, Any], cid: str) -> dict[str, Any]:
    """A record document as the node serves it from IPFS."""
    response = httpx.get(
        f"{org['node_url']}/v1/payloads/{cid}", headers={"Authorization": f"Bearer {org['api_key']}"}
    )
    document: dict[str, Any] = response.json()
    return document


def test_digest_only_uploads_nothing(node: Node, devnet_org: dict[str, Any], tmp_path: Path) -> None:
    private = write(tmp_path / "private.csv", os.urandom(1000))
    data = node.register_dataset(private, name="private", publish=False)
    entry = data.wait()
    assert node.verify(data, private)["result"] == "OK"
    assert data.digest is not None and data.digest.startswith("sha256:")
    # The registration's record document names the content by digest and size only: no CID to fetch.
    document = record_document(devnet_org, entry.view["record_cid"])
    assert document["outputs"] == [
        {"name": "private", "kind": "dataset", "digest": data.digest, "size": 1000}
    ]


def test_a_transition_the_state_machine_refuses_is_kept_not_raised(node: Node) -> None:
    model = node.register_model(name="early")
    with pytest.warns(TransitionRejected, match="from which it accepts only select_data, retire"):
        deployed = model.record("deploy").wait()
    assert deployed.accepted is False
    assert model.history()[-1]["accepted"] is False


def test_errors_are_typed_and_say_what_to_do(node: Node, tmp_path: Path) -> None:
    data = node.register_dataset(digest="sha256:" + "cd" * 32, name="typed")
    with pytest.raises(RequestRejected) as rejected:
        data.record("train")
    assert (rejected.value.status, rejected.value.field) == (400, "activity")
    with pytest.raises(AuthenticationError, match="PROML_API_KEY"):
        sdk.connect(node.transport.url, "proml_not-a-key").register_model(name="x")
    with pytest.raises(NodeUnavailable, match="does not answer"):
        sdk.connect(f"http://127.0.0.1:{free_port()}", "k").register_model(name="x")


def test_the_sdk_imports_without_fastapi_or_web3() -> None:
    code = "import sys, proml.sdk; sys.exit(int('fastapi' in sys.modules or 'web3' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_upload_reports_progress_as_the_file_goes(node: Node, tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 5)
    sent: list[int] = []
    stored = node.upload(write(tmp_path / "big.bin", data), progress=sent.append)
    assert sum(sent) == len(data) == stored["size"]
    assert len(sent) == 4  # 1 MiB chunks


def test_the_index_reads_as_typed_values_and_a_rollback_lands(node: Node, tmp_path: Path) -> None:
    data = node.register_dataset(write(tmp_path / "typed.csv", os.urandom(3000)), name="typed")
    model = node.register_model(name="typed-model", ancestors=[node.asset_ref(data.ref)])
    for activity in ("select_data", "preprocess"):
        node.record(model, activity, inputs={"train": data}).wait()
    rolled = node.rollback(model.address, to_seq=1, reason="preprocessing was wrong").wait()
    assert (rolled.accepted, node.entry(rolled.view["ref"]).status) == (True, "final")

    details = node.asset_details(model)
    assert (details.kind, details.state, details.ancestors) == ("model", "data_selected", (data.address,))
    assert [r.activity for r in details.history] == ["register", "select_data", "preprocess", "rollback"]
    assert (
        details.history[-1].rollback_to == 1 and details.to_dict()["history"][-1]["rollback"]["to_seq"] == 1
    )
    assert node.history(model) == list(details.history)
    assert [a.address for a in node.assets(kind="model")].count(model.address) == 1
    assert data.address not in [a.address for a in node.assets(kind="model")]
    lineage = node.lineage(model)
    assert lineage.root == model.address
    assert LineageEdge(data.address, model.address, "ancestor") in lineage.edges
    assert {n.address for n in lineage.nodes} == {data.address, model.address}


def test_governance_and_health_read_as_typed_values(node: Node, devnet_org: dict[str, Any]) -> None:
    (member,) = node.members()
    assert (member.address.lower(), member.status) == (devnet_org["address"].lower(), "active")
    # The threshold it has already: the proposal is real and executes at once (one member of one).
    proposed = node.propose_threshold(5000).wait()
    assert proposed.status == "final"
    proposal = eventually(
        lambda: next((p for p in node.proposals() if p.kind == "change_threshold"), None), "it is indexed"
    )
    assert (proposal.threshold_bps, proposal.executed, proposal.approvals) == (5000, True, 1)
    info = node.consortium()
    assert (info.threshold_bps, info.active_members, info.approvals_needed) == (5000, 1, 1)
    assert info.registry == node.health()["registry"] and info.to_dict()["members"] == [member.to_dict()]

    status = sdk.node_status(devnet_org["node_url"])
    assert (status.ok, status.chain_ok, status.ipfs_ok) == (True, True, True)
    assert status.org == node.status().org and status.to_dict()["status"] == "ok"
    with pytest.raises(NodeUnavailable) as nobody:
        sdk.node_status(f"http://127.0.0.1:{free_port()}")
    assert nobody.value.reason == "ConnectError"


def test_an_audit_runs_from_a_script(node: Node, tmp_path: Path) -> None:
    data = node.register_dataset(write(tmp_path / "audited.csv", os.urandom(3000)), name="audited")
    model = node.register_model(name="audited-model", ancestors=[data])
    node.record(model, "select_data", inputs={"train": data}).wait()
    report = audit(node, model.address)
    assert report.ok and report.gaps == () and report.scope == model.address
    assert {a.address for a in report.assets} == {data.address, model.address}
    assert [(p.where, p.available) for a in report.assets for p in a.payloads] == [("content", True)]
    assert report.to_dict()["assets"][0]["verification"]["result"] == "OK"


def test_a_payload_downloads_whole_and_one_that_is_not_as_recorded_writes_nothing(
    node: Node, tmp_path: Path
) -> None:
    content = os.urandom(50_000)
    stored = node.upload(write(tmp_path / "sent.bin", content))
    seen: list[int] = []
    back = node.download(stored["cid"], tmp_path / "back.bin", digest=stored["digest"], progress=seen.append)
    assert back.read_bytes() == content and sum(seen) == len(content)
    other = str(digest_bytes(b"something else"))
    with pytest.raises(PayloadMismatch):
        node.download(stored["cid"], tmp_path / "wrong.bin", digest=other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.bin", "sent.bin"]
