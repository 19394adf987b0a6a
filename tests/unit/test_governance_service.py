"""GovernanceService (`proml.node.services.governance`): what a proposal or an approval stores in the
outbox, and what it refuses. The outbox is the real one, in a temporary folder; what is stored is checked
against the registry's ABI, as the submitter encodes it. The contract's own governance is in
tests/contracts/."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode

from proml.contracts import calls
from proml.core.workflow import Role
from proml.node.services.capture import CaptureError
from proml.node.services.governance import GovernanceService, Proposal
from proml.node.services.outbox import IdempotencyConflict, Outbox, OutboxEntry
from proml.node.services.outbox_entries import GOVERNANCE

MEMBER = "0x" + "ab" * 20
CHECKSUMMED = "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"  # EIP-55


def sent(entry: OutboxEntry) -> tuple[str, list[Any]]:
    """The registry function the submitter will call for the entry, and its arguments as the ABI decodes
    the call data it makes of them."""
    assert entry.kind == GOVERNANCE
    function = calls.function("ProML", entry.payload["function"])
    data = function.encode(*entry.payload["args"])
    return function.name, list(abi_decode(list(function.inputs), data[4:]))


@pytest.mark.parametrize(
    ("proposal", "expected"),
    [
        (
            Proposal(kind="add_member", account=MEMBER, name="Bravo", roles=["data_admin", "Validator"]),
            ("proposeAddMember", [MEMBER, "Bravo", Role.DATA_ADMIN | Role.VALIDATOR]),
        ),
        (
            Proposal(kind="change_roles", account=MEMBER, roles=["auditor"]),
            ("proposeChangeRoles", [MEMBER, Role.AUDITOR]),
        ),
        (Proposal(kind="suspend_member", account=MEMBER), ("proposeSuspendMember", [MEMBER])),
        (Proposal(kind="change_threshold", threshold_bps=10_000), ("proposeThreshold", [10_000])),
        (Proposal(kind="change_threshold", threshold_bps=1), ("proposeThreshold", [1])),
    ],
    ids=lambda value: value.kind if isinstance(value, Proposal) else "",
)
def test_a_proposal_is_stored_as_the_registry_call_that_makes_it(
    outbox: Outbox, proposal: Proposal, expected: tuple[str, list[Any]]
) -> None:
    entry, created = GovernanceService(outbox).propose(proposal)
    assert created
    assert sent(entry) == expected
    assert outbox.get(entry.id) == entry  # stored, not only returned


def test_an_account_is_stored_checksummed(outbox: Outbox) -> None:
    entry, _ = GovernanceService(outbox).propose(Proposal(kind="suspend_member", account=MEMBER))
    assert entry.payload["args"] == [CHECKSUMMED]


def test_an_approval_is_stored_as_the_registry_call(outbox: Outbox) -> None:
    entry, created = GovernanceService(outbox).approve(0)
    assert created and sent(entry) == ("approve", [0])


def test_a_retried_request_returns_the_first_entry_and_another_request_under_its_key_is_refused(
    outbox: Outbox,
) -> None:
    service = GovernanceService(outbox)
    first, _ = service.approve(3, idempotency_key="k")
    again, created = service.approve(3, idempotency_key="k")
    assert (again.id, created) == (first.id, False)
    with pytest.raises(IdempotencyConflict):
        service.approve(4, idempotency_key="k")
    assert len(outbox.queued(10)) == 1


def refusal(outbox: Outbox, **proposal: Any) -> CaptureError:
    with pytest.raises(CaptureError) as refused:
        GovernanceService(outbox).propose(Proposal(**proposal))
    assert outbox.queued(10) == []  # nothing stored for a refused proposal
    return refused.value


def test_an_unknown_kind_is_refused_naming_the_kinds(outbox: Outbox) -> None:
    error = refusal(outbox, kind="dissolve", account=MEMBER)
    assert error.field == "kind"
    assert "'dissolve' is not a proposal kind" in error.detail
    assert all(kind in error.detail for kind in ("add_member", "change_roles", "change_threshold"))


@pytest.mark.parametrize("bps", [None, 0, -1, 10_001])
def test_a_threshold_outside_one_to_ten_thousand_basis_points_is_refused(
    outbox: Outbox, bps: int | None
) -> None:
    error = refusal(outbox, kind="change_threshold", threshold_bps=bps)
    assert error.field == "threshold_bps" and "1 to 10000" in error.detail


@pytest.mark.parametrize(
    "account", [None, "acme", "0x" + "ab" * 19, "0xAbababababababababababababababababababab"]
)
@pytest.mark.parametrize("kind", ["add_member", "change_roles", "suspend_member"])
def test_a_member_proposal_without_a_valid_address_is_refused(
    outbox: Outbox, kind: str, account: str | None
) -> None:
    error = refusal(outbox, kind=kind, account=account, name="Bravo", roles=["auditor"])
    assert error.field == "account"


@pytest.mark.parametrize("kind", ["add_member", "change_roles"])
def test_roles_must_be_known_and_at_least_one(outbox: Outbox, kind: str) -> None:
    unknown = refusal(outbox, kind=kind, account=MEMBER, name="Bravo", roles=["auditor", "janitor"])
    assert unknown.field == "roles"
    assert "'janitor' is not a role" in unknown.detail and "model_developer" in unknown.detail
    none = refusal(outbox, kind=kind, account=MEMBER, name="Bravo", roles=[])
    assert (none.field, none.detail) == ("roles", "give at least one role")


@pytest.mark.parametrize("name", [None, "", "   "])
def test_a_new_member_needs_a_name(outbox: Outbox, name: str | None) -> None:
    error = refusal(outbox, kind="add_member", account=MEMBER, name=name, roles=["auditor"])
    assert error.field == "name"


def test_a_negative_proposal_id_is_refused(outbox: Outbox) -> None:
    with pytest.raises(CaptureError) as refused:
        GovernanceService(outbox).approve(-1)
    assert refused.value.field == "proposal_id"
    assert outbox.queued(10) == []
