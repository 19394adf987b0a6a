"""`proml devnet up|join|status|down`: a local consortium (per organisation a geth Clique sealer, a Kubo
daemon, an IPFS Cluster peer and a node; or one anvil for all, for fast tests)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .exit_codes import EXIT_CHECK_FAILED, EXIT_OK
from .needs import CHAIN_PORT, DEVNET_DIR, DEVNET_ORGS, NODE_PORT, needs
from .output import fail, json_option

T = TypeVar("T")

_dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEVNET_DIR,
    show_default=True,
    help="The devnet's folder: state, chain, keys, configs, IPFS repos, logs.",
)


@click.group("devnet")
def devnet() -> None:
    """A local consortium for development: per organisation a geth sealer, Kubo, a cluster peer, a node."""


@devnet.command("up")
@click.option(
    "--orgs", "orgs_count", type=click.IntRange(1, 9), help=f"Organisations (default {DEVNET_ORGS})."
)
@click.option("--names", help="Their names, comma-separated (default A,B,C,…); the first one founds it.")
@_dir_option
@click.option(
    "--node-port",
    type=click.IntRange(0, 65535),
    default=NODE_PORT,
    show_default=True,
    help="The first node's port; the others follow (a taken port moves to a free one; 0: any free port).",
)
@click.option(
    "--chain-port",
    type=click.IntRange(0, 65535),
    default=CHAIN_PORT,
    show_default=True,
    help="The first geth's JSON-RPC port, or anvil's (a taken port moves to a free one).",
)
@click.option(
    "--chain",
    type=click.Choice(["clique", "anvil"]),
    default="clique",
    show_default=True,
    help="A geth Clique sealer per organisation, or one anvil for all (fast, no consensus).",
)
@click.option("--no-nodes", is_flag=True, help="Start the chain and IPFS only, not the nodes.")
@json_option
def up_command(
    orgs_count: int | None,
    names: str | None,
    directory: Path,
    node_port: int,
    chain_port: int,
    chain: str,
    no_nodes: bool,
    as_json: bool,
) -> None:
    """Start the devnet in --dir, creating it the first time; resume it (same chain and data) after `down`."""
    with needs("proml-devnet"):
        from proml.devnet.devnet import status, up
        from proml.devnet.state import Ports

    name_list = [n.strip() for n in names.split(",")] if names else None
    echo = (lambda _: None) if as_json else click.echo
    result = _guard(
        lambda: up(
            directory,
            orgs_count,
            name_list,
            chain="anvil" if chain == "anvil" else "clique",
            ports=Ports(chain=chain_port, node=node_port),
            start_nodes=not no_nodes,
            echo=echo,
        )
    )
    report = _guard(lambda: status(directory))
    if as_json:
        click.echo(json.dumps(report))
        return
    if not result.started:
        click.echo(f"The devnet in {report['dir']} is running already.")
    elif result.created:
        click.echo(f"Created a consortium of {len(report['orgs'])} organisations in {report['dir']}.")
    else:
        click.echo(f"Resumed the devnet in {report['dir']}.")
    _print_status(report)
    where = _dir_flag(directory)
    click.echo(
        f'Next: `eval "$(proml devnet env {report["orgs"][0]["name"]}{where})"` to act as that'
        f" organisation; `proml devnet status --json{where}` for every API key; `proml devnet down{where}`"
        " to stop it."
    )


def _dir_flag(directory: Path) -> str:
    """`--dir DIR` for the hints a command prints, unless DIR is the default."""
    return "" if directory == Path(DEVNET_DIR) else f" --dir {shlex.quote(str(directory))}"


@devnet.command("env")
@click.argument("org")
@_dir_option
def env_command(org: str, directory: Path) -> None:
    """Shell lines that point the CLI and the SDK at ORG's node (its URL and API key), for
    `eval "$(proml devnet env ORG)"`."""
    with needs("proml-devnet"):
        from proml.devnet.devnet import status

    report = _guard(lambda: status(directory))
    found = next((o for o in report["orgs"] if o["name"] == org), None)
    if found is None:
        names = ", ".join(o["name"] for o in report["orgs"]) or "none"
        fail(f"the devnet in {report['dir']} has no organisation {org!r} (it has {names})")
    url, key = shlex.quote(found["node_url"]), shlex.quote(found["api_key"])
    click.echo(f"export PROML_NODE_URL={url} PROML_API_KEY={key}")


@devnet.command("join")
@click.argument("name")
@_dir_option
@json_option
def join_command(name: str, directory: Path, as_json: bool) -> None:
    """A new organisation NAME joins the running devnet: admitted by governance, its sealer voted in by the
    signers, its geth, Kubo, cluster peer and node started."""
    with needs("proml-devnet"):
        from proml.devnet.devnet import join, status

    echo = (lambda _: None) if as_json else click.echo
    _guard(lambda: join(directory, name, echo=echo))
    report = _guard(lambda: status(directory))
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(f"{name} joined the devnet in {report['dir']}.")
    _print_status(report)


@devnet.command("status")
@_dir_option
@json_option
def status_command(directory: Path, as_json: bool) -> None:
    """Show the devnet's chain, registry and organisations. Exit 1 if any of its processes is not running."""
    with needs("proml-devnet"):
        from proml.devnet.devnet import status

    report = _guard(lambda: status(directory))
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print_status(report)
        if not report["running"]:
            click.echo(f"Not everything runs: start it with `proml devnet up{_dir_flag(directory)}`.")
    raise SystemExit(EXIT_OK if report["running"] else EXIT_CHECK_FAILED)


