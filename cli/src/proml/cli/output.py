"""How commands print: JSON for scripts (`--json`), aligned tables and short lines for people, and the
one way a command ends on an error."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from proml.sdk.views import HistoryEntry

from .exit_codes import EXIT_USAGE

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """End the command with `Error: message` on stderr (no traceback) and `code` (a usage error)."""
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(code)


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


def history_rows(history: Sequence[HistoryEntry]) -> str:
    """An asset's history: seq, when, who, activity, from → to, accepted (with rollback details)."""
    rows = [
        [
            r.seq,
            r.timestamp,
            r.actor_label,
            f"{r.activity} to {r.rollback_to}" if r.rollback_to is not None else r.activity,
            f"{r.from_state} → {r.to_state}",
            "yes" if r.accepted else "REJECTED",
        ]
        for r in history
    ]
    return table(["seq", "when", "who", "activity", "from → to", "accepted"], rows)
