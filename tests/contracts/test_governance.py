"""The ProML registry: its members, its governance by proposals, and its asset registry."""

from __future__ import annotations

from typing import Any

from web3.contract import Contract

from proml.core.workflow import ALL_ROLES, Activity, AssetKind, MemberStatus, ProposalKind, Role

from .consortium import Consortium, cid_for, event_log, random_digest, reverts
from .deployment import dataset_at, deploy_registry, model_at

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_DIGEST = b"\x00" * 32


# ---------------------------------------------------------------- helpers


def call_reverts(consortium: Consortium, function: Any, name: str, **expected: Any) -> None:
    """The view `function` reverts with the custom error `name(**expected)`, exactly.

    Sent as a transaction (the gas estimate runs the same code), so that the revert data takes the same
    path as every other refusal here: eth-tester's `eth_call` path keeps only a string repr of it.
    """
    reverts(consortium, function, "A", name, **expected)


def account(consortium: Consortium, index: int) -> str:
    """An eth-tester account that the consortium has not named (D is index 4)."""
    return str(consortium.w3.eth.accounts[index])


def addr(consortium: Consortium, name: str) -> str:
    return consortium.accounts[name]


def proposal_count(registry: Contract) -> int:
    return int(registry.functions.proposalCount().call())


def proposal(registry: Contract, proposal_id: int) -> dict[str, Any]:
    kind, executed, roles, threshold, approvals, target, proposer, name = registry.functions.proposal(
        proposal_id
    ).call()
    return {
        "kind": kind,
        "executed": executed,
        "roles": roles,
        "thresholdBps": threshold,
        "approvals": approvals,
        "target": target,
        "proposer": proposer,
        "name": name,
    }


def member(registry: Contract, address: str) -> tuple[str, int, int]:
    name, status, roles = registry.functions.member(address).call()
    return name, status, roles


def suspend(consortium: Consortium, name: str, proposer: str, approvers: list[str]) -> None:
    """Suspends the named member through governance and checks that it took effect."""
    registry = consortium.registry
    proposal_id = proposal_count(registry)
    consortium.tx(registry.functions.proposeSuspendMember(addr(consortium, name)), proposer)
    for approver in approvers:
        consortium.tx(registry.functions.approve(proposal_id), approver)
    assert member(registry, addr(consortium, name))[1] == MemberStatus.SUSPENDED


def all_member_added(registry: Contract) -> list[dict[str, Any]]:
    return [dict(log["args"]) for log in registry.events.MemberAdded().get_logs(from_block=0)]


# ---------------------------------------------------------------- members at bootstrap


def test_founder_is_first_member_with_every_role(consortium: Consortium) -> None:
    registry = consortium.registry
    a, b, c, v = (addr(consortium, n) for n in ("A", "B", "C", "V"))
    # The founder's MemberAdded comes from the constructor, before anyone else's.
    assert all_member_added(registry) == [
        {"member": a, "name": "A", "roles": ALL_ROLES},
        {"member": b, "name": "B", "roles": Role.DATA_ADMIN},
        {"member": c, "name": "C", "roles": Role.MODEL_DEVELOPER | Role.DATA_ADMIN},
        {"member": v, "name": "V", "roles": Role.VALIDATOR | Role.AUDITOR},
    ]
    assert member(registry, a) == ("A", MemberStatus.ACTIVE, ALL_ROLES)
    assert registry.functions.memberStatus(a).call() == [MemberStatus.ACTIVE, ALL_ROLES]
    assert member(registry, addr(consortium, "outsider")) == ("", MemberStatus.NONE, 0)
    assert registry.functions.memberCount().call() == 4
    assert [registry.functions.memberAt(i).call() for i in range(4)] == [a, b, c, v]
    call_reverts(consortium, registry.functions.memberAt(4), "IndexOutOfRange", index=4, length=4)
    assert registry.functions.activeMemberCount().call() == 4
    assert registry.functions.BPS().call() == 10_000
    assert registry.functions.thresholdBps().call() == 5_000
    # More than half of four: three.
    assert registry.functions.requiredApprovals().call() == 3


