"""Errors as RFC 9457 problem details (`application/problem+json`) with a stable `code`.

Every error the API returns goes through here, so a client can rely on the shape, and no error ever
carries a traceback, a secret or an internal path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..clients.chain import ChainUnavailable
from ..clients.ipfs import IpfsError, IpfsUnavailable
from ..providers.storage import DigestMismatch, PayloadMismatch
from ..services.api_keys import UnknownScope
from ..services.capture import CaptureError, UnknownAsset
from ..services.outbox import IdempotencyConflict, UnknownEntry
from ..services.query import InvalidQuery, UnindexedAsset
from .models import PATTERN_MEANINGS

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="the path of the field, e.g. `inputs.0.digest`; empty for the body")
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of the API is answered."""

    model_config = ConfigDict(title="Problem", extra="allow")

    type: str
    title: str
    status: int
    code: str = Field(description="stable: what a client may branch on")
    detail: str = Field(description="what is wrong and what to do")
    field: str | None = Field(None, description="the field at fault, when there is one")
    errors: list[FieldError] | None = Field(None, description="each field at fault (invalid_request)")


# What each error status means wherever an operation declares it.
_MEANINGS: dict[int, str] = {
    400: "The request is not valid: `detail` says why and what to do, `field` (or `errors`) names the field.",
    401: "No API key, or one this node does not know: send `Authorization: Bearer <key>`.",
    403: "The API key's scopes do not allow this operation.",
    404: "No such asset, outbox entry, key or payload on this node.",
    408: "The client stopped sending its body before it was whole.",
    409: "The Idempotency-Key was used before for a different request, or the payload at the CID has "
    "another digest than the one given.",
    413: "The JSON body is larger than the node's `api.max_body_bytes`.",
    502: "The IPFS daemon answered with an error (e.g. no peer served the CID in time), or a payload read "
    "from IPFS is not the one its CID and digest name.",
    503: "The chain or the IPFS daemon does not answer; retry later.",
}


def raw_body(*, required: bool, description: str) -> dict[str, Any]:
    """The `openapi_extra` of an operation that streams its body as bytes (FastAPI sees no parameter)."""
    schema = {"type": "string", "format": "binary"}
    content = {"application/octet-stream": {"schema": schema}}
    return {"requestBody": {"required": required, "description": description, "content": content}}


# Declared by every operation that takes an API key, and by every one that takes a JSON body.
AUTHENTICATED = (401,)
WITH_BODY = (400, 408, 413)


def refusals(*statuses: int | Iterable[int]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of an operation that may answer these error statuses, each as problem+json."""
    flat: set[int] = set()
    for status in statuses:
        flat.update((status,) if isinstance(status, int) else status)
    return {
        status: {
            "description": _MEANINGS[status],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in sorted(flat)
    }


def install_openapi(app: FastAPI) -> None:
    """The OpenAPI document, exact about errors: FastAPI's 422 (this API answers 400) and its schemas
    are left out, and the Problem schema that every error response names is put in."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in spec.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


def problem_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": f"https://proml.dev/problems/{code}", "title": code.replace("_", " "), "status": status}
    body.update({"code": code, "detail": detail, **extra})
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers or None)


# Service errors and what they mean to a client. Order matters: subclasses first.
_MAPPED: list[tuple[type[Exception], int, str]] = [
    (UnknownAsset, 404, "unknown_asset"),
    (UnindexedAsset, 404, "unknown_asset"),
    (InvalidQuery, 400, "invalid_query"),
    (CaptureError, 400, "invalid_record"),
    (IdempotencyConflict, 409, "idempotency_conflict"),
    (UnknownEntry, 404, "unknown_entry"),
    (UnknownScope, 400, "unknown_scope"),
    (DigestMismatch, 409, "digest_mismatch"),
    (PayloadMismatch, 502, "payload_mismatch"),
    (IpfsUnavailable, 503, "ipfs_unavailable"),
    # The daemon answered, with an error of its own (e.g. no peer served the CID in time).
    (IpfsError, 502, "ipfs_error"),
    (ChainUnavailable, 503, "chain_unavailable"),
]


def install(app: FastAPI) -> None:
    install_openapi(app)

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_path(e.get("loc", ()), exc.body), "message": _message(e)} for e in exc.errors()
        ]
        summary = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        fields = {e["field"] for e in errors}
        extra: dict[str, Any] = {"field": fields.pop()} if len(fields) == 1 else {}
        return problem_response(
            400, "invalid_request", f"the request is not valid: {summary}", errors=errors, **extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        headers = dict(exc.headers or {})
        detail = str(exc.detail)
        if exc.status_code == 405:
            allowed = _allowed_methods(app, request)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not an operation of {request.url.path}: use {', '.join(allowed)}"
        code = codes.get(exc.status_code, "http_error")
        return problem_response(exc.status_code, code, detail, headers=headers)

    for error_type, status, code in _MAPPED:
        app.add_exception_handler(error_type, _mapped(status, code))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal_error", "the node failed on this request; its log says why")


def _message(error: Mapping[str, Any]) -> str:
    """Pydantic's message, but a pattern said as what it stands for, not as a regular expression."""
    if error.get("type") == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        return f"expected {PATTERN_MEANINGS.get(pattern, 'a value of the documented form')}"
    return str(error.get("msg", ""))


def _field_path(loc: Iterable[object], body: object) -> str:
    """The field a validation error is about, as the client wrote it: `inputs.0.digest`, `path.asset`.
    Pydantic's location also names the member of a union it tried (`change_threshold.threshold_bps`,
    `metrics.loss.int`), which is no field of the body: such a step is left out. A bad key is named by the
    object that holds it, so that a refusal never echoes a key that is too long."""
    parts = list(loc)
    if parts[:1] != ["body"]:
        return ".".join(str(p) for p in parts)
    path: list[str] = []
    current: Any = body
    for i, part in enumerate(parts[1:], start=1):
        if part == "[key]":
            path.pop()
            break
        present = (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        )
        if present:
            current = current[part]
        elif not (isinstance(current, dict) and i == len(parts) - 1):
            continue  # not a missing field: the name of a union's member
        path.append(str(part))
    return ".".join(path)


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method the OpenAPI document gives the request's path (the router names only those of the
    first route that matches it), and HEAD wherever GET is."""
    methods: set[str] = set()
    for template, operations in app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods.update(method.upper() for method in operations)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _mapped(status: int, code: str) -> Any:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        extra: dict[str, Any] = {"field": exc.field} if isinstance(exc, CaptureError) and exc.field else {}
        return problem_response(status, code, str(exc), **extra)

    return handler
