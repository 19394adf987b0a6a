"""HTTP to a ProML node: the API key, the problem+json errors turned into typed ones, streamed uploads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from .errors import AuthenticationError, NodeUnavailable, NotFound, PayloadMismatch, RequestRejected

UPLOAD_CHUNK = 1 << 20
# The node answers an upload once IPFS holds all of it: a large file may take a while after its last byte.
UPLOAD_TIMEOUT = httpx.Timeout(60.0, read=600.0)
UNHURRIED_TIMEOUT = httpx.Timeout(60.0, read=None)
Progress = Callable[[int], None]


class Transport:
    def __init__(self, url: str, api_key: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, params={k: v for k, v in params.items() if v is not None})

    def get_unhurried(self, path: str, **params: Any) -> Any:
        """A GET the node may take long to answer (it streams payloads to check them first): no read
        timeout, since the node bounds each payload's fetch itself."""
        params = {k: v for k, v in params.items() if v is not None}
        return self._send("GET", path, params=params, timeout=UNHURRIED_TIMEOUT)

    def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._send("POST", path, json=body, headers=headers)

    def post_file(self, path: str, file: Path, *, progress: Progress | None = None, **params: Any) -> Any:
        """POST a file as the raw body, streamed in chunks (never read whole); `progress(n)` after each
        chunk of n bytes is sent."""
        return self._send(
            "POST",
            path,
            content=_chunks(file, progress),
            params=params,
            headers={"Content-Type": "application/octet-stream"},
            timeout=UPLOAD_TIMEOUT,
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise NodeUnavailable(
                f"the ProML node at {self.url} does not answer ({type(exc).__name__}): is it running? "
                "Check PROML_NODE_URL, or `proml devnet status`"
            ) from None
        if response.is_success:
            return response.json() if response.content else None
        raise _error(self.url, response)


def _chunks(file: Path, progress: Progress | None) -> Iterator[bytes]:
    with open(file, "rb") as stream:
        while chunk := stream.read(UPLOAD_CHUNK):
            if progress is not None:
                progress(len(chunk))
            yield chunk


def _error(url: str, response: httpx.Response) -> Exception:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    detail = str(problem.get("detail") or response.text[:200] or response.reason_phrase)
    code = str(problem.get("code") or "http_error")
    status = response.status_code
    if status in (401, 403):
        return AuthenticationError(f"{detail} (node {url}; set PROML_API_KEY to a key with the right scope)")
    if status == 404:
        return NotFound(detail, status=status, code=code, field=problem.get("field"))
    if status == 502 and code == "payload_mismatch":
        return PayloadMismatch(detail)
    if status >= 500:
        return NodeUnavailable(f"the node at {url} could not serve this ({status} {code}): {detail}")
    return RequestRejected(detail, status=status, code=code, field=problem.get("field"))
