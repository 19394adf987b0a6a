"""Verification (a file against an asset; an asset's whole history) and payload downloads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParameter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from proml.core.content.cid import CID
from proml.core.content.digest import ContentDigest

from ..services.api_keys import Scope
from ..services.verify import PAYLOAD_TIMEOUT, digests_of
from . import responses
from .auth import require
from .context import node_of, services_of
from .guard import streams_body
from .models import CID_PATTERN, DIGEST_PATTERN
from .problems import AUTHENTICATED, Problem, raw_body, refusals
from .routes_query import ABOUT_AN_ASSET, Address

router = APIRouter(
    prefix="/v1",
    tags=["verify"],
    dependencies=[Depends(require(Scope.READ))],
    responses=refusals(AUTHENTICATED),
)
Digest = Annotated[
    str | None, Query(pattern=DIGEST_PATTERN, description="sha256:<64 hex> or blake3:<64 hex>")
]


def _parse_digest(text: str) -> ContentDigest:
    try:
        return ContentDigest.parse(text)
    except ValueError as exc:
        raise Problem(400, "invalid_digest", f"{exc}: use sha256:<64 hex> or blake3:<64 hex>") from None


def _parse_cid(text: str) -> CID:
    try:
        return CID.parse(text)
    except ValueError as exc:
        raise Problem(400, "invalid_cid", f"{text!r} is not a CID: {exc}") from None


@router.post(
    "/assets/{address}/verify",
    response_model=responses.FileVerification,
    responses={**ABOUT_AN_ASSET, **refusals(408)},
    openapi_extra=raw_body(required=False, description="the file, streamed; none with `?digest=`"),
)
@streams_body
async def verify_file(address: Address, request: Request, digest: Digest = None) -> dict[str, Any]:
    """Is the file in the body (streamed, never held whole) the one recorded for the asset? Or, with
    `?digest=sha256:...` and no body, is that digest? `result` is OK (an accepted record holds it),
    REJECTED_ONLY (only records the state machine refused hold it: `ok` false) or MISMATCH (`ok` false)."""
    if digest is not None:
        parsed = _parse_digest(digest)
        digests: dict[str, ContentDigest] = {parsed.algorithm: parsed}
    else:
        digests = dict(await digests_of(request.stream()))
    return services_of(request).verify.verify_file(address, digests)


@router.get(
    "/assets/{address}/verification",
    response_model=responses.HistoryVerification,
    responses={**ABOUT_AN_ASSET, **refusals(503)},
)
async def verify_history(
    address: Address,
    request: Request,
    payloads: Annotated[
        bool, Query(description="also stream every payload a record document names by CID, and check it")
    ] = False,
    payload_timeout: Annotated[
        float, Query(gt=0, le=3600, description="seconds IPFS may take to serve one payload")
    ] = PAYLOAD_TIMEOUT,
) -> dict[str, Any]:
    """Every record document against its on-chain digest and fields (the actor's name against the
    member's on-chain name), and the hash chain against the head; with `?payloads=true`, every payload
    the documents name by CID against its CID and digest."""
    return await services_of(request).verify.verify_history(
        address, payloads=payloads, payload_timeout=payload_timeout
    )


@router.get(
    "/payloads/{cid}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        **refusals(400, 409, 502, 503),
    },
)
async def download_payload(
    cid: Annotated[str, PathParameter(pattern=CID_PATTERN, description="as `ipfs add` printed it")],
    request: Request,
    digest: Digest = None,
) -> FileResponse:
    """A payload from this node's IPFS daemon (or its swarm), its CID (and digest, if given) checked
    before the first byte is sent."""
    node = node_of(request)
    parsed = _parse_cid(cid)
    expected = _parse_digest(digest) if digest is not None else None
    folder = node.config.data_dir / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=folder)
    os.close(descriptor)
    target = Path(name)
    try:
        # No deadline for the whole transfer (a payload may be gigabytes): the IPFS client's read timeout
        # ends a stream that stops moving, e.g. for a CID that nobody holds.
        await node.services.storage.fetch_to_file(parsed, target, expected_digest=expected)
    except BaseException:
        target.unlink(missing_ok=True)  # the placeholder mkstemp made: a failed download leaves nothing
        raise
    return FileResponse(
        target,
        media_type="application/octet-stream",
        background=BackgroundTask(target.unlink, missing_ok=True),
    )
