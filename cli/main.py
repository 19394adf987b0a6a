"""Entry point of the `proml` command: one verb group per noun."""

from __future__ import annotations

import click

from proml import __version__

from .contracts import contracts
from .devnet import devnet
from .init import init_command
from .node import node


@click.group()
@click.version_option(__version__, prog_name="proml")
def cli() -> None:
    """ProML: decentralised provenance for machine learning."""


cli.add_command(contracts)
cli.add_command(devnet)
cli.add_command(init_command)
cli.add_command(node)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
