"""Why the chain refused a write, in words that say who may do it instead.

The node keeps a refused entry's reason as text that names the contract's custom error and its arguments
(`the chain refuses it: NotOwnerOrContributor(account=0x…)`, contracts/errors.py renders it so).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from .errors import ProMLError, RecordFailed

_REVERT = re.compile(r"\b([A-Z][A-Za-z0-9]*)\(([^()]*)\)")


class _Reader(Protocol):
    def get(self, path: str, **params: Any) -> Any: ...


def refused(reader: _Reader, view: dict[str, Any]) -> RecordFailed:
    """The error for a failed outbox entry `view`, with what to do when its reason is a known revert."""
    reason = str(view.get("error") or "no reason given")
    message = f"the chain refused outbox entry {view['id']}: {reason}"
    found = _REVERT.search(reason)
    if found is None:
        return RecordFailed(message)
    name, arguments = found.group(1), _arguments(found.group(2))
    advice = _ADVICE.get(name)
    if advice is not None:
        message += f". {advice(reader, view, arguments)}"
    return RecordFailed(message, revert=name)


def _arguments(text: str) -> dict[str, str]:
    pairs = (item.partition("=") for item in text.split(", ") if "=" in item)
    return {name.strip(): value.strip().strip("'") for name, _, value in pairs}


def _not_owner_or_contributor(reader: _Reader, view: dict[str, Any], arguments: dict[str, str]) -> str:
    account = arguments.get("account", "this organisation")
    summary = _summary(reader, view.get("asset"))
    asset = summary.get("address") or view.get("asset") or "the asset"
    owner, name = summary.get("owner"), summary.get("owner_name")
    owner_text = (
        f"{name} ({owner})" if name else str(owner or "its owner (`proml dataset|model show` names it)")
    )
    return (
        f"Only the owner of {asset} and its contributors may record {view.get('activity') or 'this'} on it "
        f"(validate alone needs the VALIDATOR role), and {account} is neither: the owner, {owner_text}, can "
        f"make it a contributor with addContributor({account}) on the asset's contract (no ProML command "
        "sends it yet); roles do not grant this"
    )


def _summary(reader: _Reader, asset: str | None) -> dict[str, Any]:
    """The asset's summary in the node's index; empty if it cannot be read, so that nothing is made up."""
    if asset is None:
        return {}
    try:
        summary = reader.get(f"/v1/assets/{asset}")
    except ProMLError:
        return {}
    return summary if isinstance(summary, dict) else {}


def _roles(reader: _Reader, view: dict[str, Any], arguments: dict[str, str]) -> str:
    return "`proml member list` shows each organisation's roles and status; members change them by proposal"


_ADVICE: dict[str, Callable[[_Reader, dict[str, Any], dict[str, str]], str]] = {
    "NotOwnerOrContributor": _not_owner_or_contributor,
    "MissingRole": _roles,
    "NotAMember": _roles,
    "SuspendedMember": _roles,
}
