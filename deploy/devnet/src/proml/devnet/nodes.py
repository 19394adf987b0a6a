"""Start an organisation's ProML node (`proml node start --config node.toml`) and wait until it is healthy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from proml.node.config import ENVIRONMENT, NodeConfig

from .processes import listens_on, spawn, stop_process, wait_until

START_TIMEOUT = 60.0


def node_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "proml.cli.main", "node", "start", "--config", str(config)]


def node_environment() -> dict[str, str]:
    """This environment without the `PROML_*` settings: they would override the devnet's node.toml
    (e.g. a PROML_API_PORT in the user's shell would put every node on one port); and without a
    passphrase: a devnet node reads its own from its passphrase file."""
    dropped = {*ENVIRONMENT.values(), NodeConfig.passphrase_env}
    return {name: value for name, value in os.environ.items() if name not in dropped}


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_node(
    config: Path, url: str, log_path: Path, timeout: float = START_TIMEOUT
) -> subprocess.Popen[bytes]:
    """Start the node of `config` (detached, logging to `log_path`) and wait until `url` is healthy; on
    failure it is stopped and the error quotes the end of its log."""
    process = spawn(node_command(config), log_path, env=node_environment(), cwd=config.parent, detach=True)
    try:
        port = int(url.rsplit(":", 1)[1])
        wait_until(
            # Healthy, and answered by this node: another program may have taken the port first.
            lambda: healthy(url) and listens_on(process.pid, port),
            what=f"the node of {config}",
            timeout=timeout,
            process=process,
            log_path=log_path,
            interval=0.2,
        )
    except BaseException:
        stop_process(process)
        raise
    return process
