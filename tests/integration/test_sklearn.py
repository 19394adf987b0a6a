"""The scikit-learn integration against a real node: fit and evaluation recorded with parameters,
metrics and the fitted weights."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from proml.sdk import Node

pytest.importorskip("sklearn", reason="the sklearn extra is not installed")

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from proml.sdk.integrations.sklearn import record_evaluation, record_fit
from proml.sdk.tracker import ProvenanceTracker
from tests.integration.polling import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_fit_and_evaluation_are_recorded(sdk_node: Node, tmp_path: Path) -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    data = sdk_node.register_dataset(digest="sha256:" + "d1" * 32, name="digits")
    model = sdk_node.register_model(name="digits-logreg", ancestors=[data])
    for activity in ("select_data", "preprocess", "engineer_features"):
        model.record(activity, inputs={"digits": data})
    clf = LogisticRegression(max_iter=200, C=0.5)
    weights = tmp_path / "model.joblib"
    trained = record_fit(model, clf, X_train, y_train, inputs={"train": data}, weights=weights).wait()
    evaluated = record_evaluation(model, clf, X_test, y_test, inputs={"test": data}).wait()
    assert (trained.accepted, evaluated.accepted) == (True, True)
    assert sdk_node.verify(model, weights)["result"] == "OK"
    # The documents hold what was recorded: parameters and metrics, checked against the chain.
    report = sdk_node.verify_history(model)
    assert report["ok"] is True
    history = model.history()
    assert [r["activity"] for r in history][-2:] == ["train", "evaluate"]


def test_a_fit_that_raises_is_still_recorded(sdk_node: Node) -> None:
    model = sdk_node.register_model(name="broken")
    clf = LogisticRegression()
    with pytest.raises(ValueError):
        record_fit(model, clf, [[0.0], [1.0]], [0])  # fewer labels than samples

    def recorded() -> bool | None:
        return [r["activity"] for r in model.history()] == ["register", "train"] or None

    eventually(recorded, "the failed fit is recorded")


def test_the_merkle_tracker_example_runs(
    devnet_org: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROML_NODE_URL", devnet_org["node_url"])
    monkeypatch.setenv("PROML_API_KEY", devnet_org["api_key"])
    example = runpy.run_path(str(EXAMPLES / "merkle_tracker.py"))
    result = example["run"](tmp_path / "report.json")
    assert result["verified"] is True
    proof = result["epoch_3_metrics_proof"]
    steps = [(step["sibling"], step["side"]) for step in proof["proof"]]
    assert ProvenanceTracker.verify_proof(proof["leaf_hash"], steps, proof["root"])
    assert json.loads((tmp_path / "report.json").read_text())
