"""What the outbox's entries are: their kinds, the names their payloads use, and their references to
registrations that wait for their block.

Capture and governance write entries of these kinds; the submitter sends them. An asset whose registration
is still in the outbox is named by the registration's id (`outbox:<id>`); the submitter puts the address in
(`resolve_refs`) once the chain has made it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from proml.contracts.events import AnchorPhase

# The kinds of entries. A registration goes alone; records that wait together share one transaction.
REGISTER = "register"
RECORD = "record"
ANCHOR = "anchor"
ROLLBACK = "rollback"
GOVERNANCE = "governance"

# What a payload calls an anchor's phase (an asset's kind: proml.core.workflow.ASSET_KINDS).
PHASES = {phase.name.lower(): int(phase) for phase in AnchorPhase}

REF_PATTERN = re.compile(r"outbox:([0-9a-f]{32})")
# Stands in for an address that the chain has not made yet, while a document is validated.
_PLACEHOLDER = "0x" + "00" * 19 + "01"


def refs_in(value: Any) -> set[str]:
    """The outbox ids that `value` (a payload) refers to."""
    if isinstance(value, str):
        match = REF_PATTERN.fullmatch(value)
        return {match.group(1)} if match else set()
    if isinstance(value, Mapping):
        return set().union(*(refs_in(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(refs_in(v) for v in value)) if value else set()
    return set()


def resolve_refs(value: Any, addresses: Mapping[str, str]) -> Any:
    """`value` with every `outbox:<id>` replaced by `addresses[id]`."""
    if isinstance(value, str):
        match = REF_PATTERN.fullmatch(value)
        return addresses[match.group(1)].lower() if match else value
    if isinstance(value, Mapping):
        return {k: resolve_refs(v, addresses) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve_refs(v, addresses) for v in value]
    return value


def with_placeholders(value: Any) -> Any:
    """`value` with an address of the right length for every `outbox:<id>`: what its document will be."""
    return resolve_refs(value, _Placeholders())


class _Placeholders(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return _PLACEHOLDER
