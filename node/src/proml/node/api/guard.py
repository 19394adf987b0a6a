"""The request guard: what a request must pass before the app sees a byte of its body.

An ASGI middleware, so that it runs before FastAPI reads and parses a body:
- the API key, for the scope the route declares (`auth.required_scope`): 401/403 without reading on;
- a JSON body is read here, whole, within `max_body_bytes` (413, from Content-Length before reading and
  while reading), within `request_timeout` (408), and nested at most `max_json_depth` deep (400); the app
  then reads the same bytes from memory;
- a streamed body (payload and verify uploads, marked `@streams_body`) has no size limit, but each of its
  parts must arrive within `request_timeout` of the one before (408);
- a client that goes away in the middle of its body is one line in the log, not a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import NodeConfig
from ..services.api_keys import ApiKeyStore
from ..services.api_keys import Scope as KeyScope
from .auth import ADMITTED_KEY, authorize, required_scopes
from .json_depth import nesting_depth
from .problems import Problem, problem_response

log = logging.getLogger(__name__)

_STREAMS_BODY = "_proml_streams_body"
Endpoint = TypeVar("Endpoint", bound=Callable[..., object])


def streams_body(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint that reads its body as a stream (`request.stream()`): no size limit applies."""
    setattr(endpoint, _STREAMS_BODY, True)
    return endpoint


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_json_depth: int
    request_timeout: float

    @classmethod
    def of(cls, config: NodeConfig) -> Limits:
        return cls(config.max_body_bytes, config.max_json_depth, float(config.request_timeout))


@dataclass(frozen=True)
class _Policy:
    scopes: tuple[KeyScope, ...]
    streamed: bool


class SlowBody(Exception):
    """The client stopped sending its body: nothing arrived for `request_timeout` seconds."""


class RequestGuard:
    def __init__(
        self, app: ASGIApp, *, routes: Sequence[BaseRoute], keys: ApiKeyStore, limits: Limits
    ) -> None:
        self._app = app
        self._routes = routes
        self._keys = keys
        self._limits = limits
        self._policies: dict[int, _Policy] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        policy = self._policy(scope) if scope["type"] == "http" else None
        if policy is None:  # not HTTP, or no route: nothing of the body is read (404, 405)
            await self._app(scope, receive, send)
            return
        where = f"{scope['method']} {scope['path']}"
        try:
            for needed in policy.scopes:
                scope[ADMITTED_KEY] = authorize(self._keys, Headers(scope=scope), needed)
            if policy.streamed:
                receive = self._paced(receive)
            else:
                receive = _replay(await self._json_body(scope, receive), receive)
        except Problem as refusal:
            await _refuse(refusal, scope, receive, send)
            return
        except ClientDisconnect:
            log.info("%s: the client went away before its body was sent", where)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, tracked)
        except ClientDisconnect:
            log.info("%s: the client went away before its body was sent; nothing was kept", where)
        except SlowBody as exc:
            log.info("%s: %s", where, exc)
            if not started:
                await _refuse(_timeout(self._limits), scope, receive, send)

    def _policy(self, scope: Scope) -> _Policy | None:
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                policy = self._policies.get(id(route))
                if policy is None:
                    endpoint = getattr(route, "endpoint", None)
                    policy = _Policy(required_scopes(route), bool(getattr(endpoint, _STREAMS_BODY, False)))
                    self._policies[id(route)] = policy
                return policy
        return None

    async def _json_body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, within the size and time limits, nested no deeper than the depth limit."""
        limits = self._limits
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise _too_large(limits)
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(limits.request_timeout):
                more = True
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise ClientDisconnect()
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limits.max_body_bytes:
                        raise _too_large(limits)
                    chunks.append(chunk)
                    more = message.get("more_body", False)
        except TimeoutError:
            raise _timeout(limits) from None
        body = b"".join(chunks)
        if body and nesting_depth(body) > limits.max_json_depth:
            raise Problem(
                400,
                "too_deep",
                f"the JSON body nests deeper than {limits.max_json_depth} levels (the node's "
                "api.max_json_depth): flatten it",
            )
        return body

    def _paced(self, receive: Receive) -> Receive:
        """`receive` that gives up (`SlowBody`) when the next part of the body is slow to come."""
        timeout = self._limits.request_timeout
        finished = False

        async def paced() -> Message:
            nonlocal finished
            if finished:  # the body is in: what follows is a wait for the disconnect, with no limit
                return await receive()
            try:
                async with asyncio.timeout(timeout):
                    message = await receive()
            except TimeoutError:
                raise SlowBody(
                    f"no part of the body arrived for {timeout:.0f}s; the request was dropped"
                ) from None
            finished = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        return paced


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` that gives the app `body` (already read) first, then whatever the server says next."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _too_large(limits: Limits) -> Problem:
    return Problem(
        413,
        "too_large",
        f"the body is larger than {limits.max_body_bytes} bytes (the node's api.max_body_bytes); "
        "upload large files with POST /v1/payloads and refer to them by digest",
    )


def _timeout(limits: Limits) -> Problem:
    return Problem(
        408,
        "request_timeout",
        f"the body did not arrive within {limits.request_timeout:.0f}s (the node's api.request_timeout)",
    )


async def _refuse(refusal: Problem, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer `refusal`. The server discards whatever of the body still comes, and the connection then
    carries the client's next request; after a timeout it is closed instead (the client is stuck)."""
    response = problem_response(refusal.status, refusal.code, refusal.detail, **refusal.extra)
    if refusal.status == 408:
        response.headers["Connection"] = "close"
    await response(scope, receive, send)
