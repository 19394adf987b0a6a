"""What the node's index answers about assets, lineage and governance, as typed values.

Each value is built from the node's JSON answer (node/api/responses.py declares it) and keeps that answer
whole: `to_dict()` gives it back as the node sent it, fields this SDK does not name included, so that a
script (or `proml ... --json`) can pass it on unchanged. A field the SDK names and the answer lacks is an
`UnexpectedAnswer`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import UnexpectedAnswer

T = TypeVar("T")


def who(name: str | None, address: str | None) -> str:
    """An organisation as `Name (0xabc…)`, or its address alone when it has no member's name."""
    shown = address or "-"
    return f"{name} ({short(shown)})" if name else shown


def short(address: str) -> str:
    return address if len(address) < 14 else f"{address[:8]}…{address[-4:]}"


def parsed(build: Callable[[Mapping[str, Any]], T], answer: Any, what: str) -> T:
    """`build(answer)`, or an `UnexpectedAnswer` naming `what` when the answer lacks what it needs."""
    try:
        if not isinstance(answer, Mapping):
            raise TypeError(f"expected a JSON object, not {type(answer).__name__}")
        return build(answer)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnexpectedAnswer(
            f"the node's answer for {what} is not what this SDK reads ({type(exc).__name__}: {exc}): are "
            "the node and the SDK of the same ProML version?"
        ) from None


def parsed_list(build: Callable[[Mapping[str, Any]], T], answer: Any, what: str) -> list[T]:
    if not isinstance(answer, list):
        raise UnexpectedAnswer(f"the node's answer for {what} is not a list: is it a ProML node?")
    return [parsed(build, item, what) for item in answer]


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _strings(values: Sequence[Any] | None) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


@dataclass(frozen=True)
class HistoryEntry:
    """One record of an asset on chain, accepted or refused (`accepted`), as the node's index holds it."""

    asset: str
    seq: int
    actor: str
    actor_name: str | None
    activity: str | None
    from_state: str | None
    to_state: str | None
    accepted: bool
    timestamp: str | None
    allowed_activities: tuple[str, ...]  # for a refused record: what the state machine accepts instead
    rollback_to: int | None  # for a rollback: the seq it returned to
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def actor_label(self) -> str:
        return who(self.actor_name, self.actor)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryEntry:
        rollback = data.get("rollback")
        return cls(
            asset=str(data["asset"]),
            seq=int(data["seq"]),
            actor=str(data["actor"]),
            actor_name=_optional_str(data.get("actor_name")),
            activity=_optional_str(data.get("activity")),
            from_state=_optional_str(data.get("from_state")),
            to_state=_optional_str(data.get("to_state")),
            accepted=bool(data["accepted"]),
            timestamp=_optional_str(data.get("timestamp")),
            allowed_activities=_strings(data.get("allowed_activities")),
            rollback_to=None if not rollback else int(rollback["to_seq"]),
            raw=data,
        )


@dataclass(frozen=True)
class AssetSummary:
    """A registered dataset or model, as the node's index lists it."""

    address: str
    kind: str | None
    owner: str
    owner_name: str | None
    state: str | None
    record_count: int
    content_digest: str | None
    ancestors: tuple[str, ...]
    registered_block: int
    registered_at: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def owner_label(self) -> str:
        return who(self.owner_name, self.owner)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AssetSummary:
        return cls(**_summary_fields(data), raw=data)


def _summary_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "address": str(data["address"]),
        "kind": _optional_str(data.get("kind")),
        "owner": str(data["owner"]),
        "owner_name": _optional_str(data.get("owner_name")),
        "state": _optional_str(data.get("state")),
        "record_count": int(data["record_count"]),
        "content_digest": _optional_str(data.get("content_digest")),
        "ancestors": _strings(data["ancestors"]),
        "registered_block": int(data["registered_block"]),
        "registered_at": _optional_str(data.get("registered_at")),
    }


@dataclass(frozen=True)
class AssetDetails(AssetSummary):
    """An asset's summary with its whole history (`GET /v1/assets/{address}`)."""

    history: tuple[HistoryEntry, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AssetDetails:
        history = tuple(HistoryEntry.from_dict(r) for r in data["history"])
        return cls(**_summary_fields(data), raw=data, history=history)


@dataclass(frozen=True)
class LineageEdge:
    """`source` -> `target`: the target derives from the source, declared as an `ancestor` or an `input`."""

    source: str
    target: str
    via: str

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "via": self.via}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LineageEdge:
        return cls(source=str(data["from"]), target=str(data["to"]), via=str(data["via"]))


