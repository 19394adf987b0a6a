from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from proml.cli.main import cli
from proml.node.clients import wallet
from proml.node.config import ENVIRONMENT, ConfigError, NodeConfig, load_config, render_config

PASSPHRASE = "a long enough passphrase"


def test_rendered_config_loads_back_with_absolute_paths(tmp_path: Path) -> None:
    config = NodeConfig(
        org='Acme "Labs"\nEU', data_dir=Path("data"), keystore=Path("keystore.json"), api_port=8702
    )
    path = tmp_path / "node.toml"
    path.write_text(render_config(config))
    loaded = load_config(path, environ={})
    assert loaded.org == config.org
    assert loaded.api_port == 8702
    assert loaded.data_dir == tmp_path / "data"
    assert loaded.keystore == tmp_path / "keystore.json"
    assert loaded.replication == "all"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(render_config(NodeConfig(org="A", data_dir=Path("d"), keystore=Path("k"))))
    environ = {ENVIRONMENT["api_port"]: "9001", ENVIRONMENT["chain_url"]: "http://10.0.0.1:8545"}
    loaded = load_config(path, environ=environ)
    assert (loaded.api_port, loaded.chain_url) == (9001, "http://10.0.0.1:8545")
    assert ENVIRONMENT["api_port"] == "PROML_API_PORT"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[node]\norg = "A"\n', "node.data_dir is missing"),
        (
            '[node]\norg = "A"\ndata_dir = "d"\n[wallet]\nkeystore = "k"\n[api]\nport = "x"\n',
            "api.port must be an integer",
        ),
        (
            '[node]\norg = "A"\ndata_dir = "d"\n[wallet]\nkeystore = "k"\n[replication]\npolicy = "some"\n',
            "policy",
        ),
        (
            '[node]\norg = "A"\ndata_dir = "d"\n[wallet]\nkeystore = "k"\n[chain]\nregistry = "0x12"\n',
            "registry",
        ),
        ("[node\n", "not valid TOML"),
    ],
)
def test_bad_configuration_names_the_setting(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "node.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="proml init"):
        load_config(tmp_path / "node.toml", environ={})


def test_init_creates_keystore_and_config(tmp_path: Path) -> None:
    directory = tmp_path / "acme"
    result = CliRunner().invoke(
        cli,
        ["init", "--org", "Acme", "--dir", str(directory), "--json"],
        env={"PROML_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    config = load_config(directory / "node.toml", environ={})
    assert config.org == "Acme"
    assert wallet.keystore_address(config.keystore).lower() == out["address"].lower()
    assert len(wallet.decrypt_keystore(config.keystore, PASSPHRASE)) == 32
    assert PASSPHRASE not in (directory / "node.toml").read_text() + result.output


def test_init_without_passphrase_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "acme"
    result = CliRunner().invoke(
        cli, ["init", "--org", "Acme", "--dir", str(directory)], env={"PROML_PASSPHRASE": ""}
    )
    assert result.exit_code == 2
    assert "PROML_PASSPHRASE" in result.output
    assert not (directory / "node.toml").exists() and not (directory / "keystore.json").exists()


def test_init_never_overwrites(tmp_path: Path) -> None:
    env = {"PROML_PASSPHRASE": PASSPHRASE}
    args = ["init", "--org", "Acme", "--dir", str(tmp_path)]
    assert CliRunner().invoke(cli, args, env=env).exit_code == 0
    before = (tmp_path / "keystore.json").read_bytes()
    again = CliRunner().invoke(cli, args, env=env)
    assert again.exit_code == 2 and "exists already" in again.output
    assert (tmp_path / "keystore.json").read_bytes() == before
