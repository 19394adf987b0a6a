"""Governance writes: proposals to change the consortium, and approvals. Stored in the outbox like every
write and sent by the submitter, signed by this node's organisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proml.contracts import addresses
from proml.core.workflow import Role

from .capture import CaptureError
from .outbox import Outbox, OutboxEntry
from .outbox_entries import GOVERNANCE

PROPOSAL_KINDS = ("add_member", "suspend_member", "change_roles", "change_threshold")
BPS = 10_000


@dataclass(frozen=True, kw_only=True)
class Proposal:
    kind: str
    account: str | None = None
    name: str | None = None
    roles: Sequence[str] = ()
    threshold_bps: int | None = None


class GovernanceService:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def propose(self, proposal: Proposal, idempotency_key: str | None = None) -> tuple[OutboxEntry, bool]:
        function, args = _call(proposal)
        entry: tuple[OutboxEntry, bool] = self._outbox.enqueue(
            GOVERNANCE, {"function": function, "args": args}, idempotency_key
        )
        return entry

    def approve(self, proposal_id: int, idempotency_key: str | None = None) -> tuple[OutboxEntry, bool]:
        if proposal_id < 0:
            raise CaptureError("proposal_id", "a proposal id is 0 or more (see GET /v1/proposals)")
        entry: tuple[OutboxEntry, bool] = self._outbox.enqueue(
            GOVERNANCE, {"function": "approve", "args": [proposal_id]}, idempotency_key
        )
        return entry


def _call(proposal: Proposal) -> tuple[str, list[object]]:
    """The registry function and its arguments, once the proposal has what its kind needs."""
    if proposal.kind not in PROPOSAL_KINDS:
        raise CaptureError(
            "kind", f"{proposal.kind!r} is not a proposal kind: use {', '.join(PROPOSAL_KINDS)}"
        )
    if proposal.kind == "change_threshold":
        bps = proposal.threshold_bps
        if bps is None or not 0 < bps <= BPS:
            raise CaptureError("threshold_bps", f"a threshold in basis points, 1 to {BPS} (5000 = half)")
        return "proposeThreshold", [bps]
    account = _account(proposal.account)
    if proposal.kind == "suspend_member":
        return "proposeSuspendMember", [account]
    roles = _roles(proposal.roles)
    if proposal.kind == "change_roles":
        return "proposeChangeRoles", [account, roles]
    if not proposal.name or not proposal.name.strip():
        raise CaptureError("name", "a new member needs the organisation's name")
    return "proposeAddMember", [account, proposal.name, roles]


def _account(value: str | None) -> str:
    try:
        checksummed: str = addresses.parse(value)
    except addresses.InvalidAddress as exc:
        raise CaptureError("account", str(exc)) from None
    return checksummed


def _roles(names: Sequence[str]) -> int:
    bits = 0
    for name in names:
        try:
            bits |= Role[name.upper()]
        except KeyError:
            allowed = ", ".join(r.name.lower() for r in Role)
            raise CaptureError("roles", f"{name!r} is not a role: use {allowed}") from None
    if not bits:
        raise CaptureError("roles", "give at least one role")
    return bits