def test_fresh_registry_has_only_its_deployer(consortium: Consortium) -> None:
    founder = account(consortium, 5)
    registry = deploy_registry(consortium.w3, "Solo", founder)
    assert registry.address != consortium.registry.address
    assert all_member_added(registry) == [{"member": founder, "name": "Solo", "roles": ALL_ROLES}]
    assert member(registry, founder) == ("Solo", MemberStatus.ACTIVE, ALL_ROLES)
    # The deployer of the fixture's registry is nobody here.
    assert member(registry, addr(consortium, "A")) == ("", MemberStatus.NONE, 0)
    assert registry.functions.memberCount().call() == 1
    assert registry.functions.memberAt(0).call() == founder
    call_reverts(consortium, registry.functions.memberAt(1), "IndexOutOfRange", index=1, length=1)
    assert registry.functions.activeMemberCount().call() == 1
    assert registry.functions.requiredApprovals().call() == 1
    assert proposal_count(registry) == 0
    assert registry.functions.assetCount().call() == 0
    # Each registry deploys its own implementations.
    implementations = {
        registry.functions.datasetImplementation().call(),
        registry.functions.modelImplementation().call(),
        consortium.registry.functions.datasetImplementation().call(),
        consortium.registry.functions.modelImplementation().call(),
    }
    assert len(implementations) == 4
    for implementation in implementations:
        assert len(consortium.w3.eth.get_code(implementation)) > 0


# ---------------------------------------------------------------- proposals and approvals


def test_add_member_executes_only_when_threshold_is_reached(consortium: Consortium) -> None:
    registry = consortium.registry
    a, b, c = (addr(consortium, n) for n in ("A", "B", "C"))
    d = account(consortium, 4)
    pid = proposal_count(registry)
    assert pid == 3  # B, C and V were admitted by proposals 0, 1 and 2

    receipt = consortium.tx(registry.functions.proposeAddMember(d, "D", Role.DATA_ADMIN), "A")
    assert event_log(registry, receipt) == [
        (
            "ProposalCreated",
            {
                "proposalId": pid,
                "proposer": a,
                "kind": ProposalKind.ADD_MEMBER,
                "target": d,
                "name": "D",
                "roles": Role.DATA_ADMIN,
                "thresholdBps": 0,
            },
        ),
        ("ProposalApproved", {"proposalId": pid, "approver": a, "approvals": 1}),
    ]
    assert proposal_count(registry) == pid + 1
    assert proposal(registry, pid) == {
        "kind": ProposalKind.ADD_MEMBER,
        "executed": False,
        "roles": Role.DATA_ADMIN,
        "thresholdBps": 0,
        "approvals": 1,
        "target": d,
        "proposer": a,
        "name": "D",
    }
    assert registry.functions.hasApproved(pid, a).call() is True
    assert registry.functions.hasApproved(pid, b).call() is False

    # Two approvals of four active members: not more than half, nothing happens.
    assert registry.functions.approve(pid).call({"from": b}) is False
    receipt = consortium.tx(registry.functions.approve(pid), "B")
    assert event_log(registry, receipt) == [
        ("ProposalApproved", {"proposalId": pid, "approver": b, "approvals": 2})
    ]
    assert proposal(registry, pid)["executed"] is False
    assert proposal(registry, pid)["approvals"] == 2
    assert member(registry, d) == ("", MemberStatus.NONE, 0)
    assert registry.functions.memberCount().call() == 4
    assert registry.functions.activeMemberCount().call() == 4

    # The third approval executes it.
    assert registry.functions.approve(pid).call({"from": c}) is True
    receipt = consortium.tx(registry.functions.approve(pid), "C")
    assert event_log(registry, receipt) == [
        ("ProposalApproved", {"proposalId": pid, "approver": c, "approvals": 3}),
        ("MemberAdded", {"member": d, "name": "D", "roles": Role.DATA_ADMIN}),
        ("ProposalExecuted", {"proposalId": pid}),
    ]
    assert proposal(registry, pid)["executed"] is True
    assert proposal(registry, pid)["approvals"] == 3
    assert member(registry, d) == ("D", MemberStatus.ACTIVE, Role.DATA_ADMIN)
    assert registry.functions.memberCount().call() == 5
    assert registry.functions.memberAt(4).call() == d
    assert registry.functions.activeMemberCount().call() == 5
    assert registry.functions.requiredApprovals().call() == 3  # 5 * 0.5 = 2.5, more than that: 3

    # The new member acts at once.
    consortium.tx(registry.functions.proposeThreshold(4_000), d)
    assert proposal(registry, pid + 1)["proposer"] == d


