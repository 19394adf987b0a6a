"""The `proml` command without the node's and the devnet's packages (a client installs proml-cli alone):
it starts, and the operator's commands say what to install instead of failing with a traceback. The
defaults their options show are the packages' own."""

from __future__ import annotations

import importlib
import importlib.abc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from proml.cli import needs
from proml.cli.main import cli
from proml.devnet import state
from proml.node import config

HIDDEN = ("proml.node", "proml.devnet", "proml.contracts")


class _Absent(importlib.abc.MetaPathFinder):
    """Finds the hidden packages nowhere, as an interpreter without them installed does."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


@pytest.fixture
def without_operator_packages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if proml-node, proml-devnet and proml-contracts were not installed."""
    for name in [m for m in sys.modules if m.startswith(HIDDEN)]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_Absent(), *sys.meta_path])
    yield


def test_the_defaults_the_options_show_are_the_node_and_devnet_defaults() -> None:
    assert needs.CONFIG_FILE_NAME == config.CONFIG_FILE_NAME
    assert (needs.DEVNET_DIR, needs.DEVNET_ORGS) == (state.DEFAULT_DIR, state.DEFAULT_ORGS)
    assert (needs.CHAIN_PORT, needs.NODE_PORT) == (state.CHAIN_PORT, state.NODE_PORT)


def test_proml_starts_and_lists_its_commands_without_the_operator_packages() -> None:
    hide = "".join(f"sys.modules[{name!r}] = None;" for name in HIDDEN)
    script = f"import sys; {hide} sys.argv = ['proml', '--help']; from proml.cli.main import main; main()"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "audit" in result.stdout and "lineage" in result.stdout and "devnet" in result.stdout


@pytest.mark.parametrize(
    ("command", "what"),
    [
        (["init", "--org", "X"], "the node: pip install proml-node"),
        (["node", "key", "--name", "ci"], "the node: pip install proml-node"),
        (["member", "list", "--config", "node.toml", "--api-key", "k"], "the node: pip install proml-node"),
        (["devnet", "status"], "the devnet: pip install proml-devnet"),
    ],
)
def test_an_operator_command_says_which_package_it_needs(
    without_operator_packages: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    what: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "node.toml").write_text("")
    result = CliRunner().invoke(cli, command, env={"PROML_NODE_URL": ""})
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: this command needs {what}\n"


def test_a_missing_module_other_than_the_operator_packages_is_not_hidden() -> None:
    with pytest.raises(ModuleNotFoundError), needs.needs("proml-node"):
        importlib.import_module("proml.node.no_such_module")
