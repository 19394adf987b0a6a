"""`proml audit ASSET|--all`: gather histories, verification results and payload availability from a node,
and write a report (Markdown and JSON) of who did what when and of the gaps found (see audit_checks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from proml.core.records import rfc3339
from proml.sdk import Node, ProMLError

from . import audit_checks
from .connection import Target, fail, with_node
from .exit_codes import EXIT_CHECK_FAILED
from .output import json_option, print_json

PAGE = 1000


def payload_entries(verification: dict[str, Any]) -> list[dict[str, Any]]:
    """Each file a record document names by CID (asset inputs are audited as assets), as the node's
    verification streamed and checked it against its CID and digest (`available` None when payloads were
    not checked)."""
    return [
        {
            "seq": p["seq"],
            "where": p["where"],
            "name": p["name"],
            "cid": p["cid"],
            "digest": p["digest"],
            "available": p["ok"],
            "error": p["problem"],
        }
        for p in verification.get("payloads", [])
    ]


def audit_asset(node: Node, address: str, check_payloads: bool, payload_timeout: float) -> dict[str, Any]:
    asset: dict[str, Any] = node.transport.get(f"/v1/assets/{address}")
    try:
        asset["verification"] = node.verify_history(
            address, payloads=check_payloads, payload_timeout=payload_timeout
        )
    except ProMLError as exc:
        asset["verification"] = {"ok": False, "result": "NOT RUN", "problems": [f"could not verify: {exc}"]}
    asset["payloads"] = payload_entries(asset["verification"])
    return asset


def scope(node: Node, asset: str | None) -> tuple[list[str], list[dict[str, Any]]]:
    """The addresses to audit and the lineage edges between them: the asset with its whole lineage, or
    every asset the node has indexed."""
    if asset is not None:
        graph = node.transport.get(f"/v1/assets/{asset}/lineage")
        return [n["address"] for n in graph["nodes"]], graph["edges"]
    addresses: list[str] = []
    while page := node.transport.get("/v1/assets", limit=PAGE, offset=len(addresses)):
        addresses += [a["address"] for a in page]
        if len(page) < PAGE:
            break
    # Only datasets' edges matter to the checks (is a digest-only dataset used?).
    edges = []
    for dataset in node.transport.get("/v1/assets", kind="dataset", limit=PAGE):
        graph = node.transport.get(f"/v1/assets/{dataset['address']}/lineage")
        edges += [e for e in graph["edges"] if e["from"] == dataset["address"]]
    return addresses, edges


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
    health = node.health()
    addresses, edges = scope(node, asset)
    assets = [audit_asset(node, a, not no_payloads, payload_timeout) for a in addresses]
    found = audit_checks.gaps(assets, edges)
    rejected = audit_checks.rejected(assets)
    report = {
        "scope": asset or "all",
        "generated_at": rfc3339(),
        "node_url": target.url,
        "org": health.get("org"),
        "registry": health.get("registry"),
        "payloads_checked": not no_payloads,
        "ok": not found,
        "gaps": found,
        "rejected": rejected,
        "edges": edges,
        "assets": assets,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"audit-{asset or 'all'}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(audit_checks.markdown(report), encoding="utf-8")
    if as_json:
        print_json(report)
    else:
        click.echo(
            f"{len(assets)} asset(s), {len(rejected)} rejected transition(s), {len(found)} gap(s)"
        )
        for gap in found:
            click.echo(f"  {gap['gap']}: {gap['asset']} {gap['detail']}")
        click.echo(f"wrote {stem}.md and {stem}.json")
    if found:
        raise SystemExit(EXIT_CHECK_FAILED)