def test_double_approval_reverts(consortium: Consortium) -> None:
    registry = consortium.registry
    a, b = addr(consortium, "A"), addr(consortium, "B")
    pid = proposal_count(registry)
    consortium.tx(registry.functions.proposeThreshold(4_000), "A")
    # The proposer's approval was counted when it proposed.
    reverts(consortium, registry.functions.approve(pid), "A", "AlreadyApproved", proposalId=pid, member=a)
    consortium.tx(registry.functions.approve(pid), "B")
    reverts(consortium, registry.functions.approve(pid), "B", "AlreadyApproved", proposalId=pid, member=b)
    assert proposal(registry, pid)["approvals"] == 2
    assert proposal(registry, pid)["executed"] is False
    assert registry.functions.thresholdBps().call() == 5_000


def test_approving_executed_proposal_reverts(consortium: Consortium) -> None:
    registry = consortium.registry
    v = addr(consortium, "V")
    # Proposal 0 admitted B at bootstrap.
    assert proposal(registry, 0)["executed"] is True
    reverts(consortium, registry.functions.approve(0), "V", "ProposalAlreadyExecuted", proposalId=0)
    assert proposal(registry, 0)["approvals"] == 1
    assert registry.functions.hasApproved(0, v).call() is False

    pid = proposal_count(registry)
    consortium.tx(registry.functions.proposeThreshold(4_000), "A")
    consortium.tx(registry.functions.approve(pid), "B")
    consortium.tx(registry.functions.approve(pid), "C")
    assert proposal(registry, pid)["executed"] is True
    reverts(consortium, registry.functions.approve(pid), "V", "ProposalAlreadyExecuted", proposalId=pid)
    assert proposal(registry, pid)["approvals"] == 3
    assert registry.functions.hasApproved(pid, v).call() is False


def test_unknown_proposal_reverts(consortium: Consortium) -> None:
    registry = consortium.registry
    count = proposal_count(registry)
    reverts(consortium, registry.functions.approve(count), "A", "UnknownProposal", proposalId=count)
    reverts(consortium, registry.functions.approve(2**256 - 1), "A", "UnknownProposal", proposalId=2**256 - 1)
    call_reverts(consortium, registry.functions.proposal(count), "UnknownProposal", proposalId=count)
    assert proposal_count(registry) == count
    # The last existing one is there.
    assert proposal(registry, count - 1)["executed"] is True


def test_suspend_member_keeps_it_listed(consortium: Consortium) -> None:
    registry = consortium.registry
    a, b, c, v = (addr(consortium, n) for n in ("A", "B", "C", "V"))
    pid = proposal_count(registry)
    receipt = consortium.tx(registry.functions.proposeSuspendMember(b), "A")
    assert event_log(registry, receipt) == [
        (
            "ProposalCreated",
            {
                "proposalId": pid,
                "proposer": a,
                "kind": ProposalKind.SUSPEND_MEMBER,
                "target": b,
                "name": "",
                "roles": 0,
                "thresholdBps": 0,
            },
        ),
        ("ProposalApproved", {"proposalId": pid, "approver": a, "approvals": 1}),
    ]
    receipt = consortium.tx(registry.functions.approve(pid), "C")
    assert event_log(registry, receipt) == [
        ("ProposalApproved", {"proposalId": pid, "approver": c, "approvals": 2})
    ]
    assert member(registry, b) == ("B", MemberStatus.ACTIVE, Role.DATA_ADMIN)
    assert registry.functions.activeMemberCount().call() == 4

    receipt = consortium.tx(registry.functions.approve(pid), "V")
    assert event_log(registry, receipt) == [
        ("ProposalApproved", {"proposalId": pid, "approver": v, "approvals": 3}),
        ("MemberSuspended", {"member": b}),
        ("ProposalExecuted", {"proposalId": pid}),
    ]
    # Suspended, not forgotten: name and roles stay, and so does its place in the list.
    assert member(registry, b) == ("B", MemberStatus.SUSPENDED, Role.DATA_ADMIN)
    assert registry.functions.memberStatus(b).call() == [MemberStatus.SUSPENDED, Role.DATA_ADMIN]
    assert registry.functions.activeMemberCount().call() == 3
    assert registry.functions.memberCount().call() == 4
    assert registry.functions.memberAt(1).call() == b
    assert registry.functions.requiredApprovals().call() == 2


