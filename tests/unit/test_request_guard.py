"""The request guard (proml.node.api.guard) in front of a small FastAPI app, called as ASGI: what a
request must pass before the app reads its body. The end-to-end cases against a running node are in
tests/integration/test_hostile_input.py."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from starlette.types import Message

from proml.node.api import problems
from proml.node.api.auth import require
from proml.node.api.guard import Limits, RequestGuard, streams_body
from proml.node.api.json_depth import nesting_depth
from proml.node.services.api_keys import ApiKeyStore, Scope

LIMITS = Limits(max_body_bytes=1000, max_json_depth=4, request_timeout=0.05)
HELD_OPEN = 10.0  # how long a call may take before it counts as held open by the app
HELD = -1  # the status of a call the app held open


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


class Client:
    """Calls the app as a server would, with a body in the given parts; after the last part it either
    goes quiet (a stalled client) or disconnects."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.receives = 0

    def call(
        self,
        method: str,
        path: str,
        parts: Sequence[bytes] = (),
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        complete: bool = True,
        disconnect: bool = False,
    ) -> tuple[int, dict[str, str], Any]:
        return asyncio.run(self._call(method, path, parts, key, headers or {}, complete, disconnect))

    async def _call(
        self,
        method: str,
        path: str,
        parts: Sequence[bytes],
        key: str | None,
        headers: dict[str, str],
        complete: bool,
        disconnect: bool,
    ) -> tuple[int, dict[str, str], Any]:
        all_headers = {"content-type": "application/json", **headers}
        if key:
            all_headers["authorization"] = f"Bearer {key}"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        messages: list[Message] = [
            {"type": "http.request", "body": part, "more_body": complete is False or i < len(parts) - 1}
            for i, part in enumerate(parts)
        ] or [{"type": "http.request", "body": b"", "more_body": not complete}]
        if disconnect:
            messages.append({"type": "http.disconnect"})
        sent: list[Message] = []

        async def receive() -> Message:
            self.receives += 1
            if messages:
                return messages.pop(0)
            await asyncio.Event().wait()  # a client that sends nothing more
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            sent.append(message)

        try:
            # Bounded, so that an app that waits for the stalled client (no guard) fails the test
            # instead of hanging it.
            await asyncio.wait_for(self.app(scope, receive, send), HELD_OPEN)
        except TimeoutError:
            return HELD, {}, None
        if not sent:
            return 0, {}, None
        start = sent[0]
        body = b"".join(m.get("body", b"") for m in sent[1:])
        response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return start["status"], response_headers, json.loads(body) if body else None


@pytest.fixture
def keys(tmp_path: Path) -> ApiKeyStore:
    return ApiKeyStore(tmp_path / "api_keys.json")


@pytest.fixture
def secrets(keys: ApiKeyStore) -> dict[str, str]:
    return {scope.value: keys.create(scope.value, (scope,))[1] for scope in (Scope.READ, Scope.WRITE)}


def build(keys: ApiKeyStore, limits: Limits = LIMITS) -> Client:
    app = FastAPI()
    problems.install(app)
    router = APIRouter()

    @router.post("/things", dependencies=[Depends(require(Scope.WRITE))])
    async def things(body: Annotated[Any, Body()]) -> dict[str, Any]:
        return {"got": body}

    @router.post("/uploads", dependencies=[Depends(require(Scope.WRITE))])
    @streams_body
    async def upload(request: Request) -> dict[str, int]:
        return {"size": sum([len(chunk) async for chunk in request.stream()])}

    @router.get("/open")
    async def open_to_all() -> dict[str, bool]:
        return {"open": True}

    app.include_router(router)
    app.add_middleware(RequestGuard, routes=router.routes, keys=keys, limits=limits)
    return Client(app)


@pytest.fixture
def client(keys: ApiKeyStore) -> Client:
    return build(keys)


def test_no_key_is_refused_before_the_body_is_read(client: Client) -> None:
    status, headers, problem = client.call("POST", "/things", [nested(1000)])
    assert (status, problem["code"]) == (401, "unauthenticated")
    assert headers["www-authenticate"] == "Bearer"
    assert client.receives == 0


