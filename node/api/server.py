"""uvicorn's HTTP protocol with a deadline for each request's head.

uvicorn closes a connection that stays idle after a response (`timeout_keep_alive`), but it waits without
end for the first request of a new connection, and for the rest of a request line and headers once their
first byte has come. A client could hold connections that way until none is left for anyone else (each
counts towards `limit_concurrency`). Here the head of every request must be whole within the deadline, or
the connection is closed. Bodies have their own limits, in the request guard (`guard.RequestGuard`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeadDeadlineProtocol(HttpToolsProtocol):
    head_timeout: float = 30.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

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


def protocol_with_head_timeout(seconds: float) -> type[HeadDeadlineProtocol]:
    """The protocol class to give `uvicorn.run(http=...)`, with its deadline."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_timeout": seconds})