def test_suspended_member_cannot_propose_or_approve(consortium: Consortium) -> None:
    registry = consortium.registry
    b, c, d = addr(consortium, "B"), addr(consortium, "C"), account(consortium, 4)
    suspend(consortium, "B", "A", ["C", "V"])
    pid = proposal_count(registry)
    consortium.tx(registry.functions.proposeThreshold(4_000), "A")  # needs 2 of the 3 active members

    reverts(consortium, registry.functions.approve(pid), "B", "SuspendedMember", account=b)
    reverts(
        consortium,
        registry.functions.proposeAddMember(d, "D", Role.DATA_ADMIN),
        "B",
        "SuspendedMember",
        account=b,
    )
    reverts(consortium, registry.functions.proposeSuspendMember(c), "B", "SuspendedMember", account=b)
    reverts(
        consortium,
        registry.functions.proposeChangeRoles(c, Role.DATA_ADMIN),
        "B",
        "SuspendedMember",
        account=b,
    )
    reverts(consortium, registry.functions.proposeThreshold(0), "B", "SuspendedMember", account=b)
    assert proposal_count(registry) == pid + 1
    assert proposal(registry, pid)["approvals"] == 1
    assert registry.functions.hasApproved(pid, b).call() is False
    assert registry.functions.thresholdBps().call() == 5_000

    # An active member's approval does what B's could not.
    consortium.tx(registry.functions.approve(pid), "C")
    assert registry.functions.thresholdBps().call() == 4_000


def test_non_member_cannot_propose_or_approve(consortium: Consortium) -> None:
    registry = consortium.registry
    outsider, c, d = addr(consortium, "outsider"), addr(consortium, "C"), account(consortium, 4)
    pid = proposal_count(registry)
    consortium.tx(registry.functions.proposeThreshold(4_000), "A")
    attempts = [
        registry.functions.approve(pid),
        registry.functions.proposeAddMember(d, "D", Role.DATA_ADMIN),
        registry.functions.proposeAddMember(outsider, "Me", ALL_ROLES),
        registry.functions.proposeSuspendMember(c),
        registry.functions.proposeChangeRoles(c, Role.DATA_ADMIN),
        registry.functions.proposeThreshold(0),
    ]
    for function in attempts:
        reverts(consortium, function, "outsider", "NotAMember", account=outsider)
    assert proposal_count(registry) == pid + 1
    assert proposal(registry, pid)["approvals"] == 1
    assert registry.functions.hasApproved(pid, outsider).call() is False
    assert member(registry, outsider) == ("", MemberStatus.NONE, 0)

    # A member may do each of these.
    consortium.tx(registry.functions.approve(pid), "B")
    consortium.tx(registry.functions.proposeAddMember(d, "D", Role.DATA_ADMIN), "B")
    assert proposal_count(registry) == pid + 2


def test_change_roles(consortium: Consortium) -> None:
    registry = consortium.registry
    a, c, v = addr(consortium, "A"), addr(consortium, "C"), addr(consortium, "V")
    pid = proposal_count(registry)
    receipt = consortium.tx(registry.functions.proposeChangeRoles(c, Role.VALIDATOR), "A")
    assert event_log(registry, receipt)[0] == (
        "ProposalCreated",
        {
            "proposalId": pid,
            "proposer": a,
            "kind": ProposalKind.CHANGE_ROLES,
            "target": c,
            "name": "",
            "roles": Role.VALIDATOR,
            "thresholdBps": 0,
        },
    )
    consortium.tx(registry.functions.approve(pid), "B")
    assert member(registry, c) == ("C", MemberStatus.ACTIVE, Role.MODEL_DEVELOPER | Role.DATA_ADMIN)
    receipt = consortium.tx(registry.functions.approve(pid), "V")
    assert event_log(registry, receipt) == [
        ("ProposalApproved", {"proposalId": pid, "approver": v, "approvals": 3}),
        (
            "MemberRolesChanged",
            {"member": c, "oldRoles": Role.MODEL_DEVELOPER | Role.DATA_ADMIN, "newRoles": 4},
        ),
        ("ProposalExecuted", {"proposalId": pid}),
    ]
    # Exactly the new roles: the old ones are gone.
    assert member(registry, c) == ("C", MemberStatus.ACTIVE, Role.VALIDATOR)
    assert registry.functions.activeMemberCount().call() == 4
    digest = random_digest()
    reverts(
        consortium,
        registry.functions.registerModel(digest, digest, cid_for(digest), []),
        "C",
        "MissingRole",
        account=c,
        role=Role.MODEL_DEVELOPER,
    )


