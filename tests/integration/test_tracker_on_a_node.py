"""The provenance tracker against a real node: a one-organisation devnet (anvil, the IPFS daemon, `proml node
start`). Roots are anchored as the model's `anchor` records and verified against the chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proml import sdk
from proml.devnet import devnet
from proml.sdk import Node
from proml.sdk.merkle import ProofStep
from proml.sdk.tracker import ProvenanceTracker, epoch_leaf


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root = tmp_path_factory.mktemp("tracker") / "devnet"
    try:
        devnet.up(root, 1, chain="anvil")
        org = devnet.status(root)["orgs"][0]
        with sdk.connect(org["node_url"], org["api_key"]) as connected:
            yield connected
    finally:
        devnet.down(root)


def metrics(epoch: int) -> dict[str, float]:
    return {"accuracy": 0.8 + epoch / 100, "loss": 1 / epoch}


def train(node: Node, tmp_path: Path, algorithm: str) -> ProvenanceTracker:
    """What a training script does: data and model, anchor, three epochs, anchor."""
    data = tmp_path / "train.csv"
    data.write_bytes(b"duration,bytes,label\n" + b"0,181,normal\n" * 500)
    dataset = node.register_dataset(data, name="kdd99-train", publish=False)
    tracker = ProvenanceTracker.register(
        node, name="ids-classifier", ancestors=[dataset], algorithm=algorithm
    )
    tracker.track_data(dataset, b"0,239,normal\n" * 100)
    tracker.track_model({"layers": [41, 64, 2], "activation": "relu"}, b"initial weights")
    tracker.store_merkle_on_blockchain_before_training({"epochs": 3, "batch_size": 64})
    for epoch in range(1, 4):
        checkpoint = tmp_path / f"epoch-{epoch}.pt"
        checkpoint.write_bytes(b"state %d" % epoch)
        tracker.track_epoch(
            epoch, model_state=checkpoint, metrics=metrics(epoch), privacy_metrics={"epsilon": epoch * 0.5}
        )
    tracker.track_model(weights=b"trained weights")
    tracker.store_merkle_on_blockchain_after_training({"accuracy": 0.83}).wait()
    return tracker


@pytest.mark.parametrize("algorithm", ["sha256", "blake3"])
def test_anchored_roots_verify_and_a_tampered_metric_does_not(
    node: Node, tmp_path: Path, algorithm: str
) -> None:
    tracker = train(node, tmp_path, algorithm)
    anchors = [e for e in tracker.model.history() if e["activity"] == "anchor"]
    assert [(a["accepted"], a["anchor"]["phase"]) for a in anchors] == [
        (True, "before_training"),
        (True, "after_training"),
    ]
    assert anchors[1]["anchor"]["root"] == tracker.merkle_root()

    report = tracker.verify_blockchain_provenance()
    assert report["ok"] is True, report
    assert [a["match"] for a in report["anchors"]] == [True, True]
    assert report["records"]["ok"] is True

    tracker.leaves[epoch_leaf(2, "metrics")].value["accuracy"] = 0.99
    report = tracker.verify_blockchain_provenance()
    assert report["ok"] is False
    assert report["changed_leaves"] == [epoch_leaf(2, "metrics")]
    assert [a["match"] for a in report["anchors"]] == [True, False]


def test_one_epochs_metrics_are_proved_against_the_anchored_root(node: Node, tmp_path: Path) -> None:
    tracker = train(node, tmp_path, "sha256")
    name = epoch_leaf(2, "metrics")
    proof = [ProofStep.from_dict(step) for step in tracker.proof_document(name)["proof"]]
    # The verifier holds the metrics, the proof, and the root it reads from the chain: nothing else.
    chain_root = tracker.get_blockchain_status()["anchors_on_chain"][-1]["root"]
    leaf = ProvenanceTracker.leaf_hash_of(name, metrics(2))
    assert ProvenanceTracker.verify_proof(leaf, proof, chain_root)
    forged = ProvenanceTracker.leaf_hash_of(name, {**metrics(2), "loss": 0.01})
    assert not ProvenanceTracker.verify_proof(forged, proof, chain_root)


def test_status_and_report(node: Node, tmp_path: Path) -> None:
    tracker = train(node, tmp_path, "sha256")
    status = tracker.get_blockchain_status()
    assert status["blockchain_enabled"] is True
    assert [h["root"] for h in status["stored_hashes"]] == [a["root"] for a in status["anchors_on_chain"]]
    assert [h["status"] for h in status["stored_hashes"]] == ["final", "final"]
    report = tracker.save_blockchain_report(tmp_path / "report.json")
    assert '"ok": true' in report.read_text()
