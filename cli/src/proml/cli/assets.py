"""`proml dataset|model register|record|show|list` (plus `dataset derive`, `model rollback`), `history`,
and `verify`: datasets and models through a node's HTTP API."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from proml.core.workflow import TRANSITIONS, AssetKind
from proml.sdk import Node, TransitionRejected
from proml.sdk.client import Asset, AssetKindName, Entry, Value
from proml.sdk.views import AssetDetails, who

from . import files
from .connection import Target, with_node
from .exit_codes import EXIT_CHECK_FAILED
from .output import history_rows, json_option, print_json, show, table

ASSET_REF = re.compile(r"0x[0-9a-fA-F]{40}|outbox:\S+")
WAIT_TIMEOUT = 300.0

_wait_option = click.option(
    "--wait", is_flag=True, help="Wait until the record is final on chain and in the node's index."
)
_notes_option = click.option("--notes", help="Free text kept in the record document.")
_param_option = click.option(
    "--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter (repeatable; JSON values)."
)
_digest_only_option = click.option(
    "--digest-only", is_flag=True, help="Hash files here and record their digests; upload nothing."
)


def pairs(values: Sequence[str], what: str) -> dict[str, str]:
    """`name=value` options as a dict; a missing '=' is a usage error."""
    result = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"{what} {item!r} must be NAME=VALUE")
        result[name] = value
    return result


def json_values(values: Sequence[str], what: str) -> dict[str, Any]:
    """Values that read as JSON (numbers, true, lists) are kept as such; anything else is a string."""
    parsed: dict[str, Any] = {}
    for name, text in pairs(values, what).items():
        try:
            parsed[name] = json.loads(text)
        except ValueError:
            parsed[name] = text
    return parsed


def metrics(values: Sequence[str]) -> dict[str, float]:
    result = {}
    for name, text in pairs(values, "--metric").items():
        try:
            result[name] = float(text)
        except ValueError:
            raise click.UsageError(f"--metric {name}={text}: a metric is a number") from None
    return result


def artifact(node: Node, value: str, digest_only: bool) -> Value:
    """An input or output: an asset (by address or outbox:<id>), else a file (uploaded, or only hashed
    here with --digest-only)."""
    if ASSET_REF.fullmatch(value):
        return node.asset_ref(value)
    return {"kind": "file", **files.content(node, Path(value), digest_only)}


def report_entry(entry: Entry, wait: bool, as_json: bool) -> None:
    """Print what the node accepted; with --wait, follow it to the chain. A transition the state machine
    refused is kept on chain, but the command did not do what was asked: exit 1."""
    if wait:
        click.echo(f"waiting for {entry.view['ref']} to be final on chain and indexed", err=True)
        with warnings.catch_warnings():
            # The CLI says it in its own words, below.
            warnings.simplefilter("ignore", TransitionRejected)
            entry.wait(WAIT_TIMEOUT)
    view = entry.view
    if as_json:
        print_json(view)
    else:
        name = view.get("asset") or view["ref"]
        click.echo(f"{view['activity'] or view['kind']} of {name}: {view['status']} (outbox {view['ref']})")
        if view.get("seq") is not None:
            click.echo(f"seq {view['seq']}, accepted: {view['accepted']}, transaction {view['tx_hash']}")
        if not wait:
            click.echo("Add --wait to wait for the chain; `proml history ASSET` shows it once indexed.")
    if view.get("accepted") is False:
        if entry.rejection is not None:
            click.echo(f"Refused: {entry.rejection}", err=True)
        else:
            click.echo(
                f"The state machine refused {view['activity']}: the record is kept with accepted=false. "
                "`proml history` shows the state it was in.",
                err=True,
            )
        raise SystemExit(EXIT_CHECK_FAILED)


def register(
    node: Node,
    kind: AssetKindName,
    file: Path | None,
    *,
    name: str,
    digest_only: bool,
    ancestors: Sequence[str],
    params: Sequence[str],
    notes: str | None,
) -> Asset:
    for ancestor in ancestors:
        if not ASSET_REF.fullmatch(ancestor):
            raise click.UsageError(f"--ancestor {ancestor!r} is neither an address (0x…) nor outbox:<id>")
    parameters = json_values(params, "--param")
    content = None if file is None else files.content(node, file, digest_only)
    return node.register(
        kind, name=name, content=content, ancestors=list(ancestors), params=parameters, notes=notes or None
    )


def asset_group(kind: AssetKindName, file_required: bool) -> click.Group:
    """The commands a dataset and a model share; each kind adds its own afterwards."""

    @click.group(kind, help=f"Register {kind}s, record what is done to them, look them up.")
    def group() -> None:
        pass

    @group.command(
        "register",
        help=f"Register a {kind} from FILE (uploaded to the consortium's IPFS, or only its digest with "
        "--digest-only)." + ("" if file_required else " FILE is optional: a model may be trained later."),
    )
    @click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=file_required)
    @click.option("--name", required=True, help=f"The {kind}'s name (kept in its registration record).")
    @click.option(
        "--ancestor", "ancestors", multiple=True, metavar="ASSET", help="What it derives from (repeatable)."
    )
    @_digest_only_option
    @_param_option
    @_notes_option
    @_wait_option
    @json_option
    @with_node
    def register_command(node: Node, target: Target, file: Path | None, **options: Any) -> None:
        wait, as_json = options.pop("wait"), options.pop("as_json")
        report_entry(register(node, kind, file, **options), wait, as_json)

    activities = [activity.name.lower() for activity in TRANSITIONS[AssetKind[kind.upper()]]]

    @group.command(
        "record",
        help=f"Record ACTIVITY on ASSET (an address, or outbox:<id> of a registration not yet on chain). "
        f"A {kind}'s activities: {', '.join(activities)}.",
    )
    @click.argument("asset")
    @click.argument("activity", type=click.Choice(activities), metavar="ACTIVITY")
    @click.option("--input", "inputs", multiple=True, metavar="NAME=PATH|ASSET", help="Repeatable.")
    @click.option("--output", "outputs", multiple=True, metavar="NAME=PATH", help="Repeatable.")
    @_param_option
    @click.option("--metric", "metric_values", multiple=True, metavar="KEY=NUMBER", help="Repeatable.")
    @_notes_option
    @_digest_only_option
    @_wait_option
    @json_option
    @with_node
    def record_command(
        node: Node,
        target: Target,
        asset: str,
        activity: str,
        inputs: tuple[str, ...],
        outputs: tuple[str, ...],
        params: tuple[str, ...],
        metric_values: tuple[str, ...],
        notes: str | None,
        digest_only: bool,
        wait: bool,
        as_json: bool,
    ) -> None:
        given = {n: artifact(node, v, digest_only) for n, v in pairs(inputs, "--input").items()}
        made = {n: artifact(node, v, digest_only) for n, v in pairs(outputs, "--output").items()}
        recorded = node.record(
            asset,
            activity,
            inputs=given,
            outputs=made,
            params=json_values(params, "--param"),
            metrics=metrics(metric_values),
            notes=notes or None,
        )
        report_entry(recorded, wait, as_json)

    @group.command("show")
    @click.argument("asset")
    @json_option
    @with_node
    def show_command(node: Node, target: Target, asset: str, as_json: bool) -> None:
        """The asset's summary and its history."""
        details = node.asset_details(asset)
        show(details.to_dict(), as_json, describe(details), history_rows(details.history))

    @group.command("list")
    @click.option("--owner", help="Only those of this organisation (address).")
    @click.option("--state", help="Only those in this state (e.g. published, deployed).")
    @click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
    @json_option
    @with_node
    def list_command(
        node: Node, target: Target, owner: str | None, state: str | None, limit: int, as_json: bool
    ) -> None:
        """The registered assets of this kind, in order of registration."""
        found = node.assets(kind=kind, owner=owner, state=state, limit=limit)
        if as_json:
            print_json([a.to_dict() for a in found])
            return
        rows = [[a.address, a.state, a.owner_label, a.record_count, a.registered_at] for a in found]
        click.echo(table(["address", "state", "owner", "records", "registered"], rows))

    return group


