"""Verification tells the truth, on a real two-organisation devnet (A has every role, B every role but
VALIDATOR): a file that only refused records hold is not OK, `wait()` says when a record was refused, a
payload whose stored copy is not the recorded one is named, and a document cannot name another
organisation. The last test removes B and admits it again under another name: it runs last."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from proml import sdk
from proml.cli.main import cli
from proml.contracts import calls
from proml.core.content.digest import digest_file
from proml.core.records import SCHEMA, RecordDocument, rfc3339
from proml.core.workflow import Activity, AssetKind
from proml.devnet import devnet
from proml.devnet.anvil import CHAIN_ID
from proml.devnet.orgs import private_key
from proml.devnet.state import Layout
from proml.node.clients.chain import ChainClient
from proml.node.clients.ipfs import IpfsClient
from proml.node.providers.blockchain import BlockchainProvider
from proml.node.providers.signer import Signer
from proml.node.providers.storage import StorageProvider
from proml.sdk import Node, TransitionRejected
from tests.integration.polling import eventually, wait_entry


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("truth") / "devnet"
    try:
        devnet.up(folder, 2, chain="anvil")
        yield folder
    finally:
        devnet.down(folder)


@pytest.fixture(scope="module")
def orgs(root: Path) -> dict[str, dict[str, Any]]:
    return {org["name"]: org for org in devnet.status(root)["orgs"]}


@pytest.fixture(scope="module")
def a(orgs: dict[str, dict[str, Any]]) -> Iterator[Node]:
    with sdk.connect(orgs["A"]["node_url"], orgs["A"]["api_key"]) as node:
        yield node


@pytest.fixture(scope="module")
def b(orgs: dict[str, dict[str, Any]]) -> Iterator[Node]:
    with sdk.connect(orgs["B"]["node_url"], orgs["B"]["api_key"]) as node:
        yield node


def run(org: dict[str, Any], *args: str) -> Result:
    env = {"PROML_NODE_URL": org["node_url"], "PROML_API_KEY": org["api_key"]}
    return CliRunner().invoke(cli, list(args), env=env)


def audit(org: dict[str, Any], asset: str, out: Path) -> tuple[int, dict[str, Any]]:
    result = run(org, "audit", asset, "--out", str(out), "--json")
    return result.exit_code, json.loads(result.stdout)


def write(path: Path, size: int = 3000) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_a_file_only_refused_records_hold_is_rejected_only_not_ok(
    a: Node, orgs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    weights = write(tmp_path / "weights.bin")
    model = a.register_model(name="trained-too-early")
    with pytest.warns(TransitionRejected) as warned:
        refused = model.record("train", outputs={"weights": weights}).wait()
    assert refused.accepted is False
    rejection = warned[0].message
    assert isinstance(rejection, TransitionRejected) and refused.rejection is rejection
    assert (rejection.activity, rejection.state) == ("train", "registered")
    assert rejection.allowed_activities == ("select_data", "retire")
    assert "in state registered, from which it accepts only select_data, retire" in str(rejection)

    report = a.verify(model, weights)
    assert (report["result"], report["ok"]) == ("REJECTED_ONLY", False)
    assert [(m["seq"], m["activity"], m["accepted"]) for m in report["matches"]] == [(1, "train", False)]
    assert all("accepted" in r for r in report["recorded"])
    shown = run(orgs["A"], "verify", model.address, str(weights))
    assert shown.exit_code == 1, shown.output
    assert shown.output.startswith("REJECTED_ONLY: ")
    assert "the only records of this file were refused by the state machine" in shown.output
    assert "seq 1 train output" in shown.output and "REFUSED by the state machine" in shown.output

    for step in ("select_data", "preprocess", "engineer_features"):
        model.record(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TransitionRejected)
        trained = model.record("train", outputs={"weights": weights}).wait()
    assert trained.accepted is True and trained.rejection is None
    report = a.verify(model, weights)
    assert (report["result"], report["ok"]) == ("OK", True)
    assert [(m["seq"], m["accepted"]) for m in report["matches"]] == [(1, False), (5, True)]
    assert run(orgs["A"], "verify", model.address, str(weights)).exit_code == 0
    other = run(orgs["A"], "verify", model.address, str(write(tmp_path / "other.bin")))
    assert other.exit_code == 1 and other.output.startswith("MISMATCH: ")


def test_record_wait_prints_the_state_and_the_activities_accepted_from_it(
    orgs: dict[str, dict[str, Any]],
) -> None:
    registered = run(orgs["A"], "model", "register", "--name", "cli-early", "--wait", "--json")
    assert registered.exit_code == 0, registered.output
    address = json.loads(registered.stdout)["asset"]
    refused = run(orgs["A"], "model", "record", address, "evaluate", "--wait")
    assert refused.exit_code == 1, refused.output
    assert "Refused: the state machine refused evaluate on" in refused.output
    assert "in state registered, from which it accepts only select_data, retire" in refused.output


def test_the_audit_names_files_only_refused_records_hold(
    a: Node, orgs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    model = a.register_model(name="refused-only")
    with pytest.warns(TransitionRejected):
        model.record("train", outputs={"weights": write(tmp_path / "w.bin")}).wait()
    code, report = audit(orgs["A"], model.address, tmp_path)
    assert code == 1
    assert [(g["gap"], g["asset"], g.get("seq")) for g in report["gaps"]] == [
        ("only_rejected_records", model.address, 1)
    ]


def test_the_audit_names_a_deploy_of_weights_a_refused_train_produced(
    a: Node, orgs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    bad, good = write(tmp_path / "bad.bin"), write(tmp_path / "good.bin")
    model = a.register_model(name="swapped-before-deploy")
    model.record("select_data")
    model.record("train", outputs={"weights": bad})  # refused: the model's data is not prepared
    model.record("preprocess")
    model.record("engineer_features")
    model.record("train", outputs={"weights": good})
    model.record("evaluate", inputs={"model": good})
    model.record("validate", inputs={"model": bad})  # the weights the refused train produced
    deployed = model.record("deploy").wait()
    assert deployed.accepted is True and deployed.seq == 8

    code, report = audit(orgs["A"], model.address, tmp_path)
    assert code == 1
    gaps = [(g["gap"], g.get("seq")) for g in report["gaps"]]
    assert gaps == [("deployed_weights_rejected", 8)], gaps
    assert str(digest_file(bad)).removeprefix("sha256:") in report["gaps"][0]["detail"]


def test_a_payload_whose_stored_copy_is_not_the_recorded_one_is_named(
    a: Node, orgs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    stored = a.upload(write(tmp_path / "stored.bin"))
    claimed = str(digest_file(write(tmp_path / "claimed.bin")))
    model = a.register_model(name="tampered")
    model.record("select_data", outputs={"split": write(tmp_path / "split.bin")})
    forged = {"kind": "file", "digest": claimed, "cid": stored["cid"], "size": stored["size"]}
    model.record("preprocess", outputs={"features": forged}).wait()

    unchecked = a.verify_history(model)
    assert unchecked["ok"] and not unchecked["payloads_checked"]
    assert [(p["seq"], p["ok"]) for p in unchecked["payloads"]] == [(1, None), (2, None)]

    checked = a.verify_history(model, payloads=True)
    assert (checked["ok"], checked["result"], checked["problems"]) == (False, "FAILED", [])
    assert [(p["seq"], p["name"], p["ok"]) for p in checked["payloads"]] == [
        (1, "split", True),
        (2, "features", False),
    ]
    [problem] = checked["payload_problems"]
    assert problem.startswith(f"record 2: output features ({stored['cid']}): ")
    assert claimed in problem and checked["asset"] == model.address

    code, report = audit(orgs["A"], model.address, tmp_path)
    assert code == 1
    [gap] = report["gaps"]
    assert (gap["gap"], gap["asset"], gap["seq"]) == ("payload_unavailable", model.address, 2)
    assert stored["cid"] in gap["detail"]


def _forge(root: Path, org: dict[str, Any], asset: str, named: str) -> None:
    """Sign with `org`'s key, outside its node, a `collect` whose record document names `named`."""
    document = RecordDocument.from_dict(
        {
            "schema": SCHEMA,
            "asset": asset.lower(),
            "activity": "collect",
            "actor": {"name": named, "address": org["address"].lower()},
            "inputs": [],
            "outputs": [],
            "parameters": {},
            "metrics": {},
            "environment": {"python": "3.12", "packages": {}},
            "started_at": rfc3339(),
            "ended_at": rfc3339(),
        }
    ).to_json_bytes()

    async def store() -> bytes:
        async with IpfsClient(org["ipfs_api"]) as ipfs:
            [cid] = await StorageProvider(ipfs).add_documents([document])
        return bytes(cid.to_bytes())

    call = calls.ActivityCall(
        asset=asset,
        kind=AssetKind.DATASET,
        activity=Activity.COLLECT,
        record_digest=hashlib.sha256(document).digest(),
        record_cid=asyncio.run(store()),
        inputs=(),
        outputs=(),
    )
    signer = Signer(private_key(Layout(root), org["name"]))
    chain = BlockchainProvider(ChainClient(devnet.status(root)["chain_url"]), signer, CHAIN_ID)
    assert chain.transact(asset, calls.activity(call)).succeeded


