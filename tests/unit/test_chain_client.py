"""The JSON-RPC client's requests, against a minimal HTTP server in this process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proml.node.clients.chain import ChainClient


@pytest.fixture
def rpc_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server answering every call with `0x2a`; its URL and the headers of each request it got."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(dict(self.headers))
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0x2a"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_replies_are_asked_for_uncompressed(rpc_server: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = rpc_server
    assert ChainClient(url).block_number() == 42
    assert [headers["Accept-Encoding"] for headers in seen] == ["identity"]