def test_threshold_zero_lets_one_member_decide(consortium: Consortium) -> None:
    registry = consortium.registry
    a, b, d = addr(consortium, "A"), addr(consortium, "B"), account(consortium, 4)
    pid = proposal_count(registry)
    receipt = consortium.tx(registry.functions.proposeThreshold(0), "A")
    assert event_log(registry, receipt)[0] == (
        "ProposalCreated",
        {
            "proposalId": pid,
            "proposer": a,
            "kind": ProposalKind.CHANGE_THRESHOLD,
            "target": ZERO_ADDRESS,
            "name": "",
            "roles": 0,
            "thresholdBps": 0,
        },
    )
    consortium.tx(registry.functions.approve(pid), "B")
    assert registry.functions.thresholdBps().call() == 5_000
    receipt = consortium.tx(registry.functions.approve(pid), "C")
    assert ("ThresholdChanged", {"oldThresholdBps": 5_000, "newThresholdBps": 0}) in event_log(
        registry, receipt
    )
    assert registry.functions.thresholdBps().call() == 0
    assert registry.functions.requiredApprovals().call() == 1

    # From now on the proposer's own approval executes a proposal in the same transaction.
    receipt = consortium.tx(registry.functions.proposeAddMember(d, "D", Role.DATA_ADMIN), "B")
    assert [name for name, _ in event_log(registry, receipt)] == [
        "ProposalCreated",
        "ProposalApproved",
        "MemberAdded",
        "ProposalExecuted",
    ]
    assert event_log(registry, receipt)[1] == (
        "ProposalApproved",
        {"proposalId": pid + 1, "approver": b, "approvals": 1},
    )
    assert member(registry, d) == ("D", MemberStatus.ACTIVE, Role.DATA_ADMIN)
    assert proposal(registry, pid + 1)["executed"] is True
    assert registry.functions.activeMemberCount().call() == 5
    assert registry.functions.requiredApprovals().call() == 1


def test_threshold_9999_needs_every_member(consortium: Consortium) -> None:
    registry = consortium.registry
    d = account(consortium, 4)
    pid = proposal_count(registry)
    consortium.tx(registry.functions.proposeThreshold(9_999), "A")
    consortium.tx(registry.functions.approve(pid), "B")
    receipt = consortium.tx(registry.functions.approve(pid), "C")
    assert ("ThresholdChanged", {"oldThresholdBps": 5_000, "newThresholdBps": 9_999}) in event_log(
        registry, receipt
    )
    assert registry.functions.thresholdBps().call() == 9_999
    assert registry.functions.requiredApprovals().call() == 4

    add = pid + 1
    consortium.tx(registry.functions.proposeAddMember(d, "D", Role.DATA_ADMIN), "A")
    consortium.tx(registry.functions.approve(add), "B")
    consortium.tx(registry.functions.approve(add), "C")
    # Three of four: under the old threshold this would have executed, now it does not.
    assert proposal(registry, add)["approvals"] == 3
    assert proposal(registry, add)["executed"] is False
    assert member(registry, d) == ("", MemberStatus.NONE, 0)
    consortium.tx(registry.functions.approve(add), "V")
    assert proposal(registry, add)["executed"] is True
    assert member(registry, d) == ("D", MemberStatus.ACTIVE, Role.DATA_ADMIN)
    assert registry.functions.requiredApprovals().call() == 5


def test_invalid_threshold(consortium: Consortium) -> None:
    registry = consortium.registry
    count = proposal_count(registry)
    for bps in (10_000, 10_001, 65_535):
        reverts(
            consortium, registry.functions.proposeThreshold(bps), "A", "InvalidThreshold", thresholdBps=bps
        )
    assert proposal_count(registry) == count
    assert registry.functions.thresholdBps().call() == 5_000
    consortium.tx(registry.functions.proposeThreshold(9_999), "A")
    assert proposal_count(registry) == count + 1


def test_invalid_roles(consortium: Consortium) -> None:
    registry = consortium.registry
    c, d = addr(consortium, "C"), account(consortium, 4)
    count = proposal_count(registry)
    for roles in (16, ALL_ROLES | 16, 255):
        reverts(
            consortium, registry.functions.proposeAddMember(d, "D", roles), "A", "InvalidRoles", roles=roles
        )
        reverts(consortium, registry.functions.proposeChangeRoles(c, roles), "A", "InvalidRoles", roles=roles)
    assert proposal_count(registry) == count
    consortium.tx(registry.functions.proposeAddMember(d, "D", ALL_ROLES), "A")
    consortium.tx(registry.functions.proposeChangeRoles(c, 0), "A")
    assert proposal_count(registry) == count + 2


