"""The audit's conclusions (proml.sdk.audit's `gaps`) from histories and the files the node's verification
lists, and the shape of what the report says of them (the whole audit runs against a real devnet in
tests/integration/test_verify_truth.py and test_cli_on_devnet.py)."""

from __future__ import annotations

from typing import Any

from proml.sdk.audit import AuditedAsset, Gap, gaps
from proml.sdk.views import AssetDetails

BAD, GOOD = "0x" + "ba" * 32, "0x" + "60" * 32


def step(seq: int, activity: str, accepted: bool = True) -> dict[str, Any]:
    return {"asset": "0xM", "seq": seq, "activity": activity, "accepted": accepted, "actor": "0x1",
            "actor_name": "C", "timestamp": "t"}  # fmt: skip


def held(seq: int, activity: str, where: str, digest: str, accepted: bool = True) -> dict[str, Any]:
    return {**step(seq, activity, accepted), "where": where, "digest": digest}


def model(history: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> AuditedAsset:
    summary = {"address": "0xM", "kind": "model", "owner": "0x1", "record_count": len(history),
               "ancestors": [], "registered_block": 1, "history": history}  # fmt: skip
    return AuditedAsset.of(AssetDetails.from_dict(summary), {"recorded": recorded, "problems": []})


def found(asset: AuditedAsset) -> list[tuple[str, int | None]]:
    return [(g.gap, g.seq) for g in gaps([asset], [])]


def test_a_deploy_after_a_retraining_without_validation_is_a_gap() -> None:
    steps = ["register", "train", "evaluate", "validate", "deploy", "train", "rollback", "deploy"]
    history = [step(i, a) for i, a in enumerate(steps)]
    assert found(model(history, [])) == [("deployed_without_validation", 7)]


def test_a_gap_of_no_one_record_says_no_seq_in_the_report() -> None:
    assert list(Gap("verification_failed", "0xM", "head differs").to_dict()) == ["gap", "asset", "detail"]
    assert Gap("payload_unavailable", "0xM", "x", 3).to_dict() == {
        "gap": "payload_unavailable", "asset": "0xM", "seq": 3, "detail": "x"}  # fmt: skip


def test_a_file_only_refused_records_name_is_a_gap_and_one_an_accepted_record_names_is_not() -> None:
    history = [step(0, "register"), step(1, "train", False), step(2, "select_data")]
    refused_only = model(history, [held(1, "train", "output", BAD, False)])
    assert found(refused_only) == [("only_rejected_records", 1)]
    also_accepted = model(
        history, [held(1, "train", "output", BAD, False), held(2, "select_data", "input", BAD)]
    )
    assert found(also_accepted) == []


def test_deploying_weights_only_a_refused_train_produced_is_a_gap() -> None:
    activities = ["register", "select_data", "train", "preprocess", "engineer_features", "train", "evaluate",
                  "validate", "deploy"]  # fmt: skip
    history = [step(i, a, accepted=i != 2) for i, a in enumerate(activities)]
    produced = [held(2, "train", "output", BAD, False), held(5, "train", "output", GOOD)]
    validated_bad = model(history, [*produced, held(7, "validate", "input", BAD)])
    assert found(validated_bad) == [("deployed_weights_rejected", 8)]
    validated_good = model(history, [*produced, held(7, "validate", "input", GOOD)])
    assert found(validated_good) == [("only_rejected_records", 2)]
    deployed_bad = model(
        history, [*produced, held(7, "validate", "input", GOOD), held(8, "deploy", "input", BAD)]
    )
    assert found(deployed_bad) == [("deployed_weights_rejected", 8)]
