"""What an audit concludes from what it gathered (no I/O here), and the report in Markdown.

An asset's entry in the report: its summary, `history` (from the index), `verification` (the node's check
of every record document and of the hash chain) and `payloads` (each CID named in its record documents,
and whether the node could fetch it). A gap is something an auditor must look into:

- `deployed_without_validation`: an accepted `deploy` of a model with no accepted `validate` since its
  last accepted `train` (a rollback can bring back a validated state after a new training);
- `verification_failed`: a record document that is missing or disagrees with the chain, or a hash chain
  that does not recompute to the head on chain;
- `payload_unavailable`: a payload a record names by CID that the node could not fetch, or whose
  content does not have that CID and the recorded digest;
- `dataset_payload_unpublished`: a dataset that other assets were derived from, recorded by digest only:
  no node holds its content;
- `only_rejected_records`: a file (an input, an output) that only records the state machine refused name:
  nothing accepted vouches for it;
- `deployed_weights_rejected`: an accepted `deploy` of weights that only refused records produced (the
  files the deploy names, else those its last accepted `validate` named).

Rejected transitions are listed too; a refused record is not a gap by itself (the chain kept it, which is
what it is for), only the files that have nothing but refused records behind them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .output import who

Asset = dict[str, Any]


def gaps(assets: Sequence[Asset], edges: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    sources = {e["from"] for e in edges}
    found: list[dict[str, Any]] = []
    for asset in assets:
        address = asset["address"]
        recorded = asset["verification"].get("recorded", [])
        found += _only_rejected(address, recorded)
        if asset["kind"] == "model":
            found += _unvalidated_deploys(asset)
            found += _rejected_deployed_weights(asset, recorded)
        for problem in asset["verification"].get("problems", []):
            found.append({"gap": "verification_failed", "asset": address, "detail": problem})
        for payload in asset["payloads"]:
            if payload["available"] is False:
                found.append(
                    {
                        "gap": "payload_unavailable",
                        "asset": address,
                        "seq": payload["seq"],
                        "detail": f"{payload['where']} {payload['name']} ({payload['cid']}): "
                        f"{payload['error']}",
                    }
                )
        if asset["kind"] == "dataset" and address in sources and not _published(asset):
            found.append(
                {
                    "gap": "dataset_payload_unpublished",
                    "asset": address,
                    "detail": "other assets derive from this dataset, but it was registered by digest only: "
                    "no node holds its content",
                }
            )
    return found


def _published(asset: Asset) -> bool:
    return any(p["seq"] == 0 and p["where"] == "content" for p in asset["payloads"])


def _only_rejected(address: str, recorded: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A gap for each file digest whose every record was refused (`recorded` as the node's verification
    lists them, one entry per record that names the file)."""
    holders: dict[str, list[dict[str, Any]]] = {}
    for entry in recorded:
        holders.setdefault(entry["digest"], []).append(entry)
    return [
        {
            "gap": "only_rejected_records",
            "asset": address,
            "seq": entries[0]["seq"],
            "detail": f"{digest} is named only by records the state machine refused: "
            + ", ".join(f"seq {e['seq']} {e['activity']} {e['where']} by {who(e)}" for e in entries),
        }
        for digest, entries in holders.items()
        if not any(e["accepted"] for e in entries)
    ]


