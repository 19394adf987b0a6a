"""Decode the logs of the ProML registry and its assets into typed, frozen events.

Only eth_abi and eth_utils: the node's services decode events without web3. `decode_log` takes a log
as `eth_getLogs` and receipts return it (hex strings), and also the shape web3 hands out (bytes and
ints), so that the same code serves the index and the tests. Every event carries where it was
emitted (`address`, `block_number`, `block_hash`, `transaction_hash`, `log_index`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak

from .addresses import checksum
from .artifacts import load_artifact
from .hash_chain import ChainedRecord


class AnchorPhase(IntEnum):
    """`Anchored.phase`, as in ProvenanceTypes.sol."""

    BEFORE_TRAINING = 0
    AFTER_TRAINING = 1


class EventDecodeError(ValueError):
    """A log has a known topic0 but does not decode as that event."""


@dataclass(frozen=True)
class Event:
    """Where a log was emitted; every decoded event extends this."""

    address: str
    block_number: int
    block_hash: str
    transaction_hash: str
    log_index: int


# -- the registry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetRegistered(Event):
    asset: str
    kind: int
    owner: str
    content_digest: bytes
    record_digest: bytes
    record_cid: bytes


@dataclass(frozen=True)
class MemberAdded(Event):
    member: str
    name: str
    roles: int


@dataclass(frozen=True)
class MemberSuspended(Event):
    member: str


@dataclass(frozen=True)
class MemberRolesChanged(Event):
    member: str
    old_roles: int
    new_roles: int


@dataclass(frozen=True)
class ProposalCreated(Event):
    proposal_id: int
    proposer: str
    kind: int
    target: str
    name: str
    roles: int
    threshold_bps: int


@dataclass(frozen=True)
class ProposalApproved(Event):
    proposal_id: int
    approver: str
    approvals: int


@dataclass(frozen=True)
class ProposalExecuted(Event):
    proposal_id: int


@dataclass(frozen=True)
class ThresholdChanged(Event):
    old_threshold_bps: int
    new_threshold_bps: int


# -- the assets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvenanceRecorded(Event):
    record: ChainedRecord


@dataclass(frozen=True)
class ContributorAdded(Event):
    account: str


@dataclass(frozen=True)
class ContributorRemoved(Event):
    account: str


@dataclass(frozen=True)
class Anchored(Event):
    seq: int
    phase: int
    root: bytes


@dataclass(frozen=True)
class RolledBack(Event):
    seq: int
    to_seq: int
    accepted: bool
    reason: str


REGISTRY_EVENTS: tuple[type[Event], ...] = (
    AssetRegistered,
    MemberAdded,
    MemberSuspended,
    MemberRolesChanged,
    ProposalCreated,
    ProposalApproved,
    ProposalExecuted,
    ThresholdChanged,
)
ASSET_EVENTS: tuple[type[Event], ...] = (
    ProvenanceRecorded,
    ContributorAdded,
    ContributorRemoved,
    Anchored,
    RolledBack,
)

# -- the ABI side -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """How to decode one event: its class, and its inputs split as the log splits them."""

    cls: type[Event]
    topic0: str
    indexed: tuple[tuple[str, str], ...]  # (name, ABI type), in topic order
    data: tuple[tuple[str, str], ...]  # (name, ABI type), in data order


def _signature(entry: Mapping[str, Any]) -> str:
    return f"{entry['name']}(" + ",".join(i["type"] for i in entry["inputs"]) + ")"


def _specs() -> dict[str, _Spec]:
    by_name = {cls.__name__: cls for cls in (*REGISTRY_EVENTS, *ASSET_EVENTS)}
    specs: dict[str, _Spec] = {}
    for contract in ("ProML", "DatasetAsset", "ModelAsset"):
        for entry in load_artifact(contract).abi:
            if entry.get("type") != "event" or entry["name"] not in by_name:
                continue
            topic0 = "0x" + keccak(text=_signature(entry)).hex()
            inputs = entry["inputs"]
            specs[topic0] = _Spec(
                cls=by_name[entry["name"]],
                topic0=topic0,
                indexed=tuple((i["name"], i["type"]) for i in inputs if i["indexed"]),
                data=tuple((i["name"], i["type"]) for i in inputs if not i["indexed"]),
            )
    missing = set(by_name) - {s.cls.__name__ for s in specs.values()}
    if missing:  # an artifact without an event this module decodes: the artifacts and this file drifted
        raise RuntimeError(f"events missing from the contract ABIs: {sorted(missing)}")
    return specs


_SPECS = _specs()
_TOPIC_OF = {spec.cls: topic for topic, spec in _SPECS.items()}

EVENT_TOPICS: tuple[str, ...] = tuple(_SPECS)
REGISTRY_TOPICS: tuple[str, ...] = tuple(_TOPIC_OF[cls] for cls in REGISTRY_EVENTS)
ASSET_TOPICS: tuple[str, ...] = tuple(_TOPIC_OF[cls] for cls in ASSET_EVENTS)


def topic_of(cls: type[Event]) -> str:
    """The topic0 (0x-hex) of an event class, e.g. ``topic_of(AssetRegistered)``."""
    return _TOPIC_OF[cls]


# -- decoding ---------------------------------------------------------------------------------------


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    raise EventDecodeError(f"expected hex data, got {value!r}")


def _as_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    raise EventDecodeError(f"expected a quantity, got {value!r}")


def _as_hash(value: Any) -> str:
    return "0x" + _as_bytes(value).hex()


def _snake(name: str) -> str:
    # proposalId -> proposal_id, recordCID -> record_cid, oldThresholdBps -> old_threshold_bps
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _normalise(abi_type: str, value: Any) -> Any:
    """eth_abi's value as the dataclasses hold it: checksummed addresses, bytes, tuples for arrays."""
    if abi_type.endswith("[]"):
        return tuple(_normalise(abi_type[:-2], v) for v in value)
    if abi_type == "address":
        return checksum(value)
    if abi_type.startswith("bytes"):
        return bytes(value)
    return value