def describe(asset: AssetDetails) -> str:
    ancestors = ", ".join(asset.ancestors) or "none"
    return "\n".join(
        [
            f"{asset.kind} {asset.address}",
            f"  state       {asset.state} ({asset.record_count} records)",
            f"  owner       {asset.owner_label}",
            f"  registered  {asset.registered_at} (block {asset.registered_block})",
            f"  content     {asset.content_digest or '(none yet)'}",
            f"  ancestors   {ancestors}",
        ]
    )


dataset = asset_group("dataset", file_required=True)
model = asset_group("model", file_required=False)


@dataset.command("derive")
@click.argument("parent")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", required=True, help="The new dataset's name.")
@_digest_only_option
@_param_option
@_notes_option
@_wait_option
@json_option
@with_node
def derive_command(node: Node, target: Target, parent: str, file: Path, **options: Any) -> None:
    """Register FILE as a dataset derived from PARENT (a subset, a cleaned or relabelled copy)."""
    wait, as_json = options.pop("wait"), options.pop("as_json")
    report_entry(register(node, "dataset", file, ancestors=[parent], **options), wait, as_json)


@model.command("rollback")
@click.argument("asset")
@click.option("--to", "to_seq", type=click.IntRange(0), required=True, help="The seq to return to.")
@click.option("--reason", required=True, help="Why (kept on chain).")
@_wait_option
@json_option
@with_node
def rollback_command(
    node: Node, target: Target, asset: str, to_seq: int, reason: str, wait: bool, as_json: bool
) -> None:
    """Return a model to the state it had after record --to (an earlier accepted record)."""
    report_entry(node.rollback(asset, to_seq=to_seq, reason=reason), wait, as_json)


