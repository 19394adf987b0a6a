"""`proml audit ASSET|--all`: the audit of `proml.sdk.audit` (histories, verification results, payload
availability and the gaps found), written as a report in Markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from proml.sdk import Node
from proml.sdk.audit import audit

from .audit_report import markdown
from .connection import Target, with_node
from .exit_codes import EXIT_CHECK_FAILED
from .output import fail, json_option, print_json


@click.command("audit")
@click.argument("asset", required=False)
@click.option("--all", "audit_all", is_flag=True, help="Audit every asset the node has indexed.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Where to write audit-<asset|all>.md and .json.",
)
@click.option(
    "--no-payloads", is_flag=True, help="Do not have the node fetch and check every payload a record names."
)
@click.option(
    "--payload-timeout",
    type=click.FloatRange(min=0, min_open=True, max=3600),
    default=60.0,
    show_default=True,
    help="Seconds the node waits for one payload.",
)
@json_option
@with_node
def audit_command(
    node: Node,
    target: Target,
    asset: str | None,
    audit_all: bool,
    out_dir: Path,
    no_payloads: bool,
    payload_timeout: float,
    as_json: bool,
) -> None:
    """Report who did what when to ASSET and its lineage (or --all), accepted and rejected transitions,
    verification results and payload availability, and the gaps found. Exit 1 if there are gaps."""
    if (asset is None) == (not audit_all):
        fail("name one ASSET, or pass --all (not both)")
    report = audit(node, asset, payloads=not no_payloads, payload_timeout=payload_timeout)
    data = report.to_dict()
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"audit-{report.scope}"
    stem.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    if as_json:
        print_json(data)
    else:
        click.echo(
            f"{len(report.assets)} asset(s), {len(report.rejected)} rejected transition(s), "
            f"{len(report.gaps)} gap(s)"
        )
        for gap in report.gaps:
            click.echo(f"  {gap.gap}: {gap.asset} {gap.detail}")
        click.echo(f"wrote {stem}.md and {stem}.json")
    if not report.ok:
        raise SystemExit(EXIT_CHECK_FAILED)
