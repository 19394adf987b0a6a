"""An audit of an asset and its whole lineage (or of every asset a node has indexed): who did what when,
the transitions the state machine refused, the node's verification of every record, whether each payload
can still be fetched, and the gaps an auditor must look into.

    from proml import sdk
    from proml.sdk.audit import audit

    with sdk.connect() as node:
        report = audit(node, "0x…")          # or audit(node) for every asset
        for gap in report.gaps:
            print(gap.gap, gap.asset, gap.detail)

`audit` gathers through the node's API; `gaps` and `rejected` conclude from what was gathered, without
I/O. An audited asset is its summary and `history` (from the index), `verification` (the node's check of
every record document and of the hash chain) and `payloads` (each CID its record documents name, and
whether the node could fetch it). A gap is one of:

- `deployed_without_validation`: an accepted `deploy` of a model with no accepted `validate` since its
  last accepted `train` (a rollback can bring back a validated state after a new training);
- `verification_failed`: a record document that is missing or disagrees with the chain, or a hash chain
  that does not recompute to the head on chain;
- `payload_unavailable`: a payload a record names by CID that the node could not fetch, or whose
  content does not have that CID and the recorded digest;
- `dataset_payload_unpublished`: a dataset that other assets were derived from, recorded by digest only:
  no node holds its content;
- `only_rejected_records`: a file (an input, an output) that only records the state machine refused name:
  nothing accepted vouches for it;
- `deployed_weights_rejected`: an accepted `deploy` of weights that only refused records produced (the
  files the deploy names, else those its last accepted `validate` named).

Rejected transitions are listed too; a refused record is not a gap by itself (the chain kept it, which is
what it is for), only the files that have nothing but refused records behind them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proml.core.records import rfc3339

from .client import Node
from .errors import ProMLError
from .views import AssetDetails, HistoryEntry, LineageEdge, who

PAGE = 1000


@dataclass(frozen=True)
class RecordedFile:
    """A file digest a record of the asset names (`where`: content, input or output), as the node's
    verification lists them: one per record that names the file."""

    where: str
    digest: str
    seq: int
    activity: str | None
    accepted: bool
    actor: str
    actor_name: str | None

    @property
    def actor_label(self) -> str:
        return who(self.actor_name, self.actor)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordedFile:
        return cls(
            where=str(data["where"]),
            digest=str(data["digest"]),
            seq=int(data["seq"]),
            activity=data.get("activity"),
            accepted=bool(data["accepted"]),
            actor=str(data["actor"]),
            actor_name=data.get("actor_name"),
        )


@dataclass(frozen=True)
class PayloadCheck:
    """A file a record document names by CID, as the node streamed it and checked it against its CID and
    digest: `available` is None when payloads were not checked."""

    seq: int
    where: str
    name: str
    cid: str
    digest: str
    available: bool | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "where": self.where,
            "name": self.name,
            "cid": self.cid,
            "digest": self.digest,
            "available": self.available,
            "error": self.error,
        }

    @classmethod
    def from_verification(cls, check: Mapping[str, Any]) -> PayloadCheck:
        return cls(
            seq=int(check["seq"]),
            where=str(check["where"]),
            name=str(check["name"]),
            cid=str(check["cid"]),
            digest=str(check["digest"]),
            available=check["ok"],
            error=check["problem"],
        )


@dataclass(frozen=True)
class AuditedAsset:
    """An asset as the audit saw it: its details and history, the node's verification report (as JSON:
    `NOT RUN` when the node could not verify), the files its records name, and its payloads."""

    details: AssetDetails
    verification: Mapping[str, Any]
    recorded: tuple[RecordedFile, ...]
    problems: tuple[str, ...]
    payloads: tuple[PayloadCheck, ...]

    @property
    def address(self) -> str:
        return self.details.address

    @property
    def kind(self) -> str | None:
        return self.details.kind

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        return self.details.history

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.details.to_dict(),
            "verification": dict(self.verification),
            "payloads": [p.to_dict() for p in self.payloads],
        }

    @classmethod
    def of(cls, details: AssetDetails, verification: Mapping[str, Any]) -> AuditedAsset:
        return cls(
            details=details,
            verification=verification,
            recorded=tuple(RecordedFile.from_dict(e) for e in verification.get("recorded", [])),
            problems=tuple(str(p) for p in verification.get("problems", [])),
            payloads=tuple(PayloadCheck.from_verification(p) for p in verification.get("payloads", [])),
        )


@dataclass(frozen=True)
class Gap:
    """Something an auditor must look into (the kinds are listed above), on `asset`, at record `seq`
    when one record is at fault."""

    gap: str
    asset: str
    detail: str
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        seq = {} if self.seq is None else {"seq": self.seq}
        return {"gap": self.gap, "asset": self.asset, **seq, "detail": self.detail}


@dataclass(frozen=True)
class RejectedTransition:
    """A record the state machine refused: kept on chain with accepted=false, proof of nothing."""

    asset: str
    seq: int
    activity: str | None
    actor: str
    actor_name: str | None
    state: str | None  # the state the asset was in
    timestamp: str | None

    @property
    def actor_label(self) -> str:
        return who(self.actor_name, self.actor)

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "seq": self.seq,
            "activity": self.activity,
            "actor": self.actor,
            "actor_name": self.actor_name,
            "state": self.state,
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class AuditReport:
    """What `audit` found: `ok` when there is no gap. `to_dict()` is the report's JSON."""

    scope: str  # the asset audited with its lineage, or "all"
    generated_at: str
    node_url: str
    org: str | None
    registry: str | None
    payloads_checked: bool
    gaps: tuple[Gap, ...]
    rejected: tuple[RejectedTransition, ...]
    edges: tuple[LineageEdge, ...]
    assets: tuple[AuditedAsset, ...]

    @property
    def ok(self) -> bool:
        return not self.gaps

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "generated_at": self.generated_at,
            "node_url": self.node_url,
            "org": self.org,
            "registry": self.registry,
            "payloads_checked": self.payloads_checked,
            "ok": self.ok,
            "gaps": [g.to_dict() for g in self.gaps],
            "rejected": [r.to_dict() for r in self.rejected],
            "edges": [e.to_dict() for e in self.edges],
            "assets": [a.to_dict() for a in self.assets],
        }


