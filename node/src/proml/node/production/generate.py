"""`generate`: from a members file, one folder per organisation with everything its host needs, the
consortium's README, and a .gitignore that keeps the secrets out of any repository the output lands in.

Which file holds what, and where it goes on the host, is `layout`; what is in the files is in `chain`,
`ipfs`, `units` and the node's own `render_config`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import NodeConfig, render_config
from . import chain_files, ipfs_files, keys, readme, units
from .members import Members, Org

# Generated secrets, per organisation folder: mode 0600, never committed (the output's .gitignore).
GENERATED_SECRETS = (
    "chain/nodekey",
    "ipfs/kubo-identity.json",
    "ipfs/swarm.key",
    "cluster/identity.json",
    "cluster/cluster.env",
)
# Secrets the organisation brings (the generator never sees them): the sealer's keystore and password,
# the ProML keystore (`proml init`) and its passphrase.
OPERATOR_SECRETS = (
    "chain/sealer-keystore/",
    "chain/sealer.password",
    "node/keystore.json",
    "node/passphrase",
)
CONFIRMATIONS = {"clique": 5, "qbft": 1}


class GenesisError(ValueError):
    """A genesis.json from an earlier run that cannot be read back."""


class OutputExists(FileExistsError):
    """The output folder exists and `force` was not given."""


@dataclass(frozen=True)
class OrgFiles:
    """What the others know of one organisation once its files are made."""

    org: Org
    enode: str
    validator: str  # the Clique sealer, or the QBFT node key's address
    kubo_peer_id: str
    cluster_peer_id: str


@dataclass(frozen=True)
class Generated:
    out: Path
    members: Members
    orgs: tuple[OrgFiles, ...]


def generate(members: Members, members_text: str, out: Path, force: bool = False) -> Generated:
    """Write the consortium's files into `out`. An existing `out` is refused unless `force`; with it, the
    public files are written again and the secrets already there are kept (same enodes and peer ids), and
    so is the genesis (same chain)."""
    if out.exists() and not force:
        raise OutputExists(
            f"{out} exists: choose another --out, or --force to write it again (its secrets are kept)"
        )
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    folders = {org.slug: out / org.slug for org in members.orgs}
    for folder in folders.values():
        for part in ("chain", "ipfs", "cluster", "node"):
            (folder / part).mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)

    besu = members.chain == "qbft"
    swarm_key = keys.swarm_key([f / "ipfs" / "swarm.key" for f in folders.values()])
    secret = keys.cluster_secret([f / "cluster" / "cluster.env" for f in folders.values()])
    infos = tuple(_identities(org, folders[org.slug], besu) for org in members.orgs)
    genesis = _existing_genesis(out)
    if genesis is None:
        if besu:
            genesis = chain_files.qbft_genesis(members, [i.validator for i in infos])
        else:
            genesis = chain_files.members_clique_genesis(members)

    for info in infos:
        org, folder = info.org, folders[info.org.slug]
        others = [i for i in infos if i is not info]
        keys.write_private(folder / "ipfs" / "swarm.key", swarm_key)
        keys.write_private(folder / "cluster" / "cluster.env", f"CLUSTER_SECRET={secret}\n")
        _write(folder / "chain" / "genesis.json", json.dumps(genesis, indent=2) + "\n")
        peers = [i.enode for i in others]
        if besu:
            _write(folder / "chain" / "besu.toml", chain_files.besu_config(members, org))
            _write(folder / "chain" / "static-nodes.json", json.dumps(peers, indent=2) + "\n")
            _write(folder / "chain" / "besu.service", units.besu_unit(members, org))
        else:
            _write(folder / "chain" / "config.toml", chain_files.geth_config(members, org, peers))
            _write(folder / "chain" / "geth.service", units.geth_unit(members, org))
        peering = [ipfs_files.kubo_peering(i.org, i.kubo_peer_id) for i in others]
        init_script = ipfs_files.kubo_init_script(members, org, peering)
        _write(folder / "ipfs" / "kubo-init.sh", init_script, mode=0o755)
        _write(folder / "ipfs" / "kubo.service", units.kubo_unit(members, org))
        trusted = [i.cluster_peer_id for i in infos]
        addresses = [ipfs_files.cluster_peer_address(i.org, i.cluster_peer_id) for i in others]
        service = ipfs_files.cluster_service_json(members, org, trusted, addresses)
        _write(folder / "cluster" / "service.json", json.dumps(service, indent=2) + "\n")
        _write(folder / "cluster" / "ipfs-cluster.service", units.cluster_unit(members, org))
        _write(folder / "node" / "node.toml", node_toml(members, org))
        _write(folder / "node" / "proml-node.service", units.node_unit(members, org))

    result = Generated(out, members, infos)
    _write(out / "members.toml", members_text)
    _write(out / "peers.json", json.dumps(peers_document(result), indent=2) + "\n")
    _write(out / "README.md", readme.render(result, GENERATED_SECRETS, OPERATOR_SECRETS))
    _write(out / ".gitignore", gitignore())
    return result


def _identities(org: Org, folder: Path, besu: bool) -> OrgFiles:
    """`org`'s public identities: the ones it made itself (members file), or from keys made here."""
    if org.identity is not None:
        # Its keys are on its own host (`proml production identity`): none of them is made here.
        enode_id, kubo_id, cluster_id = (
            org.identity.enode_id,
            org.identity.kubo_peer_id,
            org.identity.cluster_peer_id,
        )
        validator_key = keys.address_of(enode_id)
    else:
        node_key = keys.node_key(folder / "chain" / "nodekey", besu=besu)
        enode_id, validator_key = node_key.enode_id, node_key.address
        kubo_id = keys.kubo_identity(folder / "ipfs" / "kubo-identity.json").peer_id
        cluster_id = keys.cluster_identity(folder / "cluster" / "identity.json").peer_id
    validator = org.sealer if org.sealer is not None else validator_key
    return OrgFiles(org, chain_files.enode(enode_id, org), validator, kubo_id, cluster_id)


