"""Files the CLI hashes or uploads, with a progress bar (on stderr, so `--json` stays clean) when they are
large enough for the wait to be noticed.

Uploads go over httpx here rather than through `Node.upload` because the SDK streams a file with no hook
for progress; the node answers the same `{"digest", "cid", "size"}` either way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Protocol

import click
import httpx

from proml.content.digest import Hasher

from .connection import Target, fail

PROGRESS_MIN = 8 << 20  # below this, hashing or uploading takes too little time to show a bar
CHUNK = 1 << 20
UPLOAD_TIMEOUT = httpx.Timeout(60.0, read=600.0)  # the node answers once IPFS has the whole file


class _Bar(Protocol):
    def update(self, n_steps: int) -> None: ...


def _progress(path: Path, label: str) -> AbstractContextManager[_Bar | None]:
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


def upload(target: Target, path: Path) -> dict[str, Any]:
    """Put a file on the consortium's IPFS through the node: `{"digest", "cid", "size"}`."""
    return post_file(target, "/v1/payloads", path, "uploading")


def post_file(target: Target, endpoint: str, path: Path, label: str) -> dict[str, Any]:
    """POST a file as the raw body, streamed, with a progress bar when it is large."""
    headers = {"Authorization": f"Bearer {target.api_key}", "Content-Type": "application/octet-stream"}
    try:
        with (
            _progress(readable(path), label) as bar,
            httpx.Client(base_url=target.url, timeout=UPLOAD_TIMEOUT, trust_env=False) as http,
        ):
            response = http.post(endpoint, content=_chunks(path, bar), headers=headers)
    except httpx.TransportError as exc:
        fail(f"the node at {target.url} does not answer ({type(exc).__name__}): is it running?")
    if not response.is_success:
        fail(f"the node refused {path.name} ({response.status_code}): {problem_detail(response)}")
    answer: dict[str, Any] = response.json()
    return answer


def problem_detail(response: httpx.Response) -> str:
    """The `detail` of a problem+json answer, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail"):
        return f"{body['detail']} [{body.get('code', 'error')}]"
    return response.text[:200] or response.reason_phrase
