"""The running node a request is served by (the app keeps it in its state)."""

from __future__ import annotations

from fastapi import Request

from ..runtime import Node


def node_of(request: Request) -> Node:
    node: Node = request.app.state.node
    return node
