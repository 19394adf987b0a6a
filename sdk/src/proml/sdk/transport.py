"""HTTP to a ProML node: the API key, the problem+json errors turned into typed ones, streamed uploads.

A ProML node answers every request with JSON (`application/json`, or `application/problem+json` for an
error: node/api/problems.py); anything else comes from another server, and says so as `NotAProMLNode`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from .errors import (
    AuthenticationError,
    ConfigurationError,
    NodeUnavailable,
    NotAProMLNode,
    NotFound,
    PayloadMismatch,
    RequestRejected,
)

UPLOAD_CHUNK = 1 << 20
# The node answers an upload once IPFS holds all of it: a large file may take a while after its last byte;
# a download, once its IPFS daemon has found the payload and checked its start.
UPLOAD_TIMEOUT = httpx.Timeout(60.0, read=600.0)
UNHURRIED_TIMEOUT = httpx.Timeout(60.0, read=None)
JSON_MEDIA_TYPES = frozenset({"application/json", "application/problem+json"})
Progress = Callable[[int], None]


class Watch(Protocol):
    """Told of each request as it goes and of each answer as it comes: the JSON of a success, None for an
    error (nothing was stored). The CLI keeps, with it, what the node has stored, to say so when a command
    is interrupted."""

    def sending(self, method: str, path: str) -> None: ...

    def answered(self, method: str, path: str, answer: Any) -> None: ...


def check_url(url: str) -> str:
    """`url` without a trailing slash, if it can name a node's API (http or https, with a host)."""
    parts = urlsplit(url.strip())
    if "://" not in url:
        raise ConfigurationError(f"the node URL {url!r} has no scheme: add http:// (http://{url.strip()})")
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(f"the node URL {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ConfigurationError(f"the node URL {url!r} names no host: e.g. http://127.0.0.1:8701")
    return url.strip().rstrip("/")


class Transport:
    def __init__(
        self, url: str, api_key: str | None, timeout: float = 60.0, *, watch: Watch | None = None
    ) -> None:
        """Without an API key, only what a node serves to anyone can be read (its health)."""
        self.url = check_url(url)
        self.watch = watch
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {api_key}"} if api_key is not None else {},
            timeout=timeout,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, params={k: v for k, v in params.items() if v is not None})

    def get_report(self, path: str, *, also: Collection[int]) -> Any:
        """A GET whose answer is a report with the statuses in `also` too (the health report is answered
        503 when the node is degraded): its JSON, not an error."""
        return self._send("GET", path, reports=also)

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
            content=chunks(file, progress),
            params=params,
            headers={"Content-Type": "application/octet-stream"},
            timeout=UPLOAD_TIMEOUT,
        )

    def get_file(self, path: str, target: Path, *, progress: Progress | None = None, **params: Any) -> Path:
        """GET a file into `target`, streamed (never held whole; `progress(n)` after each n bytes written).
        The file appears whole or not at all: it is written beside `target`, then renamed. An error is the
        node's problem+json, raised as every other call raises it."""
        if self.watch is not None:
            self.watch.sending("GET", path)
        partial = target.with_name(f".{target.name}.partial")
        params = {k: v for k, v in params.items() if v is not None}
        try:
            with self._http.stream("GET", path, params=params, timeout=UPLOAD_TIMEOUT) as response:
                media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
                if not response.is_success:
                    response.read()
                    body = self._body("GET", path, response)
                    raise _error(self.url, response, body if isinstance(body, dict) else {})
                if media != "application/octet-stream":
                    raise _not_a_node(self.url, "GET", path, response, media)
                with open(partial, "wb") as out:
                    for chunk in response.iter_bytes(UPLOAD_CHUNK):
                        out.write(chunk)
                        if progress is not None:
                            progress(len(chunk))
            partial.replace(target)
        except httpx.TransportError as exc:
            raise _unavailable(self.url, exc) from None
        finally:
            partial.unlink(missing_ok=True)
        if self.watch is not None:
            self.watch.answered("GET", path, None)
        return target

    def _send(self, method: str, path: str, *, reports: Collection[int] = (), **kwargs: Any) -> Any:
        if self.watch is not None:
            self.watch.sending(method, path)
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _unavailable(self.url, exc) from None
        body = self._body(method, path, response)
        if self.watch is not None:
            self.watch.answered(method, path, body if response.is_success else None)
        if not response.is_success and response.status_code not in reports:
            raise _error(self.url, response, body if isinstance(body, dict) else {})
        return body

    def _body(self, method: str, path: str, response: httpx.Response) -> Any:
        """The answer's JSON (None for no content); an answer that is not JSON is not from a node."""
        if response.is_success and not response.content:
            return None
        media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media in JSON_MEDIA_TYPES:
            try:
                return response.json()
            except ValueError:
                pass
        raise _not_a_node(self.url, method, path, response, media)


def chunks(file: Path, progress: Progress | None) -> Iterator[bytes]:
    """The file's bytes, read a chunk at a time; `progress(n)` after each chunk of n bytes."""
    with open(file, "rb") as stream:
        while chunk := stream.read(UPLOAD_CHUNK):
            if progress is not None:
                progress(len(chunk))
            yield chunk


def _unavailable(url: str, exc: httpx.TransportError) -> NodeUnavailable:
    return NodeUnavailable(
        f"the ProML node at {url} does not answer ({type(exc).__name__}): is it running? "
        "Check PROML_NODE_URL, or `proml devnet status`",
        reason=type(exc).__name__,
    )


def _not_a_node(url: str, method: str, path: str, response: httpx.Response, media: str) -> NotAProMLNode:
    answer = f"{response.status_code} {response.reason_phrase}".strip()
    if response.is_redirect:
        answer += f" to {response.headers.get('location', '?')}"
    what = f"{media} that is not JSON" if media in JSON_MEDIA_TYPES else media or "no content type"
    return NotAProMLNode(
        f"{url} is not a ProML node: it answered {method} {path} with {answer} ({what}). Check the node "
        "URL (--node-url, PROML_NODE_URL); `proml devnet status` lists a local consortium's"
    )


def _error(url: str, response: httpx.Response, problem: dict[str, Any]) -> Exception:
    detail = str(problem.get("detail") or response.reason_phrase)
    code = str(problem.get("code") or "http_error")
    status = response.status_code
    if status in (401, 403):
        return AuthenticationError(f"{detail} (node {url}; set PROML_API_KEY to a key with the right scope)")
    if status == 404:
        return NotFound(detail, status=status, code=code, field=problem.get("field"))
    if (status, code) in ((502, "payload_mismatch"), (409, "digest_mismatch")):
        return PayloadMismatch(detail)
    if status >= 500:
        return NodeUnavailable(f"the node at {url} could not serve this ({status} {code}): {detail}")
    return RequestRejected(detail, status=status, code=code, field=problem.get("field"))
