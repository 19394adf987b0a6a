"""docs/contracts.md shows exactly the transition table that the contracts are tested against."""

from __future__ import annotations

from pathlib import Path

import pytest

from proml.core.workflow import AssetKind, markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


@pytest.mark.parametrize("kind", [AssetKind.DATASET, AssetKind.MODEL])
def test_contracts_doc_shows_the_transition_table(kind: AssetKind) -> None:
    assert markdown_table(kind) in DOC.read_text(encoding="utf-8")
