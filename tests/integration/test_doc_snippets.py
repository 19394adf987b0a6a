"""Every Python snippet of README.md and docs/*.md that records a workflow runs as written against a real
devnet node (in a folder holding the files it names), and the state machine accepts every record it
makes: a snippet must not teach a workflow the contracts refuse."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from proml import sdk
from proml.sdk import TransitionRejected
from proml.sdk.client import ActivityBlock, Entry

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
RECORDS = re.compile(r"\.(record|activity)\(")
# The files the snippets name, as a user would have them in the folder they run them from.
FILES = ("train.csv", "data.csv", "model.joblib")


def recording_snippets() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for number, code in enumerate(PYTHON_BLOCK.findall(doc.read_text(encoding="utf-8")), start=1):
            if RECORDS.search(code):
                found.append((f"{doc.name} python block {number}", code))
    return found


SNIPPETS = recording_snippets()


def test_the_snippets_that_teach_recording_are_found() -> None:
    assert {name.split()[0] for name, _ in SNIPPETS} >= {"README.md", "quickstart.md", "sdk.md"}


@pytest.mark.parametrize(("name", "code"), SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_a_snippet_records_only_transitions_the_state_machine_accepts(
    name: str, code: str, devnet_org: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROML_NODE_URL", devnet_org["node_url"])
    monkeypatch.setenv("PROML_API_KEY", devnet_org["api_key"])
    for file in FILES:
        (tmp_path / file).write_bytes(os.urandom(2000))
    with sdk.connect() as node:
        before = {a["address"] for a in node.transport.get("/v1/assets", limit=1000)}
        namespace: dict[str, Any] = {"__name__": "__snippet__"}
        with warnings.catch_warnings():
            warnings.simplefilter("error", TransitionRejected)  # a refused record fails the test
            exec(compile(code, name, "exec"), namespace)
            _wait_for_everything_in(namespace)
        made = [a for a in node.transport.get("/v1/assets", limit=1000) if a["address"] not in before]
        histories = {a["address"]: node.transport.get(f"/v1/assets/{a['address']}/history") for a in made}
    assert any(a["kind"] == "model" for a in made), f"{name} registers no model"
    refused = [
        (r["asset"], r["seq"], r["activity"]) for h in histories.values() for r in h if not r["accepted"]
    ]
    assert refused == [], f"{name} records transitions the state machine refuses"
    activities = {r["activity"] for h in histories.values() for r in h}
    assert "train" in activities, f"{name} records no train"


def _wait_for_everything_in(namespace: dict[str, Any]) -> None:
    """Each asset and record the snippet kept in a variable, until final on chain and indexed. The node
    sends one organisation's writes in order, so the last one's wait covers those not kept."""
    for value in list(namespace.values()):
        if isinstance(value, ActivityBlock) and value.record is not None:
            value.record.wait()
        elif isinstance(value, Entry):
            value.wait()
