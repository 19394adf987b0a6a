"""Each custom error, enum and struct of the Solidity sources is declared in one place only."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[2] / "contracts" / "solidity"


def _declared(keyword: str) -> Counter[str]:
    pattern = re.compile(rf"^\s*{keyword}\s+(\w+)\b", re.MULTILINE)
    names: Counter[str] = Counter()
    for path in sorted(SOURCES.rglob("*.sol")):
        names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


@pytest.mark.parametrize("keyword", ["error", "enum", "struct"])
def test_each_name_is_declared_once(keyword: str) -> None:
    declared = _declared(keyword)
    assert declared, f"no {keyword} found under {SOURCES}"
    assert sorted(name for name, count in declared.items() if count > 1) == []


def test_the_shared_enums_sit_together() -> None:
    text = (SOURCES / "ProvenanceTypes.sol").read_text(encoding="utf-8")
    enums = re.findall(r"^enum\s+(\w+)", text, re.MULTILINE)
    assert sorted(enums) == sorted(_declared("enum"))
