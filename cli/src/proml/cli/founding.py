"""`proml consortium deploy|join`: start a consortium, or point a new organisation's node at one.

Both act on the organisation's own files (node.toml, the keystore) and on the chain directly, since a node
cannot run before it knows its consortium's registry. They need the `node` extra.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .exit_codes import EXIT_CHECK_FAILED
from .needs import needs
from .node import CONFIG_OPTION, node_config
from .output import fail, json_option

if TYPE_CHECKING:
    from proml.node.config import NodeConfig


def _save_registry(path: Path, config: NodeConfig, registry: str) -> None:
    from proml.node.config import render_config  # node_config has found the node package

    path.write_text(render_config(replace(config, registry=registry)), encoding="utf-8")


@click.command("deploy")
@CONFIG_OPTION
@json_option
def deploy_command(config_path: Path, as_json: bool) -> None:
    """Deploy a new consortium's registry, signed by this organisation's key: it becomes the first member,
    with every role. The registry's address is written into node.toml."""
    with needs("proml-node"):
        from proml.node.clients.chain import ChainClient, ChainClientError
        from proml.node.clients.keystore import KeystoreError, read_passphrase
        from proml.node.consortium import deploy_registry
        from proml.node.providers.blockchain import BlockchainProvider, BlockchainProviderError
        from proml.node.providers.signer import Signer

    config = node_config(config_path)
    if config.registry:
        fail(f"{config_path} already names the registry {config.registry}; remove it to deploy another")
    try:
        signer = Signer.from_keystore(
            config.keystore, read_passphrase(config.passphrase_env, config.passphrase_file)
        )
        client = ChainClient(config.chain_url)
        chain = BlockchainProvider(client, signer, client.chain_id(), confirmations=config.confirmations)
        registry = deploy_registry(chain, config.org)
    except (KeystoreError, ChainClientError, BlockchainProviderError) as exc:
        fail(f"{exc} (is the chain at {config.chain_url} up, and is {config.org}'s account funded?)")
    _save_registry(config_path, config, registry)
    if as_json:
        click.echo(json.dumps({"registry": registry, "founder": signer.address, "config": str(config_path)}))
    else:
        click.echo(f"registry {registry}, founded by {config.org} ({signer.address})")
        click.echo(f"written to {config_path}; start the node: proml node start --config {config_path}")


@click.command("join")
@click.argument("registry")
@CONFIG_OPTION
@json_option
def join_command(registry: str, config_path: Path, as_json: bool) -> None:
    """Point this organisation's node at the consortium REGISTRY. Exit 0 once the members have admitted it;
    1, with what to ask them, while it is not a member yet."""
    with needs("proml-node"):
        from proml.node.clients.chain import ChainClient, ChainClientError
        from proml.node.clients.keystore import KeystoreError, keystore_address
        from proml.node.consortium import member

    config = node_config(config_path)
    try:
        address = keystore_address(config.keystore)
        admitted = member(ChainClient(config.chain_url), registry, address)
    except (KeystoreError, ChainClientError, ValueError) as exc:
        fail(f"cannot read the membership of {registry} on {config.chain_url}: {exc}")
    _save_registry(config_path, config, registry)
    active = admitted.active
    if as_json:
        click.echo(json.dumps({"registry": registry, "address": address, "member": active}))
    elif active:
        click.echo(f"{config.org} ({address}) is a member of {registry}; start the node: proml node start")
    else:
        click.echo(
            f"{config.org} ({address}) is not a member of {registry} yet. Ask a member to run:\n"
            f"  proml member propose --add {address} --name {config.org} --roles data_admin,model_developer\n"
            "and enough members to approve it; then run this again."
        )
    if not active:
        raise SystemExit(EXIT_CHECK_FAILED)