# -- gathering ----------------------------------------------------------------------------------------


def audit(
    node: Node, asset: str | None = None, *, payloads: bool = True, payload_timeout: float = 60.0
) -> AuditReport:
    """Audit `asset` (an address) with its whole lineage, or every asset the node has indexed when
    `asset` is None. With `payloads`, the node fetches every payload a record names and checks it, each
    within `payload_timeout` seconds."""
    health = node.health()
    addresses, edges = scope(node, asset)
    assets = [audit_asset(node, a, payloads, payload_timeout) for a in addresses]
    return AuditReport(
        scope=asset or "all",
        generated_at=rfc3339(),
        node_url=node.transport.url,
        org=health.get("org"),
        registry=health.get("registry"),
        payloads_checked=payloads,
        gaps=tuple(gaps(assets, edges)),
        rejected=tuple(rejected(assets)),
        edges=tuple(edges),
        assets=tuple(assets),
    )


def audit_asset(node: Node, address: str, check_payloads: bool, payload_timeout: float) -> AuditedAsset:
    details = node.asset_details(address)
    verification: Mapping[str, Any]
    try:
        verification = node.verify_history(address, payloads=check_payloads, payload_timeout=payload_timeout)
    except ProMLError as exc:
        verification = {"ok": False, "result": "NOT RUN", "problems": [f"could not verify: {exc}"]}
    return AuditedAsset.of(details, verification)


def scope(node: Node, asset: str | None) -> tuple[list[str], list[LineageEdge]]:
    """The addresses to audit and the lineage edges between them: the asset with its whole lineage, or
    every asset the node has indexed."""
    if asset is not None:
        graph = node.lineage(asset)
        return [n.address for n in graph.nodes], list(graph.edges)
    addresses: list[str] = []
    while page := node.assets(limit=PAGE, offset=len(addresses)):
        addresses += [a.address for a in page]
        if len(page) < PAGE:
            break
    # Only datasets' edges matter to the checks (is a digest-only dataset used?).
    edges: list[LineageEdge] = []
    for dataset in node.assets(kind="dataset", limit=PAGE):
        edges += [e for e in node.lineage(dataset.address).edges if e.source == dataset.address]
    return addresses, edges