def _arguments(spec: _Spec, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
    if len(topics) != len(spec.indexed) + 1:
        raise EventDecodeError(
            f"{spec.cls.__name__}: expected {len(spec.indexed) + 1} topics, got {len(topics)}"
        )
    args: dict[str, Any] = {}
    try:
        for (name, abi_type), topic in zip(spec.indexed, topics[1:], strict=True):
            (args[name],) = decode([abi_type], topic)
        values = decode([t for _, t in spec.data], data)
    except (DecodingError, ValueError, TypeError) as exc:
        raise EventDecodeError(f"{spec.cls.__name__}: {exc}") from exc
    args.update(zip((n for n, _ in spec.data), values, strict=True))
    return args


def _fields(spec: _Spec, args: Mapping[str, Any]) -> dict[str, Any]:
    """The event-specific fields of `spec.cls` from the decoded arguments."""
    if spec.cls is ProvenanceRecorded:
        return {"record": ChainedRecord.from_event_args(args)}
    types = dict((*spec.indexed, *spec.data))
    return {_snake(name): _normalise(types[name], value) for name, value in args.items()}


def decode_log(log: Mapping[str, Any]) -> Event | None:
    """The event in `log`, or None when its topic0 is none of the registry's or the assets'.

    A log whose topic0 is known but whose topics or data do not fit raises `EventDecodeError`:
    callers that read logs of foreign contracts should filter by address first.
    """
    raw_topics = log.get("topics") or []
    if not raw_topics:
        return None
    topics = [_as_bytes(t) for t in raw_topics]
    spec = _SPECS.get("0x" + topics[0].hex())
    if spec is None:
        return None
    args = _arguments(spec, topics, _as_bytes(log.get("data") or b""))
    return spec.cls(
        address=checksum(log["address"]),
        block_number=_as_int(log["blockNumber"]),
        block_hash=_as_hash(log["blockHash"]),
        transaction_hash=_as_hash(log["transactionHash"]),
        log_index=_as_int(log["logIndex"]),
        **_fields(spec, args),
    )


def decode_logs(logs: Sequence[Mapping[str, Any]]) -> list[Event]:
    """Every known event in `logs`, in the order given; unknown topics are skipped."""
    return [event for event in map(decode_log, logs) if event is not None]


def event_fields(cls: type[Event]) -> tuple[str, ...]:
    """The event-specific field names of `cls` (the log position left out)."""
    position = {f.name for f in fields(Event)}
    return tuple(f.name for f in fields(cls) if f.name not in position)
