"""`proml consortium deploy` and `join` against a real anvil: found a consortium, then join it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from proml.cli.main import cli
from proml.devnet.consortium import admit, anvil_bank, fund, provider
from proml.node.clients.keystore import decrypt_keystore, keystore_address
from proml.node.config import load_config
from tests.integration.anvil import Anvil, anvil_fixture  # noqa: F401  (fixture)

PASSPHRASE = "founding passphrase"
# anvil mines each transaction at once and no block after it: one confirmation (docs/node.md, "Finality").
ENV = {"PROML_PASSPHRASE": PASSPHRASE, "PROML_CHAIN_CONFIRMATIONS": "1"}


def init(runner: CliRunner, chain_url: str, folder: Path, org: str) -> Path:
    command = ["init", "--org", org, "--dir", str(folder), "--chain-url", chain_url]
    result = runner.invoke(cli, command, env=ENV)
    assert result.exit_code == 0, result.output
    return folder / "node.toml"


def test_deploy_then_join(anvil: Anvil, tmp_path: Path) -> None:
    runner = CliRunner()
    founder = init(runner, anvil.url, tmp_path / "a", "A")
    joiner = init(runner, anvil.url, tmp_path / "b", "B")
    a_address = keystore_address(load_config(founder).keystore)
    b_address = keystore_address(load_config(joiner).keystore)
    fund(anvil_bank(anvil.client()), [a_address, b_address])

    deployed = runner.invoke(cli, ["consortium", "deploy", "--config", str(founder), "--json"], env=ENV)
    assert deployed.exit_code == 0, deployed.output
    registry = json.loads(deployed.output)["registry"]
    assert load_config(founder).registry == registry
    again = runner.invoke(cli, ["consortium", "deploy", "--config", str(founder)], env=ENV)
    assert again.exit_code == 2 and "already names the registry" in again.output

    waiting = runner.invoke(cli, ["consortium", "join", registry, "--config", str(joiner)])
    assert waiting.exit_code == 1, waiting.output
    assert f"member propose --add {b_address}" in waiting.output
    assert load_config(joiner).registry == registry

    a_key = decrypt_keystore(load_config(founder).keystore, PASSPHRASE)
    admit(registry, [("A", provider(anvil.client(), a_key, anvil.chain_id))], ("B", b_address))
    joined = runner.invoke(cli, ["consortium", "join", registry, "--config", str(joiner), "--json"])
    assert joined.exit_code == 0, joined.output
    assert json.loads(joined.output) == {"registry": registry, "address": b_address, "member": True}


def test_deploy_without_a_chain_says_what_to_check(tmp_path: Path) -> None:
    runner = CliRunner()
    config = init(runner, "http://127.0.0.1:9", tmp_path / "a", "A")
    failed = runner.invoke(cli, ["consortium", "deploy", "--config", str(config)], env=ENV)
    assert failed.exit_code == 2
    assert "is the chain at http://127.0.0.1:9 up" in failed.output
