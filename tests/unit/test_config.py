from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from proml.cli.main import cli
from proml.node.clients import keystore
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
    assert keystore.keystore_address(config.keystore).lower() == out["address"].lower()
    assert len(keystore.decrypt_keystore(config.keystore, PASSPHRASE)) == 32
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


_BASE = '[node]\norg = "A"\ndata_dir = "d"\n[wallet]\nkeystore = "k"\n'


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[chain]\nconfirmations = 0\n", "chain.confirmations must be between 1 and 10000, not 0"),
        ("[chain]\nconfirmations = -3\n", "chain.confirmations must be between 1"),
        ("[chain]\nconfirmations = 1.5\n", "chain.confirmations must be an integer"),
        ("[chain]\nconfirmations = true\n", "chain.confirmations must be an integer"),
        ('[chain]\nconfirmations = "many"\n', "chain.confirmations must be an integer"),
        ("[chain]\nchain_id = 0\n", "chain.chain_id must be 1 or more"),
        ("[chain]\nwatch_blocks = 0\n", "chain.watch_blocks must be between 1"),
        ('[chain]\nurl = "127.0.0.1:8545"\n', "chain.url must be an http:// or https:// URL"),
        ('[chain]\nurl = "http://"\n', "chain.url must be an http:// or https:// URL"),
        ('[chain]\nurl = "http://localhost:99999"\n', "chain.url must have a port"),
        ('[chain]\nregistry = "0x' + "zz" * 20 + '"\n', "chain.registry must be a 0x-prefixed address"),
        ('[ipfs]\napi = "localhost:5001"\n', "ipfs.api must be an http:// or https:// URL"),
        ('[api]\nhost = "http://0.0.0.0"\n', "api.host must be an IP address or a host name"),
        ('[api]\nhost = ""\n', "api.host must be an IP address or a host name"),
        ("[api]\nport = 0\n", "api.port must be a TCP port"),
        ("[api]\nport = 70000\n", "api.port must be a TCP port"),
        ('[wallet]\npassphrase_env = "MY PASS"\n', "wallet.passphrase_env must be an environment variable"),
        ("[fees]\npriority_fee_gwei = -1\n", "fees.priority_fee_gwei must be 0 or more"),
        ('[fees]\npriority_fee_gwei = "cheap"\n', "fees.priority_fee_gwei must be a number"),
        ("[fees]\nmax_fee_gwei = 0\n", "fees.max_fee_gwei must be more than 0"),
        ("[fees]\nmax_fee_gwei = nan\n", "fees.max_fee_gwei must be a finite number"),
        ("[fees]\nfee_cap_gwei = 50\nmax_fee_gwei = 10\n", "fees.fee_cap_gwei \\(50.0\\) must not exceed"),
        ("[fees]\nreplace_after = 0\n", "fees.replace_after must be more than 0"),
        ("[fees]\nbump_percent = 5\n", "fees.bump_percent must be between 10 and 1000"),
        ("[chain]\nconfirmation = 3\n", "unknown setting chain.confirmation"),
        ("[fee]\nmax_fee_gwei = 3\n", "unknown section \\[fee\\]"),
        ("[api]\nport = 8701\nportt = 8702\n", "unknown setting api.portt"),
    ],
)
def test_every_bad_setting_is_refused_at_load_naming_it(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "node.toml"
    text = (
        _BASE + extra
        if not extra.startswith("[wallet]")
        else _BASE.replace('[wallet]\nkeystore = "k"\n', "")
        + extra.replace("[wallet]\n", '[wallet]\nkeystore = "k"\n')
    )
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PROML_CHAIN_CONFIRMATIONS", "0", "chain.confirmations must be between 1"),
        ("PROML_CHAIN_CONFIRMATIONS", "2.5", "chain.confirmations must be an integer"),
        ("PROML_CHAIN_CHAIN_ID", "x", "chain.chain_id must be an integer"),
        ("PROML_FEES_MAX_FEE_GWEI", "-1", "fees.max_fee_gwei must be more than 0"),
        ("PROML_CHAIN_URL", "ftp://chain", "chain.url must be an http"),
    ],
)
def test_bad_environment_overrides_name_the_setting(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    path = tmp_path / "node.toml"
    path.write_text(_BASE)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={variable: value})


def test_chain_and_fee_settings_load_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(
        _BASE
        + "[chain]\nconfirmations = 2\nchain_id = 1337\n[fees]\npriority_fee_gwei = 0.5\nbump_percent = 25\n"
    )
    loaded = load_config(path, environ={"PROML_FEES_REPLACE_AFTER": "12.5", "PROML_FEES_MAX_FEE_GWEI": "40"})
    assert (loaded.confirmations, loaded.chain_id) == (2, 1337)
    assert (loaded.priority_fee_gwei, loaded.bump_percent) == (0.5, 25)
    assert (loaded.replace_after, loaded.max_fee_gwei, loaded.fee_cap_gwei) == (12.5, 40.0, None)
    # Rendered and read back, the same settings.
    again = tmp_path / "again.toml"
    again.write_text(render_config(loaded))
    assert load_config(again, environ={}) == loaded


def test_default_confirmations_outlast_a_clique_reorg() -> None:
    # geth's Clique reorganises the last block or two: final must wait for more.
    assert NodeConfig(org="A", data_dir=Path("d"), keystore=Path("k")).confirmations >= 3
