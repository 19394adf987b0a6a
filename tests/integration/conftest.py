"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from proml import sdk
from proml.devnet import devnet
from proml.sdk import Node


@pytest.fixture(scope="module")
def devnet_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The one organisation (it has every role) of a devnet that lives as long as the test module:
    `node_url`, `api_key`, `address`..."""
    root = tmp_path_factory.mktemp("devnet") / "devnet"
    try:
        devnet.up(root, 1, chain="anvil")
        yield devnet.status(root)["orgs"][0]
    finally:
        devnet.down(root)


@pytest.fixture(scope="module")
def sdk_node(devnet_org: dict[str, Any]) -> Iterator[Node]:
    """The SDK connected to that organisation's node."""
    with sdk.connect(devnet_org["node_url"], devnet_org["api_key"]) as connected:
        yield connected
