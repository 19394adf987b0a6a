"""scikit-learn: record an estimator's `fit` and its evaluation, with its parameters and metrics.

    from proml.sdk.integrations.sklearn import record_fit, record_evaluation
    record_fit(model, clf, X_train, y_train, inputs={"train": train_set}, weights="model.joblib")
    record_evaluation(model, clf, X_test, y_test, inputs={"test": test_set})

Needs the `sklearn` extra (`pip install 'proml-sdk[sklearn]'`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..client import Asset, Record, Value

try:
    import joblib
    from sklearn.base import BaseEstimator
    from sklearn.metrics import accuracy_score, f1_score
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(
        "proml.sdk.integrations.sklearn needs scikit-learn: pip install 'proml-sdk[sklearn]'"
    ) from exc


def estimator_params(estimator: BaseEstimator) -> dict[str, Any]:
    """The estimator's parameters as JSON can hold them (others by their repr), and its class."""
    params: dict[str, Any] = {"estimator": type(estimator).__name__}
    for name, value in sorted(estimator.get_params(deep=False).items()):
        params[name] = _json_safe(value)
    return params


def record_fit(
    asset: Asset,
    estimator: BaseEstimator,
    X: Any,
    y: Any,
    *,
    inputs: Mapping[str, Value] | None = None,
    weights: str | os.PathLike[str] | None = None,
    publish: bool = True,
) -> Record:
    """Fit `estimator` inside a `train` activity: its parameters, its training accuracy, and (with
    `weights`) the fitted model saved there with joblib and recorded as the output `weights`. The record
    is made even when `fit` raises."""
    with asset.activity("train", inputs=inputs, params=estimator_params(estimator), publish=publish) as act:
        estimator.fit(X, y)
        act.metric("train_accuracy", float(accuracy_score(y, estimator.predict(X))))
        if weights is not None:
            joblib.dump(estimator, weights)
            act.output("weights", Path(weights))
    assert act.record is not None
    return act.record


def record_evaluation(
    asset: Asset,
    estimator: BaseEstimator,
    X: Any,
    y: Any,
    *,
    inputs: Mapping[str, Value] | None = None,
) -> Record:
    """Evaluate a fitted classifier in an `evaluate` activity: accuracy and macro F1 on (X, y)."""
    with asset.activity("evaluate", inputs=inputs, params=estimator_params(estimator)) as act:
        predicted = estimator.predict(X)
        act.metric("accuracy", float(accuracy_score(y, predicted)))
        act.metric("f1_macro", float(f1_score(y, predicted, average="macro")))
        act.metric("samples", len(y))
    assert act.record is not None
    return act.record


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return repr(value)
