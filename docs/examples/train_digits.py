"""A real training script that reports its whole lifecycle to a ProML node through the SDK.

It trains a scikit-learn classifier on the digits dataset that ships with scikit-learn (nothing is
downloaded). Run it against a node (for example one of `proml devnet up`):

    export PROML_NODE_URL=http://127.0.0.1:8701 PROML_API_KEY=proml_...
    python docs/examples/train_digits.py --workdir /tmp/digits

On its own it registers the data itself; `proml`'s demo (docs/examples/demo.py) gives it a split that
another organisation registered, and has a validator record the validation.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from proml import sdk
from proml.sdk import Asset, Node
from proml.sdk.integrations.sklearn import record_evaluation, record_fit

SEED = 0


@dataclass
class Trained:
    model: Asset
    weights: Path
    accuracy: float


def write_digits(folder: Path) -> tuple[Path, Path]:
    """The digits dataset as CSV (features and label per row), and its train split."""
    folder.mkdir(parents=True, exist_ok=True)
    X, y = load_digits(return_X_y=True)
    table = np.column_stack([X, y])
    full, split = folder / "digits.csv", folder / "digits-train.csv"
    np.savetxt(full, table, fmt="%d", delimiter=",")
    train_rows, _ = train_test_split(table, test_size=0.25, random_state=SEED)
    np.savetxt(split, train_rows, fmt="%d", delimiter=",")
    return full, split


def train(node: Node, split: Asset, workdir: Path, *, name: str = "digits-classifier") -> Trained:
    """Register a model derived from `split` and record select_data .. evaluate while training it."""
    node.track_packages("scikit-learn", "numpy")
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=SEED)
    model = node.register_model(name=name, ancestors=[split])
    model.record("select_data", inputs={"train": split}, params={"test_size": 0.25, "seed": SEED})
    with model.activity("preprocess", inputs={"train": split}) as act:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        act.param("scaler", "StandardScaler")
    with model.activity("engineer_features", inputs={"train": split}) as act:
        act.metric("features", int(X_train.shape[1]))
    clf = LogisticRegression(max_iter=500, C=0.5)
    workdir.mkdir(parents=True, exist_ok=True)
    weights = workdir / "digits-classifier.joblib"
    record_fit(model, clf, X_train, y_train, inputs={"train": split}, weights=weights)
    evaluation = record_evaluation(model, clf, X_test, y_test, inputs={"test": split, "model": weights})
    accuracy = float(clf.score(X_test, y_test))
    evaluation.wait()
    return Trained(model, weights, accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("digits-work"))
    args = parser.parse_args()
    node = sdk.connect()
    full_file, split_file = write_digits(args.workdir)
    full = node.register_dataset(full_file, name="digits")
    split = node.register_dataset(split_file, name="digits-train", ancestors=[full])
    trained = train(node, split, args.workdir)
    print(f"model {trained.model.address}: test accuracy {trained.accuracy:.3f}")
    print(f"weights {trained.weights}: {node.verify(trained.model, trained.weights)['result']}")


if __name__ == "__main__":
    main()
