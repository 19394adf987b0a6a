"""Governance: propose a change to the consortium, approve a proposal (admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from proml.core.records import MAX_SAFE_INTEGER

from ..services.api_keys import Scope
from ..services.governance import Proposal
from .auth import require
from .context import services_of
from .models import ProposalRequest
from .problems import AUTHENTICATED, WITH_BODY, refusals
from .routes_capture import ACKNOWLEDGED, IdempotencyKey, acknowledged

router = APIRouter(
    prefix="/v1",
    tags=["governance"],
    dependencies=[Depends(require(Scope.ADMIN))],
    responses=refusals(AUTHENTICATED, 403, 409),
)


@router.post(
    "/proposals", status_code=202, response_model=None, responses={**ACKNOWLEDGED, **refusals(WITH_BODY)}
)
def propose(body: ProposalRequest, request: Request, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Propose to add or remove a member, change its roles, or change the approval threshold. Proposing
    counts as this organisation's approval."""
    proposal = Proposal(**body.model_dump())
    return acknowledged(*services_of(request).governance.propose(proposal, idempotency_key))


@router.post(
    "/proposals/{proposal_id}/approvals",
    status_code=202,
    response_model=None,
    responses={**ACKNOWLEDGED, **refusals(400)},
)
def approve(
    proposal_id: Annotated[int, Path(ge=0, le=MAX_SAFE_INTEGER, description="see GET /v1/proposals")],
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Approve a proposal as this organisation; it executes once enough members have."""
    return acknowledged(*services_of(request).governance.approve(proposal_id, idempotency_key))