def test_empty_name_and_zero_address(consortium: Consortium) -> None:
    registry = consortium.registry
    d = account(consortium, 4)
    count = proposal_count(registry)
    reverts(consortium, registry.functions.proposeAddMember(d, "", Role.DATA_ADMIN), "A", "EmptyName")
    reverts(
        consortium,
        registry.functions.proposeAddMember(ZERO_ADDRESS, "Z", Role.DATA_ADMIN),
        "A",
        "ZeroAddress",
    )
    assert proposal_count(registry) == count
    consortium.tx(registry.functions.proposeAddMember(d, "D", Role.DATA_ADMIN), "A")
    assert proposal_count(registry) == count + 1


def test_already_member(consortium: Consortium) -> None:
    registry = consortium.registry
    a, b, d = addr(consortium, "A"), addr(consortium, "B"), account(consortium, 4)
    count = proposal_count(registry)
    reverts(
        consortium, registry.functions.proposeAddMember(b, "B", ALL_ROLES), "A", "AlreadyMember", account=b
    )
    reverts(
        consortium, registry.functions.proposeAddMember(a, "A", ALL_ROLES), "B", "AlreadyMember", account=a
    )
    assert proposal_count(registry) == count
    assert member(registry, b) == ("B", MemberStatus.ACTIVE, Role.DATA_ADMIN)

    # Checked again at execution: two proposals to admit D, the first one wins.
    first, second = count, count + 1
    consortium.tx(registry.functions.proposeAddMember(d, "D1", Role.DATA_ADMIN), "A")
    consortium.tx(registry.functions.proposeAddMember(d, "D2", ALL_ROLES), "B")
    consortium.tx(registry.functions.approve(first), "B")
    consortium.tx(registry.functions.approve(first), "C")
    assert member(registry, d) == ("D1", MemberStatus.ACTIVE, Role.DATA_ADMIN)
    consortium.tx(registry.functions.approve(second), "A")
    reverts(consortium, registry.functions.approve(second), "C", "AlreadyMember", account=d)
    assert proposal(registry, second)["executed"] is False
    assert proposal(registry, second)["approvals"] == 2
    assert member(registry, d) == ("D1", MemberStatus.ACTIVE, Role.DATA_ADMIN)
    assert registry.functions.activeMemberCount().call() == 5


def test_not_active_member(consortium: Consortium) -> None:
    registry = consortium.registry
    outsider, b = addr(consortium, "outsider"), addr(consortium, "B")
    reverts(
        consortium,
        registry.functions.proposeSuspendMember(outsider),
        "A",
        "NotActiveMember",
        account=outsider,
    )
    reverts(
        consortium,
        registry.functions.proposeChangeRoles(outsider, 1),
        "A",
        "NotActiveMember",
        account=outsider,
    )

    # A pending role change for B, then B is suspended.
    change = proposal_count(registry)
    consortium.tx(registry.functions.proposeChangeRoles(b, ALL_ROLES), "A")
    suspend(consortium, "B", "A", ["C", "V"])
    count = proposal_count(registry)
    reverts(consortium, registry.functions.proposeSuspendMember(b), "A", "NotActiveMember", account=b)
    reverts(consortium, registry.functions.proposeChangeRoles(b, 1), "A", "NotActiveMember", account=b)
    assert proposal_count(registry) == count

    # Two approvals of three active members now suffice, but the target is no longer active.
    assert registry.functions.requiredApprovals().call() == 2
    reverts(consortium, registry.functions.approve(change), "C", "NotActiveMember", account=b)
    assert proposal(registry, change)["executed"] is False
    assert member(registry, b) == ("B", MemberStatus.SUSPENDED, Role.DATA_ADMIN)


