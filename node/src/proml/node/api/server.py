"""uvicorn's HTTP protocol with bounds on each request's head (its request line and headers).

uvicorn closes a connection that stays idle after a response (`timeout_keep_alive`), but it waits without
end for the first request of a new connection, and for the rest of a request line and headers once their
first byte has come; and it keeps every header it is sent, however many. A client could hold connections
that way until none is left for anyone else (each counts towards `limit_concurrency`), or fill the
process's memory with one endless head. Here the head of every request must be whole within a deadline,
or the connection is closed, and within `MAX_HEAD_BYTES`, or it is answered 431 and closed (uvicorn logs
"Invalid HTTP request received."). Bodies have their own limits, in the request guard (`guard.RequestGuard`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# As much as a few hundred ordinary headers: a browser sends a few KiB, nginx takes 32 KiB by default.
MAX_HEAD_BYTES = 64 * 1024
_TOO_LARGE_TEXT = b"the request line and headers exceed 64 KiB\n"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(_TOO_LARGE_TEXT)
    + _TOO_LARGE_TEXT
)


class HeadTooLarge(Exception):
    """Raised in the parser's callback: the parser stops, and uvicorn answers it as a bad request."""


class BoundedHeadProtocol(HttpToolsProtocol):
    head_timeout: float = 30.0
    _head_deadline: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm_head_deadline()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
        elif not self.transport.is_closing():
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._head_too_large = True
            raise HeadTooLarge()

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol_with_head_timeout(seconds: float) -> type[BoundedHeadProtocol]:
    """The protocol class to give `uvicorn.run(http=...)`, with its deadline."""
    return type("BoundedHeadProtocol", (BoundedHeadProtocol,), {"head_timeout": seconds})
