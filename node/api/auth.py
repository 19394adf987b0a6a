"""API-key authentication: `Authorization: Bearer <key>` (or `X-API-Key: <key>`), checked against hashes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from ..services.api_keys import ApiKey, ApiKeyStore, Scope
from .context import node_of
from .problems import Problem


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def require(scope: Scope) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency that admits a request whose key has `scope` (or a wider one).

    Async on purpose: a hash and a lookup in memory, for which FastAPI would otherwise hand every request
    to a worker thread and back before its endpoint runs."""

    async def check(request: Request) -> ApiKey:
        store: ApiKeyStore = node_of(request).api_keys
        secret = _presented_key(request)
        if secret is None:
            raise Problem(401, "unauthenticated", "no API key: send `Authorization: Bearer <key>`")
        key = store.authenticate(secret)
        if key is None:
            raise Problem(401, "unauthenticated", "this API key is not known to this node")
        if not key.allows(scope):
            raise Problem(
                403,
                "forbidden",
                f"this API key has scopes {', '.join(key.scopes)}; this request needs {scope.value}",
            )
        return key

    return check
