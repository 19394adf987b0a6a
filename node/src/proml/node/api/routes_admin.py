"""Health (open to all: it holds no secret) and API keys (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from ..services.api_keys import Scope, parse_scopes
from . import responses
from .auth import require
from .context import node_of, services_of
from .models import KEY_ID_PATTERN, KeyRequest
from .problems import AUTHENTICATED, WITH_BODY, Problem, refusals
from .views import key_view

router = APIRouter(prefix="/v1", tags=["node"])


# Declared, not validated when sent: the report is built by the node, and 503 carries the same shape.
_HEALTH: dict[int | str, dict[str, Any]] = {
    200: {
        "model": responses.Health,
        "description": "The chain, IPFS and a configured cluster answer; the background process runs",
    },
    503: {
        "model": responses.Health,
        "description": "Degraded: `chain`, `ipfs`, `cluster` or `background` say what fails",
    },
}
ADMIN_REFUSALS = refusals(AUTHENTICATED, 403)


@router.get("/health", response_model=None, responses=_HEALTH)
async def health(request: Request) -> JSONResponse:
    """Chain, IPFS, the cluster and what it holds of the recorded CIDs, outbox depth, index lag,
    background process. 200 when the chain, IPFS and a configured cluster answer and the background
    process runs, else 503."""
    node = node_of(request)
    report = await node.health()
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


@router.post(
    "/keys",
    status_code=201,
    dependencies=[Depends(require(Scope.ADMIN))],
    response_model=responses.NewApiKey,
    responses={**ADMIN_REFUSALS, **refusals(WITH_BODY)},
)
def create_key(body: KeyRequest, request: Request) -> dict[str, Any]:
    """A new API key. Its secret is in this response only: the node keeps a hash."""
    key, secret = services_of(request).api_keys.create(body.name, parse_scopes(body.scopes))
    return {**key_view(key), "key": secret}


@router.get(
    "/keys",
    dependencies=[Depends(require(Scope.ADMIN))],
    response_model=list[responses.ApiKey],
    responses=ADMIN_REFUSALS,
)
def list_keys(request: Request) -> list[dict[str, Any]]:
    return [key_view(k) for k in services_of(request).api_keys.list()]


@router.delete(
    "/keys/{key_id}",
    status_code=204,
    dependencies=[Depends(require(Scope.ADMIN))],
    responses={**ADMIN_REFUSALS, **refusals(400, 404)},
)
def revoke_key(
    key_id: Annotated[str, Path(pattern=KEY_ID_PATTERN, description="as GET /v1/keys lists it")],
    request: Request,
) -> None:
    if not services_of(request).api_keys.revoke(key_id):
        raise Problem(404, "unknown_key", f"no API key with id {key_id}")
