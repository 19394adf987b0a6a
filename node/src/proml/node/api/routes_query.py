"""Reads from the index: assets, histories, lineage, members, proposals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from proml.contracts.addresses import ADDRESS_PATTERN

from ..composition import ApiServices
from ..services.api_keys import Scope
from ..services.query import MAX_LIMIT, MAX_POSITION
from . import responses
from .auth import require
from .context import services_of
from .problems import AUTHENTICATED, Problem, refusals

router = APIRouter(
    prefix="/v1",
    tags=["query"],
    dependencies=[Depends(require(Scope.READ))],
    responses=refusals(AUTHENTICATED),
)
Address = Annotated[
    str, Path(pattern=ADDRESS_PATTERN, description="0x and 40 hex digits (EIP-55 or lower case)")
]
# An address that is not one, or whose EIP-55 checksum is wrong (400); one the index does not know (404).
ABOUT_AN_ASSET = refusals(400, 404)


def _asset_or_404(services: ApiServices, address: str, with_history: bool = False) -> dict[str, Any]:
    summary = services.query.asset(address, with_history)
    if summary is None:
        raise Problem(
            404,
            "unknown_asset",
            f"{address} is not an asset this node has indexed (a new one appears once its block is indexed)",
        )
    return summary


@router.get("/assets", response_model=list[responses.AssetSummary], responses=refusals(400))
def list_assets(
    request: Request,
    kind: Literal["dataset", "model"] | None = None,
    owner: Annotated[str | None, Query(pattern=ADDRESS_PATTERN)] = None,
    state: Annotated[str | None, Query(max_length=64, description="e.g. published, trained")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
) -> list[dict[str, Any]]:
    """Assets, filtered by kind (dataset, model), owner address and state name."""
    try:
        return services_of(request).query.assets(
            kind=kind, owner=owner, state=state, limit=limit, offset=offset
        )
    except ValueError as exc:
        raise Problem(400, "invalid_filter", str(exc)) from None


@router.get("/assets/{address}", response_model=responses.Asset, responses=ABOUT_AN_ASSET)
def get_asset(address: Address, request: Request) -> dict[str, Any]:
    """One asset with its full history."""
    return _asset_or_404(services_of(request), address, with_history=True)


@router.get(
    "/assets/{address}/history", response_model=list[responses.HistoryEntry], responses=ABOUT_AN_ASSET
)
def get_history(
    address: Address, request: Request, since: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0
) -> list[dict[str, Any]]:
    """The asset's records in order, from seq `since` on."""
    return services_of(request).query.history(address, since)


@router.get("/assets/{address}/lineage", response_model=responses.Lineage, responses=ABOUT_AN_ASSET)
def get_lineage(address: Address, request: Request) -> dict[str, Any]:
    """The lineage graph around an asset: its ancestors upward and its descendants downward."""
    return services_of(request).query.lineage(address)


@router.get("/members", response_model=list[responses.Member])
def list_members(request: Request) -> list[dict[str, Any]]:
    return services_of(request).query.members()


@router.get("/proposals", response_model=list[responses.Proposal])
def list_proposals(request: Request) -> list[dict[str, Any]]:
    return services_of(request).query.proposals()
