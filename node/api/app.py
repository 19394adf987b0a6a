"""The FastAPI application of a node: routes under /v1, problem+json errors, OpenAPI at /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from proml import __version__

from ..runtime import Node
from . import problems, routes_admin, routes_capture, routes_governance, routes_query, routes_verify


def create_app(node: Node, *, run_background: bool = True) -> FastAPI:
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
        version=__version__,
        description="Provenance of datasets and models on the consortium's chain and private IPFS.",
        lifespan=lifespan,
    )
    app.state.node = node
    problems.install(app)
    app.include_router(routes_admin.router)
    app.include_router(routes_capture.router)
    app.include_router(routes_query.router)
    app.include_router(routes_governance.router)
    app.include_router(routes_verify.router)
    return app
