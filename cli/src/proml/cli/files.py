"""Files the CLI hashes or uploads, with a progress bar (on stderr, so `--json` stays clean) when they are
large enough for the wait to be noticed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol

import click

from proml.sdk import Node

from .interrupted import tracker
from .output import fail

PROGRESS_MIN = 8 << 20  # below this, hashing or uploading takes too little time to show a bar


class _Bar(Protocol):
    def update(self, n_steps: int) -> None: ...


@contextmanager
def _progress(path: Path, label: str) -> Iterator[_Bar | None]:
    """A bar while a large file is read; and, should Ctrl-C come, what was being done with which file."""
    with tracker().step(f"{label} {path}"), _bar(path, label) as bar:
        yield bar


def _bar(path: Path, label: str) -> AbstractContextManager[_Bar | None]:
    size = path.stat().st_size
    if size < PROGRESS_MIN:
        return nullcontext()
    bar: AbstractContextManager[_Bar] = click.progressbar(
        length=size, label=f"{label} {path.name}", file=sys.stderr
    )
    return bar


def readable(path: Path) -> Path:
    if not path.is_file():
        fail(f"{path} is not a file: give the path of the file to record")
    return path


def content(node: Node, path: Path, digest_only: bool) -> dict[str, Any]:
    """A file as a record names it: uploaded to the consortium's IPFS through the node (`digest`, `cid`,
    `size`), or with --digest-only only hashed here (`digest`, `size`: nothing leaves the machine)."""
    with _progress(readable(path), "hashing" if digest_only else "uploading") as bar:
        return node.content(path, publish=not digest_only, progress=None if bar is None else bar.update)


def verify(node: Node, asset: str, path: Path) -> dict[str, Any]:
    """The node's verification report of a file against an asset (the file streamed, hashed there)."""
    with _progress(readable(path), "hashing") as bar:
        report: dict[str, Any] = node.verify(asset, path, progress=None if bar is None else bar.update)
    return report
