"""IpfsClient alone, against a scripted transport: request shapes and error mapping.

Everything against a real daemon is in tests/integration/test_ipfs_daemon.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import httpx
import pytest

from proml.core.content.cid import CID
from proml.node.clients.ipfs import IpfsClient, IpfsClientError, IpfsError, IpfsUnavailable

T = TypeVar("T")
HELLO_CID = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"

Handler = Callable[[httpx.Request], httpx.Response]


def run_with(handler: Handler, scenario: Callable[[IpfsClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with IpfsClient("http://ipfs.test:5001/", transport=httpx.MockTransport(handler)) as client:
            return await scenario(client)

    return asyncio.run(main())


def test_add_streams_a_multipart_body_and_parses_ndjson() -> None:
    seen: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = request.url
        seen["method"] = request.method
        seen["type"] = request.headers["content-type"]
        seen["length"] = request.headers.get("content-length")
        seen["body"] = request.read()
        lines = [{"Name": "a b.txt", "Bytes": 6}, {"Name": "a b.txt", "Hash": HELLO_CID, "Size": "14"}]
        return httpx.Response(200, text="\n".join(json.dumps(line) for line in lines) + "\n")

    async def pieces() -> AsyncIterator[bytes]:
        yield b"hel"
        yield b""
        yield b"lo\n"

    result = run_with(
        handler, lambda ipfs: ipfs.add(pieces(), name="a b.txt", cid_version=1, raw_leaves=False)
    )
    assert result.cid == CID.parse(HELLO_CID) and result.size == 14 and result.name == "a b.txt"
    assert seen["method"] == "POST"
    url = seen["url"]
    assert isinstance(url, httpx.URL)
    assert url.path == "/api/v0/add"
    assert dict(url.params) == {
        "cid-version": "1",
        "pin": "true",
        "only-hash": "false",
        "raw-leaves": "false",
        "chunker": "size-262144",
    }
    assert seen["length"] is None  # streamed (chunked), not buffered
    content_type = str(seen["type"])
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=")[1]
    body = seen["body"]
    assert isinstance(body, bytes)
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert b'filename="a%20b.txt"' in body
    assert b"\r\n\r\nhello\n\r\n" in body
    assert body.endswith(f"--{boundary}--\r\n".encode())


def test_kubo_errors_become_ipfs_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"Message": 'invalid path "x"', "Code": 0, "Type": "error"})

    with pytest.raises(IpfsError) as err:
        run_with(handler, lambda ipfs: ipfs.pin_add("x"))
    assert err.value.message == 'invalid path "x"'
    assert err.value.code == 0 and err.value.status == 500 and err.value.endpoint == "pin/add"
    assert isinstance(err.value, IpfsClientError)


def test_plain_text_errors_become_ipfs_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(405, text="405 - Method Not Allowed\n")

    with pytest.raises(IpfsError) as err:
        run_with(handler, lambda ipfs: ipfs.id())
    assert err.value.status == 405 and err.value.code is None
    assert err.value.message == "405 - Method Not Allowed"


def test_cat_errors_before_the_stream() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["timeout"] == "2500ms"
        return httpx.Response(500, json={"Message": "context deadline exceeded", "Code": 0, "Type": "error"})

    with pytest.raises(IpfsError, match="deadline"):
        run_with(handler, lambda ipfs: ipfs.cat_bytes(HELLO_CID, timeout=2.5))


def test_a_stream_cut_short_by_the_daemon_is_unavailable_not_complete() -> None:
    # Kubo announces the size, then ends the stream early when its `timeout` passes (the error goes in a
    # trailer, which httpx does not read): what arrived must not pass for the whole file.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"X-Content-Length": "10"}, content=b"hello")

    with pytest.raises(IpfsUnavailable, match="stopped after 5 of 10 bytes"):
        run_with(handler, lambda ipfs: ipfs.cat_bytes(HELLO_CID))

    def whole(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"X-Content-Length": "5"}, content=b"hello")

    assert run_with(whole, lambda ipfs: ipfs.cat_bytes(HELLO_CID)) == b"hello"


def test_transport_failures_become_ipfs_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    for scenario in (
        lambda ipfs: ipfs.version(),
        lambda ipfs: ipfs.cat_bytes(HELLO_CID),
        lambda ipfs: ipfs.add(b"x"),
    ):
        with pytest.raises(IpfsUnavailable) as err:
            run_with(handler, scenario)
        assert err.value.url == "http://ipfs.test:5001"
        assert "connection refused" in str(err.value)


def test_empty_kubo_answers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("swarm/peers"):
            return httpx.Response(200, json={"Peers": None})
        return httpx.Response(200, json={"Keys": {}})

    assert run_with(handler, lambda ipfs: ipfs.swarm_peers()) == []
    assert run_with(handler, lambda ipfs: ipfs.pin_ls()) == {}


def test_add_without_a_hash_line_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(200, text="")

    with pytest.raises(IpfsError, match="no result"):
        run_with(handler, lambda ipfs: ipfs.add(b"x"))


def test_bad_cid_version_is_refused_locally() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with pytest.raises(ValueError):
        run_with(handler, lambda ipfs: ipfs.add(b"x", cid_version=2))
