"""Three organisations on a real devnet: one anvil, three IPFS daemons in one private swarm, three node
processes (`proml node start`), all talking over HTTP as users would.

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
from proml.devnet import devnet
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


def test_payload_survives_its_publisher_storage(root: Path, orgs: dict[str, Org]) -> None:
    a, b = orgs["A"], orgs["B"]
    data = os.urandom(400_000)
    content, asset = register_dataset(b, data, "replicated")
    a.indexed(asset, 1)

    ipfs_a = devnet.status(root)["orgs"][0]["ipfs_api"]

    def replicated() -> bool | None:
        return True if asyncio.run(pinned(ipfs_a, content["cid"])) else None

    eventually(replicated, "A has replicated B's payloads")
    ipfs_b = devnet.status(root)["processes"]["ipfs:B"]["pid"]
    os.kill(ipfs_b, signal.SIGTERM)
    eventually(
        lambda: None if devnet.status(root)["processes"]["ipfs:B"]["running"] else True, "B's IPFS stops"
    )
    fetched = a.http.get(f"/v1/payloads/{content['cid']}", params={"digest": content["digest"]})
    assert fetched.status_code == 200, fetched.text
    assert fetched.content == data
    devnet.up(root)  # brings B's daemon back for the tests that follow


def test_records_queued_while_the_chain_is_down_land_once_after_a_sigkill(
    root: Path, orgs: dict[str, Org]
) -> None:
    b = orgs["B"]
    _, asset = register_dataset(b, os.urandom(100), "outage")
    background = b.http.get("/v1/health").json()["background"]["pid"]
    processes = devnet.status(root)["processes"]
    os.kill(processes["anvil"]["pid"], signal.SIGTERM)
    wait_stopped(root, "anvil")
    ids = [
        b.post(f"/v1/assets/{asset}/records", json={"activity": "collect", "notes": f"n{i}"})["id"]
        for i in range(20)
    ]
    os.kill(processes["node:B"]["pid"], signal.SIGKILL)
    eventually(
        lambda: None if devnet.status(root)["processes"]["node:B"]["running"] else True, "B's node dies"
    )
    # Its background process dies with it: no orphan goes on sending from B's outbox.
    eventually(lambda: True if _gone(background) else None, "B's background process dies with its node")
    devnet.up(root)  # restarts the chain on its saved state, and B's node on its outbox
    entries = [b.final({"id": i}) for i in ids]
    history = orgs["A"].indexed(asset, 21)["history"]
    digests = [r["record_digest"] for r in history]
    assert len(history) == 21
    for entry in entries:
        assert digests.count(entry["record_digest"]) == 1


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