def write_identity(folder: Path, besu: bool = False) -> dict[str, str]:
    """An organisation's own identities, made on its own host into `folder` (laid out as its folder of the
    output: chain/nodekey, ipfs/kubo-identity.json, cluster/identity.json): what it puts into the members
    file, public. Existing files are kept (read back)."""
    node_key = keys.node_key(folder / "chain" / "nodekey", besu=besu)
    return {
        "enode_id": node_key.enode_id,
        "kubo_peer_id": keys.kubo_identity(folder / "ipfs" / "kubo-identity.json").peer_id,
        "cluster_peer_id": keys.cluster_identity(folder / "cluster" / "identity.json").peer_id,
    }


def _existing_genesis(out: Path) -> dict[str, Any] | None:
    """The genesis of an earlier run into `out`: a chain's genesis never changes once it is made, so an
    organisation added to the members file later gets the same one (and is voted in and funded on the
    chain, docs/operations.md). Delete every genesis.json in `out` to make a new chain's."""
    for path in sorted(out.glob("*/chain/genesis.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise GenesisError(
                f"{path} is not JSON: delete it (and the others) to make a new genesis"
            ) from None
        if not isinstance(document, dict):
            raise GenesisError(f"{path} is not a genesis: delete it (and the others) to make a new genesis")
        return document
    return None


def node_toml(members: Members, org: Org) -> str:
    d = members.deploy
    config = NodeConfig(
        org=org.name,
        data_dir=Path(f"{d.data_dir}/node"),
        keystore=Path(f"{d.config_dir}/node/keystore.json"),
        passphrase_file=Path(f"{d.config_dir}/node/passphrase"),
        chain_url=f"http://127.0.0.1:{org.ports['http']}",
        chain_id=members.chain_id,
        confirmations=CONFIRMATIONS[members.chain],
        ipfs_api=f"http://127.0.0.1:{org.ports['ipfs_api']}",
        api_host="127.0.0.1",
        api_port=org.ports["node_api"],
        cluster_api=f"http://127.0.0.1:{org.ports['cluster_api']}",
    )
    return (
        f"# The ProML node of {org.name} in {members.consortium}. chain.registry is written by\n"
        "# `proml consortium deploy` (the founder) or `proml consortium join REGISTRY` (the others).\n"
        + render_config(config)
    )


def peers_document(result: Generated) -> dict[str, Any]:
    """What every organisation may know of the others: public keys and addresses only."""
    return {
        "consortium": result.members.consortium,
        "chain_id": result.members.chain_id,
        "chain": result.members.chain,
        "orgs": [
            {
                "name": i.org.name,
                "folder": i.org.slug,
                "host": i.org.host,
                "validator": i.validator,
                "proml_address": i.org.proml_address,
                "enode": i.enode,
                "kubo_peer_id": i.kubo_peer_id,
                "cluster_peer_id": i.cluster_peer_id,
                "ports": i.org.ports,
            }
            for i in result.orgs
        ],
    }


def gitignore() -> str:
    lines = ["# Secrets: generated (mode 0600) or brought by each organisation. Never commit them."]
    lines += [f"*/{path}" for path in (*GENERATED_SECRETS, *OPERATOR_SECRETS)]
    lines += ["*.tmp", ""]
    return "\n".join(lines)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


__all__ = ["Generated", "OrgFiles", "OutputExists", "generate"]
