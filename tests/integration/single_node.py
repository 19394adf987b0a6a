"""One node in process (FastAPI's TestClient runs the app's lifespan, so its background process too),
against a real anvil and a real IPFS daemon, with the registry deployed by anvil's first key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from proml.contracts.artifacts import load_artifact
from proml.devnet.anvil import Anvil, running_anvil
from proml.node.api.app import create_app
from proml.node.config import NodeConfig
from proml.node.providers.blockchain import BlockchainProvider
from proml.node.providers.signer import Signer
from proml.node.runtime import NodeRuntime
from tests.integration.ipfs_daemons import daemon_set
from tests.integration.keystores import write_keystore


@contextmanager
def running_node(base: Path, **settings: Any) -> Iterator[tuple[TestClient, Anvil, NodeRuntime]]:
    """Organisation A's node under `base`; `settings` are NodeConfig fields (e.g. confirmations)."""
    with running_anvil(base / "anvil") as anvil, daemon_set(base / "ipfs") as daemons:
        daemon = daemons.start("a")
        key = anvil.keys[0]
        artifact = load_artifact("ProML")
        deployer = BlockchainProvider(anvil.client(), Signer(key), anvil.chain_id)
        registry = deployer.deploy_contract(artifact.bytecode, artifact.abi, ["A"])
        keystore, passphrase_file = write_keystore(base / "key", key)
        config = NodeConfig(
            org="A",
            data_dir=base / "data",
            keystore=keystore,
            passphrase_file=passphrase_file,
            chain_url=anvil.url,
            registry=registry,
            ipfs_api=daemon.api,
            **settings,
        )
        node = NodeRuntime(config)
        with TestClient(create_app(node)) as client:
            yield client, anvil, node
