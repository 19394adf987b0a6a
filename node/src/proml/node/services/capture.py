"""Capture: turn a registration or an activity into a record document and store it in the outbox.

Everything a request says is validated here, so a bad request is refused before it is acknowledged; what is
acknowledged is durable (the outbox) and is sent by the submitter. An asset that is still waiting for its
registration is named by the registration's outbox id (`outbox:<id>`); the submitter puts the address in
once the chain has made it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from proml.contracts import addresses
from proml.core.records import SCHEMA, RecordDocument, RecordDocumentError, rfc3339
from proml.core.workflow import ASSET_KINDS, TRANSITIONS, Activity, AssetKind

from .outbox import Outbox, OutboxEntry, UnknownEntry
from .outbox_entries import (
    ANCHOR,
    PHASES,
    RECORD,
    REF_PATTERN,
    REGISTER,
    ROLLBACK,
    with_placeholders,
)

RESERVED_PARAMETERS = ("name", "ancestors")
_ROOT = re.compile(r"0x[0-9a-fA-F]{64}")


class CaptureError(Exception):
    """A request that cannot be recorded; `field` names what is wrong, the message says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


class UnknownAsset(CaptureError):
    pass


@dataclass(frozen=True, kw_only=True)
class Described:
    """What every record document may say besides its subject: the caller's own description."""

    parameters: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] | None = None
    notes: str | None = None
    started_at: str | None = None
    ended_at: str | None = None


@dataclass(frozen=True, kw_only=True)
class Registration(Described):
    kind: str
    name: str
    content: Mapping[str, Any] | None = None  # digest, and cid and size when uploaded
    ancestors: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class ActivityRecord(Described):
    asset: str
    activity: str
    inputs: Sequence[Mapping[str, Any]] = ()
    outputs: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True, kw_only=True)
class Anchor(Described):
    """A Merkle root of the provenance tracker, anchored on a model before or after training."""

    asset: str
    root: str
    phase: str


@dataclass(frozen=True, kw_only=True)
class Rollback(Described):
    """Back to the state an earlier accepted record of a model entered, and why."""

    asset: str
    to_seq: int
    reason: str


# What an environment says when the caller sent none: the node does not describe a machine it never saw.
UNSPECIFIED_ENVIRONMENT: Mapping[str, Any] = {"python": "unspecified", "packages": {}}


