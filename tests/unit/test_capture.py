"""The capture service, in process over a real outbox: what it refuses before acknowledging (and names the
field of), the documents and payloads it stores, references to registrations still in the outbox, and
idempotency keys. The chain's answer about an asset's kind is a fake lookup."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from proml.core.records import MAX_DOCUMENT_BYTES, SCHEMA, RecordDocument
from proml.core.workflow import AssetKind
from proml.node.services.capture import (
    UNSPECIFIED_ENVIRONMENT,
    ActivityRecord,
    Anchor,
    CaptureError,
    CaptureService,
    Registration,
    Rollback,
    UnknownAsset,
)
from proml.node.services.outbox import IdempotencyConflict, Outbox, OutboxEntry
from proml.node.services.outbox_entries import ANCHOR, RECORD, REGISTER, ROLLBACK

T = TypeVar("T")

ME = "0x" + "AB" * 20
REGISTRY = "0x" + "CD" * 20
DATASET = "0x" + "d1" * 20
MODEL = "0x" + "e1" * 20
STRANGER = "0x" + "f1" * 20
DIGEST = "sha256:" + "11" * 32
ROOT = "0x" + "22" * 32


class FakeAssetKinds:
    """What the index or the registry says an address is; counts the questions."""

    def __init__(self) -> None:
        self.kinds = {DATASET: AssetKind.DATASET, MODEL: AssetKind.MODEL}
        self.asked: list[str] = []

    def __call__(self, address: str) -> AssetKind | None:
        self.asked.append(address)
        return self.kinds.get(address.lower())


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture
def kinds() -> FakeAssetKinds:
    return FakeAssetKinds()


@pytest.fixture
def capture(outbox: Outbox, kinds: FakeAssetKinds) -> CaptureService:
    return CaptureService(outbox, lambda: "Org A", ME, REGISTRY, kinds)


def refused(coroutine: Coroutine[Any, Any, Any], error: type[CaptureError] = CaptureError) -> CaptureError:
    with pytest.raises(error) as raised:
        run(coroutine)
    return raised.value


def register_dataset(capture: CaptureService, **settings: Any) -> OutboxEntry:
    entry, _ = run(
        capture.register(Registration(kind="dataset", name="d", content={"digest": DIGEST}, **settings))
    )
    return entry


# -- registrations ------------------------------------------------------------------------------------


def test_a_registration_is_stored_with_a_document_that_names_the_registry(
    capture: CaptureService, outbox: Outbox
) -> None:
    entry, created = run(
        capture.register(
            Registration(kind="dataset", name="digits", content={"digest": DIGEST}, parameters={"rows": 10})
        )
    )
    assert created
    stored = outbox.get(entry.id)
    assert stored.kind == REGISTER
    assert stored.payload["kind"] == "dataset" and stored.payload["ancestors"] == []
    document = stored.payload["document"]
    assert document["schema"] == SCHEMA
    assert document["asset"] == REGISTRY.lower()  # the asset's address does not exist yet
    assert document["activity"] == "register"
    assert document["actor"] == {"name": "Org A", "address": ME.lower()}
    assert document["outputs"] == [{"digest": DIGEST, "name": "digits", "kind": "dataset"}]
    assert document["parameters"] == {"rows": 10, "name": "digits", "ancestors": []}
    assert document["environment"] == dict(UNSPECIFIED_ENVIRONMENT)
    RecordDocument.from_dict(document)  # what the submitter will store parses as a record document


def test_a_registration_of_an_unknown_kind_is_refused(capture: CaptureService, outbox: Outbox) -> None:
    error = refused(capture.register(Registration(kind="notebook", name="n")))
    assert error.field == "kind" and "dataset or model" in error.detail
    assert outbox.depth() == 0


def test_a_dataset_is_registered_with_its_content_digest(capture: CaptureService) -> None:
    error = refused(capture.register(Registration(kind="dataset", name="d")))
    assert error.field == "content" and "/v1/payloads" in error.detail


def test_a_model_needs_no_content(capture: CaptureService, outbox: Outbox) -> None:
    entry, _ = run(capture.register(Registration(kind="model", name="m")))
    assert outbox.get(entry.id).payload["document"]["outputs"] == []


def test_parameters_the_node_sets_are_refused(capture: CaptureService) -> None:
    error = refused(
        capture.register(Registration(kind="model", name="m", parameters={"ancestors": 1, "name": "x"}))
    )
    assert error.field == "parameters" and "ancestors, name" in error.detail


def test_ancestors_are_checked_and_stored_lowercase(capture: CaptureService, kinds: FakeAssetKinds) -> None:
    entry, _ = run(
        capture.register(
            Registration(kind="model", name="m", ancestors=[DATASET.upper().replace("0X", "0x")])
        )
    )
    assert entry.payload["ancestors"] == [DATASET]
    error = refused(
        capture.register(Registration(kind="model", name="m", ancestors=[STRANGER])), UnknownAsset
    )
    assert error.field == "ancestors[0]" and "not an asset" in error.detail


# -- records ------------------------------------------------------------------------------------------


def test_a_record_names_its_asset_and_kind(capture: CaptureService, outbox: Outbox) -> None:
    inputs = [{"name": "raw", "kind": "file", "digest": DIGEST}]
    entry, _ = run(capture.record(ActivityRecord(asset=DATASET, activity="label", inputs=inputs)))
    stored = outbox.get(entry.id)
    assert stored.kind == RECORD
    assert stored.payload["asset"] == DATASET and stored.payload["kind"] == "dataset"
    assert stored.payload["document"]["activity"] == "label"
    assert stored.payload["document"]["inputs"] == inputs


def test_an_activity_of_the_other_kind_of_asset_is_refused(capture: CaptureService) -> None:
    error = refused(capture.record(ActivityRecord(asset=DATASET, activity="train")))
    assert error.field == "activity" and "not a dataset activity" in error.detail
    assert "label" in error.detail  # says which ones are


@pytest.mark.parametrize("activity", ["register", "rollback", "anchor", "nonsense"])
def test_activities_with_requests_of_their_own_are_refused_as_records(
    capture: CaptureService, activity: str
) -> None:
    assert refused(capture.record(ActivityRecord(asset=MODEL, activity=activity))).field == "activity"


def test_an_address_the_registry_does_not_know_is_an_unknown_asset(capture: CaptureService) -> None:
    error = refused(capture.record(ActivityRecord(asset=STRANGER, activity="label")), UnknownAsset)
    assert error.field == "asset"


def test_a_malformed_address_says_how_to_name_an_asset(capture: CaptureService) -> None:
    error = refused(capture.record(ActivityRecord(asset="0x1234", activity="label")))
    assert not isinstance(error, UnknownAsset)
    assert error.field == "asset" and "outbox:<id>" in error.detail


def test_an_assets_kind_is_asked_once(capture: CaptureService, kinds: FakeAssetKinds) -> None:
    for _ in range(3):
        run(capture.record(ActivityRecord(asset=DATASET, activity="label")))
    assert len(kinds.asked) == 1


def test_an_artifact_that_names_an_asset_is_checked(capture: CaptureService) -> None:
    inputs = [{"name": "data", "kind": "dataset", "digest": DIGEST, "asset": STRANGER}]
    error = refused(
        capture.record(ActivityRecord(asset=MODEL, activity="train", inputs=inputs)), UnknownAsset
    )
    assert error.field == "inputs[0].asset"
    error = refused(capture.record(ActivityRecord(asset=MODEL, activity="train", outputs=["not an object"])))  # type: ignore[list-item]
    assert error.field == "outputs[0]"


def test_a_document_over_the_limit_is_refused_before_it_is_stored(
    capture: CaptureService, outbox: Outbox
) -> None:
    notes = "x" * (MAX_DOCUMENT_BYTES + 1)
    error = refused(capture.record(ActivityRecord(asset=DATASET, activity="label", notes=notes)))
    assert error.field == "notes"
    assert outbox.depth() == 0


# -- references to registrations still in the outbox ---------------------------------------------------


def test_a_record_may_name_an_asset_by_its_registrations_outbox_id(
    capture: CaptureService, kinds: FakeAssetKinds
) -> None:
    registration = register_dataset(capture)
    ref = f"outbox:{registration.id}"
    entry, _ = run(capture.record(ActivityRecord(asset=ref, activity="label")))
    assert entry.payload["asset"] == ref  # the submitter puts the address in once the chain made it
    assert entry.payload["kind"] == "dataset"
    assert entry.payload["document"]["asset"] == ref
    assert kinds.asked == []  # the outbox knows the kind: the chain is not asked


def test_an_outbox_id_that_is_not_a_registration_is_refused(capture: CaptureService) -> None:
    record, _ = run(capture.record(ActivityRecord(asset=DATASET, activity="label")))
    error = refused(
        capture.record(ActivityRecord(asset=f"outbox:{record.id}", activity="label")), UnknownAsset
    )
    assert "not a registration" in error.detail
    error = refused(
        capture.record(ActivityRecord(asset="outbox:" + "0" * 32, activity="label")), UnknownAsset
    )
    assert "not an entry of this node's outbox" in error.detail


# -- anchors and rollbacks ----------------------------------------------------------------------------


def test_an_anchor_is_stored_with_its_root_lowercase_and_phase(
    capture: CaptureService, outbox: Outbox
) -> None:
    entry, _ = run(
        capture.anchor(Anchor(asset=MODEL, root=ROOT.upper().replace("0X", "0x"), phase="before_training"))
    )
    stored = outbox.get(entry.id)
    assert stored.kind == ANCHOR
    assert stored.payload["kind"] == "model"
    assert stored.payload["document"]["parameters"] == {"root": ROOT, "phase": "before_training"}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (Anchor(asset=MODEL, root="0x1234", phase="before_training"), "root"),
        (Anchor(asset=MODEL, root=ROOT, phase="during_training"), "phase"),
        (Anchor(asset=DATASET, root=ROOT, phase="before_training"), "asset"),
    ],
    ids=["short-root", "unknown-phase", "a-dataset"],
)
def test_a_bad_anchor_is_refused(capture: CaptureService, request_: Anchor, field: str) -> None:
    assert refused(capture.anchor(request_)).field == field


def test_a_rollback_is_stored_with_its_seq_and_reason(capture: CaptureService, outbox: Outbox) -> None:
    entry, _ = run(capture.rollback(Rollback(asset=MODEL, to_seq=2, reason="bad data")))
    stored = outbox.get(entry.id)
    assert stored.kind == ROLLBACK
    assert stored.payload["document"]["parameters"] == {"to_seq": 2, "reason": "bad data"}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (Rollback(asset=MODEL, to_seq=-1, reason="r"), "to_seq"),
        (Rollback(asset=MODEL, to_seq=True, reason="r"), "to_seq"),
        (Rollback(asset=MODEL, to_seq=1, reason="  "), "reason"),
        (Rollback(asset=DATASET, to_seq=1, reason="r"), "asset"),
    ],
    ids=["negative", "a-boolean", "no-reason", "a-dataset"],
)
def test_a_bad_rollback_is_refused(capture: CaptureService, request_: Rollback, field: str) -> None:
    assert refused(capture.rollback(request_)).field == field


# -- idempotency --------------------------------------------------------------------------------------


def test_the_same_request_under_the_same_key_is_the_same_entry(
    capture: CaptureService, outbox: Outbox
) -> None:
    request = ActivityRecord(asset=DATASET, activity="label", parameters={"by": "hand"})
    first, created = run(capture.record(request, "key-1"))
    # Later: the document's times differ, the request does not.
    again, created_again = run(
        capture.record(ActivityRecord(asset=DATASET, activity="label", parameters={"by": "hand"}), "key-1")
    )
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert outbox.depth() == 1


def test_another_request_under_a_used_key_is_a_conflict(capture: CaptureService) -> None:
    run(capture.record(ActivityRecord(asset=DATASET, activity="label"), "key-1"))
    with pytest.raises(IdempotencyConflict):
        run(capture.record(ActivityRecord(asset=DATASET, activity="preprocess"), "key-1"))


def test_the_caller_times_and_description_are_kept(capture: CaptureService) -> None:
    request = ActivityRecord(
        asset=DATASET,
        activity="label",
        metrics={"agreement": 0.9},
        environment={"python": "3.11.4", "packages": {"numpy": "2.0"}},
        notes="second pass",
        started_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-01T01:00:00Z",
    )
    entry, _ = run(capture.record(request))
    document = entry.payload["document"]
    assert document["metrics"] == {"agreement": 0.9}
    assert document["environment"] == {"python": "3.11.4", "packages": {"numpy": "2.0"}}
    assert document["notes"] == "second pass"
    assert (document["started_at"], document["ended_at"]) == ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
    assert json.loads(json.dumps(document)) == document  # what the outbox stores is plain JSON
