"""The audit's report in Markdown, from what `proml.sdk.audit` found (the gaps are explained there)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proml.sdk.audit import AuditedAsset, AuditReport


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return "-" if value is None else str(value).replace("|", "\\|")

    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows),
    ]


def markdown(report: AuditReport) -> str:
    lines = [
        f"# ProML audit: {report.scope}",
        "",
        f"Generated {report.generated_at} from the node of {report.org} ({report.node_url}), "
        f"registry {report.registry}.",
        "",
        f"**{'No gaps found' if report.ok else str(len(report.gaps)) + ' gap(s) found'}** in "
        f"{len(report.assets)} asset(s); {len(report.rejected)} rejected transition(s).",
        "",
        "## Gaps",
        "",
    ]
    if report.gaps:
        lines += _md_table(
            ["gap", "asset", "seq", "detail"], [[g.gap, g.asset, g.seq, g.detail] for g in report.gaps]
        )
    else:
        lines.append("None.")
    lines += ["", "## Rejected transitions", ""]
    if report.rejected:
        lines += _md_table(
            ["asset", "seq", "activity", "who", "in state", "when"],
            [[r.asset, r.seq, r.activity, r.actor_label, r.state, r.timestamp] for r in report.rejected],
        )
    else:
        lines.append("None.")
    lines += ["", "## Assets"]
    for asset in report.assets:
        lines += _asset_section(asset)
    return "\n".join(lines) + "\n"


def _asset_section(asset: AuditedAsset) -> list[str]:
    details, verification = asset.details, asset.verification
    lines = [
        "",
        f"### {details.kind} {details.address}",
        "",
        f"- owner: {details.owner_label}; state: {details.state}; registered {details.registered_at}",
        f"- content digest: {details.content_digest or 'none'}; ancestors: "
        f"{', '.join(details.ancestors) or 'none'}",
        f"- verification: {verification.get('result', 'not run')}"
        + (f" (head {verification['head']})" if verification.get("head") else ""),
        "",
    ]
    lines += _md_table(
        ["seq", "when", "who", "activity", "from → to", "accepted"],
        [
            [
                r.seq,
                r.timestamp,
                r.actor_label,
                r.activity,
                f"{r.from_state} → {r.to_state}",
                "yes" if r.accepted else "**no**",
            ]
            for r in asset.history
        ],
    )
    if asset.payloads:
        lines += ["", "Payloads:", ""]
        lines += _md_table(
            ["seq", "artifact", "cid", "available"],
            [
                [
                    p.seq,
                    f"{p.where} {p.name}",
                    p.cid,
                    {True: "yes", False: f"**no**: {p.error}", None: "not checked"}[p.available],
                ]
                for p in asset.payloads
            ],
        )
    return lines
