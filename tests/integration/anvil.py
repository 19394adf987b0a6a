"""A real anvil process for integration tests: the fixtures over `proml.devnet.anvil`.

Each anvil listens on a free loopback port, is ready once it answers `eth_chainId`, and is always stopped
by PID (SIGTERM, wait, then SIGKILL), whatever the test did. The process logic lives in `proml.devnet`,
shared with `proml devnet`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proml.devnet.anvil import CHAIN_ID, MNEMONIC, Anvil, AnvilFailed, dev_keys, running_anvil
from proml.devnet.processes import free_port

__all__ = [
    "CHAIN_ID",
    "MNEMONIC",
    "Anvil",
    "AnvilFailed",
    "anvil_block_time_fixture",
    "anvil_fixture",
    "dev_keys",
    "free_port",
    "running_anvil",
]


@pytest.fixture(name="anvil")
def anvil_fixture(tmp_path: Path) -> Iterator[Anvil]:
    """A fresh anvil (automine) for one test."""
    with running_anvil(tmp_path / "anvil") as anvil:
        yield anvil


@pytest.fixture(name="anvil_block_time")
def anvil_block_time_fixture(tmp_path: Path) -> Iterator[Anvil]:
    """A fresh anvil that mines a block every second, like a real chain (no instant inclusion)."""
    with running_anvil(tmp_path / "anvil", block_time=1) as anvil:
        yield anvil
