"""Entry point of the `proml` command: one verb group per noun."""

from __future__ import annotations

import click

from .assets import dataset, history_command, model, verify_command
from .audit import audit_command
from .devnet import devnet
from .exit_codes import EXIT_INTERRUPTED
from .governance import consortium, member
from .init import init_command
from .interrupted import tracker
from .lineage import lineage_command
from .node import node
from .outbox import outbox
from .production import production


class _Commands(click.Group):
    """The root group: Ctrl-C in any command ends it with what the node had stored (exit 130), instead of
    click's "Aborted!" and exit 1, which means a check failed."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo(f"\n{tracker(ctx).message()}", err=True)
            raise SystemExit(EXIT_INTERRUPTED) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="proml-cli", prog_name="proml")
def cli() -> None:
    """ProML: decentralised provenance for machine learning."""


cli.add_command(devnet)
cli.add_command(init_command)
cli.add_command(node)
cli.add_command(consortium)
cli.add_command(member)
cli.add_command(dataset)
cli.add_command(model)
cli.add_command(history_command)
cli.add_command(lineage_command)
cli.add_command(verify_command)
cli.add_command(audit_command)
cli.add_command(outbox)
cli.add_command(production)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
