"""Three organisations on a real consortium devnet: per organisation a geth Clique sealer, a Kubo daemon in
one private network, an IPFS Cluster peer and a node process (`proml node start`), all talking over HTTP as
users would; and the faults a consortium meets: a sealer that stops, a reorganised block, a lost IPFS
repository, a member that unpins another's payload, an organisation that joins.

A registers nothing of its own here: it is the commissioning company that validates and audits; B supplies
data; C develops the model.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from proml.cli.main import cli
from proml.devnet import devnet, kubo, steps
from proml.devnet.state import Layout
from proml.node.clients.chain import ChainClient
from proml.node.clients.ipfs import IpfsClient
from tests.integration.polling import eventually, wait_entry


class Org:
    def __init__(self, info: dict[str, Any]) -> None:
        self.name: str = info["name"]
        self.address: str = info["address"]
        self.url: str = info["node_url"]
        self.key: str = info["api_key"]
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60
        )

    def post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.post(path, **kwargs)
        assert response.status_code in (200, 201, 202), response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.http.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def upload(self, data: bytes) -> dict[str, Any]:
        return self.post("/v1/payloads", content=data)

    def final(self, entry: dict[str, Any]) -> dict[str, Any]:
        return wait_entry(self.http, entry["id"])

    def indexed(self, asset: str, records: int) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            response = self.http.get(f"/v1/assets/{asset}")
            if response.status_code == 200 and len(response.json()["history"]) >= records:
                body: dict[str, Any] = response.json()
                return body
            return None

        return eventually(found, f"{self.name} indexes {records} records of {asset}")


async def pinned(ipfs_api: str, cid: str) -> bool:
    async with IpfsClient(ipfs_api) as ipfs:
        return bool(await ipfs.is_pinned(cid))


def wait_stopped(root: Path, process: str) -> None:
    eventually(
        lambda: None if devnet.status(root)["processes"][process]["running"] else True, f"{process} stops"
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("consortium") / "devnet"
    try:
        devnet.up(folder, 3)
        yield folder
    finally:
        devnet.down(folder)


@pytest.fixture(scope="module")
def orgs(root: Path) -> dict[str, Org]:
    return {info["name"]: Org(info) for info in devnet.status(root)["orgs"]}


def register_dataset(org: Org, data: bytes, name: str, **extra: Any) -> tuple[dict[str, Any], str]:
    content = org.upload(data)
    entry = org.final(org.post("/v1/datasets", json={"name": name, "content": content, **extra}))
    return content, entry["asset"]


def test_a_dataset_registered_on_b_is_seen_on_a_and_c(orgs: dict[str, Org]) -> None:
    _, asset = register_dataset(orgs["B"], os.urandom(1000), "kdd-train")
    for name in ("A", "C"):
        seen = orgs[name].indexed(asset, 1)
        assert (seen["owner"], seen["owner_name"], seen["kind"]) == (orgs["B"].address, "B", "dataset")
        listed = orgs[name].get("/v1/assets", params={"owner": orgs["B"].address, "kind": "dataset"})
        assert asset in [a["address"] for a in listed]


def test_full_model_lifecycle_and_verification(orgs: dict[str, Org]) -> None:
    a, b, c = orgs["A"], orgs["B"], orgs["C"]
    _, dataset = register_dataset(b, os.urandom(2000), "train-split")
    c.indexed(dataset, 1)
    model = c.final(c.post("/v1/models", json={"name": "ids", "ancestors": [dataset]}))["asset"]
    weights = os.urandom(50_000)
    published = c.upload(weights)
    data_input = {"name": "train", "kind": "dataset", "digest": "sha256:" + "00" * 32, "asset": dataset}
    steps: list[tuple[Org, str, dict[str, Any]]] = [
        (c, "select_data", {"inputs": [data_input]}),
        (c, "preprocess", {}),
        (c, "engineer_features", {}),
        (
            c,
            "train",
            {"outputs": [{"name": "weights", "kind": "model", **published}], "parameters": {"C": 1}},
        ),
        (c, "evaluate", {"metrics": {"accuracy": 0.97}}),
    ]
    for org, activity, body in steps:
        org.post(f"/v1/assets/{model}/records", json={"activity": activity, **body})
    a.indexed(model, 6)  # A validates what it can see
    a.final(a.post(f"/v1/assets/{model}/records", json={"activity": "validate"}))
    c.indexed(model, 7)
    c.final(c.post(f"/v1/assets/{model}/records", json={"activity": "deploy"}))
    history = a.indexed(model, 8)
    assert history["state"] == "deployed"
    assert [(r["activity"], r["actor_name"], r["accepted"]) for r in history["history"]] == [
        ("register", "C", True),
        ("select_data", "C", True),
        ("preprocess", "C", True),
        ("engineer_features", "C", True),
        ("train", "C", True),
        ("evaluate", "C", True),
        ("validate", "A", True),
        ("deploy", "C", True),
    ]
    lineage = a.get(f"/v1/assets/{model}/lineage")
    assert {(e["from"], e["to"]) for e in lineage["edges"]} >= {(dataset, model)}
    # A, the auditor, checks the model it received against what C recorded.
    delivered = a.post(f"/v1/assets/{model}/verify", content=weights)
    assert (delivered["result"], delivered["matches"][0]["activity"]) == ("OK", "train")
    swapped = a.post(f"/v1/assets/{model}/verify", content=os.urandom(50_000))
    assert swapped["result"] == "MISMATCH"
    assert {(r["activity"], r["actor_name"]) for r in swapped["recorded"]} >= {("train", "C")}
    whole = a.get(f"/v1/assets/{model}/verification")
    assert (whole["ok"], whole["records"]) == (True, 8), whole["problems"]


def test_a_lost_ipfs_repository_is_served_by_the_others_and_pinned_again(
    root: Path, orgs: dict[str, Org]
) -> None:
    a, b = orgs["A"], orgs["B"]
    data = os.urandom(400_000)
    content, asset = register_dataset(b, data, "replicated")
    a.indexed(asset, 1)
    status = devnet.status(root)
    kubo_a, kubo_b = (org["ipfs_api"] for org in status["orgs"][:2])
    eventually(lambda: True if asyncio.run(pinned(kubo_a, content["cid"])) else None, "A holds B's payload")

    os.kill(status["processes"]["ipfs:B"]["pid"], signal.SIGTERM)
    wait_stopped(root, "ipfs:B")
    assert not b.http.get("/v1/health").json()["ipfs"]["ok"]
    kubo.wipe_content(Layout(root).ipfs_repo("B"))  # B's disk lost its content, not its keys
    fetched = a.http.get(f"/v1/payloads/{content['cid']}", params={"digest": content["digest"]})
    assert fetched.status_code == 200, fetched.text
    assert fetched.content == data

    devnet.up(root)  # B's Kubo comes back empty
    eventually(lambda: True if asyncio.run(pinned(kubo_b, content["cid"])) else None, "B holds it again")
    eventually(
        lambda: True if b.get("/v1/health")["cluster"]["missing_here"] == 0 else None,
        "B's health says it holds every recorded CID",
    )


def test_a_payload_a_member_unpins_from_the_cluster_comes_back(root: Path, orgs: dict[str, Org]) -> None:
    b = orgs["B"]
    content, asset = register_dataset(b, os.urandom(5000), "unpinned-by-c")
    orgs["C"].indexed(asset, 1)
    cluster_c = devnet.status(root)["orgs"][2]["cluster_api"]
    eventually(
        lambda: True if httpx.get(f"{cluster_c}/allocations/{content['cid']}").status_code == 200 else None,
        "B's payload is in the cluster's pinset",
    )
    assert httpx.delete(f"{cluster_c}/pins/{content['cid']}").status_code == 200  # C, a rogue member
    eventually(
        lambda: True if httpx.get(f"{cluster_c}/allocations/{content['cid']}").status_code == 200 else None,
        "the payload C unpinned is back in the pinset",
    )
    for org in devnet.status(root)["orgs"]:
        eventually(
            lambda api=org["ipfs_api"]: True if asyncio.run(pinned(api, content["cid"])) else None,
            f"{org['name']} holds it",
        )


def test_records_queued_while_an_organisations_geth_is_down_land_once(
    root: Path, orgs: dict[str, Org]
) -> None:
    a, b = orgs["A"], orgs["B"]
    _, asset = register_dataset(b, os.urandom(100), "outage")
    background = b.http.get("/v1/health").json()["background"]["pid"]
    status = devnet.status(root)
    processes = status["processes"]
    os.kill(processes["geth:B"]["pid"], signal.SIGTERM)
    wait_stopped(root, "geth:B")
    geth_a = ChainClient(status["orgs"][0]["chain_url"])
    height = geth_a.block_number()
    eventually(lambda: True if geth_a.block_number() >= height + 3 else None, "A and C keep sealing")
    health = b.http.get("/v1/health")
    assert not health.json()["chain"]["ok"], health.text
    ids = [
        b.post(f"/v1/assets/{asset}/records", json={"activity": "collect", "notes": f"n{i}"})["id"]
        for i in range(20)
    ]
    os.kill(processes["node:B"]["pid"], signal.SIGKILL)
    wait_stopped(root, "node:B")
    # Its background process dies with it: no orphan goes on sending from B's outbox.
    eventually(lambda: True if _gone(background) else None, "B's background process dies with its node")
    devnet.up(root)  # B's geth restarts on its data and syncs; B's node resumes its outbox
    entries = [b.final({"id": i}) for i in ids]
    history = a.indexed(asset, 21)["history"]
    digests = [r["record_digest"] for r in history]
    assert len(history) == 21
    for entry in entries:
        assert digests.count(entry["record_digest"]) == 1


def test_a_record_whose_block_is_reorganised_away_is_sent_again_and_final_once(
    root: Path, orgs: dict[str, Org]
) -> None:
    a, b = orgs["A"], orgs["B"]
    _, asset = register_dataset(b, os.urandom(100), "reorganised")
    a.indexed(asset, 1)
    layout = Layout(root)
    state = layout.load()
    others = [steps.geth_of(layout, state, org) for org in state.orgs if org.name != "B"]
    sealer = state.org("B").sealer
    # B is cut off right after another signer's block, so that it may seal one block alone (Clique's
    # recent-signer rule then stops it, one of three signers): a branch that holds B's record.
    eventually(
        lambda: True if others[0].signer_of(others[0].head_hash()) != sealer else None,
        "the head is another signer's block",
    )
    for other in others:
        other.remove_peer(state.org("B").enode)
    state.processes["geth:B"].stop()
    alone = steps.geth_of(layout, state, state.org("B"))
    try:
        alone.start((), seal=False)
        entry_id = b.post(f"/v1/assets/{asset}/records", json={"activity": "collect"})["id"]
        eventually(
            lambda: True if alone.rpc("txpool_status")["pending"] != "0x0" else None, "B's pool has it"
        )
        alone.start_sealing()
        lonely = eventually(
            lambda: entry if (entry := b.get(f"/v1/outbox/{entry_id}"))["block_number"] else None,
            "B's branch includes the record",
        )
        lonely_block = alone.rpc("eth_getTransactionReceipt", lonely["tx_hash"])["blockHash"]
        eventually(
            lambda: True if others[0].block_number() >= lonely["block_number"] + 2 else None,
            "the others seal past B's block",
        )
        assert others[0].block_hash(lonely["block_number"]) != lonely_block
        assert b.get(f"/v1/outbox/{entry_id}")["status"] != "final"  # B cannot seal 3 confirmations alone
    finally:
        alone.stop()
    devnet.up(root)  # B's geth rejoins the others and takes their heavier branch
    final = b.final({"id": entry_id})
    receipt = others[0].rpc("eth_getTransactionReceipt", final["tx_hash"])
    assert receipt["blockHash"] != lonely_block
    assert others[0].block_hash(final["block_number"]) == receipt["blockHash"]
    history = a.indexed(asset, 2)["history"]
    assert [r["record_digest"] for r in history].count(final["record_digest"]) == 1


def _gone(pid: int) -> bool:
    """No such process, or only its zombie left for its new parent to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_keys_scopes_and_malformed_requests_over_http(orgs: dict[str, Org]) -> None:
    a = orgs["A"]
    assert httpx.get(f"{a.url}/v1/assets").status_code == 401
    assert httpx.get(f"{a.url}/v1/assets", headers={"Authorization": "Bearer nope"}).status_code == 401
    reader = a.post("/v1/keys", json={"name": "auditor", "scopes": ["read"]})["key"]
    refused = httpx.post(
        f"{a.url}/v1/datasets", json={"name": "x"}, headers={"Authorization": f"Bearer {reader}"}
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    for path, body in (
        ("/v1/datasets", b"{"),
        ("/v1/datasets", b'{"name": 5}'),
        ("/v1/models", b'{"name": "m", "ancestors": ["0x12"]}'),
        ("/v1/assets/0x" + "33" * 20 + "/records", b'{"activity": "train"}'),
    ):
        response = a.http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]


