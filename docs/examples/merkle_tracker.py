"""The Merkle provenance tracker: training data, model and every epoch in one tree, its root anchored on
the model's contract before and after training, and one epoch's metrics proved on their own.

Trains scikit-learn's SGDClassifier epoch by epoch on the bundled digits dataset (nothing is downloaded):

    export PROML_NODE_URL=http://127.0.0.1:8701 PROML_API_KEY=proml_...
    python docs/examples/merkle_tracker.py --report /tmp/tracker-report.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

from proml import sdk
from proml.sdk.tracker import ProvenanceTracker

EPOCHS = 5


def run(report_path: Path) -> dict[str, Any]:
    node = sdk.connect()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    tracker = ProvenanceTracker.register(node, name="digits-sgd")
    tracker.track_data(X_train, X_test)
    clf = SGDClassifier(random_state=0)
    tracker.track_model(architecture={"estimator": "SGDClassifier", "loss": clf.loss})
    tracker.store_merkle_on_blockchain_before_training({"epochs": EPOCHS})
    classes = np.unique(y)
    for epoch in range(1, EPOCHS + 1):
        clf.partial_fit(X_train, y_train, classes=classes)
        metrics = {"accuracy": round(float(clf.score(X_test, y_test)), 6)}
        tracker.track_epoch(epoch, model_state=clf.coef_, metrics=metrics)
    tracker.track_model(weights=clf.coef_)
    tracker.store_merkle_on_blockchain_after_training({"final_accuracy": metrics["accuracy"]})
    verification = tracker.verify_blockchain_provenance()
    tracker.save_blockchain_report(report_path)
    # A third party holding only epoch 3's metrics, the proof and the anchored root can check them.
    document = tracker.proof_document("training/epoch-3/metrics")
    return {"verified": verification["ok"], "root": tracker.merkle_root(), "epoch_3_metrics_proof": document}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=Path("blockchain_report.json"))
    args = parser.parse_args()
    print(json.dumps(run(args.report), indent=2))


if __name__ == "__main__":
    main()