@devnet.command("down")
@_dir_option
@click.option("--purge", is_flag=True, help="Also delete the devnet's folder: chain, keys, data, all of it.")
@json_option
def down_command(directory: Path, purge: bool, as_json: bool) -> None:
    """Stop every process `up` started, by PID. The data stays (unless --purge): `up` resumes it."""
    with needs("proml-devnet"):
        from proml.devnet.devnet import down

    echo = (lambda _: None) if as_json else click.echo
    stopped = _guard(lambda: down(directory, purge=purge, echo=echo))
    if as_json:
        click.echo(json.dumps({"dir": str(directory.resolve()), "stopped": stopped, "purged": purge}))
        return
    if not stopped:
        click.echo("Nothing was running.")
    if purge:
        click.echo(f"Deleted {directory}.")
    else:
        click.echo(f"The data stays in {directory}: `proml devnet up --dir {directory}` resumes it.")


def _print_status(report: dict[str, Any]) -> None:
    def mark(running: bool) -> str:
        return "running" if running else "stopped"

    click.echo(f"devnet    {report['dir']} ({'running' if report['running'] else 'not running'})")
    click.echo(
        f"chain     {report['chain']}, chain id {report['chain_id']}, final at {report['confirmations']}"
        " confirmations"
    )
    click.echo(f"registry  {report['registry'] or '(not deployed yet)'}")
    for org in report["orgs"]:
        click.echo(f"{org['name']:<9} {org['address']}  node {org['node_url']} ({mark(org['node_running'])})")
        click.echo(
            f"{'':<9} chain {org['chain_url']} ({mark(org['chain_running'])})"
            f"  ipfs {org['ipfs_api']} ({mark(org['ipfs_running'])})"
            f"  cluster {org['cluster_api']} ({mark(org['cluster_running'])})"
        )
        click.echo(f"{'':<9} config {org['config']}")


def _guard(action: Callable[[], T]) -> T:
    """Run `action`; what the devnet can fail with is a usage or environment problem (a missing tool, a
    port, a damaged folder): exit 2 with its message, never a traceback."""
    # Imported here: `proml --help` should not load the node's stack for a command it does not run.
    with needs("proml-node"):
        from proml.contracts.errors import ContractRevert
        from proml.node.clients.chain import ChainClientError
        from proml.node.clients.ipfs import IpfsClientError
        from proml.node.clients.keystore import KeystoreError
        from proml.node.providers.blockchain import BlockchainProviderError

    failures = (  # RuntimeError: DevnetError, ProcessError, ConsortiumError, StateError
        RuntimeError,
        BlockchainProviderError,
        ContractRevert,
        ChainClientError,
        IpfsClientError,
        KeystoreError,
        OSError,
    )
    try:
        return action()
    except failures as exc:
        fail(str(exc))
