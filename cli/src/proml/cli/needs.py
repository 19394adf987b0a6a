"""What the operator's commands (init, node, consortium deploy|join, devnet) need from packages that a
client installing only proml-cli does not have: the defaults their options show, and `needs`, which turns
the missing package into what to install.

The defaults are the node's and the devnet's own (tests/test_cli_operator_packages.py holds them equal):
they are written here so that `proml --help` runs without either package.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .output import fail

CONFIG_FILE_NAME = "node.toml"  # proml.node.config.CONFIG_FILE_NAME
DEFAULT_CONFIG = Path(".proml") / CONFIG_FILE_NAME
DEVNET_DIR = Path(".proml-devnet")  # proml.devnet.state.DEFAULT_DIR
DEVNET_ORGS = 3  # proml.devnet.state.DEFAULT_ORGS
CHAIN_PORT = 8545  # proml.devnet.state.CHAIN_PORT
NODE_PORT = 8701  # proml.devnet.state.NODE_PORT

_WHAT = {"proml-node": "the node", "proml-devnet": "the devnet"}


@contextmanager
def needs(distribution: str) -> Iterator[None]:
    """Imports in the block that fail because `distribution` (proml-node, proml-devnet) is not installed
    end the command with what to install (exit 2); any other missing module (one inside the package, a
    dependency) is a fault, raised as it is."""
    package = distribution.replace("-", ".")
    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name != package:
            raise
        fail(f"this command needs {_WHAT[distribution]}: pip install {distribution}")
