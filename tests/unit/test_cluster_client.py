"""ClusterClient alone, against a scripted transport: request shapes, the cluster's JSON and streamed
answers as it writes them (ipfs-cluster v1.1), and error mapping.

Against a real cluster peer: tests/integration/test_cluster_replication.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from proml.core.content.cid import CID
from proml.node.clients.cluster import (
    ClusterClient,
    ClusterClientError,
    ClusterError,
    ClusterUnavailable,
)

T = TypeVar("T")
HELLO = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
ME = "12D3KooWMe"
OTHER = "12D3KooWOther"

Handler = Callable[[httpx.Request], httpx.Response]


def run_with(handler: Handler, scenario: Callable[[ClusterClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with ClusterClient("http://cluster.test:9094/", transport=httpx.MockTransport(handler)) as c:
            return await scenario(c)

    return asyncio.run(main())


def _pin_json(cid: str, allocations: list[str], factor: int, name: str = "") -> dict[str, Any]:
    return {
        "replication_factor_min": factor,
        "replication_factor_max": factor,
        "name": name,
        "mode": "recursive",
        "shard_size": 0,
        "user_allocations": None,
        "metadata": None,
        "origins": [],
        "cid": cid,
        "type": "pin",
        "allocations": allocations,
        "max_depth": -1,
        "reference": None,
        "timestamp": "2026-12-02T13:00:00Z",
    }


def _status_json(cid: str, peers: dict[str, str]) -> dict[str, Any]:
    return {
        "cid": cid,
        "name": "proml",
        "allocations": [],
        "origins": [],
        "created": "2026-12-02T13:00:00Z",
        "metadata": None,
        "peer_map": {
            peer: {
                "peername": peer.lower(),
                "ipfs_peer_id": "12D3KooWIpfs" + peer[-2:],
                "status": status,
                "timestamp": "2026-12-02T13:00:01Z",
                "error": "the item should be pinned but it is not" if status != "pinned" else "",
                "attempt_count": 2,
                "priority_pin": False,
            }
            for peer, status in peers.items()
        },
    }


def _ndjson(*docs: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, text="".join(json.dumps(d) + "\n" for d in docs))


def test_pin_sends_the_replication_factors_and_name_and_reads_the_allocations() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_pin_json(HELLO, [ME, OTHER], 2, "proml:record"))

    pin = run_with(
        handler,
        lambda c: c.pin(CID.parse(HELLO), replication_min=2, replication_max=2, name="proml:record"),
    )
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", f"/pins/{HELLO}")
    assert dict(request.url.params) == {
        "replication-min": "2",
        "replication-max": "2",
        "name": "proml:record",
    }
    assert pin.allocations == (ME, OTHER) and pin.allocated_to(OTHER) and not pin.everywhere
    assert not pin.allocated_to("12D3KooWSomeoneElse")


def test_a_pin_everywhere_is_allocated_to_every_peer() -> None:
    pin = run_with(lambda r: httpx.Response(200, json=_pin_json(HELLO, [], -1)), lambda c: c.pin(HELLO))
    assert pin.everywhere and pin.allocated_to("12D3KooWAnyone")


def test_status_reads_each_peers_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path, dict(request.url.params)) == ("GET", f"/pins/{HELLO}", {})
        return httpx.Response(200, json=_status_json(HELLO, {ME: "unexpectedly_unpinned", OTHER: "pinned"}))

    status = run_with(handler, lambda c: c.status(HELLO))
    assert status.cid == HELLO
    assert (status.of(ME), status.of(OTHER), status.of("12D3KooWNobody")) == (
        "unexpectedly_unpinned",
        "pinned",
        "unpinned",
    )
    assert status.peers[ME].attempts == 2 and "should be pinned" in status.peers[ME].error


def test_allocation_and_unpin_of_a_cid_outside_the_pinset() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"code": 404, "message": "not found"})

    assert run_with(handler, lambda c: c.allocation(HELLO)) is None
    assert run_with(handler, lambda c: c.unpin(HELLO)) is False


def test_unpin_deletes_the_pin() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json=_pin_json(HELLO, [], -1))

    assert run_with(handler, lambda c: c.unpin(HELLO)) is True
    assert seen == [f"DELETE /pins/{HELLO}"]


def test_streamed_statuses_with_filter_and_local() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _ndjson(_status_json(HELLO, {ME: "pin_error"}), _status_json("QmOther", {ME: "pinned"}))

    async def scenario(c: ClusterClient) -> list[tuple[str, str]]:
        return [(s.cid, s.of(ME)) async for s in c.statuses(local=True, filter=["pin_error", "pinned"])]

    assert run_with(handler, scenario) == [(HELLO, "pin_error"), ("QmOther", "pinned")]
    assert seen[0].url.path == "/pins"
    assert dict(seen[0].url.params) == {"local": "true", "filter": "pin_error,pinned"}


def test_an_empty_stream_is_204() -> None:
    async def scenario(c: ClusterClient) -> tuple[int, list[Any]]:
        return await c.pinset_size(), [s async for s in c.statuses()]

    assert run_with(lambda r: httpx.Response(204), scenario) == (0, [])


def test_allocations_stream_the_data_pins() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _ndjson(_pin_json(HELLO, [], -1), _pin_json("QmOther", [OTHER], 1))

    assert run_with(handler, lambda c: c.pinset_size()) == 2
    assert (seen[0].url.path, dict(seen[0].url.params)) == ("/allocations", {"filter": "pin"})


def test_recover_asks_this_peer_by_default() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_status_json(HELLO, {ME: "pin_queued"}))

    status = run_with(handler, lambda c: c.recover(HELLO))
    assert status.of(ME) == "pin_queued"
    assert (seen[0].method, seen[0].url.path, dict(seen[0].url.params)) == (
        "POST",
        f"/pins/{HELLO}/recover",
        {"local": "true"},
    )


def test_id_and_peers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        me = {
            "id": ME,
            "peername": "a",
            "version": "1.1.6",
            "cluster_peers": [ME, OTHER],
            "error": "",
            "ipfs": {"id": "12D3KooWIpfsMe", "addresses": [], "error": ""},
        }
        if request.url.path == "/id":
            return httpx.Response(200, json=me)
        assert request.url.path == "/peers"
        other = {"id": OTHER, "peername": "b", "error": "dial backoff", "ipfs": {}}
        return _ndjson(me, other)

    identity = run_with(handler, lambda c: c.id())
    assert (identity.id, identity.cluster_peers, identity.ipfs_id, identity.error) == (
        ME,
        (ME, OTHER),
        "12D3KooWIpfsMe",
        "",
    )
    peers = run_with(handler, lambda c: c.peers())
    assert [(p.id, p.error) for p in peers] == [(ME, ""), (OTHER, "dial backoff")]


def test_an_error_answer_carries_the_clusters_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        message = "not enough peers to allocate CID. Needed at least: 3. Wanted at most: 3. Available: 2"
        return httpx.Response(500, json={"code": 500, "message": message})

    with pytest.raises(ClusterError, match="not enough peers") as raised:
        run_with(handler, lambda c: c.pin(HELLO, replication_min=3, replication_max=3))
    assert raised.value.status == 500 and raised.value.endpoint == f"/pins/{HELLO}"


def test_an_error_before_a_stream_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"code": 500, "message": "could not get pinset from IPFS"})

    async def scenario(c: ClusterClient) -> list[Any]:
        return [s async for s in c.statuses(local=True)]

    with pytest.raises(ClusterError, match="could not get pinset"):
        run_with(handler, scenario)


def test_an_unreachable_peer_is_unavailable_and_says_what_to_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ClusterUnavailable, match=r"cluster\.api") as raised:
        run_with(handler, lambda c: c.id())
    assert isinstance(raised.value, ClusterClientError) and "connection refused" in raised.value.reason

    async def stream(c: ClusterClient) -> list[Any]:
        return [p async for p in c.allocations()]

    with pytest.raises(ClusterUnavailable):
        run_with(handler, stream)


def test_a_peer_that_answers_something_else_than_json_is_an_error() -> None:
    with pytest.raises(ClusterError, match="not JSON"):
        run_with(lambda r: httpx.Response(200, text="<html>"), lambda c: c.status(HELLO))
