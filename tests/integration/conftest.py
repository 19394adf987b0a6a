"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import proml
from proml.devnet import devnet
from proml.sdk import Node


@pytest.fixture(scope="module")
def sdk_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The SDK connected to the node of a one-organisation devnet (it has every role), for one module."""
    root = tmp_path_factory.mktemp("devnet") / "devnet"
    try:
        devnet.up(root, 1)
        org = devnet.status(root)["orgs"][0]
        with proml.connect(org["node_url"], org["api_key"]) as connected:
            yield connected
    finally:
        devnet.down(root)
