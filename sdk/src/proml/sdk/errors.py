"""The SDK's errors. Each message says what to do. A transition the state machine refuses is not an error:
the node keeps the record, with `accepted` false."""

from __future__ import annotations


class ProMLError(Exception):
    """Base of every SDK error."""


class ConfigurationError(ProMLError):
    """The SDK does not know which node to talk to, or with which key."""


class NodeUnavailable(ProMLError):
    """The node does not answer (or answers 503: its chain or IPFS is down); retry later. `reason` names
    the connection's failure (`ConnectError`, `ReadTimeout`...) when nothing answered at all."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class NotAProMLNode(ProMLError):
    """Something answers at the URL, but not as a ProML node does (HTML, plain text, a redirect): the URL
    names another server."""


class UnexpectedAnswer(ProMLError):
    """The node answered with JSON that lacks what this SDK reads from it: a node of another ProML version,
    or another JSON API."""


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
    """The chain refused a record for good (for example: the organisation neither owns the asset nor
    contributes to it). `revert` is the contract's custom error, when the node's reason names one."""

    def __init__(self, message: str, *, revert: str | None = None) -> None:
        super().__init__(message)
        self.revert = revert


class PayloadMismatch(ProMLError):
    """IPFS returned content that is not what was asked for; the node kept nothing of it."""


class WaitTimeout(ProMLError, TimeoutError):
    """A record was not final in the time given; it is still in the node's outbox and will land."""


class TransitionRejected(UserWarning):
    """A warning, not an error: the state machine refused a recorded activity, and the record is kept on
    chain with `accepted` false. The asset stayed in `state`, from which it accepts `allowed_activities`
    (empty for a rollback or an anchor, which have rules of their own). A refused record proves nothing:
    verification answers REJECTED_ONLY for a file that only refused records hold."""

    def __init__(
        self,
        message: str,
        *,
        asset: str,
        seq: int,
        activity: str,
        state: str | None,
        allowed_activities: tuple[str, ...],
    ) -> None:
        super().__init__(message)
        self.asset = asset
        self.seq = seq
        self.activity = activity
        self.state = state
        self.allowed_activities = allowed_activities
