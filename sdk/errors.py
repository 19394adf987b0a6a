"""The SDK's errors. Each message says what to do. A transition the state machine refuses is not an error:
the node keeps the record, with `accepted` false."""

from __future__ import annotations


class ProMLError(Exception):
    """Base of every SDK error."""


class ConfigurationError(ProMLError):
    """The SDK does not know which node to talk to, or with which key."""


class NodeUnavailable(ProMLError):
    """The node does not answer (or answers 503: its chain or IPFS is down); retry later."""


class AuthenticationError(ProMLError):
    """The API key is missing, unknown to the node, or lacks the scope the call needs."""


class RequestRejected(ProMLError):
    """The node refused the request as it was (a 4xx); `code` is the node's stable error code."""

    def __init__(self, message: str, *, status: int, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field


class NotFound(RequestRejected):
    """No such asset or outbox entry on this node (a new asset appears once its block is indexed)."""


class RecordFailed(ProMLError):
    """The chain refused a record for good (for example: the organisation lacks the role)."""


class PayloadMismatch(ProMLError):
    """IPFS returned content that is not what was asked for; the node kept nothing of it."""


class WaitTimeout(ProMLError, TimeoutError):
    """A record was not final in the time given; it is still in the node's outbox and will land."""
