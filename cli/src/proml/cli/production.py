"""`proml production generate`: a real consortium's files, from its members file (docs/operations.md).

An operator command: it imports the node inside the command (the generator is proml.node.production,
which needs eth-keys, coincurve and rlp), so that `proml --help` works with the SDK alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .needs import needs
from .output import fail, json_option


@click.group("production")
def production() -> None:
    """Production files for a real consortium: chain, IPFS, cluster and node, per organisation."""


@production.command("generate")
@click.argument("members_file", metavar="MEMBERS.toml", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The folder to write: one subfolder per organisation, a README and peers.json.",
)
@click.option(
    "--force", is_flag=True, help="Write into an existing --out again (its secrets and genesis are kept)."
)
@json_option
def generate_command(members_file: Path, out: Path, force: bool, as_json: bool) -> None:
    """Generate every organisation's files from MEMBERS.toml into --out (secrets mode 0600)."""
    with needs("proml-node"):
        from proml.node.production.generate import GenesisError, OutputExists, generate, peers_document
        from proml.node.production.keys import SecretFileError
        from proml.node.production.members import MembersError, load_members

    try:
        members = load_members(members_file)
    except MembersError as exc:
        fail(f"{members_file}: {exc}")
    if out.exists() and not force:
        fail(f"{out} exists: choose another --out, or add --force to write it again (its secrets are kept)")
    try:
        result = generate(members, members_file.read_text(encoding="utf-8"), out, force=force)
    except (OutputExists, SecretFileError, GenesisError) as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"out": str(out), **peers_document(result)}))
        return
    click.echo(f"Wrote {members.consortium} ({members.chain}, chain id {members.chain_id}) to {out}:")
    for info in result.orgs:
        click.echo(f"  {info.org.slug}/  {info.org.name} at {info.org.host}, validator {info.validator}")
    click.echo(f"Next: read {out / 'README.md'}; hand each folder to its organisation, privately.")


@production.command("identity")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The organisation's folder on its own host (e.g. /etc/proml): chain/, ipfs/, cluster/ go in it.",
)
@click.option("--qbft", is_flag=True, help="A Besu QBFT consortium (the node key is then the validator key).")
@json_option
def identity_command(out: Path, qbft: bool, as_json: bool) -> None:
    """Make this organisation's own chain node key, Kubo and cluster identities in --out (mode 0600), so
    that whoever generates the consortium's files never sees them; print what goes into the members file.
    Existing ones are kept and printed again."""
    with needs("proml-node"):
        from proml.node.production.generate import write_identity
        from proml.node.production.keys import SecretFileError

    try:
        public = write_identity(out, besu=qbft)
    except SecretFileError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(public))
        return
    click.echo(
        f"Identities in {out} (keep them there). Add to this organisation's [[orgs]] in the members file:"
    )
    for key, value in public.items():
        click.echo(f'{key} = "{value}"')
