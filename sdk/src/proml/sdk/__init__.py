"""The library that training scripts import to report provenance to a ProML node.

It talks to a node over HTTP only: it imports neither FastAPI nor web3, and needs no chain of its own.
"""

from .client import Activity, Asset, Node, Record, connect
from .errors import (
    AuthenticationError,
    ConfigurationError,
    NodeUnavailable,
    NotAProMLNode,
    NotFound,
    PayloadMismatch,
    ProMLError,
    RecordFailed,
    RequestRejected,
    TransitionRejected,
    WaitTimeout,
)

__all__ = [
    "Activity",
    "Asset",
    "AuthenticationError",
    "ConfigurationError",
    "Node",
    "NodeUnavailable",
    "NotAProMLNode",
    "NotFound",
    "PayloadMismatch",
    "ProMLError",
    "Record",
    "RecordFailed",
    "RequestRejected",
    "TransitionRejected",
    "WaitTimeout",
    "connect",
]
