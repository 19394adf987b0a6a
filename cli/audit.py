"""`proml audit ASSET|--all`: gather histories, verification results and payload availability from a node,
and write a report (Markdown and JSON) of who did what when and of the gaps found (see audit_checks)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import httpx

from proml.records import rfc3339
from proml.sdk import Node, ProMLError

from . import audit_checks
from .connection import Target, fail, with_node
from .exit_codes import EXIT_CHECK_FAILED
from .files import problem_detail
from .output import json_option, print_json

PAGE = 1000
DOCUMENT_TIMEOUT = 30.0


class Payloads:
    """Record documents and payloads fetched through the node's `GET /v1/payloads/{cid}`; each CID is
    tried once per audit."""

    def __init__(self, target: Target, timeout: float) -> None:
        self._http = httpx.Client(
            base_url=target.url,
            headers={"Authorization": f"Bearer {target.api_key}"},
            timeout=timeout,
            trust_env=False,
        )
        self._seen: dict[str, str | None] = {}

    def close(self) -> None:
        self._http.close()

    def document(self, cid: str) -> dict[str, Any] | None:
        """A record document, or None if it cannot be had (the verification result says why)."""
        try:
            response = self._http.get(f"/v1/payloads/{cid}", timeout=DOCUMENT_TIMEOUT)
            document = response.json() if response.is_success else None
        except (httpx.HTTPError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def problem(self, cid: str, digest: str | None) -> str | None:
        """None if the node can serve the payload (its CID and digest checked), else why not. The node
        checks the content before its first byte, so the answer's status is enough: the body is not read."""
        if cid not in self._seen:
            params = {"digest": digest} if digest else {}
            try:
                with self._http.stream("GET", f"/v1/payloads/{cid}", params=params) as response:
                    self._seen[cid] = None if response.is_success else self._detail(response)
            except httpx.TimeoutException:
                self._seen[cid] = "no node served it in time"
            except httpx.HTTPError as exc:
                self._seen[cid] = f"{type(exc).__name__}: {exc}"
        return self._seen[cid]

    @staticmethod
    def _detail(response: httpx.Response) -> str:
        response.read()
        return f"{response.status_code}: {problem_detail(response)}"


def payload_entries(payloads: Payloads | None, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each file a record document names by CID (asset inputs are audited as assets), and whether the
    node can serve it (`available` None when payloads are not checked)."""
    if payloads is None:
        return []
    found = []
    for record in history:
        document = payloads.document(record["record_cid"]) if record["record_cid"] else None
        if document is None:
            continue  # the verification result reports a missing document
        artifacts = [("input", a) for a in document.get("inputs", [])]
        artifacts += [("content" if record["seq"] == 0 else "output", a) for a in document.get("outputs", [])]
        for where, item in artifacts:
            if not item.get("cid") or item.get("asset"):
                continue
            problem = payloads.problem(item["cid"], item.get("digest"))
            found.append(
                {
                    "seq": record["seq"],
                    "where": where,
                    "name": item["name"],
                    "cid": item["cid"],
                    "digest": item.get("digest"),
                    "available": problem is None,
                    "error": problem,
                }
            )
    return found


def audit_asset(node: Node, payloads: Payloads | None, address: str) -> dict[str, Any]:
    asset: dict[str, Any] = node.transport.get(f"/v1/assets/{address}")
    try:
        asset["verification"] = node.transport.get(f"/v1/assets/{address}/verification")
    except ProMLError as exc:
        asset["verification"] = {"ok": False, "result": "NOT RUN", "problems": [f"could not verify: {exc}"]}
    asset["payloads"] = payload_entries(payloads, asset["history"])
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


@contextmanager
def _payloads(target: Target, check: bool, timeout: float) -> Iterator[Payloads | None]:
    if not check:
        yield None
        return
    payloads = Payloads(target, timeout)
    try:
        yield payloads
    finally:
        payloads.close()


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
@click.option("--no-payloads", is_flag=True, help="Do not check that payloads can be fetched.")
@click.option(
    "--payload-timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for one payload."
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
    with _payloads(target, not no_payloads, payload_timeout) as payloads:
        assets = [audit_asset(node, payloads, a) for a in addresses]
    found = audit_checks.gaps(assets, edges)
    report = {
        "scope": asset or "all",
        "generated_at": rfc3339(),
        "node_url": target.url,
        "org": health.get("org"),
        "registry": health.get("registry"),
        "payloads_checked": not no_payloads,
        "ok": not found,
        "gaps": found,
        "rejected": audit_checks.rejected(assets),
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
            f"{len(assets)} asset(s), {len(report['rejected'])} rejected transition(s), {len(found)} gap(s)"
        )
        for gap in found:
            click.echo(f"  {gap['gap']}: {gap['asset']} {gap['detail']}")
        click.echo(f"wrote {stem}.md and {stem}.json")
    if found:
        raise SystemExit(EXIT_CHECK_FAILED)
