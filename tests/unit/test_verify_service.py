"""What verification concludes from what the index and a record document say (no chain, no IPFS here);
the whole path runs against a real devnet in tests/integration/test_verify_truth.py."""

from __future__ import annotations

from typing import Any

from proml.core.records import SCHEMA, RecordDocument
from proml.node.services.identity import ActorName
from proml.node.services.verify import _disagreements, file_result, recorded_files

ASSET = "0x" + "ab" * 20
SIGNER = "0x" + "cd" * 20
WEIGHTS = "0x" + "11" * 32


def record(seq: int, activity: str, accepted: bool = True, **words: list[str]) -> dict[str, Any]:
    return {
        "seq": seq,
        "activity": activity,
        "accepted": accepted,
        "actor": SIGNER,
        "actor_name": "B",
        "timestamp": "2026-12-02T00:00:00.000Z",
        "transaction_hash": "0x" + "00" * 32,
        "record_cid": None,
        "inputs": words.get("inputs", []),
        "outputs": words.get("outputs", []),
    }


def document(name: str, outputs: list[dict[str, Any]] | None = None) -> RecordDocument:
    return RecordDocument.from_dict(
        {
            "schema": SCHEMA,
            "asset": ASSET,
            "activity": "train",
            "actor": {"name": name, "address": SIGNER},
            "inputs": [],
            "outputs": outputs or [],
            "parameters": {},
            "metrics": {},
            "environment": {"python": "3.12", "packages": {}},
            "started_at": "2026-12-02T00:00:00.000Z",
            "ended_at": "2026-12-02T00:00:00.000Z",
        }
    )


def test_only_an_accepted_record_makes_a_match_ok() -> None:
    assert file_result([{"accepted": False}]) == "REJECTED_ONLY"
    assert file_result([{"accepted": False}, {"accepted": True}]) == "OK"
    assert file_result([]) == "MISMATCH"


def test_every_recorded_file_says_whether_its_record_was_accepted_and_roots_and_reasons_are_no_files() -> (
    None
):
    history = [
        record(0, "register", outputs=["0x" + "00" * 32]),  # a model registered without a file
        record(1, "train", accepted=False, outputs=[WEIGHTS]),
        record(2, "anchor", inputs=["0x" + "00" * 31 + "01"], outputs=["0x" + "22" * 32]),
        record(3, "rollback", inputs=["0x" + "00" * 31 + "01", "0x" + "33" * 32]),
        record(4, "select_data", inputs=["0x" + "00" * 12 + "ef" * 20]),  # an asset, not a file
    ]
    assert [(r["seq"], r["where"], r["digest"], r["accepted"]) for r in recorded_files(history)] == [
        (1, "output", WEIGHTS, False)
    ]


def test_a_document_must_name_its_signer_by_the_members_on_chain_name() -> None:
    trained = record(1, "train")
    assert _disagreements(ASSET, "0x" + "99" * 20, trained, document("B"), "B") == []
    assert _disagreements(ASSET, "0x" + "99" * 20, trained, document("A"), "B") == [
        f"record 1: the document's actor is named 'A', but its signer {SIGNER} is the member 'B' on chain"
    ]
    [unknown] = _disagreements(ASSET, "0x" + "99" * 20, trained, document("B"), None)
    assert "cannot be checked" in unknown


def test_a_documents_outputs_must_be_the_words_on_chain() -> None:
    output = {"name": "weights", "kind": "file", "digest": "sha256:" + "11" * 32}
    on_chain = record(1, "train", outputs=[WEIGHTS])
    assert _disagreements(ASSET, "0x" + "99" * 20, on_chain, document("B", [output]), "B") == []
    other = record(1, "train", outputs=["0x" + "44" * 32])
    [problem] = _disagreements(ASSET, "0x" + "99" * 20, other, document("B", [output]), "B")
    assert problem.startswith("record 1: the document's outputs")


class _Members:
    def __init__(self, name: str | None) -> None:
        self.name = name

    def member_name(self, address: str) -> str | None:
        return self.name


class _Registry(ActorName):
    def __init__(self, index: str | None, registry: str | None) -> None:
        super().__init__(_Members(index), None, "0x" + "99" * 20, SIGNER, "configured")  # type: ignore[arg-type]
        self.asked = 0
        self._answer = registry

    def registry_name(self) -> str | None:
        self.asked += 1
        return self._answer


def test_a_node_names_its_organisation_as_the_index_then_the_registry_knows_it_else_by_its_config() -> None:
    assert _Registry("Bravo", "B")() == "Bravo"
    lagging = _Registry(None, "B")
    assert (lagging(), lagging(), lagging.asked) == ("B", "B", 1)  # found once, kept until the index knows
    outsider = _Registry(None, None)
    assert (outsider(), outsider(), outsider.asked) == ("configured", "configured", 2)