def _rejected_deployed_weights(asset: Asset, recorded: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for record in asset["history"]:
        if record["activity"] != "deploy" or not record["accepted"]:
            continue
        weights = _deployed_weights(asset["history"], recorded, record["seq"])
        for digest in weights:
            producers = [e for e in recorded if e["digest"] == digest and e["where"] in ("output", "content")]
            if producers and not any(e["accepted"] for e in producers):
                found.append(
                    {
                        "gap": "deployed_weights_rejected",
                        "asset": asset["address"],
                        "seq": record["seq"],
                        "detail": f"deployed {digest}, which only refused records produced: "
                        + ", ".join(f"seq {e['seq']} {e['activity']} by {who(e)}" for e in producers),
                    }
                )
    return found


def _deployed_weights(
    history: Sequence[dict[str, Any]], recorded: Sequence[dict[str, Any]], deploy: int
) -> list[str]:
    """The file digests a deploy put in service that a record names: those the deploy names, else those
    the last accepted validate before it named. (Without either, what is deployed is the last accepted
    train's output, which an accepted record produced.)"""
    files: dict[int, list[str]] = {}
    for entry in recorded:
        files.setdefault(entry["seq"], []).append(entry["digest"])
    if files.get(deploy):
        return files[deploy]
    validated = [r for r in history if r["seq"] < deploy and r["accepted"] and r["activity"] == "validate"]
    return files.get(validated[-1]["seq"], []) if validated else []


def _unvalidated_deploys(asset: Asset) -> list[dict[str, Any]]:
    found = []
    validated = False
    for record in asset["history"]:
        if not record["accepted"]:
            continue
        activity = record["activity"]
        if activity == "train":
            validated = False
        elif activity == "validate":
            validated = True
        elif activity == "deploy" and not validated:
            found.append(
                {
                    "gap": "deployed_without_validation",
                    "asset": asset["address"],
                    "seq": record["seq"],
                    "detail": f"deployed by {who(record)} at {record['timestamp']} with no accepted validate "
                    "since its last training",
                }
            )
    return found


def rejected(assets: Sequence[Asset]) -> list[dict[str, Any]]:
    return [
        {
            "asset": a["address"],
            "seq": r["seq"],
            "activity": r["activity"],
            "actor": r["actor"],
            "actor_name": r["actor_name"],
            "state": r["from_state"],
            "timestamp": r["timestamp"],
        }
        for a in assets
        for r in a["history"]
        if not r["accepted"]
    ]


# -- Markdown ---------------------------------------------------------------------------------------


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return "-" if value is None else str(value).replace("|", "\\|")

    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows),
    ]


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# ProML audit: {report['scope']}",
        "",
        f"Generated {report['generated_at']} from the node of {report['org']} ({report['node_url']}), "
        f"registry {report['registry']}.",
        "",
        f"**{'No gaps found' if report['ok'] else str(len(report['gaps'])) + ' gap(s) found'}** in "
        f"{len(report['assets'])} asset(s); {len(report['rejected'])} rejected transition(s).",
        "",
        "## Gaps",
        "",
    ]
    if report["gaps"]:
        lines += _md_table(
            ["gap", "asset", "seq", "detail"],
            [[g["gap"], g["asset"], g.get("seq"), g["detail"]] for g in report["gaps"]],
        )
    else:
        lines.append("None.")
    lines += ["", "## Rejected transitions", ""]
    if report["rejected"]:
        lines += _md_table(
            ["asset", "seq", "activity", "who", "in state", "when"],
            [
                [r["asset"], r["seq"], r["activity"], who(r), r["state"], r["timestamp"]]
                for r in report["rejected"]
            ],
        )
    else:
        lines.append("None.")
    lines += ["", "## Assets"]
    for asset in report["assets"]:
        lines += _asset_section(asset)
    return "\n".join(lines) + "\n"


def _asset_section(asset: Asset) -> list[str]:
    verification = asset["verification"]
    lines = [
        "",
        f"### {asset['kind']} {asset['address']}",
        "",
        f"- owner: {who(asset, 'owner_name', 'owner')}; state: {asset['state']}; registered "
        f"{asset['registered_at']}",
        f"- content digest: {asset['content_digest'] or 'none'}; ancestors: "
        f"{', '.join(asset['ancestors']) or 'none'}",
        f"- verification: {verification.get('result', 'not run')}"
        + (f" (head {verification['head']})" if verification.get("head") else ""),
        "",
    ]
    lines += _md_table(
        ["seq", "when", "who", "activity", "from → to", "accepted"],
        [
            [
                r["seq"],
                r["timestamp"],
                who(r),
                r["activity"],
                f"{r['from_state']} → {r['to_state']}",
                "yes" if r["accepted"] else "**no**",
            ]
            for r in asset["history"]
        ],
    )
    if asset["payloads"]:
        lines += ["", "Payloads:", ""]
        lines += _md_table(
            ["seq", "artifact", "cid", "available"],
            [
                [
                    p["seq"],
                    f"{p['where']} {p['name']}",
                    p["cid"],
                    {True: "yes", False: f"**no**: {p['error']}", None: "not checked"}[p["available"]],
                ]
                for p in asset["payloads"]
            ],
        )
    return lines
