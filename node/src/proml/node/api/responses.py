"""The JSON bodies the API answers with, as the OpenAPI document declares them (see node/api/views.py and
node/services/query.py for where each is built). A field the service returns and the model does not
declare is an error (a 500 in the tests), not a field silently dropped from the answer: the document
and the answers cannot drift apart."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OutboxStatus = Literal["queued", "submitted", "included", "final", "failed"]
ScopeName = Literal["read", "write", "admin"]


class _Response(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class StoredPayload(_Response):
    digest: str = Field(description="`sha256:<hex>`")
    cid: str
    size: int


class OutboxEntry(_Response):
    """Where a write is; `Location` names /v1/outbox/{id}."""

    id: str
    ref: str = Field(description="`outbox:<id>`: names the asset of a registration before it has an address")
    kind: str
    status: OutboxStatus
    asset: str | None
    activity: str | None
    function: str | None
    proposal_id: int | None
    seq: int | None
    accepted: bool | None = Field(description="false when the state machine refused the record (it is kept)")
    record_digest: str | None
    record_cid: str | None
    tx_hash: str | None
    block_number: int | None
    attempts: int
    error: str | None
    created_at: str
    updated_at: str


class ApiKey(_Response):
    id: str
    name: str
    scopes: list[ScopeName]
    created_at: str


class NewApiKey(ApiKey):
    key: str = Field(description="the secret, in this response only")


class Health(_Response):
    status: Literal["ok", "degraded"]
    org: str
    address: str
    registry: str
    chain: dict[str, Any] = Field(description="ok, and chain_id and block, or error")
    ipfs: dict[str, Any] = Field(description="ok, peer_id and peers (swarm peers connected), or error")
    cluster: dict[str, Any] = Field(
        description="configured (cluster.api set), ok (null when not configured), id, peers (the cluster's"
        " peers this peer knows), errors; and the CIDs recorded on chain (verified documents and their"
        " payloads) against what the cluster and the IPFS daemon hold now: recorded, pinned, missing_here"
        " (this peer should hold them and does not), not_in_pinset, unverified, invalid, pinset (the"
        " cluster's pinset size), checked_at (the count is reused for a few seconds)"
    )
    outbox: dict[str, Any] = Field(description="depth (entries not final) and the submitter's last error")
    index: dict[str, Any] = Field(description="cursor, lag in blocks, and the indexer's last error")
    background: dict[str, Any] = Field(description="running, and the pid of the background process")
    replication: dict[str, Any] = Field(
        description="the background replicator's last pass: policy, replication, counts, failed (repairs"
        " waiting for a retry), in_flight, error, checked_at"
    )


class AssetSummary(_Response):
    address: str
    kind: str | None
    kind_id: int
    owner: str
    owner_name: str | None
    state: str | None
    state_id: int
    record_count: int
    content_digest: str | None
    record_digest: str | None
    record_cid: str | None
    ancestors: list[str]
    registered_block: int
    registered_transaction: str
    registered_at: str | None


class RollbackDetail(_Response):
    to_seq: int
    accepted: bool
    reason: str


class AnchorDetail(_Response):
    phase: str | None
    phase_id: int
    root: str | None


class HistoryEntry(_Response):
    asset: str
    seq: int
    actor: str
    actor_name: str | None
    activity: str | None
    activity_id: int
    from_state: str | None
    from_state_id: int
    to_state: str | None
    to_state_id: int
    accepted: bool
    allowed_activities: list[str] | None = Field(
        description="for a refused record, the activities the state machine accepts from `from_state` "
        "(none for a rollback or an anchor); null for an accepted record"
    )
    record_digest: str | None
    record_cid: str | None
    inputs: list[str]
    outputs: list[str]
    prev_head: str | None
    block_number: int
    block_hash: str
    transaction_hash: str
    log_index: int
    timestamp: str | None
    rollback: RollbackDetail | None
    anchor: AnchorDetail | None


class Asset(AssetSummary):
    history: list[HistoryEntry]


class LineageEdge(_Response):
    source: str = Field(alias="from")
    to: str
    via: Literal["ancestor", "input"]


class Lineage(_Response):
    root: str
    nodes: list[AssetSummary]
    edges: list[LineageEdge]


class Member(_Response):
    address: str
    name: str
    roles: int
    role_names: list[str]
    status: str | None
    status_id: int
    joined_block: int
    updated_block: int | None
    updated_at: str | None


class Proposal(_Response):
    id: int
    kind: str | None
    kind_id: int
    proposer: str
    proposer_name: str | None
    target: str | None
    target_name: str | None
    name: str | None
    roles: int
    role_names: list[str]
    threshold_bps: int | None
    approvals: int
    approvers: list[str]
    executed: bool
    created_block: int
    created_transaction: str
    created_at: str | None
    executed_block: int | None
    executed_at: str | None


class RecordedFile(_Response):
    """A file digest the chain holds for an asset, and the record that holds it."""

    where: Literal["content", "input", "output"]
    digest: str
    seq: int
    activity: str | None
    accepted: bool = Field(description="only an accepted record is proof")
    actor: str
    actor_name: str | None
    timestamp: str | None
    transaction_hash: str
    record_cid: str | None


class FileVerification(_Response):
    asset: str
    kind: str | None
    ok: bool
    result: Literal["OK", "REJECTED_ONLY", "MISMATCH"] = Field(
        description="OK: an accepted record holds the file; REJECTED_ONLY: only refused records do; "
        "MISMATCH: none does"
    )
    file: dict[str, str] = Field(description="the file's digests, by algorithm")
    matches: list[RecordedFile]
    recorded: list[RecordedFile]


class DocumentCheck(_Response):
    seq: int
    record_cid: str | None
    problems: list[str]


class PayloadCheck(_Response):
    seq: int
    activity: str | None
    accepted: bool
    where: Literal["content", "input", "output"]
    name: str
    cid: str
    digest: str
    checked: bool
    ok: bool | None = Field(description="None when not checked (`?payloads=false`)")
    problem: str | None


class HistoryVerification(_Response):
    asset: str
    kind: str | None
    ok: bool
    result: Literal["OK", "FAILED"]
    records: int
    head: str
    recomputed_head: str
    chain_ok: bool
    documents: list[DocumentCheck]
    problems: list[str]
    recorded: list[RecordedFile]
    payloads_checked: bool
    payloads: list[PayloadCheck]
    payload_problems: list[str]
