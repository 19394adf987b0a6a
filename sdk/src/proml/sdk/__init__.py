"""The library that training scripts import to report provenance to a ProML node.

It talks to a node over HTTP only: it imports neither FastAPI nor web3, and needs no chain of its own.
"""

from .client import ActivityBlock, Asset, Entry, Node, Record, connect, node_status
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
    UnexpectedAnswer,
    WaitTimeout,
)
from .views import AssetDetails, AssetSummary, Consortium, Health, HistoryEntry, Lineage, Member, Proposal

__all__ = [
    "ActivityBlock",
    "Asset",
    "AssetDetails",
    "AssetSummary",
    "AuthenticationError",
    "ConfigurationError",
    "Consortium",
    "Entry",
    "Health",
    "HistoryEntry",
    "Lineage",
    "Member",
    "Node",
    "NodeUnavailable",
    "NotAProMLNode",
    "NotFound",
    "PayloadMismatch",
    "ProMLError",
    "Proposal",
    "Record",
    "RecordFailed",
    "RequestRejected",
    "TransitionRejected",
    "UnexpectedAnswer",
    "WaitTimeout",
    "connect",
    "node_status",
]