def test_last_active_member_cannot_be_suspended(consortium: Consortium) -> None:
    solo, other = account(consortium, 5), account(consortium, 6)
    registry = deploy_registry(consortium.w3, "Solo", solo)
    reverts(consortium, registry.functions.proposeSuspendMember(solo), solo, "LastActiveMember", account=solo)
    assert proposal_count(registry) == 0

    # Alone, the founder decides: the other member is admitted at once.
    consortium.tx(registry.functions.proposeAddMember(other, "Other", Role.DATA_ADMIN), solo)
    assert member(registry, other) == ("Other", MemberStatus.ACTIVE, Role.DATA_ADMIN)
    assert registry.functions.activeMemberCount().call() == 2
    assert registry.functions.requiredApprovals().call() == 2

    suspend_other, suspend_solo = 1, 2
    consortium.tx(registry.functions.proposeSuspendMember(other), solo)
    consortium.tx(registry.functions.proposeSuspendMember(solo), other)
    consortium.tx(registry.functions.approve(suspend_other), other)  # `other` is suspended: one active left
    assert member(registry, other)[1] == MemberStatus.SUSPENDED
    assert registry.functions.activeMemberCount().call() == 1

    # The pending proposal would now leave nobody: it cannot execute.
    reverts(consortium, registry.functions.approve(suspend_solo), solo, "LastActiveMember", account=solo)
    assert proposal(registry, suspend_solo)["executed"] is False
    assert proposal(registry, suspend_solo)["approvals"] == 1
    reverts(consortium, registry.functions.proposeSuspendMember(solo), solo, "LastActiveMember", account=solo)
    assert member(registry, solo) == ("Solo", MemberStatus.ACTIVE, ALL_ROLES)
    assert registry.functions.activeMemberCount().call() == 1
    assert proposal_count(registry) == 3


def test_reinstated_member_is_active_again_in_its_old_place(consortium: Consortium) -> None:
    registry = consortium.registry
    a, b = addr(consortium, "A"), addr(consortium, "B")
    suspend(consortium, "B", "A", ["C", "V"])
    pid = proposal_count(registry)
    receipt = consortium.tx(registry.functions.proposeAddMember(b, "B again", Role.MODEL_DEVELOPER), "A")
    assert event_log(registry, receipt)[0][1]["target"] == b
    assert member(registry, b)[1] == MemberStatus.SUSPENDED
    receipt = consortium.tx(registry.functions.approve(pid), "C")  # 2 of 3 active members
    assert ("MemberAdded", {"member": b, "name": "B again", "roles": Role.MODEL_DEVELOPER}) in event_log(
        registry, receipt
    )
    assert member(registry, b) == ("B again", MemberStatus.ACTIVE, Role.MODEL_DEVELOPER)
    assert registry.functions.activeMemberCount().call() == 4
    # Not appended a second time.
    assert registry.functions.memberCount().call() == 4
    assert [registry.functions.memberAt(i).call() for i in range(4)] == [
        a,
        b,
        addr(consortium, "C"),
        addr(consortium, "V"),
    ]
    # Active again, with its new roles.
    consortium.tx(registry.functions.proposeThreshold(4_000), "B")
    assert proposal(registry, pid + 1)["proposer"] == b
    consortium.model("B")
    assert registry.functions.assetCount().call() == 1


# ---------------------------------------------------------------- asset registry


def test_asset_lookups(consortium: Consortium) -> None:
    registry = consortium.registry
    outsider = addr(consortium, "outsider")
    assert registry.functions.assetCount().call() == 0
    call_reverts(consortium, registry.functions.assetAt(0), "IndexOutOfRange", index=0, length=0)
    assert registry.functions.isAsset(outsider).call() is False
    assert registry.functions.assetKind(outsider).call() == AssetKind.NONE

    data = consortium.dataset("B")
    model = consortium.model("C", ancestors=[data.address])
    assert registry.functions.assetCount().call() == 2
    assert registry.functions.assetAt(0).call() == data.address
    assert registry.functions.assetAt(1).call() == model.address
    call_reverts(consortium, registry.functions.assetAt(2), "IndexOutOfRange", index=2, length=2)
    assert registry.functions.isAsset(data.address).call() is True
    assert registry.functions.isAsset(model.address).call() is True
    assert registry.functions.assetKind(data.address).call() == AssetKind.DATASET
    assert registry.functions.assetKind(model.address).call() == AssetKind.MODEL
    # Neither the implementations nor the registry itself are assets.
    for other in (
        registry.functions.datasetImplementation().call(),
        registry.functions.modelImplementation().call(),
        registry.address,
        outsider,
    ):
        assert registry.functions.isAsset(other).call() is False
        assert registry.functions.assetKind(other).call() == AssetKind.NONE


