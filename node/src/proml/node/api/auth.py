"""API-key authentication: `Authorization: Bearer <key>` (or `X-API-Key: <key>`), checked against hashes.

A route says which scope it needs with `Depends(require(Scope.X))`, and that is the only place that says
it: the request guard (`guard.RequestGuard`) reads it from the route (`required_scopes`) and refuses a
request before its body is read; the dependency then hands the endpoint the key the guard admitted.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from starlette.routing import BaseRoute

from ..services.api_keys import ApiKey, ApiKeyStore, Scope
from .context import services_of
from .problems import Problem

# Where the guard leaves the admitted key in the ASGI scope, for the dependency.
ADMITTED_KEY = "proml.api_key"


def _presented_key(headers: Mapping[str, str]) -> str | None:
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return headers.get("x-api-key") or None


def authorize(store: ApiKeyStore, headers: Mapping[str, str], scope: Scope) -> ApiKey:
    """The key presented in `headers` if it has `scope` (or a wider one); else a 401 or 403 `Problem`."""
    secret = _presented_key(headers)
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


class Require:
    """A dependency that admits a request whose key has `scope` (or a wider one).

    Async on purpose: a hash and a lookup in memory, for which FastAPI would otherwise hand every request
    to a worker thread and back before its endpoint runs."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, request: Request) -> ApiKey:
        admitted = request.scope.get(ADMITTED_KEY)
        if isinstance(admitted, ApiKey) and admitted.allows(self.scope):
            return admitted
        key = authorize(services_of(request).api_keys, request.headers, self.scope)
        request.scope[ADMITTED_KEY] = key
        return key


def admitted_key(request: Request) -> ApiKey:
    """The key a route's `require` admitted (a route without one has no key to give)."""
    admitted = request.scope.get(ADMITTED_KEY)
    if not isinstance(admitted, ApiKey):
        raise Problem(401, "unauthenticated", "no API key: send `Authorization: Bearer <key>`")
    return admitted


def require(scope: Scope) -> Require:
    return Require(scope)


def required_scopes(route: BaseRoute) -> tuple[Scope, ...]:
    """The scopes `route` needs (none: open to all, like /v1/health)."""
    return tuple(
        depends.dependency.scope
        for depends in getattr(route, "dependencies", ())
        if isinstance(depends.dependency, Require)
    )
