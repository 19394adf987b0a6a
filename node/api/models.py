"""The JSON bodies the API accepts. Unknown fields are refused, so a typo is an error, not a silent loss."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Content(_Strict):
    digest: str = Field(description="`sha256:<hex>` or `blake3:<hex>`")
    cid: str | None = Field(None, description="where the payload is on IPFS, if it was uploaded")
    size: int | None = Field(None, ge=0)


class Artifact(_Strict):
    name: str
    kind: str
    digest: str
    cid: str | None = None
    size: int | None = Field(None, ge=0)
    asset: str | None = Field(None, description="the asset's address (or outbox:<id>) when it is one")


class _Described(_Strict):
    parameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    environment: dict[str, Any] | None = Field(
        None, description="where the work ran: {python, packages, code_revision}; never collected by the node"
    )
    notes: str | None = None
    started_at: str | None = Field(None, description="RFC 3339 UTC, e.g. 2026-11-21T10:00:00.000Z")
    ended_at: str | None = None

    def described(self) -> dict[str, Any]:
        """The fields every record request shares, as the capture service takes them."""
        return {name: getattr(self, name) for name in _Described.model_fields}


class RegistrationRequest(_Described):
    name: str = Field(min_length=1)
    content: Content | None = None
    ancestors: list[str] = Field(default_factory=list, description="addresses or outbox:<id> of parents")


class RecordRequest(_Described):
    activity: str
    inputs: list[Artifact] = Field(default_factory=list)
    outputs: list[Artifact] = Field(default_factory=list)


class KeyRequest(_Strict):
    name: str = Field(min_length=1)
    scopes: list[Literal["read", "write", "admin"]] = Field(min_length=1)


class AnchorRequest(_Described):
    root: str = Field(description="the Merkle root, 0x and 64 hex digits")
    phase: Literal["before_training", "after_training"]


class RollbackRequest(_Described):
    to_seq: int = Field(ge=0, description="an earlier accepted record of the model")
    reason: str = Field(min_length=1, description="why; kept on chain")


RoleName = Literal["data_admin", "model_developer", "validator", "auditor"]


class ProposalRequest(_Strict):
    kind: Literal["add_member", "remove_member", "change_roles", "change_threshold"]
    account: str | None = None
    name: str | None = None
    roles: list[Literal["data_admin", "model_developer", "validator", "auditor"]] = Field(
        default_factory=list
    )
    threshold_bps: int | None = None