@click.command("history")
@click.argument("asset")
@json_option
@with_node
def history_command(node: Node, target: Target, asset: str, as_json: bool) -> None:
    """Every record of ASSET, accepted or not: seq, when, who, activity, from → to."""
    history = node.history(asset)
    show([r.to_dict() for r in history], as_json, history_rows(history))


@click.command("verify")
@click.argument("asset")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@with_node
def verify_command(node: Node, target: Target, asset: str, file: Path, as_json: bool) -> None:
    """Is FILE the one recorded for ASSET? Exit 0 if an accepted record holds it (OK); 1 if only records
    the state machine refused hold it (REJECTED_ONLY) or none does (MISMATCH)."""
    report = files.verify(node, asset, file)
    if as_json:
        print_json(report)
    else:
        click.echo(f"{report['result']}: {file} ({report['file'].get('sha256', '')})")
        click.echo(_VERDICTS.get(report["result"], "what is recorded for the asset:"))
        shown = report["recorded"] if report["result"] == "MISMATCH" else report["matches"]
        for e in shown:
            refused = "" if e["accepted"] else f" ({REFUSED})"
            by = who(e.get("actor_name"), e.get("actor"))
            click.echo(
                f"  seq {e['seq']} {e['activity']} {e['where']} {e['digest']} by {by} at "
                f"{e['timestamp']}{refused}"
            )
    if not report["ok"]:
        raise SystemExit(EXIT_CHECK_FAILED)


REFUSED = "REFUSED by the state machine: accepted=false"
_VERDICTS = {
    "OK": "recorded as:",
    "REJECTED_ONLY": "the only records of this file were refused by the state machine (accepted=false): "
    "they are kept on chain, but prove nothing about the asset. Refused records:",
    "MISMATCH": "no record of the asset holds this file; what is recorded for it instead:",
}
