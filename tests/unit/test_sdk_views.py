"""The SDK's typed views of the node's answers (proml.sdk.views): they keep the answer whole, refuse one
that lacks what they read, and the consortium's threshold is the contract's rule."""

from __future__ import annotations

from typing import Any

import pytest

from proml.sdk import UnexpectedAnswer
from proml.sdk.views import Consortium, Health, Member, Proposal, parsed, parsed_list


def member(name: str, status: str = "active") -> dict[str, Any]:
    return {"address": f"0x{name}", "name": name, "roles": 15, "role_names": ["validator"], "status": status,
            "status_id": 1, "joined_block": 1, "updated_block": None, "updated_at": None}  # fmt: skip


def threshold(bps: int, executed: bool, id: int = 0) -> dict[str, Any]:
    return {"id": id, "kind": "change_threshold", "proposer": "0xA", "proposer_name": "A",
            "target": None, "name": None, "role_names": [], "threshold_bps": bps, "approvals": 1,
            "executed": executed}  # fmt: skip


def test_a_view_gives_back_the_answer_as_the_node_sent_it() -> None:
    answer = {**member("A"), "a_field_of_a_later_version": [1, 2]}
    (read,) = parsed_list(Member.from_dict, [answer], "/v1/members")
    assert (read.name, read.role_names, read.status) == ("A", ("validator",), "active")
    assert read.to_dict() == answer and list(read.to_dict()) == list(answer)


def test_an_answer_without_what_the_sdk_reads_is_an_unexpected_answer() -> None:
    with pytest.raises(UnexpectedAnswer, match=r"/v1/members .*KeyError: 'name'"):
        parsed(Member.from_dict, {"address": "0xA", "role_names": []}, "/v1/members")
    with pytest.raises(UnexpectedAnswer, match="not a list"):
        parsed_list(Member.from_dict, {"detail": "?"}, "/v1/members")


def test_a_degraded_health_report_says_what_fails() -> None:
    report = Health.from_dict({"status": "degraded", "org": "A", "chain": {"ok": False, "error": "down"},
                               "ipfs": {"ok": True, "peer_id": "12D"}, "index": {"cursor": 7, "lag": 2},
                               "outbox": {"depth": 3}})  # fmt: skip
    assert not report.ok and not report.chain_ok and report.chain_error == "down"
    assert (report.ipfs_ok, report.peer_id, report.index_lag, report.outbox_depth) == (True, "12D", 2, 3)


def test_the_threshold_in_force_is_the_last_executed_change_and_suspended_members_do_not_count() -> None:
    members = [Member.from_dict(member(n)) for n in "ABC"] + [Member.from_dict(member("D", "suspended"))]
    health = {"registry": "0xR", "org": "A", "address": "0xA", "chain": {"chain_id": 31337}}
    default = Consortium.of(health, members, [])
    assert (default.threshold_bps, default.approvals_needed) == (5000, 2)
    proposals = [Proposal.from_dict(threshold(7000, True, 0)), Proposal.from_dict(threshold(9000, False, 1))]
    info = Consortium.of(health, members, proposals)
    # approvals * 10000 > active * thresholdBps: 3 * 7000 = 21000, so 3 approvals (30000) are needed.
    assert (info.threshold_bps, info.active_members, info.approvals_needed) == (7000, 3, 3)
    assert info.to_dict()["chain_id"] == 31337 and info.to_dict()["members"][3]["status"] == "suspended"
