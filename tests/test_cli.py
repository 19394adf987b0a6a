from __future__ import annotations

from click.testing import CliRunner

import proml
from proml.cli.main import cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert proml.__version__ in result.output
    assert proml.__version__ != "0.0.0+unknown"


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
