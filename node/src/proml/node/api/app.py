"""The FastAPI application of a node: routes under /v1, problem+json errors, OpenAPI at /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from ..runtime import NodeRuntime
from . import problems, routes_admin, routes_capture, routes_governance, routes_query, routes_verify
from .guard import Limits, RequestGuard


def create_app(node: NodeRuntime, *, run_background: bool = True) -> FastAPI:
    """The app for `node`; with `run_background`, the submitter and the index run while it serves."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_background:
            await node.start()
        try:
            yield
        finally:
            if run_background:
                await node.stop()

    app = FastAPI(
        title="ProML node",
        version=version("proml-node"),
        description="Provenance of datasets and models on the consortium's chain and private IPFS.",
        lifespan=lifespan,
    )
    app.state.node = node
    problems.install(app)
    routers = (
        routes_admin.router,
        routes_capture.router,
        routes_query.router,
        routes_governance.router,
        routes_verify.router,
    )
    for router in routers:
        app.include_router(router)
    # Outside FastAPI's body parsing: keys, body limits and timeouts are checked before a body is read.
    # It matches the routers' own routes (FastAPI's list of the app's routes nests included routers).
    routes = [route for router in routers for route in router.routes]
    app.add_middleware(
        RequestGuard, routes=routes, keys=node.services.api_keys, limits=Limits.of(node.config)
    )
    return app
