"""Errors as RFC 9457 problem details (`application/problem+json`) with a stable `code`.

Every error the API returns goes through here, so a client can rely on the shape, and no error ever
carries a traceback, a secret or an internal path.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..clients.chain import ChainUnavailable
from ..clients.ipfs import IpfsUnavailable
from ..providers.storage import PayloadMismatch
from ..services.api_keys import UnknownScope
from ..services.capture import CaptureError, UnknownAsset
from ..services.outbox import IdempotencyConflict, UnknownEntry
from ..services.query import InvalidQuery
from ..services.query import UnknownAsset as UnindexedAsset

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


def problem_response(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"https://proml.dev/problems/{code}", "title": code.replace("_", " "), "status": status}
    body.update({"code": code, "detail": detail, **extra})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


# Service errors and what they mean to a client. Order matters: subclasses first.
_MAPPED: list[tuple[type[Exception], int, str]] = [
    (UnknownAsset, 404, "unknown_asset"),
    (UnindexedAsset, 404, "unknown_asset"),
    (InvalidQuery, 400, "invalid_query"),
    (CaptureError, 400, "invalid_record"),
    (IdempotencyConflict, 409, "idempotency_conflict"),
    (UnknownEntry, 404, "unknown_entry"),
    (UnknownScope, 400, "unknown_scope"),
    (PayloadMismatch, 502, "payload_mismatch"),
    (IpfsUnavailable, 503, "ipfs_unavailable"),
    (ChainUnavailable, 503, "chain_unavailable"),
]


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        return problem_response(400, "invalid_request", f"the request is not valid: {summary}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return problem_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    for error_type, status, code in _MAPPED:
        app.add_exception_handler(error_type, _mapped(status, code))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal_error", "the node failed on this request; its log says why")


def _mapped(status: int, code: str) -> Any:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        extra = {"field": exc.field} if isinstance(exc, CaptureError) and exc.field else {}
        return problem_response(status, code, str(exc), **extra)

    return handler