class CaptureService:
    """`asset_kind(address)` says what kind an existing asset is (None if the chain has no such asset).

    Writes are validated and stored on the API's event loop, without a thread (see
    `Outbox.enqueue_on_loop`): validation reads memory, SQLite (whose readers never wait for a writer) and,
    only for an asset this node has never seen, the chain."""

    def __init__(
        self,
        outbox: Outbox,
        actor_name: Callable[[], str],
        address: str,
        registry: str,
        asset_kind: Callable[[str], AssetKind | None],
    ) -> None:
        self._outbox = outbox
        self._actor_name = actor_name  # the organisation's on-chain name (see identity.ActorName)
        self._address = address.lower()
        self._registry = registry.lower()
        self._asset_kind = asset_kind
        # An asset's kind never changes: once known, the acknowledgement path need not ask again.
        self._kinds: dict[str, AssetKind] = {}

    async def register(
        self, request: Registration, idempotency_key: str | None = None
    ) -> tuple[OutboxEntry, bool]:
        kind = ASSET_KINDS.get(request.kind)
        if kind is None:
            raise CaptureError("kind", f"{request.kind!r} is not an asset kind: use dataset or model")
        if kind == AssetKind.DATASET and request.content is None:
            raise CaptureError(
                "content",
                "a dataset is registered with the digest of its content: upload it to /v1/payloads, "
                "or send content.digest to record it by digest only",
            )
        clash = sorted(set(RESERVED_PARAMETERS) & set(request.parameters))
        if clash:
            raise CaptureError("parameters", f"{', '.join(clash)} are set by the node; rename them")
        ancestors = [self._asset_ref(f"ancestors[{i}]", a)[0] for i, a in enumerate(request.ancestors)]
        outputs = []
        if request.content is not None:
            outputs.append({**request.content, "name": request.name, "kind": request.kind})
        # A registration's own document cannot name the asset, whose address the registration creates;
        # it names the registry instead, and the chain's AssetRegistered event links the two.
        document = self._document(
            asset=self._registry,
            activity=REGISTER,
            inputs=(),
            outputs=outputs,
            parameters={**request.parameters, "name": request.name, "ancestors": ancestors},
            request=request,
        )
        payload = {"kind": request.kind, "ancestors": ancestors, "document": document}
        return await self._outbox.enqueue_on_loop(REGISTER, payload, idempotency_key, request_hash(request))

    async def record(
        self, request: ActivityRecord, idempotency_key: str | None = None
    ) -> tuple[OutboxEntry, bool]:
        asset, kind = self._asset_ref("asset", request.asset)
        activity = _activity(request.activity, kind)
        inputs = [self._artifact(f"inputs[{i}]", a) for i, a in enumerate(request.inputs)]
        outputs = [self._artifact(f"outputs[{i}]", a) for i, a in enumerate(request.outputs)]
        document = self._document(
            asset=asset,
            activity=activity.name.lower(),
            inputs=inputs,
            outputs=outputs,
            parameters=dict(request.parameters),
            request=request,
        )
        payload = {"asset": asset, "kind": kind.name.lower(), "document": document}
        return await self._outbox.enqueue_on_loop(RECORD, payload, idempotency_key, request_hash(request))

    async def anchor(self, request: Anchor, idempotency_key: str | None = None) -> tuple[OutboxEntry, bool]:
        asset = self._model_ref(request.asset)
        if not isinstance(request.root, str) or not _ROOT.fullmatch(request.root):
            raise CaptureError("root", f"{request.root!r} is not a Merkle root: 0x and 64 hex digits")
        if request.phase not in PHASES:
            raise CaptureError("phase", f"{request.phase!r} is not a phase: use {', '.join(PHASES)}")
        parameters = {**request.parameters, "root": request.root.lower(), "phase": request.phase}
        document = self._document(
            asset=asset, activity=ANCHOR, inputs=(), outputs=(), parameters=parameters, request=request
        )
        payload = {"asset": asset, "kind": "model", "document": document}
        return await self._outbox.enqueue_on_loop(ANCHOR, payload, idempotency_key, request_hash(request))

    async def rollback(
        self, request: Rollback, idempotency_key: str | None = None
    ) -> tuple[OutboxEntry, bool]:
        asset = self._model_ref(request.asset)
        if isinstance(request.to_seq, bool) or not isinstance(request.to_seq, int) or request.to_seq < 0:
            raise CaptureError("to_seq", "expected the seq (0 or more) of an earlier accepted record")
        if not isinstance(request.reason, str) or not request.reason.strip():
            raise CaptureError("reason", "say why: the reason is kept on chain")
        parameters = {**request.parameters, "to_seq": request.to_seq, "reason": request.reason}
        document = self._document(
            asset=asset, activity=ROLLBACK, inputs=(), outputs=(), parameters=parameters, request=request
        )
        payload = {"asset": asset, "kind": "model", "document": document}
        return await self._outbox.enqueue_on_loop(ROLLBACK, payload, idempotency_key, request_hash(request))

    def entry(self, entry_id: str) -> OutboxEntry:
        return self._outbox.get(entry_id)

    # -- validation -------------------------------------------------------------------------------

    def _model_ref(self, value: str) -> str:
        asset, kind = self._asset_ref("asset", value)
        if kind != AssetKind.MODEL:
            raise CaptureError("asset", f"{value} is a dataset: only models have anchors and rollbacks")
        return asset

    def _asset_ref(self, where: str, value: str) -> tuple[str, AssetKind]:
        """An asset named by address or by the outbox id of its registration, and its kind."""
        if not isinstance(value, str):
            raise CaptureError(where, "expected an asset address (0x...) or outbox:<id>")
        match = REF_PATTERN.fullmatch(value)
        if match is not None:
            try:
                entry = self._outbox.get(match.group(1))
            except UnknownEntry:
                raise UnknownAsset(where, f"{value} is not an entry of this node's outbox") from None
            if entry.kind != REGISTER:
                raise UnknownAsset(where, f"{value} is a record, not a registration")
            return value, ASSET_KINDS[entry.payload["kind"]]
        try:
            checksummed = addresses.parse(value)
        except addresses.InvalidAddress as exc:
            raise CaptureError(where, f"{exc} (or name a registration by its outbox:<id>)") from None
        address = checksummed.lower()
        kind = self._kinds.get(address) or self._asset_kind(checksummed)
        if kind is None or kind == AssetKind.NONE:
            raise UnknownAsset(where, f"{value} is not an asset of this consortium's registry")
        self._kinds[address] = kind
        return address, kind

    def _artifact(self, where: str, value: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise CaptureError(where, "expected an object with name, kind, digest (and cid, size, asset)")
        artifact = dict(value)
        if artifact.get("asset") is not None:
            artifact["asset"] = self._asset_ref(f"{where}.asset", artifact["asset"])[0]
        return artifact

    def _document(
        self,
        *,
        asset: str,
        activity: str,
        inputs: Sequence[Mapping[str, Any]],
        outputs: Sequence[Mapping[str, Any]],
        parameters: Mapping[str, Any],
        request: Described,
    ) -> dict[str, Any]:
        now = rfc3339()
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "asset": asset,
            "activity": activity,
            "actor": {"name": self._actor_name(), "address": self._address},
            "inputs": list(inputs),
            "outputs": list(outputs),
            "parameters": dict(parameters),
            "metrics": dict(request.metrics),
            "environment": dict(request.environment or UNSPECIFIED_ENVIRONMENT),
            "started_at": request.started_at or request.ended_at or now,
            "ended_at": request.ended_at or now,
        }
        if request.notes is not None:
            document["notes"] = request.notes
        try:
            # The very bytes the submitter will store (an outbox:<id> and the address that replaces it
            # are as long), through the limits and the parser that verification applies.
            RecordDocument.from_dict(with_placeholders(document)).storable_bytes()
        except RecordDocumentError as err:
            raise CaptureError(err.field, err.detail) from None
        return document


def request_hash(request: Described) -> str:
    """What makes two requests the same for an idempotency key: what the caller sent, not when."""
    text = json.dumps({type(request).__name__: asdict(request)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _activity(name: str, kind: AssetKind) -> Activity:
    allowed = list(TRANSITIONS[kind])  # anchors and rollbacks have requests of their own
    names = ", ".join(a.name.lower() for a in allowed)
    try:
        activity = Activity[name.upper()] if isinstance(name, str) else None
    except KeyError:
        activity = None
    if activity not in allowed:
        raise CaptureError("activity", f"{name!r} is not a {kind.name.lower()} activity: use one of {names}")
    assert activity is not None
    return activity