# -- conclusions (no I/O) -----------------------------------------------------------------------------


def gaps(assets: Sequence[AuditedAsset], edges: Sequence[LineageEdge]) -> list[Gap]:
    sources = {e.source for e in edges}
    found: list[Gap] = []
    for asset in assets:
        address = asset.address
        found += _only_rejected(address, asset.recorded)
        if asset.kind == "model":
            found += _unvalidated_deploys(asset)
            found += _rejected_deployed_weights(asset)
        found += [Gap("verification_failed", address, problem) for problem in asset.problems]
        found += [
            Gap("payload_unavailable", address, f"{p.where} {p.name} ({p.cid}): {p.error}", p.seq)
            for p in asset.payloads
            if p.available is False
        ]
        if asset.kind == "dataset" and address in sources and not _published(asset):
            detail = (
                "other assets derive from this dataset, but it was registered by digest only: no node holds "
                "its content"
            )
            found.append(Gap("dataset_payload_unpublished", address, detail))
    return found


def rejected(assets: Sequence[AuditedAsset]) -> list[RejectedTransition]:
    return [
        RejectedTransition(
            asset=a.address,
            seq=r.seq,
            activity=r.activity,
            actor=r.actor,
            actor_name=r.actor_name,
            state=r.from_state,
            timestamp=r.timestamp,
        )
        for a in assets
        for r in a.history
        if not r.accepted
    ]


def _published(asset: AuditedAsset) -> bool:
    return any(p.seq == 0 and p.where == "content" for p in asset.payloads)


def _only_rejected(address: str, recorded: Sequence[RecordedFile]) -> list[Gap]:
    """A gap for each file digest whose every record was refused."""
    holders: dict[str, list[RecordedFile]] = {}
    for entry in recorded:
        holders.setdefault(entry.digest, []).append(entry)
    return [
        Gap(
            "only_rejected_records",
            address,
            f"{digest} is named only by records the state machine refused: "
            + ", ".join(f"seq {e.seq} {e.activity} {e.where} by {e.actor_label}" for e in entries),
            entries[0].seq,
        )
        for digest, entries in holders.items()
        if not any(e.accepted for e in entries)
    ]


def _rejected_deployed_weights(asset: AuditedAsset) -> list[Gap]:
    found = []
    for record in asset.history:
        if record.activity != "deploy" or not record.accepted:
            continue
        for digest in _deployed_weights(asset.history, asset.recorded, record.seq):
            producers = [e for e in asset.recorded if e.digest == digest and e.where in ("output", "content")]
            if producers and not any(e.accepted for e in producers):
                detail = f"deployed {digest}, which only refused records produced: " + ", ".join(
                    f"seq {e.seq} {e.activity} by {e.actor_label}" for e in producers
                )
                found.append(Gap("deployed_weights_rejected", asset.address, detail, record.seq))
    return found


def _deployed_weights(
    history: Sequence[HistoryEntry], recorded: Sequence[RecordedFile], deploy: int
) -> list[str]:
    """The file digests a deploy put in service that a record names: those the deploy names, else those
    the last accepted validate before it named. (Without either, what is deployed is the last accepted
    train's output, which an accepted record produced.)"""
    files: dict[int, list[str]] = {}
    for entry in recorded:
        files.setdefault(entry.seq, []).append(entry.digest)
    if files.get(deploy):
        return files[deploy]
    validated = [r for r in history if r.seq < deploy and r.accepted and r.activity == "validate"]
    return files.get(validated[-1].seq, []) if validated else []


def _unvalidated_deploys(asset: AuditedAsset) -> list[Gap]:
    found = []
    validated = False
    for record in asset.history:
        if not record.accepted:
            continue
        if record.activity == "train":
            validated = False
        elif record.activity == "validate":
            validated = True
        elif record.activity == "deploy" and not validated:
            detail = (
                f"deployed by {record.actor_label} at {record.timestamp} with no accepted validate since its "
                "last training"
            )
            found.append(Gap("deployed_without_validation", asset.address, detail, record.seq))
    return found
