"""Load the committed contract artifacts (ABI and bytecode) that ship inside the package."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

CONTRACT_NAMES = (
    "ProML",
    "ProMLGovernance",
    "DatasetAsset",
    "ModelAsset",
    "ProvenanceAsset",
    "IProMLMembers",
    "IProMLErrors",
)


class ArtifactNotFound(LookupError):
    """No compiled artifact of that name ships with this installation."""


@dataclass(frozen=True)
class CompiledContract:
    """What a client needs of one compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str


@cache
def load_artifact(name: str) -> CompiledContract:
    """The artifact of contract `name`, e.g. ``load_artifact("ProML")``."""
    if name not in CONTRACT_NAMES:
        raise ArtifactNotFound(f"no artifact named {name!r}; known: {', '.join(CONTRACT_NAMES)}")
    text = resources.files(__package__).joinpath("artifacts", f"{name}.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    return CompiledContract(
        name=name,
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        deployed_bytecode=raw["deployedBytecode"],
        compiler_version=raw["compiler"]["version"],
    )
