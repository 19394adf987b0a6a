"""How commands print: JSON for scripts (`--json`), aligned tables and short lines for people."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def show(data: Any, as_json: bool, *texts: str) -> None:
    """`data` as JSON with --json, else the texts made for reading."""
    if as_json:
        print_json(data)
        return
    for text in texts:
        click.echo(text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns as wide as their widest cell; None prints as '-'."""
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = [headers, ["-" * w for w in widths], *cells]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def who(entry: dict[str, Any], name_key: str = "actor_name", address_key: str = "actor") -> str:
    """An organisation as `Name (0xabc…)`, or its address when it is not a member."""
    address = str(entry.get(address_key) or "-")
    name = entry.get(name_key)
    return f"{name} ({short(address)})" if name else address


def short(address: str) -> str:
    return address if len(address) < 14 else f"{address[:8]}…{address[-4:]}"


def history_rows(history: Sequence[dict[str, Any]]) -> str:
    """An asset's history: seq, when, who, activity, from → to, accepted (with rollback details)."""
    rows = []
    for r in history:
        activity = r["activity"]
        if r.get("rollback"):
            activity += f" to {r['rollback']['to_seq']}"
        rows.append(
            [
                r["seq"],
                r["timestamp"],
                who(r),
                activity,
                f"{r['from_state']} → {r['to_state']}",
                "yes" if r["accepted"] else "REJECTED",
            ]
        )
    return table(["seq", "when", "who", "activity", "from → to", "accepted"], rows)
