"""`proml node start|reindex|key|status`: run an organisation's node, rebuild its index, hand out API keys,
ask a running node how it is."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from proml.sdk import NodeUnavailable, ProMLError, node_status

from .connection import Target, connection_options
from .exit_codes import EXIT_CHECK_FAILED
from .needs import DEFAULT_CONFIG, needs
from .output import fail, json_option, print_json

if TYPE_CHECKING:
    from proml.node.config import NodeConfig

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG,
    show_default=True,
    envvar="PROML_CONFIG",
    help="The node's TOML configuration (written by `proml init`).",
)


def node_config(path: Path) -> NodeConfig:
    with needs("proml-node"):
        from proml.node.config import ConfigError, load_config
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc))


@click.group("node")
def node() -> None:
    """Run and look after this organisation's node."""


@node.command("start")
@CONFIG_OPTION
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning"])
)
def start(config_path: Path, log_level: str) -> None:
    """Serve the HTTP API and run the submitter and the index until stopped (Ctrl-C or SIGTERM)."""
    import sqlite3

    with needs("proml-node"):
        from proml.node.api.app import create_app
        from proml.node.api.server import protocol_with_head_timeout
        from proml.node.clients.chain import ChainClientError
        from proml.node.clients.keystore import KeystoreError
        from proml.node.composition import NodeSetupError
        from proml.node.config import ConfigError
        from proml.node.passphrase_handoff import (
            HandoffError,
            received_passphrase,
            restart_without_passphrase,
        )
        from proml.node.runtime import NodeRuntime
    import uvicorn  # a dependency of proml-node

    config = node_config(config_path)
    # First of all: a passphrase in this process's environment would stay readable in /proc/PID/environ
    # for as long as the node runs. This returns once the environment does not hold it.
    try:
        restart_without_passphrase(config.passphrase_env, needed=config.passphrase_file is None)
        passphrase = received_passphrase()
    except HandoffError as exc:
        fail(str(exc))
    _keep_files_private(config.data_dir)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _require_free_port(config.api_host, config.api_port)
    try:
        running = NodeRuntime(config, passphrase)
        # Before serving: a missing or wrong passphrase is a usage error, not a node that serves and
        # never sends anything.
        running.start_background()
    except (NodeSetupError, KeystoreError, ConfigError, ChainClientError, OSError, sqlite3.Error) as exc:
        fail(str(exc))
    click.echo(
        f"node of {config.org} ({running.services.address}) on http://{config.api_host}:{config.api_port}"
    )
    try:
        uvicorn.run(
            create_app(running),
            host=config.api_host,
            port=config.api_port,
            log_level=log_level,
            access_log=False,
            # Beyond these, a client is answered 503; an idle connection is closed after the keep-alive
            # timeout. Slow bodies are cut off by the API's request guard (api.request_timeout).
            limit_concurrency=config.max_connections,
            timeout_keep_alive=config.keepalive_timeout,
            # A request line and headers must be whole within api.request_timeout too.
            http=protocol_with_head_timeout(config.request_timeout),
        )
    except SystemExit as exc:  # uvicorn's own startup failure (it logged the reason on one line)
        if exc.code not in (0, None):
            fail(f"the API did not start on {config.api_host}:{config.api_port} (see the line above)")
        raise


def _keep_files_private(data_dir: Path) -> None:
    """Whatever the node writes (outbox, index, downloads, status) is for its owner only, and so is the
    data folder, whatever an older version or the umask left in it."""
    import os

    os.umask(0o077)
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data_dir.chmod(0o700)
    except OSError as exc:
        fail(f"node.data_dir {data_dir} cannot be made private: {exc.strerror or exc}")


def _require_free_port(host: str, port: int) -> None:
    """Refuse before anything starts when the API's address is taken or cannot be bound."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        fail(
            f"api.host:api.port {host}:{port} cannot be bound ({exc.strerror or exc}): is another node"
            " running there? Set api.port (or PROML_API_PORT) to a free port"
        )


@node.command("reindex")
@CONFIG_OPTION
@json_option
def reindex(config_path: Path, as_json: bool) -> None:
    """Drop the index and rebuild it from the chain (stop the node first)."""
    import sqlite3

    with needs("proml-node"):
        from proml.node.clients.chain import ChainClientError
        from proml.node.clients.keystore import KeystoreError
        from proml.node.composition import NodeSetupError
        from proml.node.runtime import NodeRuntime

    config = node_config(config_path)
    try:
        running = NodeRuntime(config)
        events = running.services.index.reindex()
    except (NodeSetupError, KeystoreError, ChainClientError, OSError, sqlite3.Error) as exc:
        fail(str(exc))
    result = {"events": events, "cursor": running.services.index.cursor}
    click.echo(
        json.dumps(result) if as_json else f"index rebuilt: {events} events up to block {result['cursor']}"
    )


@node.command("key")
@CONFIG_OPTION
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--scopes", default="read", show_default=True, help="Comma-separated: read, write, admin.")
@json_option
def create_key(config_path: Path, name: str, scopes: str, as_json: bool) -> None:
    """Create an API key; its secret is printed this once (the node keeps only a hash)."""
    with needs("proml-node"):
        from proml.node.paths import Paths
        from proml.node.services.api_keys import ApiKeyStore, UnknownScope, parse_scopes

    config = node_config(config_path)
    try:
        parsed = parse_scopes(scopes)
    except UnknownScope as exc:
        fail(str(exc))
    key, secret = ApiKeyStore(Paths.of(config.data_dir).api_keys).create(name, parsed)
    if as_json:
        click.echo(json.dumps({"id": key.id, "name": key.name, "scopes": list(parsed), "key": secret}))
    else:
        click.echo(f"API key {key.id} ({', '.join(parsed)}): {secret}\nStore it now: it is not shown again.")


@node.command("status")
@connection_options
@json_option
def status(target: Target, as_json: bool) -> None:
    """Ask a running node how it is (GET /v1/health, no key needed). Exit 1 if its chain or IPFS is down."""
    try:
        report = node_status(target.url)
    except NodeUnavailable as exc:
        if exc.reason is None:  # it answered, with an error of its own
            fail(str(exc))
        fail(f"no node answers at {target.url} ({exc.reason}): start it with `proml node start`")
    except ProMLError:
        fail(f"{target.url} answered, but not with a ProML health report: is --node-url right?")
    if as_json:
        print_json(report.to_dict())
    else:
        click.echo(f"node      {report.org} ({report.address}) at {target.url}: {report.status}")
        click.echo(f"registry  {report.registry}")
        click.echo(f"chain     {'ok, block ' + str(report.block) if report.chain_ok else report.chain_error}")
        click.echo(f"ipfs      {'ok, peer ' + str(report.peer_id) if report.ipfs_ok else report.ipfs_error}")
        click.echo(f"index     cursor {report.index_cursor}, lag {report.index_lag}")
        click.echo(f"outbox    {report.outbox_depth} waiting")
    if not report.ok:
        raise SystemExit(EXIT_CHECK_FAILED)
