"""Writes: payload uploads, registrations and activity records. Each is acknowledged from the outbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from ..services.api_keys import Scope
from ..services.capture import ActivityRecord, Anchor, Registration, Rollback
from ..services.outbox import OutboxEntry
from .auth import admitted_key, require
from .context import node_of
from .guard import streams_body
from .models import AnchorRequest, RecordRequest, RegistrationRequest, RollbackRequest
from .views import entry_view

router = APIRouter(prefix="/v1", tags=["capture"])


async def _client_idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="retrying with the same key never records twice",
        ),
    ] = None,
) -> str | None:
    """The Idempotency-Key as the outbox keeps it, under the API key's id: two clients of one node that
    happen to choose the same key each get their own entry."""
    return None if key is None else f"{admitted_key(request).id}:{key}"


IdempotencyKey = Annotated[str | None, Depends(_client_idempotency_key)]


def acknowledged(entry: OutboxEntry, created: bool) -> JSONResponse:
    # A JSONResponse skips FastAPI's validation of the returned value: this is the path whose latency a
    # training script waits for, and the view is built here from known fields.
    return JSONResponse(
        entry_view(entry), status_code=202 if created else 200, headers={"Location": f"/v1/outbox/{entry.id}"}
    )


@router.post("/payloads", status_code=201, dependencies=[Depends(require(Scope.WRITE))])
@streams_body
async def upload_payload(request: Request) -> dict[str, Any]:
    """Stream the request body to IPFS (never held whole in memory); its digest, CID and size."""
    stored = await node_of(request).storage.add_stream(request.stream())
    return {"digest": str(stored.digest), "cid": str(stored.cid), "size": stored.size}


async def _register(kind: str, body: RegistrationRequest, request: Request, key: str | None) -> JSONResponse:
    registration = Registration(
        kind=kind,
        name=body.name,
        content=body.content.model_dump(exclude_none=True) if body.content else None,
        ancestors=body.ancestors,
        **body.described(),
    )
    return acknowledged(*await node_of(request).capture.register(registration, key))


@router.post("/datasets", status_code=202, dependencies=[Depends(require(Scope.WRITE))])
async def register_dataset(
    body: RegistrationRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Register a dataset. Acknowledged once durable; the asset's address follows in /v1/outbox/{id}."""
    return await _register("dataset", body, request, idempotency_key)


@router.post("/models", status_code=202, dependencies=[Depends(require(Scope.WRITE))])
async def register_model(
    body: RegistrationRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Register a model; `ancestors` are the datasets and base models it derives from."""
    return await _register("model", body, request, idempotency_key)


@router.post("/assets/{asset}/records", status_code=202, dependencies=[Depends(require(Scope.WRITE))])
async def record_activity(
    asset: str,
    body: RecordRequest,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record an activity on an asset (its address, or outbox:<id> of a registration still on its way)."""
    record = ActivityRecord(
        asset=asset,
        activity=body.activity,
        inputs=[a.model_dump(exclude_none=True) for a in body.inputs],
        outputs=[a.model_dump(exclude_none=True) for a in body.outputs],
        **body.described(),
    )
    return acknowledged(*await node_of(request).capture.record(record, idempotency_key))


@router.post("/assets/{asset}/anchors", status_code=202, dependencies=[Depends(require(Scope.WRITE))])
async def anchor(
    asset: str, body: AnchorRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Anchor a Merkle root (the provenance tracker's) on a model, before or after training."""
    record = Anchor(asset=asset, root=body.root, phase=body.phase, **body.described())
    return acknowledged(*await node_of(request).capture.anchor(record, idempotency_key))


@router.post("/assets/{asset}/rollbacks", status_code=202, dependencies=[Depends(require(Scope.WRITE))])
async def rollback(
    asset: str, body: RollbackRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Return a model to the state an earlier accepted record entered; the node builds the proof."""
    record = Rollback(asset=asset, to_seq=body.to_seq, reason=body.reason, **body.described())
    return acknowledged(*await node_of(request).capture.rollback(record, idempotency_key))


@router.get("/outbox/{entry_id}", dependencies=[Depends(require(Scope.READ))])
def outbox_entry(entry_id: str, request: Request) -> dict[str, Any]:
    """Where a write is: queued, submitted, included, final (or failed, with the reason)."""
    return entry_view(node_of(request).capture.entry(entry_id.removeprefix("outbox:")))
