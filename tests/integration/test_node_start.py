"""`proml node start` on a bad day: every configuration or startup error is one clear line and exit 2,
never a Python traceback (the command runs as a subprocess, as a user runs it)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.anvil import Anvil, anvil_fixture, free_port  # noqa: F401  (fixtures)
from tests.integration.keystores import write_keystore

REGISTRY = "0x" + "11" * 20


def start(config: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROML_")}
    return subprocess.run(
        [sys.executable, "-m", "proml.cli.main", "node", "start", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(folder: Path, key: bytes, chain_url: str, **literals: str) -> Path:
    """A node.toml; `literals` ("section.key": TOML text) set or override settings, as a user writes them."""
    keystore, passphrase_file = write_keystore(folder / "key", key)
    tables: dict[str, dict[str, str]] = {
        "node": {"org": '"A"', "data_dir": json.dumps(str(folder / "data"))},
        "wallet": {
            "keystore": json.dumps(str(keystore)),
            "passphrase_file": json.dumps(str(passphrase_file)),
        },
        "chain": {"url": json.dumps(chain_url), "registry": json.dumps(REGISTRY)},
        "api": {"port": str(free_port())},
    }
    for name, literal in literals.items():
        section, _, setting = name.partition("__")
        tables.setdefault(section, {})[setting] = literal
    path = folder / "node.toml"
    path.write_text(
        "\n".join(f"[{t}]\n" + "".join(f"{k} = {v}\n" for k, v in kv.items()) for t, kv in tables.items())
    )
    return path


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("setting", "literal", "fragment"),
    [
        ("chain__confirmations", "0", "chain.confirmations"),
        ("chain__url", '"localhost:8545"', "chain.url"),
        ("chain__confirmation", "3", "unknown setting chain.confirmation"),
        ("fees__bump_percent", "1", "fees.bump_percent"),
        ("api__port", "0", "api.port"),
        ("api__host", '"http://0.0.0.0"', "api.host"),
        ("chain__chain_id", '"one"', "chain.chain_id"),
    ],
)
def test_a_bad_configuration_is_one_line_naming_the_setting(
    tmp_path: Path, anvil: Anvil, setting: str, literal: str, fragment: str
) -> None:
    path = write_config(tmp_path, anvil.keys[0], anvil.url, **{setting: literal})
    assert_refused(start(path), fragment)


def test_a_file_that_is_not_toml_is_one_line(tmp_path: Path, anvil: Anvil) -> None:
    path = write_config(tmp_path, anvil.keys[0], anvil.url)
    path.write_text(path.read_text() + "[node\n")
    assert_refused(start(path), "not valid TOML")


def test_an_unreachable_chain_is_one_line(tmp_path: Path, anvil: Anvil) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    path = write_config(tmp_path, anvil.keys[0], unreachable, chain__startup_timeout="1")
    assert_refused(start(path), "does not answer")


def test_a_chain_with_another_id_is_refused(tmp_path: Path, anvil: Anvil) -> None:
    path = write_config(tmp_path, anvil.keys[0], anvil.url, chain__chain_id=str(anvil.chain_id + 1))
    assert_refused(start(path), f"is chain {anvil.chain_id}", f"chain.chain_id pins {anvil.chain_id + 1}")


@pytest.fixture(name="taken_port")
def taken_port_fixture() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield int(server.getsockname()[1])


def test_a_taken_port_is_one_line(tmp_path: Path, anvil: Anvil, taken_port: int) -> None:
    path = write_config(tmp_path, anvil.keys[0], anvil.url, api__port=str(taken_port))
    assert_refused(start(path), f"127.0.0.1:{taken_port}", "api.port")


def test_a_missing_keystore_is_one_line(tmp_path: Path, anvil: Anvil) -> None:
    path = write_config(tmp_path, anvil.keys[0], anvil.url)
    (tmp_path / "key" / "keystore.json").unlink()
    assert_refused(start(path), "keystore.json")
