"""Reads from the index: assets, histories, lineage, members, proposals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ..runtime import Node
from ..services.api_keys import Scope
from .auth import require
from .context import node_of
from .problems import Problem

router = APIRouter(prefix="/v1", tags=["query"], dependencies=[Depends(require(Scope.READ))])


def _asset_or_404(node: Node, address: str) -> dict[str, Any]:
    summary = node.query.asset(address)
    if summary is None:
        raise Problem(
            404,
            "unknown_asset",
            f"{address} is not an asset this node has indexed (a new one appears once its block is indexed)",
        )
    return summary


@router.get("/assets")
def list_assets(
    request: Request,
    kind: str | None = None,
    owner: str | None = None,
    state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Assets, filtered by kind (dataset, model), owner address and state name."""
    try:
        return node_of(request).query.assets(kind=kind, owner=owner, state=state, limit=limit, offset=offset)
    except ValueError as exc:
        raise Problem(400, "invalid_filter", str(exc)) from None


@router.get("/assets/{address}")
def get_asset(address: str, request: Request) -> dict[str, Any]:
    """One asset with its full history."""
    node = node_of(request)
    return {**_asset_or_404(node, address), "history": node.query.history(address)}


@router.get("/assets/{address}/history")
def get_history(
    address: str, request: Request, since: Annotated[int, Query(ge=0)] = 0
) -> list[dict[str, Any]]:
    """The asset's records in order, from seq `since` on."""
    return node_of(request).query.history(address, since)


@router.get("/assets/{address}/lineage")
def get_lineage(address: str, request: Request) -> dict[str, Any]:
    """The lineage graph around an asset: its ancestors upward and its descendants downward."""
    return node_of(request).query.lineage(address)


@router.get("/members")
def list_members(request: Request) -> list[dict[str, Any]]:
    return node_of(request).query.members()


@router.get("/proposals")
def list_proposals(request: Request) -> list[dict[str, Any]]:
    return node_of(request).query.proposals()
