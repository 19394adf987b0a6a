"""Writes: payload uploads, registrations and activity records. Each is acknowledged from the outbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse

from ..services.api_keys import Scope
from ..services.capture import ActivityRecord, Anchor, Registration, Rollback
from ..services.outbox import OutboxEntry
from . import responses
from .auth import admitted_key, require
from .context import services_of
from .guard import streams_body
from .models import (
    ASSET_REF_PATTERN,
    ENTRY_PATTERN,
    AnchorRequest,
    DatasetRegistration,
    ModelRegistration,
    RecordRequest,
    RegistrationRequest,
    RollbackRequest,
)
from .problems import AUTHENTICATED, WITH_BODY, raw_body, refusals
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
AssetRef = Annotated[
    str, Path(pattern=ASSET_REF_PATTERN, description="the asset's address, or outbox:<id> of a registration")
]
_LOCATION = {"Location": {"description": "/v1/outbox/{id}", "schema": {"type": "string"}}}
# The acknowledgement of a write, declared here and not validated when it is sent (see `acknowledged`).
ACKNOWLEDGED: dict[int | str, dict[str, Any]] = {
    202: {"model": responses.OutboxEntry, "description": "Stored in the outbox", "headers": _LOCATION},
    200: {
        "model": responses.OutboxEntry,
        "description": "A retry with the same Idempotency-Key: the entry the first request made",
        "headers": _LOCATION,
    },
}
# What a write may be refused with: its body, its key, an asset it names, a reused key, the chain.
WRITE_REFUSALS = refusals(AUTHENTICATED, 403, WITH_BODY, 404, 409, 503)


def acknowledged(entry: OutboxEntry, created: bool) -> JSONResponse:
    # A JSONResponse skips FastAPI's validation of the returned value: this is the path whose latency a
    # training script waits for, and the view is built here from known fields.
    return JSONResponse(
        entry_view(entry), status_code=202 if created else 200, headers={"Location": f"/v1/outbox/{entry.id}"}
    )


@router.post(
    "/payloads",
    status_code=201,
    dependencies=[Depends(require(Scope.WRITE))],
    response_model=responses.StoredPayload,
    responses=refusals(AUTHENTICATED, 403, 408, 502, 503),
    openapi_extra=raw_body(required=True, description="the payload's bytes, streamed to IPFS"),
)
@streams_body
async def upload_payload(request: Request) -> dict[str, Any]:
    """Stream the request body to IPFS (never held whole in memory); its digest, CID and size."""
    stored = await services_of(request).storage.add_stream(request.stream())
    return {"digest": str(stored.digest), "cid": str(stored.cid), "size": stored.size}


async def _register(kind: str, body: RegistrationRequest, request: Request, key: str | None) -> JSONResponse:
    registration = Registration(
        kind=kind,
        name=body.name,
        content=body.content.model_dump(exclude_none=True) if body.content else None,
        ancestors=body.ancestors,
        **body.described(),
    )
    return acknowledged(*await services_of(request).capture.register(registration, key))


@router.post(
    "/datasets",
    status_code=202,
    dependencies=[Depends(require(Scope.WRITE))],
    response_model=None,
    responses={**ACKNOWLEDGED, **WRITE_REFUSALS},
)
async def register_dataset(
    body: DatasetRegistration, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Register a dataset. Acknowledged once durable; the asset's address follows in /v1/outbox/{id}."""
    return await _register("dataset", body, request, idempotency_key)


@router.post(
    "/models",
    status_code=202,
    dependencies=[Depends(require(Scope.WRITE))],
    response_model=None,
    responses={**ACKNOWLEDGED, **WRITE_REFUSALS},
)
async def register_model(
    body: ModelRegistration, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Register a model; `ancestors` are the datasets and base models it derives from."""
    return await _register("model", body, request, idempotency_key)


@router.post(
    "/assets/{asset}/records",
    status_code=202,
    dependencies=[Depends(require(Scope.WRITE))],
    response_model=None,
    responses={**ACKNOWLEDGED, **WRITE_REFUSALS},
)
async def record_activity(
    asset: AssetRef,
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
    return acknowledged(*await services_of(request).capture.record(record, idempotency_key))


@router.post(
    "/assets/{asset}/anchors",
    status_code=202,
    dependencies=[Depends(require(Scope.WRITE))],
    response_model=None,
    responses={**ACKNOWLEDGED, **WRITE_REFUSALS},
)
async def anchor(
    asset: AssetRef, body: AnchorRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Anchor a Merkle root (the provenance tracker's) on a model, before or after training."""
    record = Anchor(asset=asset, root=body.root, phase=body.phase, **body.described())
    return acknowledged(*await services_of(request).capture.anchor(record, idempotency_key))


@router.post(
    "/assets/{asset}/rollbacks",
    status_code=202,
    dependencies=[Depends(require(Scope.WRITE))],
    response_model=None,
    responses={**ACKNOWLEDGED, **WRITE_REFUSALS},
)
async def rollback(
    asset: AssetRef, body: RollbackRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Return a model to the state an earlier accepted record entered; the node builds the proof."""
    record = Rollback(asset=asset, to_seq=body.to_seq, reason=body.reason, **body.described())
    return acknowledged(*await services_of(request).capture.rollback(record, idempotency_key))


@router.get(
    "/outbox/{entry_id}",
    dependencies=[Depends(require(Scope.READ))],
    response_model=responses.OutboxEntry,
    responses=refusals(AUTHENTICATED, 400, 404),
)
def outbox_entry(
    entry_id: Annotated[str, Path(pattern=ENTRY_PATTERN, description="the id, or outbox:<id>")],
    request: Request,
) -> dict[str, Any]:
    """Where a write is: queued, submitted, included, final (or failed, with the reason)."""
    return entry_view(services_of(request).capture.entry(entry_id.removeprefix("outbox:")))
