"""The `proml` command tree: its version, an unknown command, and each kind's activities in `record`."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from click.testing import CliRunner

from proml.cli.main import cli
from proml.core.workflow import TRANSITIONS, AssetKind


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert version("proml-cli") in result.output


@pytest.mark.parametrize("words", [[], ["dataset"], ["dataset", "register"], ["devnet", "up"]])
def test_dash_h_is_help_everywhere(words: list[str]) -> None:
    result = CliRunner().invoke(cli, [*words, "-h"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2


@pytest.mark.parametrize("kind", list(TRANSITIONS))
def test_record_help_lists_the_activities_of_the_kind(kind: AssetKind) -> None:
    result = CliRunner().invoke(cli, [kind.name.lower(), "record", "--help"])
    assert result.exit_code == 0
    listed = " ".join(result.output.split())
    names = ", ".join(activity.name.lower() for activity in TRANSITIONS[kind])
    assert f"A {kind.name.lower()}'s activities: {names}." in listed
    # An activity of neither table is refused here, before anything is hashed or sent.
    unknown = CliRunner().invoke(cli, [kind.name.lower(), "record", "0xA", "frobnicate"])
    assert unknown.exit_code == 2 and "'frobnicate' is not one of" in unknown.output
