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

from proml.core.content.digest import Hasher
from proml.sdk import Node

from .connection import fail
from .interrupted import tracker

PROGRESS_MIN = 8 << 20  # below this, hashing or uploading takes too little time to show a bar
CHUNK = 1 << 20


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


def _chunks(path: Path, bar: _Bar | None) -> Iterator[bytes]:
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            if bar is not None:
                bar.update(len(chunk))
            yield chunk


def readable(path: Path) -> Path:
    if not path.is_file():
        fail(f"{path} is not a file: give the path of the file to record")
    return path


def digest(path: Path, algorithm: str = "sha256") -> dict[str, Any]:
    """`{"digest", "size"}` of a file, computed here: nothing leaves the machine."""
    hasher = Hasher(algorithm)
    with _progress(readable(path), "hashing") as bar:
        for chunk in _chunks(path, bar):
            hasher.update(chunk)
    return {"digest": str(hasher.finish()), "size": hasher.size}


def upload(node: Node, path: Path) -> dict[str, Any]:
    """Put a file on the consortium's IPFS through the node: `{"digest", "cid", "size"}`."""
    with _progress(readable(path), "uploading") as bar:
        stored: dict[str, Any] = node.upload(path, progress=None if bar is None else bar.update)
    return stored


def verify(node: Node, asset: str, path: Path) -> dict[str, Any]:
    """The node's verification report of a file against an asset (the file streamed, hashed there)."""
    with _progress(readable(path), "hashing") as bar:
        report: dict[str, Any] = node.verify(asset, path, progress=None if bar is None else bar.update)
    return report