def test_reindex_rebuilds_the_same_index_from_the_chain(root: Path, orgs: dict[str, Org]) -> None:
    c = orgs["C"]
    before = c.get("/v1/assets", params={"limit": 1000})
    status = devnet.status(root)
    os.kill(status["processes"]["node:C"]["pid"], signal.SIGTERM)
    wait_stopped(root, "node:C")
    config = next(o["config"] for o in status["orgs"] if o["name"] == "C")
    result = CliRunner().invoke(cli, ["node", "reindex", "--config", config, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["events"] > 0
    devnet.up(root)
    assert c.get("/v1/assets", params={"limit": 1000}) == before


def test_a_record_the_chain_refuses_fails_alone_in_its_batch(orgs: dict[str, Org]) -> None:
    b, c = orgs["B"], orgs["C"]
    _, own = register_dataset(b, os.urandom(300), "own")
    model = c.final(c.post("/v1/models", json={"name": "not-bs"}))["asset"]
    b.indexed(model, 1)
    # B is neither the model's owner nor a contributor: the chain refuses that record, and only that one.
    activities = [(own, "collect"), (own, "label"), (model, "train"), (own, "preprocess"), (own, "publish")]
    ids = [b.post(f"/v1/assets/{asset}/records", json={"activity": a})["id"] for asset, a in activities]

    def settled() -> list[dict[str, Any]] | None:
        entries = [b.get(f"/v1/outbox/{i}") for i in ids]
        return entries if all(e["status"] in ("final", "failed") for e in entries) else None

    entries = eventually(settled, "every record is final or failed")
    assert [e["status"] for e in entries] == ["final", "final", "failed", "final", "final"]
    assert "NotOwnerOrContributor" in entries[2]["error"], entries[2]["error"]
    assert [e["seq"] for e in entries if e["status"] == "final"] == [1, 2, 3, 4]
    assert b.indexed(own, 5)["state"] == "published"


def test_a_fourth_organisation_joins_and_verifies_the_whole_history(root: Path, orgs: dict[str, Org]) -> None:
    c = orgs["C"]
    model = c.final(c.post("/v1/models", json={"name": "before-d"}))["asset"]
    c.final(c.post(f"/v1/assets/{model}/records", json={"activity": "select_data"}))
    devnet.join(root, "D")
    status = devnet.status(root)
    d = Org(next(org for org in status["orgs"] if org["name"] == "D"))
    assert status["running"]
    geth_d = ChainClient(next(org for org in status["orgs"] if org["name"] == "D")["chain_url"])
    signers = {s.lower() for s in geth_d.request("clique_getSigners", [])}
    assert {org["sealer"].lower() for org in status["orgs"]} == signers
    assert len(httpx.get(f"{status['orgs'][3]['cluster_api']}/peers").text.strip().splitlines()) == 4
    members = {m["name"]: m for m in d.get("/v1/members")}
    assert members["D"]["status"] == "active"
    for asset in [a["address"] for a in c.get("/v1/assets", params={"limit": 1000})]:
        d.indexed(asset, 1)
        whole = d.get(f"/v1/assets/{asset}/verification")
        assert whole["ok"], whole["problems"]
    # D records on the shared chain like any member.
    _, own = register_dataset(d, os.urandom(1000), "from-d")
    assert c.indexed(own, 1)["owner_name"] == "D"
