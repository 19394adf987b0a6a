"""One node, in process, against a real anvil and a real IPFS daemon: capture, the submitter, the index,
queries and the API's errors, through the HTTP API (FastAPI's TestClient runs the app's lifespan)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address
from fastapi.testclient import TestClient

from proml.core.records import MAX_DOCUMENT_BYTES
from proml.core.workflow import TRANSITIONS
from proml.node.api.models import ASSET_REF_PATTERN
from proml.node.composition import NodeSetupError
from proml.node.config import NodeConfig
from proml.node.providers.blockchain import BlockchainProviderError
from proml.node.runtime import NodeRuntime
from proml.node.services.api_keys import Scope
from tests.integration.polling import eventually, wait_entry
from tests.integration.single_node import running_node

# Recorded by digest only: nothing uploaded.
DIGEST_ONLY = {"digest": "sha256:" + "ab" * 32}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # anvil automines: no block comes after the last transaction, so one confirmation
    with running_node(tmp_path_factory.mktemp("node"), confirmations=1) as (test_client, _, node):
        test_client.keys = {  # type: ignore[attr-defined]
            scope: node.services.api_keys.create(scope.value, (scope,))[1] for scope in Scope
        }
        test_client.node = node  # type: ignore[attr-defined]
        yield test_client


def auth(client: TestClient, scope: Scope = Scope.ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.keys[scope]}"}  # type: ignore[attr-defined]


def wait_for(client: TestClient, entry_id: str, status: str = "final") -> dict[str, Any]:
    return wait_entry(client, entry_id, headers=auth(client), status=status)


def wait_indexed(client: TestClient, address: str, records: int) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        response = client.get(f"/v1/assets/{address}", headers=auth(client, Scope.READ))
        if response.status_code == 200 and len(response.json()["history"]) >= records:
            body: dict[str, Any] = response.json()
            return body
        return None

    return eventually(probe, f"{records} records of {address} are indexed")


def upload(client: TestClient, data: bytes) -> dict[str, Any]:
    response = client.post("/v1/payloads", content=data, headers=auth(client, Scope.WRITE))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_health_reports_chain_ipfs_outbox_and_index(client: TestClient) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["chain"]["ok"] and health["ipfs"]["ok"]
    assert {"depth", "error"} <= set(health["outbox"])
    assert {"cursor", "lag"} <= set(health["index"])
    # The organisation's address, read from its keystore without decrypting it, in its EIP-55 form.
    assert health["address"] == to_checksum_address(health["address"]) != health["address"].lower()


def test_a_background_process_that_dies_is_started_again(client: TestClient) -> None:
    first = client.get("/v1/health").json()["background"]
    assert first["running"] and first["pid"] != os.getpid()
    os.kill(first["pid"], signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        background: dict[str, Any] = client.get("/v1/health").json()["background"]
        return background if background["running"] and background["pid"] != first["pid"] else None

    eventually(restarted, "the node starts a new background process", timeout=60)
    registered = client.post("/v1/models", json={"name": "after"}, headers=auth(client, Scope.WRITE))
    assert wait_for(client, registered.json()["id"])["status"] == "final"


def test_a_wrong_passphrase_stops_the_node_before_it_serves(client: TestClient, tmp_path: Path) -> None:
    config: NodeConfig = client.node.config  # type: ignore[attr-defined]
    wrong = tmp_path / "wrong-passphrase"
    wrong.write_text("not-the-passphrase\n")
    node = NodeRuntime(replace(config, data_dir=tmp_path / "data", passphrase_file=wrong))
    try:
        with pytest.raises(NodeSetupError) as refused:
            node.start_background()
        assert "passphrase" in str(refused.value)
        assert "not-the-passphrase" not in str(refused.value)
        assert not node.background.running
    finally:
        asyncio.run(node.stop())


def test_the_next_nonce_is_stored_with_each_signed_transaction(client: TestClient) -> None:
    node: NodeRuntime = client.node  # type: ignore[attr-defined]
    registered = client.post("/v1/models", json={"name": "nonce"}, headers=auth(client, Scope.WRITE))
    wait_for(client, registered.json()["id"])
    sent = node.services.chain_client.get_transaction_count(node.services.address, "latest")
    # Every transaction the background process sent was stored first, with the nonce after it.
    assert node.services.outbox.next_nonce(node.services.address) == sent


def test_the_api_side_of_a_node_holds_no_key(client: TestClient) -> None:
    node: NodeRuntime = client.node  # type: ignore[attr-defined]
    assert node.services.chain.signer is None
    with pytest.raises(BlockchainProviderError, match="no key"):
        node.services.chain.sign({"nonce": 0, "to": node.services.address, "gas": 21000})


def test_register_dataset_then_record_on_its_pending_reference(client: TestClient) -> None:
    content = upload(client, os.urandom(5000))
    registered = client.post(
        "/v1/datasets",
        json={"name": "train", "content": content, "parameters": {"rows": 100}},
        headers=auth(client, Scope.WRITE),
    )
    assert registered.status_code == 202, registered.text
    ref = registered.json()["ref"]
    # Recorded before the registration has a block: it names the registration by its outbox id.
    collected = client.post(
        f"/v1/assets/{ref}/records",
        json={"activity": "collect", "outputs": [{"name": "raw", "kind": "file", **content}]},
        headers=auth(client, Scope.WRITE),
    )
    assert collected.status_code == 202, collected.text
    registration = wait_for(client, registered.json()["id"])
    record = wait_for(client, collected.json()["id"])
    asset = registration["asset"]
    assert record["asset"] == asset
    assert (registration["seq"], record["seq"], record["accepted"]) == (0, 1, True)
    summary = wait_indexed(client, asset, 2)
    assert summary["kind"] == "dataset"
    assert summary["state"] == "collected"
    assert [r["activity"] for r in summary["history"]] == ["register", "collect"]
    assert summary["history"][1]["record_digest"] == record["record_digest"]


def test_several_waiting_records_go_in_one_batch(client: TestClient) -> None:
    registered = client.post("/v1/models", json={"name": "m"}, headers=auth(client, Scope.WRITE)).json()
    asset = wait_for(client, registered["id"], "final")["asset"]
    activities = ["select_data", "preprocess", "engineer_features", "train", "evaluate", "deploy"]
    ids = [
        client.post(
            f"/v1/assets/{asset}/records", json={"activity": a}, headers=auth(client, Scope.WRITE)
        ).json()["id"]
        for a in activities
    ]
    entries = [wait_for(client, i) for i in ids]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5, 6]
    # Deploy without validate is kept, and rejected: the state stays evaluated.
    assert [e["accepted"] for e in entries] == [True] * 5 + [False]
    assert len({e["tx_hash"] for e in entries}) < len(entries)
    assert wait_indexed(client, asset, 7)["state"] == "evaluated"


def test_idempotency_key_records_once(client: TestClient) -> None:
    headers = {**auth(client, Scope.WRITE), "Idempotency-Key": "register-once"}
    first = client.post("/v1/datasets", json={"name": "once", "content": DIGEST_ONLY}, headers=headers)
    again = client.post("/v1/datasets", json={"name": "once", "content": DIGEST_ONLY}, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    conflict = client.post("/v1/datasets", json={"name": "other", "content": DIGEST_ONLY}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_conflict"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/datasets", {"name": ""}, 400, "invalid_request"),
        ("/v1/datasets", {"name": "x", "colour": "red"}, 400, "invalid_request"),
        ("/v1/datasets", {"name": "x", "content": {"digest": "md5:00"}}, 400, "invalid_request"),
        ("/v1/datasets", {"name": "x"}, 400, "invalid_request"),
        ("/v1/models", {"name": "x", "ancestors": ["0x" + "11" * 20]}, 404, "unknown_asset"),
        ("/v1/assets/not-an-address/records", {"activity": "train"}, 400, "invalid_request"),
        ("/v1/assets/" + "0x" + "11" * 20 + "/records", {"activity": ""}, 400, "invalid_request"),
        ("/v1/models", {"name": "x", "metrics": {"loss": 1e16}}, 400, "invalid_record"),
        ("/v1/assets/outbox:" + "0" * 32 + "/records", {"activity": "train"}, 404, "unknown_asset"),
    ],
)
def test_malformed_requests_get_a_problem_not_a_500(
    client: TestClient, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    response = client.post(path, json=body, headers=auth(client, Scope.WRITE))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["detail"]


def test_activity_of_the_wrong_kind_is_refused_before_it_is_queued(client: TestClient) -> None:
    registered = client.post(
        "/v1/datasets", json={"name": "d", "content": DIGEST_ONLY}, headers=auth(client, Scope.WRITE)
    ).json()
    response = client.post(
        f"/v1/assets/{registered['ref']}/records",
        json={"activity": "train"},
        headers=auth(client, Scope.WRITE),
    )
    assert response.status_code == 400
    assert "not a dataset activity" in response.json()["detail"]
    assert response.json()["field"] == "activity"


def test_not_json_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/v1/datasets",
        content=b"{not json",
        headers={**auth(client, Scope.WRITE), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_keys_and_scopes(client: TestClient) -> None:
    assert client.get("/v1/assets").status_code == 401
    wrong = client.get("/v1/assets", headers={"Authorization": "Bearer proml_wrong"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "unauthenticated")
    assert "proml_wrong" not in wrong.text
    read_only = client.post("/v1/datasets", json={"name": "x"}, headers=auth(client, Scope.READ))
    assert (read_only.status_code, read_only.json()["code"]) == (403, "forbidden")
    created = client.post(
        "/v1/keys", json={"name": "ci", "scopes": ["read"]}, headers=auth(client, Scope.ADMIN)
    ).json()
    assert client.get("/v1/assets", headers={"X-API-Key": created["key"]}).status_code == 200
    listed = client.get("/v1/keys", headers=auth(client, Scope.ADMIN)).json()
    assert created["key"] not in str(listed)
    assert client.delete(f"/v1/keys/{created['id']}", headers=auth(client, Scope.ADMIN)).status_code == 204
    assert client.get("/v1/assets", headers={"X-API-Key": created["key"]}).status_code == 401
    assert (
        client.post(
            "/v1/keys", json={"name": "x", "scopes": ["read"]}, headers=auth(client, Scope.WRITE)
        ).status_code
        == 403
    )


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/assets/{asset}/records" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_members_and_lineage(client: TestClient) -> None:
    members = client.get("/v1/members", headers=auth(client, Scope.READ)).json()
    assert [m["name"] for m in members] == ["A"]
    data = client.post(
        "/v1/datasets", json={"name": "parent", "content": DIGEST_ONLY}, headers=auth(client, Scope.WRITE)
    ).json()
    model = client.post(
        "/v1/models", json={"name": "child", "ancestors": [data["ref"]]}, headers=auth(client, Scope.WRITE)
    ).json()
    parent = wait_for(client, data["id"])["asset"]
    child = wait_for(client, model["id"])["asset"]
    wait_indexed(client, child, 1)
    lineage = client.get(f"/v1/assets/{child}/lineage", headers=auth(client, Scope.READ)).json()
    assert {"from": parent, "to": child} in [{"from": e["from"], "to": e["to"]} for e in lineage["edges"]]


def test_verify_a_file_and_a_history(client: TestClient) -> None:
    data = os.urandom(300_000)  # two chunks on IPFS
    content = upload(client, data)
    registered = client.post(
        "/v1/datasets", json={"name": "verified", "content": content}, headers=auth(client, Scope.WRITE)
    ).json()
    asset = wait_for(client, registered["id"])["asset"]
    wait_indexed(client, asset, 1)
    read = auth(client, Scope.READ)
    same = client.post(f"/v1/assets/{asset}/verify", content=data, headers=read).json()
    assert (same["ok"], same["result"]) == (True, "OK")
    assert same["matches"][0]["where"] == "content"
    assert same["matches"][0]["actor_name"] == "A"
    other = client.post(f"/v1/assets/{asset}/verify", content=data + b"!", headers=read).json()
    assert (other["ok"], other["result"]) == (False, "MISMATCH")
    assert other["recorded"][0]["digest"] == "0x" + content["digest"].split(":")[1]
    by_digest = client.post(f"/v1/assets/{asset}/verify", params={"digest": content["digest"]}, headers=read)
    assert by_digest.json()["ok"] is True
    bad_digest = client.post(f"/v1/assets/{asset}/verify", params={"digest": "sha256:zz"}, headers=read)
    assert (bad_digest.status_code, bad_digest.json()["field"]) == (400, "query.digest")
    history = client.get(f"/v1/assets/{asset}/verification", headers=read).json()
    assert (history["ok"], history["chain_ok"], history["records"]) == (True, True, 1)
    assert history["head"] == history["recomputed_head"]
    downloaded = client.get(f"/v1/payloads/{content['cid']}", headers=read)
    assert downloaded.status_code == 200
    assert downloaded.content == data


def test_unknown_asset_is_a_404(client: TestClient) -> None:
    unknown = "0x" + "22" * 20
    for response in (
        client.get(f"/v1/assets/{unknown}", headers=auth(client, Scope.READ)),
        client.post(f"/v1/assets/{unknown}/verify", content=b"x", headers=auth(client, Scope.READ)),
        client.get(f"/v1/assets/{unknown}/verification", headers=auth(client, Scope.READ)),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "unknown_asset"


def test_bad_query_parameters_are_400(client: TestClient) -> None:
    read = auth(client, Scope.READ)
    for path in ("/v1/assets?kind=boat", "/v1/assets?state=sleeping", "/v1/assets/not-an-address"):
        response = client.get(path, headers=read)
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/assets?limit=0", headers=read).status_code == 400


def test_anchor_a_merkle_root_on_a_model(client: TestClient) -> None:
    write = auth(client, Scope.WRITE)
    model = wait_for(client, client.post("/v1/models", json={"name": "anchored"}, headers=write).json()["id"])
    root = "0x" + "5a" * 32
    anchored = client.post(
        f"/v1/assets/{model['asset']}/anchors", json={"root": root, "phase": "before_training"}, headers=write
    )
    assert anchored.status_code == 202, anchored.text
    entry = wait_for(client, anchored.json()["id"])
    assert (entry["activity"], entry["accepted"]) == ("anchor", True)
    last = wait_indexed(client, model["asset"], 2)["history"][-1]
    assert last["anchor"]["root"] == root
    assert last["anchor"]["phase"] == "before_training"
    bad = client.post(
        f"/v1/assets/{model['asset']}/anchors",
        json={"root": "0x12", "phase": "after_training"},
        headers=write,
    )
    assert (bad.status_code, bad.json()["field"]) == (400, "root")


def test_rollback_a_model_with_a_proof_built_by_the_node(client: TestClient) -> None:
    write = auth(client, Scope.WRITE)
    model = wait_for(client, client.post("/v1/models", json={"name": "rolled"}, headers=write).json()["id"])
    asset = model["asset"]
    for activity in ("select_data", "preprocess"):
        wait_for(
            client,
            client.post(f"/v1/assets/{asset}/records", json={"activity": activity}, headers=write).json()[
                "id"
            ],
        )
    wait_indexed(client, asset, 3)
    rolled = client.post(
        f"/v1/assets/{asset}/rollbacks", json={"to_seq": 1, "reason": "bad preprocessing"}, headers=write
    )
    assert rolled.status_code == 202, rolled.text
    entry = wait_for(client, rolled.json()["id"])
    assert (entry["activity"], entry["accepted"], entry["seq"]) == ("rollback", True, 3)
    summary = wait_indexed(client, asset, 4)
    assert summary["state"] == "data_selected"
    assert summary["history"][-1]["rollback"] == {
        "to_seq": 1,
        "accepted": True,
        "reason": "bad preprocessing",
    }
    missing = client.post(f"/v1/assets/{asset}/rollbacks", json={"to_seq": 99, "reason": "x"}, headers=write)
    failed = wait_for(client, missing.json()["id"], "failed")
    assert "no record 99" in failed["error"]


def test_governance_through_the_api(client: TestClient) -> None:
    newcomer = "0x" + "7b" * 20
    body = {"kind": "add_member", "account": newcomer, "name": "D", "roles": ["data_admin"]}
    assert client.post("/v1/proposals", json=body, headers=auth(client, Scope.WRITE)).status_code == 403
    proposed = client.post("/v1/proposals", json=body, headers=auth(client, Scope.ADMIN))
    assert proposed.status_code == 202, proposed.text
    entry = wait_for(client, proposed.json()["id"])
    assert entry["function"] == "proposeAddMember"
    assert entry["proposal_id"] == 0

    # A alone is every active member: its proposal carries, and D is a member once indexed.
    def admitted() -> bool | None:
        members = client.get("/v1/members", headers=auth(client)).json()
        return newcomer.lower() in [m["address"].lower() for m in members] or None

    eventually(admitted, "D is a member")
    unknown = client.post("/v1/proposals/42/approvals", headers=auth(client, Scope.ADMIN))
    assert "the chain refuses it" in wait_for(client, unknown.json()["id"], "failed")["error"]
    bad = client.post("/v1/proposals", json={"kind": "change_threshold"}, headers=auth(client, Scope.ADMIN))
    assert (bad.status_code, bad.json()["field"]) == (400, "threshold_bps")


# --- hostile input: bounds, canonical bytes, checksums, the OpenAPI document -------------------------------


def _model(client: TestClient, name: str) -> str:
    registered = client.post("/v1/models", json={"name": name}, headers=auth(client, Scope.WRITE))
    address: str = wait_for(client, registered.json()["id"])["asset"]
    wait_indexed(client, address, 1)
    return address


def _miscased(address: str) -> str:
    """`address` with the case of one letter turned: a wrong EIP-55 checksum, still mixed case."""
    i = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    return address[:i] + address[i].swapcase() + address[i + 1 :]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "n" * 513}, "name"),
        ({"name": "x", "notes": "n" * 65_537}, "notes"),
        ({"name": "x", "parameters": {"k" * 257: 1}}, "parameters"),
        ({"name": "x", "parameters": {"deep": {"text": "v" * 65_537}}}, "parameters"),
        ({"name": "x", "metrics": {"m" * 257: 1}}, "metrics"),
        ({"name": "x", "metrics": {"loss": "low"}}, "metrics.loss"),
        ({"name": "x", "environment": {"python": "3" * 257}}, "environment.python"),
        ({"name": "x", "content": {"digest": DIGEST_ONLY["digest"], "cid": "not a cid"}}, "content.cid"),
        ({"name": "x", "ancestors": ["0x12"]}, "ancestors.0"),
    ],
)
def test_every_string_is_bounded_and_a_refusal_names_its_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/models", json=body, headers=auth(client, Scope.WRITE))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert len(response.text) < 2_000  # the refusal does not echo what it refuses
    assert "[0-9" not in response.text  # a pattern is said in words, not as a regular expression


def test_an_artifact_name_and_kind_are_bounded(client: TestClient) -> None:
    asset = _model(client, "bounded")
    for key, value in (("name", "a" * 513), ("kind", "k" * 65)):
        artifact = {"name": "w", "kind": "file", "digest": DIGEST_ONLY["digest"], key: value}
        response = client.post(
            f"/v1/assets/{asset}/records",
            json={"activity": "train", "outputs": [artifact]},
            headers=auth(client, Scope.WRITE),
        )
        assert (response.status_code, response.json()["field"]) == (400, f"outputs.0.{key}"), response.text


def test_a_record_that_no_node_could_verify_is_refused_before_it_is_stored(client: TestClient) -> None:
    node: NodeRuntime = client.node  # type: ignore[attr-defined]
    depth = node.services.outbox.depth()
    # 1e16 is written 10000000000000000 in canonical JSON, an integer no verifier reads back exactly.
    for metrics, field in (({"loss": 1e16}, "metrics.loss"), ({"bytes": 2**60}, "metrics.bytes")):
        response = client.post(
            "/v1/models", json={"name": "m", "metrics": metrics}, headers=auth(client, Scope.WRITE)
        )
        assert (response.status_code, response.json()["field"]) == (400, field), response.text
    # A body just within the node's body limit, whose document (the body and what the node adds) would be
    # over what verification reads.
    parameters = {f"p{i:02}": "v" * 65_536 for i in range(15)}
    room = MAX_DOCUMENT_BYTES - 64 - len(json.dumps({"name": "big", "parameters": {**parameters, "p15": ""}}))
    parameters["p15"] = "v" * room
    body = json.dumps({"name": "big", "parameters": parameters}).encode()
    assert len(body) == MAX_DOCUMENT_BYTES - 64
    response = client.post(
        "/v1/models", content=body, headers={**auth(client, Scope.WRITE), "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert (response.json()["code"], response.json()["field"]) == ("invalid_record", "parameters")
    assert str(MAX_DOCUMENT_BYTES) in response.json()["detail"]
    assert node.services.outbox.depth() <= depth  # nothing of them was stored


def test_an_address_with_a_wrong_checksum_is_refused_everywhere(client: TestClient) -> None:
    asset = _model(client, "checksummed")
    assert asset == to_checksum_address(asset) != asset.lower()
    wrong = _miscased(asset)
    read, write, admin = auth(client, Scope.READ), auth(client, Scope.WRITE), auth(client, Scope.ADMIN)
    artifact = {"name": "base", "kind": "model", "digest": DIGEST_ONLY["digest"], "asset": wrong}
    refused = [
        client.get(f"/v1/assets/{wrong}", headers=read),
        client.get(f"/v1/assets/{wrong}/history", headers=read),
        client.get(f"/v1/assets/{wrong}/lineage", headers=read),
        client.get(f"/v1/assets/{wrong}/verification", headers=read),
        client.post(f"/v1/assets/{wrong}/verify", params={"digest": DIGEST_ONLY["digest"]}, headers=read),
        client.get(
            "/v1/assets",
            params={"owner": _miscased(client.get("/v1/health").json()["address"])},
            headers=read,
        ),
        client.post(f"/v1/assets/{wrong}/records", json={"activity": "train"}, headers=write),
        client.post("/v1/models", json={"name": "child", "ancestors": [wrong]}, headers=write),
        client.post(
            f"/v1/assets/{asset}/records", json={"activity": "train", "inputs": [artifact]}, headers=write
        ),
        client.post("/v1/proposals", json={"kind": "suspend_member", "account": wrong}, headers=admin),
    ]
    for response in refused:
        assert response.status_code == 400, (response.request.url, response.text)
        assert "checksum" in response.json()["detail"], response.text
    # No checksum to check: all lower case, or all upper case after 0x.
    for spelling in (asset.lower(), "0x" + asset[2:].upper()):
        assert client.get(f"/v1/assets/{spelling}", headers=read).json()["address"] == asset
    accepted = client.post(f"/v1/assets/{asset.lower()}/records", json={"activity": "train"}, headers=write)
    assert accepted.status_code == 202, accepted.text


def test_positions_beyond_what_sqlite_holds_are_400(client: TestClient) -> None:
    asset = _model(client, "positions")
    read = auth(client, Scope.READ)
    for path in (
        f"/v1/assets?offset={2**63}",
        f"/v1/assets/{asset}/history?since={2**63}",
        f"/v1/assets?offset={2**53}",
        "/v1/assets?limit=1001",
        f"/v1/proposals/{2**64}/approvals",
    ):
        method = client.post if path.endswith("approvals") else client.get
        response = method(path, headers=auth(client, Scope.ADMIN) if path.endswith("approvals") else read)
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/v1/assets?offset={2**53 - 1}", headers=read).json() == []
    assert client.get(f"/v1/assets/{asset}/history?since={2**53 - 1}", headers=read).json() == []


def test_a_method_not_allowed_says_which_are(client: TestClient) -> None:
    response = client.delete("/v1/keys", headers=auth(client))
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert client.put("/v1/health").headers["allow"] == "GET, HEAD"


def test_the_openapi_document_declares_what_the_node_answers(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "Problem" in schemas and "HTTPValidationError" not in schemas
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert "422" not in answers, (method, path)
            assert any(s.startswith("2") for s in answers), (method, path)
            for status, answer in answers.items():
                if status.startswith("2") or (path, status) == ("/v1/health", "503"):
                    assert status == "204" or answer["content"], (method, path, status)
                else:
                    assert answer["content"] == {
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }, (method, path, status)
            if path != "/v1/health":
                assert "401" in answers, (method, path)
    # As strict as the validation: a dataset has content, an activity is one the state machines know.
    assert "content" in schemas["DatasetRegistration"]["required"]
    activities = set(schemas["RecordRequest"]["properties"]["activity"]["enum"])
    assert activities == {a.name.lower() for kind in TRANSITIONS.values() for a in kind}
    record = spec["paths"]["/v1/assets/{asset}/records"]["post"]
    assert record["parameters"][0]["schema"]["pattern"] == ASSET_REF_PATTERN
    ack = record["responses"]["202"]
    assert ack["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OutboxEntry"}
    assert "Location" in ack["headers"]
    upload_body = spec["paths"]["/v1/payloads"]["post"]["requestBody"]
    assert (upload_body["required"], list(upload_body["content"])) == (True, ["application/octet-stream"])


def test_a_cid_that_is_not_a_file_is_a_502_not_a_500(client: TestClient) -> None:
    # An empty UnixFS directory, inline in its CID (identity hash): IPFS holds it without a fetch and
    # answers `cat` with an error of its own.
    directory = bytes([0x01, 0x70, 0x00, 0x04, 0x0A, 0x02, 0x08, 0x01])
    cid = "b" + base64.b32encode(directory).decode().lower().rstrip("=")
    response = client.get(f"/v1/payloads/{cid}", headers=auth(client, Scope.READ))
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "ipfs_error"
    assert "directory" in response.json()["detail"]
    spec = client.get("/openapi.json").json()
    assert "502" in spec["paths"]["/v1/payloads/{cid}"]["get"]["responses"]


def test_a_download_with_another_digest_than_its_content_is_a_409_not_a_server_error(
    client: TestClient,
) -> None:
    # Found by fuzzing: IPFS served exactly what the CID names; the request's digest is what is wrong.
    content = upload(client, b"the payload")
    response = client.get(
        f"/v1/payloads/{content['cid']}",
        params={"digest": "sha256:" + "fd" * 32},
        headers=auth(client, Scope.READ),
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "digest_mismatch"
    assert content["digest"] in response.json()["detail"]
