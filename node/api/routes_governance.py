"""Governance: propose a change to the consortium, approve a proposal (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..services.api_keys import Scope
from ..services.governance import Proposal
from .auth import require
from .context import node_of
from .models import ProposalRequest
from .routes_capture import IdempotencyKey, acknowledged

router = APIRouter(prefix="/v1", tags=["governance"], dependencies=[Depends(require(Scope.ADMIN))])


@router.post("/proposals", status_code=202)
def propose(body: ProposalRequest, request: Request, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Propose to add or remove a member, change its roles, or change the approval threshold. Proposing
    counts as this organisation's approval."""
    proposal = Proposal(**body.model_dump())
    return acknowledged(*node_of(request).governance.propose(proposal, idempotency_key))


@router.post("/proposals/{proposal_id}/approvals", status_code=202)
def approve(proposal_id: int, request: Request, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Approve a proposal as this organisation; it executes once enough members have."""
    return acknowledged(*node_of(request).governance.approve(proposal_id, idempotency_key))