def _verification(node: Node, asset: str, records: int) -> dict[str, Any]:
    def indexed() -> dict[str, Any] | None:
        report = node.verify_history(asset)
        return report if report["records"] >= records else None

    return eventually(indexed, f"{records} records of {asset} are indexed")


def test_a_document_naming_another_organisation_is_reported_and_nodes_write_on_chain_names(
    root: Path, a: Node, b: Node, orgs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    data = b.register_dataset(write(tmp_path / "b.csv"), name="b-data")
    address = data.address
    a.asset(address)
    _forge(root, orgs["B"], address, named="A")
    report = _verification(a, address, 2)
    signer = orgs["B"]["address"]
    assert report["problems"] == [
        f"record 1: the document's actor is named 'A', but its signer {signer} is the member 'B' on chain"
    ]

    # B is removed and admitted again as "Bravo": its node, still configured as org "B", now names its
    # organisation "Bravo" in its documents; the records it signed as "B" still verify.
    admin_a, admin_b = _admin(orgs["A"]), _admin(orgs["B"])
    removal = wait_entry(admin_a, _post(admin_a, "/v1/proposals", kind="suspend_member", account=signer))
    wait_entry(admin_b, _post(admin_b, f"/v1/proposals/{removal['proposal_id']}/approvals"))
    roles = ["data_admin", "model_developer", "auditor"]
    readmit = {"kind": "add_member", "account": signer, "name": "Bravo", "roles": roles}
    wait_entry(admin_a, _post(admin_a, "/v1/proposals", **readmit))
    eventually(
        lambda: True if {m["name"] for m in b.transport.get("/v1/members")} == {"A", "Bravo"} else None,
        "B's node indexes its readmission",
    )
    renamed = b.register_dataset(write(tmp_path / "bravo.csv"), name="bravo-data")
    renamed.record("collect").wait()
    document = admin_a.get(f"/v1/payloads/{b.transport.get(f'/v1/assets/{renamed.address}')['record_cid']}")
    assert document.json()["actor"] == {"name": "Bravo", "address": signer.lower()}
    a.asset(renamed.address)
    assert _verification(a, renamed.address, 2)["problems"] == []
    assert _verification(a, address, 2)["problems"] == report["problems"]


def _admin(org: dict[str, Any]) -> httpx.Client:
    return httpx.Client(
        base_url=org["node_url"], headers={"Authorization": f"Bearer {org['api_key']}"}, timeout=60
    )


def _post(http: httpx.Client, path: str, **body: Any) -> str:
    response = http.post(path, json=body or None)
    assert response.status_code in (200, 202), response.text
    return str(response.json()["id"])
