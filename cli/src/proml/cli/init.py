"""`proml init`: create an organisation's encrypted keystore and its node configuration."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .needs import CONFIG_FILE_NAME, needs
from .output import fail, json_option

KEYSTORE_FILE_NAME = "keystore.json"


@click.command("init")
@click.option("--org", required=True, help="The organisation's name, as the consortium will know it.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".proml"),
    show_default=True,
    help="Where to write the keystore and node.toml.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the keystore passphrase from this file (default: the PROML_PASSPHRASE environment variable).",
)
@click.option(
    "--chain-url", default="http://127.0.0.1:8545", show_default=True, help="The chain's JSON-RPC URL."
)
@click.option("--registry", default="", help="The consortium's ProML registry address, once known.")
@click.option(
    "--ipfs-api", default="http://127.0.0.1:5001", show_default=True, help="The IPFS node's RPC URL."
)
@click.option(
    "--api-port", type=int, default=8701, show_default=True, help="The port the node's HTTP API binds."
)
@json_option
def init_command(
    org: str,
    directory: Path,
    passphrase_file: Path | None,
    chain_url: str,
    registry: str,
    ipfs_api: str,
    api_port: int,
    as_json: bool,
) -> None:
    """Create a new key for ORG (encrypted at rest) and a node configuration next to it."""
    # The keystore needs eth-account, which only a node installs (proml-node).
    with needs("proml-node"):
        from proml.node.clients import keystore
        from proml.node.config import ConfigError, NodeConfig, render_config

    config_path = directory / CONFIG_FILE_NAME
    if config_path.exists():
        fail(f"{config_path} exists already: use it as it is, or choose another --dir")
    try:
        config = NodeConfig(
            org=org,
            data_dir=Path("data"),
            keystore=Path(KEYSTORE_FILE_NAME),
            passphrase_file=passphrase_file.resolve() if passphrase_file else None,
            chain_url=chain_url,
            registry=registry,
            ipfs_api=ipfs_api,
            api_port=api_port,
        )
        passphrase = keystore.read_passphrase(config.passphrase_env, config.passphrase_file)
        address = keystore.create_keystore(directory / KEYSTORE_FILE_NAME, passphrase)
    except (ConfigError, keystore.KeystoreError) as exc:
        fail(str(exc))
    config_path.write_text(render_config(config), encoding="utf-8")
    result = {
        "org": org,
        "address": address,
        "config": str(config_path),
        "keystore": str(directory / KEYSTORE_FILE_NAME),
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"Created the key of {org}: {address}")
    click.echo(
        f"Configuration: {config_path} "
        f"(the passphrase is not stored: keep it in {config.passphrase_env} or in a file)"
    )
    click.echo("Next: ask a member of the consortium to propose this address, or deploy a new consortium.")
