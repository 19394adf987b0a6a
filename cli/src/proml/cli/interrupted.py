"""What a command had the node store, for the one message Ctrl-C prints (cli/main.py, exit 130).

The SDK's transport reports every request and answer to the command's `Tracker` (a `Watch`): uploads
answered with a CID, writes acknowledged with an outbox entry (and that entry's later states, as the
command follows it), a write sent and not yet answered. Steps that send nothing (hashing here) are named
by `step()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click

UPLOADS = "/v1/payloads"
# POSTs that store nothing: the node hashes the file it is sent and answers.
_READS = ("/verify",)
# What each writing command sends: (what it is called, what "nothing was …" says).
_WRITES = {
    "register": ("registration", "registered"),
    "derive": ("registration", "registered"),
    "record": ("record", "recorded"),
    "rollback": ("rollback", "rolled back"),
    "propose": ("proposal", "proposed"),
    "approve": ("approval", "approved"),
}
_KEY = "proml.interrupted"


@dataclass
class Tracker:
    command: str = ""
    watching: bool = False  # whether a connection to a node reports to it
    doing: str | None = None
    payloads: list[str] = field(default_factory=list)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    unanswered: str | None = None

    def watch(self, command: str) -> Tracker:
        self.command, self.watching = command, True
        return self

    @contextmanager
    def step(self, doing: str) -> Iterator[None]:
        """While the block runs, an interruption says it happened while `doing`."""
        before, self.doing = self.doing, doing
        yield
        # Not in a `finally`: an interruption inside the block must still name it.
        self.doing = before

    def sending(self, method: str, path: str) -> None:
        if method == "POST" and path != UPLOADS and not path.endswith(_READS):
            self.unanswered = path

    def answered(self, method: str, path: str, answer: Any) -> None:
        if path == self.unanswered:
            self.unanswered = None
        if not isinstance(answer, dict):
            return
        if method == "POST" and path == UPLOADS and answer.get("cid"):
            self.payloads.append(str(answer["cid"]))
        ref = str(answer.get("ref") or "")
        # Only the entries this command wrote; their later states come from GET /v1/outbox/{id}.
        if ref.startswith("outbox:") and (method == "POST" or ref in self.entries):
            self.entries[ref] = answer

    def message(self) -> str:
        head = "interrupted" + (f" while {self.doing}" if self.doing else "")
        if not self.watching:
            return head
        noun, done = _WRITES.get(self.command, ("write", "written"))
        stored = [_uploaded(self.payloads)] if self.payloads else []
        stored += [_entry(view, noun) for view in self.entries.values()]
        if self.unanswered is not None:
            told = "; ".join(stored) + "; and " if stored else ""
            return (
                f"{head}: {told}the {noun} was sent but not acknowledged: the node may have stored it in "
                "its outbox (it is sent to the chain if so); look before sending it again"
            )
        if self.entries:
            return f"{head}: " + "; ".join(stored)
        return f"{head}: " + (f"{stored[0]} but nothing was {done}" if stored else f"nothing was {done}")


def tracker(ctx: click.Context | None = None) -> Tracker:
    """The tracker of the command running (one per invocation: click shares `meta` down the contexts)."""
    meta = (ctx or click.get_current_context()).meta
    found: Tracker = meta.setdefault(_KEY, Tracker())
    return found


def _uploaded(cids: list[str]) -> str:
    if len(cids) == 1:
        return f"the payload was uploaded (cid {cids[0]})"
    return f"{len(cids)} payloads were uploaded (cids {', '.join(cids)})"


def _entry(view: dict[str, Any], noun: str) -> str:
    ref = view["ref"]
    what = {"register": "registration", "record": f"{view.get('activity')} record"}.get(
        str(view.get("kind")), noun
    )
    status = view.get("status")
    if status == "final":
        where = f" (asset {view['asset']}" + (f", seq {view['seq']})" if view.get("seq") is not None else ")")
        return f"the {what} {ref} is final on chain" + (where if view.get("asset") else "")
    if status == "failed":
        return f"the chain refused the {what} {ref}: {view.get('error')}"
    return (
        f"the {what} is stored in the node's outbox as {ref} and will be sent; follow it with "
        f"`proml outbox show {ref} --wait`"
    )