@dataclass(frozen=True)
class Lineage:
    """An asset (`root`) with every asset it derives from and every asset derived from it."""

    root: str
    nodes: tuple[AssetSummary, ...]
    edges: tuple[LineageEdge, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lineage:
        return cls(
            root=str(data["root"]),
            nodes=tuple(AssetSummary.from_dict(n) for n in data["nodes"]),
            edges=tuple(LineageEdge.from_dict(e) for e in data["edges"]),
            raw=data,
        )


@dataclass(frozen=True)
class Member:
    """An organisation the consortium ever admitted: its roles and its status (active, suspended)."""

    address: str
    name: str
    role_names: tuple[str, ...]
    status: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Member:
        return cls(
            address=str(data["address"]),
            name=str(data["name"]),
            role_names=_strings(data["role_names"]),
            status=_optional_str(data.get("status")),
            raw=data,
        )


@dataclass(frozen=True)
class Proposal:
    """A governance proposal: what it changes (`kind`, `target`, `name`, roles or `threshold_bps`), who
    proposed it, how many members approved it, and whether it was executed."""

    id: int
    kind: str | None
    proposer: str
    proposer_name: str | None
    target: str | None
    name: str | None
    role_names: tuple[str, ...]
    threshold_bps: int | None
    approvals: int
    executed: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def proposer_label(self) -> str:
        return who(self.proposer_name, self.proposer)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Proposal:
        return cls(
            id=int(data["id"]),
            kind=_optional_str(data.get("kind")),
            proposer=str(data["proposer"]),
            proposer_name=_optional_str(data.get("proposer_name")),
            target=_optional_str(data.get("target")),
            name=_optional_str(data.get("name")),
            role_names=_strings(data["role_names"]),
            threshold_bps=_optional_int(data.get("threshold_bps")),
            approvals=int(data["approvals"]),
            executed=bool(data["executed"]),
            raw=data,
        )


@dataclass(frozen=True)
class Health:
    """How a node is (`GET /v1/health`): `ok` when its chain and IPFS answer and its background process
    runs; else `status` is `degraded` and the `*_error` fields say what fails."""

    status: str
    org: str | None
    address: str | None
    registry: str | None
    chain_ok: bool
    chain_id: int | None
    block: int | None
    chain_error: str | None
    ipfs_ok: bool
    peer_id: str | None
    ipfs_error: str | None
    index_cursor: int | None
    index_lag: int | None
    outbox_depth: int | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Health:
        chain, ipfs = data.get("chain") or {}, data.get("ipfs") or {}
        index, outbox = data.get("index") or {}, data.get("outbox") or {}
        return cls(
            status=str(data["status"]),
            org=_optional_str(data.get("org")),
            address=_optional_str(data.get("address")),
            registry=_optional_str(data.get("registry")),
            chain_ok=bool(chain.get("ok")),
            chain_id=_optional_int(chain.get("chain_id")),
            block=_optional_int(chain.get("block")),
            chain_error=_optional_str(chain.get("error")),
            ipfs_ok=bool(ipfs.get("ok")),
            peer_id=_optional_str(ipfs.get("peer_id")),
            ipfs_error=_optional_str(ipfs.get("error")),
            index_cursor=_optional_int(index.get("cursor")),
            index_lag=_optional_int(index.get("lag")),
            outbox_depth=_optional_int(outbox.get("depth")),
            raw=data,
        )


# ProML.sol's initial thresholdBps, until a change_threshold proposal is executed.
DEFAULT_THRESHOLD_BPS = 5000


@dataclass(frozen=True)
class Consortium:
    """The consortium as one node sees it: its registry, this node's organisation, the members, the
    proposals, and the approval threshold in force with what it takes now."""

    registry: str | None
    org: str | None
    address: str | None
    chain_id: int | None
    threshold_bps: int
    active_members: int
    approvals_needed: int
    members: tuple[Member, ...]
    proposals: tuple[Proposal, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "org": self.org,
            "address": self.address,
            "chain_id": self.chain_id,
            "threshold_bps": self.threshold_bps,
            "active_members": self.active_members,
            "approvals_needed": self.approvals_needed,
            "members": [m.to_dict() for m in self.members],
            "proposals": [p.to_dict() for p in self.proposals],
        }

    @classmethod
    def of(
        cls, health: Mapping[str, Any], members: Sequence[Member], proposals: Sequence[Proposal]
    ) -> Consortium:
        changes = [p for p in proposals if p.kind == "change_threshold" and p.executed]
        threshold = changes[-1].threshold_bps if changes else None
        threshold = DEFAULT_THRESHOLD_BPS if threshold is None else threshold
        active = sum(1 for m in members if m.status == "active")
        chain = health.get("chain") or {}
        return cls(
            registry=_optional_str(health.get("registry")),
            org=_optional_str(health.get("org")),
            address=_optional_str(health.get("address")),
            chain_id=_optional_int(chain.get("chain_id")),
            threshold_bps=threshold,
            active_members=active,
            # The contract executes a proposal when approvals * 10000 > active members * thresholdBps.
            approvals_needed=active * threshold // 10000 + 1,
            members=tuple(members),
            proposals=tuple(proposals),
        )
