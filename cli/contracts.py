"""`proml contracts ...`: compile the Solidity sources into the committed artifacts."""

from __future__ import annotations

import click

from .exit_codes import EXIT_CHECK_FAILED, EXIT_USAGE


@click.group()
def contracts() -> None:
    """Compile the contracts and check the committed artifacts."""


@contracts.command("build")
@click.option(
    "--check",
    is_flag=True,
    help="Compile in memory and fail if the committed artifacts differ, instead of writing them.",
)
def build_command(check: bool) -> None:
    """Compile everything under contracts/src into contracts/artifacts (needs a source checkout)."""
    from proml.contracts import build

    try:
        if check:
            stale = build.stale_artifacts()
            if stale:
                click.echo(
                    "These artifacts differ from a fresh compile: " + ", ".join(stale) + "\n"
                    "Run `proml contracts build` and commit contracts/artifacts.",
                    err=True,
                )
                raise SystemExit(EXIT_CHECK_FAILED)
            click.echo("Artifacts are up to date.")
            return
        for path in build.build():
            click.echo(f"wrote {path.relative_to(build.REPO_ROOT)}")
    except build.CompilationFailed as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(EXIT_CHECK_FAILED) from exc
    except build.BuildError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(EXIT_USAGE) from exc
