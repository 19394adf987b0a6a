"""The running node a request is served by (the app keeps it in its state), and its services."""

from __future__ import annotations

from fastapi import Request

from ..composition import ApiServices
from ..runtime import NodeRuntime


def node_of(request: Request) -> NodeRuntime:
    node: NodeRuntime = request.app.state.node
    return node


def services_of(request: Request) -> ApiServices:
    return node_of(request).services