def test_a_key_without_the_scope_is_refused_before_the_body_is_read(
    client: Client, secrets: dict[str, str]
) -> None:
    status, _, problem = client.call("POST", "/things", [b"[]"], key=secrets["read"])
    assert (status, problem["code"]) == (403, "forbidden")
    assert "needs write" in problem["detail"]
    assert client.receives == 0


def test_an_open_route_needs_no_key(client: Client) -> None:
    assert client.call("GET", "/open")[:1] == (200,)


def test_a_declared_length_over_the_limit_is_refused_unread(client: Client, secrets: dict[str, str]) -> None:
    status, _, problem = client.call(
        "POST", "/things", [b"[]"], key=secrets["write"], headers={"content-length": "1001"}
    )
    assert (status, problem["code"]) == (413, "too_large")
    assert "api.max_body_bytes" in problem["detail"]
    assert client.receives == 0


def test_a_body_that_grows_over_the_limit_while_read_is_refused(
    client: Client, secrets: dict[str, str]
) -> None:
    parts = [b"[" + b"1," * 300, b"1," * 300, b"1]"]
    status, _, problem = client.call("POST", "/things", parts, key=secrets["write"])
    assert (status, problem["code"]) == (413, "too_large")


def test_a_body_within_the_limits_reaches_the_app_whole(client: Client, secrets: dict[str, str]) -> None:
    status, _, answer = client.call("POST", "/things", [b'{"a": [[[', b"1]]]}"], key=secrets["write"])
    assert (status, answer) == (200, {"got": {"a": [[[1]]]}})


@pytest.mark.parametrize("depth", [5, 10_000, 50_000])
def test_a_body_nested_too_deep_is_refused_naming_the_limit(
    keys: ApiKeyStore, secrets: dict[str, str], depth: int
) -> None:
    client = build(keys, Limits(max_body_bytes=2 * depth, max_json_depth=4, request_timeout=0.05))
    status, _, problem = client.call("POST", "/things", [nested(depth)], key=secrets["write"])
    assert (status, problem["code"]) == (400, "too_deep")
    assert "4 levels" in problem["detail"] and "api.max_json_depth" in problem["detail"]


def test_a_stalled_json_body_gets_408_and_the_connection_closed(
    client: Client, secrets: dict[str, str]
) -> None:
    status, headers, problem = client.call(
        "POST",
        "/things",
        [b'{"a": '],
        key=secrets["write"],
        headers={"content-length": "100"},
        complete=False,
    )
    assert (status, problem["code"]) == (408, "request_timeout")
    assert headers["connection"] == "close"


def test_a_streamed_upload_has_no_size_limit(client: Client, secrets: dict[str, str]) -> None:
    status, _, answer = client.call("POST", "/uploads", [b"x" * 800] * 5, key=secrets["write"])
    assert (status, answer) == (200, {"size": 4000})


def test_a_stalled_upload_gets_408(client: Client, secrets: dict[str, str]) -> None:
    status, headers, problem = client.call(
        "POST", "/uploads", [b"x" * 800], key=secrets["write"], complete=False
    )
    assert (status, problem["code"]) == (408, "request_timeout")
    assert headers["connection"] == "close"


def test_an_upload_cut_off_by_its_client_is_one_line_in_the_log(
    client: Client, secrets: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status, _, _ = client.call(
        "POST", "/uploads", [b"x" * 800], key=secrets["write"], complete=False, disconnect=True
    )
    assert status == 0  # nothing is sent to a client that is gone
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(records) == 1 and records[0].exc_info is None
    assert "went away" in records[0].getMessage()


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b'"[[["', 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["\\"[", "]]]]", [[]]]', 3),
        (b'["\\\\", [[]]]', 3),
        (b'{"a": "}}}}", "b": {"c": "{{{{"}}', 2),
        (nested(90_000), 90_000),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(text: bytes, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_nesting_depth_of_text_that_is_not_json_is_at_least_what_a_parser_reaches() -> None:
    # An unterminated string: every bracket after it counts.
    assert nesting_depth(b'[["abc, [[[') == 5
