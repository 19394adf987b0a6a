"""`proml member list|propose|approve` and `proml consortium info`: the consortium's members and its
governance, through a node (proposals and approvals need an admin key; the node signs them)."""

from __future__ import annotations

from collections.abc import Sequence

import click

from proml.sdk import Node
from proml.sdk.client import Entry
from proml.sdk.views import Member, Proposal

from .connection import Target, with_node
from .founding import deploy_command, join_command
from .output import json_option, print_json, table

ROLES = ("data_admin", "model_developer", "validator", "auditor")


def _roles(text: str) -> list[str]:
    roles = [r.strip().lower().replace("-", "_") for r in text.split(",") if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise click.UsageError(f"--roles {text!r}: use a comma-separated list of {', '.join(ROLES)}")
    return roles


def _member_rows(members: Sequence[Member]) -> str:
    rows = [[m.name, m.address, ",".join(m.role_names), m.status] for m in members]
    return table(["name", "address", "roles", "status"], rows)


def _proposal_rows(proposals: Sequence[Proposal]) -> str:
    rows = [
        [
            p.id,
            p.kind,
            p.target or p.threshold_bps,
            p.name,
            ",".join(p.role_names),
            p.proposer_label,
            p.approvals,
            "yes" if p.executed else "no",
        ]
        for p in proposals
    ]
    return table(["id", "kind", "target", "name", "roles", "proposer", "approvals", "executed"], rows)


@click.group("member")
def member() -> None:
    """The consortium's organisations: list them, propose a change, approve a proposal."""


@member.command("list")
@json_option
@with_node
def list_command(node: Node, target: Target, as_json: bool) -> None:
    """Every organisation ever admitted, with its roles and status."""
    members = node.members()
    if as_json:
        print_json([m.to_dict() for m in members])
        return
    click.echo(_member_rows(members))


@member.command("propose")
@click.option("--add", "add", metavar="ADDRESS", help="Admit an organisation (with --name and --roles).")
@click.option("--suspend", "suspend", metavar="ADDRESS", help="Suspend a member.")
@click.option("--change-roles", "change", metavar="ADDRESS", help="Give a member other --roles.")
@click.option("--threshold", "threshold_bps", type=click.IntRange(1, 9999), help="New threshold (bps).")
@click.option("--name", help="The organisation's name (with --add).")
@click.option("--roles", help=f"Comma-separated: {', '.join(ROLES)}.")
@json_option
@with_node
def propose_command(
    node: Node,
    target: Target,
    add: str | None,
    suspend: str | None,
    change: str | None,
    threshold_bps: int | None,
    name: str | None,
    roles: str | None,
    as_json: bool,
) -> None:
    """Propose one change to the consortium; proposing counts as this organisation's approval."""
    chosen = [k for k, v in (("add", add), ("suspend", suspend), ("change", change)) if v]
    if threshold_bps is not None:
        chosen.append("threshold")
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --add, --suspend, --change-roles, --threshold")
    if add:
        if not name or not roles:
            raise click.UsageError("--add needs --name and --roles")
        proposed = node.propose_admission(add, name=name, roles=_roles(roles))
    elif suspend:
        proposed = node.propose_suspension(suspend)
    elif change:
        if not roles:
            raise click.UsageError("--change-roles needs --roles")
        proposed = node.propose_roles(change, roles=_roles(roles))
    else:
        assert threshold_bps is not None  # the one option chosen
        proposed = node.propose_threshold(threshold_bps)
    _report(proposed, as_json)


@member.command("approve")
@click.argument("proposal_id", type=click.IntRange(0))
@json_option
@with_node
def approve_command(node: Node, target: Target, proposal_id: int, as_json: bool) -> None:
    """Approve proposal PROPOSAL_ID as this organisation (`proml consortium info` lists them)."""
    _report(node.approve(proposal_id), as_json)


def _report(entry: Entry, as_json: bool) -> None:
    view = entry.view
    if as_json:
        print_json(view)
    else:
        click.echo(f"accepted by the node: outbox {view.get('ref', view.get('id'))}, {view.get('status')}")
        click.echo("`proml consortium info` shows the proposal once its block is indexed.")


@click.group("consortium")
def consortium() -> None:
    """Start a consortium, join one, or see it as this node does."""


@consortium.command("info")
@json_option
@with_node
def info_command(node: Node, target: Target, as_json: bool) -> None:
    """The registry, the members, the approval threshold and the proposals."""
    info = node.consortium()
    if as_json:
        print_json(info.to_dict())
        return
    click.echo(f"registry   {info.registry} (chain id {info.chain_id})")
    click.echo(f"this node  {info.org} ({info.address})")
    click.echo(
        f"threshold  {info.threshold_bps} bps: {info.approvals_needed} of {info.active_members} active "
        "members must approve"
    )
    click.echo("")
    click.echo(_member_rows(info.members))
    if info.proposals:
        click.echo("")
        click.echo(_proposal_rows(info.proposals))


consortium.add_command(deploy_command)
consortium.add_command(join_command)