def test_register_dataset(consortium: Consortium) -> None:
    registry = consortium.registry
    b = addr(consortium, "B")
    parent = consortium.dataset("C")
    content, record = random_digest(), random_digest()
    receipt = consortium.tx(
        registry.functions.registerDataset(content, record, cid_for(record), [parent.address]), "B"
    )
    events = event_log(registry, receipt)
    assert len(events) == 1
    name, args = events[0]
    assert name == "AssetRegistered"
    asset = args["asset"]
    assert args == {
        "asset": asset,
        "kind": AssetKind.DATASET,
        "owner": b,
        "contentDigest": content,
        "recordDigest": record,
        "recordCID": cid_for(record),
    }
    assert registry.functions.assetAt(1).call() == asset
    data = dataset_at(consortium.w3, asset)
    assert data.functions.owner().call() == b
    assert data.functions.ancestors().call() == [parent.address]
    assert data.functions.kind().call() == AssetKind.DATASET
    assert data.functions.registry().call() == registry.address
    assert data.functions.recordCount().call() == 1
    assert data.functions.state().call() == 0
    # The registration is record 0, signed by the owner, with the ancestors as inputs.
    (recorded,) = consortium.records(data)
    assert recorded.seq == 0
    assert recorded.actor == b
    assert recorded.activity == Activity.REGISTER
    assert recorded.accepted is True
    assert recorded.record_digest == record
    assert recorded.record_cid == cid_for(record)
    assert recorded.inputs == (bytes(12) + bytes.fromhex(parent.address[2:]),)
    assert recorded.outputs == (content,)


def test_register_model_with_dataset_and_model_ancestors(consortium: Consortium) -> None:
    registry = consortium.registry
    c = addr(consortium, "C")
    data = consortium.dataset("B")
    base = consortium.model("A")
    record = random_digest()
    # A model may be registered before it is trained: zero content digest.
    receipt = consortium.tx(
        registry.functions.registerModel(ZERO_DIGEST, record, cid_for(record), [data.address, base.address]),
        "C",
    )
    ((name, args),) = event_log(registry, receipt)
    assert name == "AssetRegistered"
    assert args["kind"] == AssetKind.MODEL
    assert args["owner"] == c
    assert args["contentDigest"] == ZERO_DIGEST
    assert args["recordDigest"] == record
    assert args["recordCID"] == cid_for(record)
    model = model_at(consortium.w3, args["asset"])
    assert model.functions.owner().call() == c
    assert model.functions.ancestors().call() == [data.address, base.address]
    assert model.functions.kind().call() == AssetKind.MODEL
    assert model.functions.registry().call() == registry.address
    assert model.functions.recordCount().call() == 1
    assert registry.functions.assetKind(model.address).call() == AssetKind.MODEL
    assert registry.functions.assetCount().call() == 3
    assert base.functions.ancestors().call() == []


def test_dataset_needs_content_digest(consortium: Consortium) -> None:
    registry = consortium.registry
    record = random_digest()
    reverts(
        consortium,
        registry.functions.registerDataset(ZERO_DIGEST, record, cid_for(record), []),
        "B",
        "EmptyContentDigest",
    )
    assert registry.functions.assetCount().call() == 0
    consortium.tx(registry.functions.registerDataset(random_digest(), record, cid_for(record), []), "B")
    assert registry.functions.assetCount().call() == 1


def test_invalid_ancestors(consortium: Consortium) -> None:
    registry = consortium.registry
    data = consortium.dataset("B")
    model = consortium.model("C")
    not_assets = [
        addr(consortium, "outsider"),
        registry.functions.datasetImplementation().call(),
        registry.functions.modelImplementation().call(),
        registry.address,
        ZERO_ADDRESS,
    ]
    record = random_digest()
    for bad in not_assets:
        for register, sender in (
            (registry.functions.registerDataset, "B"),
            (registry.functions.registerModel, "C"),
        ):
            reverts(
                consortium,
                register(random_digest(), record, cid_for(record), [data.address, bad]),
                sender,
                "InvalidAncestor",
                ancestor=bad,
            )
    # A dataset does not derive from a model.
    reverts(
        consortium,
        registry.functions.registerDataset(
            random_digest(), record, cid_for(record), [data.address, model.address]
        ),
        "B",
        "InvalidAncestor",
        ancestor=model.address,
    )
    assert registry.functions.assetCount().call() == 2

    # An asset of another registry is not an asset of this one.
    other = deploy_registry(consortium.w3, "Other", account(consortium, 5))
    reverts(
        consortium,
        other.functions.registerDataset(random_digest(), record, cid_for(record), [data.address]),
        account(consortium, 5),
        "InvalidAncestor",
        ancestor=data.address,
    )

    # What is allowed: datasets from datasets, models from both.
    child = consortium.dataset("B", ancestors=[data.address])
    assert child.functions.ancestors().call() == [data.address]
    derived = consortium.model("C", ancestors=[model.address, data.address, child.address])
    assert derived.functions.ancestors().call() == [model.address, data.address, child.address]
    assert registry.functions.assetCount().call() == 4
