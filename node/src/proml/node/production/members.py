"""The members file: the consortium's name, chain id and kind, where each organisation runs, its sealer
and its ProML signing address. Everything is checked when the file is read, and a bad value is refused
with the path of its field (`orgs[1].host`), as record documents are (proml.core.records).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from eth_utils.address import to_checksum_address

from .keys import is_ed25519_peer_id, is_public_key

CHAIN_KINDS = ("clique", "qbft")
DEFAULT_PORTS: dict[str, int] = {
    "p2p": 30303,  # the chain client's peer-to-peer port: open to the other organisations
    "http": 8545,  # the chain's JSON-RPC, loopback only
    "authrpc": 8551,  # geth's engine API, loopback only (geth 1.13 opens it whatever the consensus)
    "ipfs_swarm": 4001,  # Kubo's swarm (TCP): open to the other organisations
    "ipfs_api": 5001,  # Kubo's RPC, loopback only
    "ipfs_gateway": 8080,  # Kubo's gateway, loopback only
    "cluster": 9096,  # IPFS Cluster's peer port: open to the other organisations
    "cluster_api": 9094,  # IPFS Cluster's REST API, loopback only
    "node_api": 8701,  # the ProML node's HTTP API, loopback unless the organisation puts a proxy before it
}
PUBLIC_PORTS = ("p2p", "ipfs_swarm", "cluster")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_SLUG = re.compile(r"[^a-z0-9]+")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


class MembersError(ValueError):
    """A members file that cannot be used. `field` is the path of the offending field ("" for the file)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


@dataclass(frozen=True)
class PublicIdentity:
    """What the others need of an organisation's own keys: its chain node's public key (the enode id, 128
    hex digits) and the peer ids of its Kubo and its cluster peer."""

    enode_id: str
    kubo_peer_id: str
    cluster_peer_id: str


IDENTITY_FIELDS = ("enode_id", "kubo_peer_id", "cluster_peer_id")


@dataclass(frozen=True)
class Org:
    """One organisation: its name, its folder's name in the output, its host and what it holds."""

    name: str
    slug: str
    host: str
    sealer: str | None  # Clique: the address geth seals with; QBFT: None (the node key's address)
    proml_address: str  # the organisation's ProML signing key (`proml init`), funded in the genesis
    ports: dict[str, int]
    # The organisation's own identities, made on its host (`proml production identity`): the generator then
    # writes none of its private keys. None: the generator makes them.
    identity: PublicIdentity | None = None

    @property
    def host_is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    def multiaddr_host(self) -> str:
        """The host as the first part of a libp2p multiaddress: /ip4/…, /ip6/… or /dns/…."""
        try:
            ip = ipaddress.ip_address(self.host)
        except ValueError:
            return f"/dns/{self.host}"
        return f"/ip{ip.version}/{self.host}"


@dataclass(frozen=True)
class Deploy:
    """Where the files go on each organisation's host, and who runs the services."""

    config_dir: str = "/etc/proml"  # the organisation's folder of the output is copied here
    data_dir: str = "/var/lib/proml"  # chain, IPFS, cluster and node data
    bin_dir: str = "/usr/local/bin"  # geth (or besu), ipfs, ipfs-cluster-service
    proml: str = "/opt/proml/bin/proml"  # the `proml` command of the proml-node installation
    user: str = "proml"  # the system user the services run as


@dataclass(frozen=True)
class Members:
    consortium: str
    chain_id: int
    chain: str  # "clique" or "qbft"
    block_period: int  # seconds between blocks
    fund_wei: int  # the balance each organisation's ProML address gets in the genesis
    deploy: Deploy
    orgs: tuple[Org, ...]


def load_members(path: Path) -> Members:
    """Read and check the members file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MembersError("", f"no members file at {path}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MembersError("", f"{path} is not valid TOML: {exc}") from None
    return parse_members(document)


def parse_members(document: dict[str, Any]) -> Members:
    _known(document, "", {"consortium", "deploy", "orgs"})
    consortium = _table(document, "consortium")
    _known(consortium, "consortium", {"name", "chain_id", "chain", "block_period", "fund_eth"})
    name = _string(consortium, "consortium.name")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise MembersError("consortium.name", "letters, digits, '.', '_' or '-' (at most 64), starting alnum")
    chain_id = _integer(consortium, "consortium.chain_id", low=1, high=2**53 - 1)
    chain = _string(consortium, "consortium.chain")
    if chain not in CHAIN_KINDS:
        raise MembersError("consortium.chain", f"must be one of {', '.join(CHAIN_KINDS)}, not {chain!r}")
    period = _integer(consortium, "consortium.block_period", low=1, high=60, default=2)
    fund_eth = _integer(consortium, "consortium.fund_eth", low=1, high=10**12, default=1_000_000)
    deploy = _deploy(document.get("deploy", {}))
    raw_orgs = document.get("orgs")
    if not isinstance(raw_orgs, list) or not raw_orgs:
        raise MembersError("orgs", "must list the organisations ([[orgs]] tables), at least one")
    orgs = tuple(_org(raw, f"orgs[{i}]", chain) for i, raw in enumerate(raw_orgs))
    _unique(orgs)
    return Members(name, chain_id, chain, period, fund_eth * 10**18, deploy, orgs)


def _deploy(raw: Any) -> Deploy:
    if not isinstance(raw, dict):
        raise MembersError("deploy", "must be a table ([deploy])")
    _known(raw, "deploy", {"config_dir", "data_dir", "bin_dir", "proml", "user"})
    values: dict[str, str] = {}
    for key in ("config_dir", "data_dir", "bin_dir", "proml"):
        if key in raw:
            value = _string(raw, f"deploy.{key}")
            if not PurePosixPath(value).is_absolute() or any(c in value for c in " \"'\\$`"):
                raise MembersError(
                    f"deploy.{key}", f"must be an absolute path without spaces or quotes, not {value!r}"
                )
            values[key] = value.rstrip("/") or "/"
    if "user" in raw:
        user = _string(raw, "deploy.user")
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", user):
            raise MembersError("deploy.user", f"must be a system user name, not {user!r}")
        values["user"] = user
    return Deploy(**values)


def _org(raw: Any, where: str, chain: str) -> Org:
    if not isinstance(raw, dict):
        raise MembersError(where, "must be a table ([[orgs]])")
    _known(raw, where, {"name", "host", "sealer", "proml_address", "ports", *IDENTITY_FIELDS})
    name = _string(raw, f"{where}.name")
    if name != name.strip() or any(ord(c) < 32 for c in name):
        raise MembersError(f"{where}.name", "must not start or end with spaces, nor hold control characters")
    slug = _SLUG.sub("-", name.lower()).strip("-")
    if not slug:
        raise MembersError(
            f"{where}.name", f"needs a letter or digit (it names the org's folder), not {name!r}"
        )
    host = _string(raw, f"{where}.host")
    if not _is_host(host):
        raise MembersError(f"{where}.host", f"must be an IP address or a DNS name, not {host!r}")
    if chain == "clique":
        sealer: str | None = _address(raw, f"{where}.sealer")
    else:
        if "sealer" in raw:
            raise MembersError(
                f"{where}.sealer",
                "QBFT validators are the chain client's node keys, which this command generates: remove it",
            )
        sealer = None
    proml_address = _address(raw, f"{where}.proml_address")
    if sealer is not None and sealer == proml_address:
        raise MembersError(
            f"{where}.proml_address",
            "must not be the sealer: the sealing key stays unlocked in geth, the ProML key must not"
            " (docs/operations.md)",
        )
    ports = dict(DEFAULT_PORTS)
    raw_ports = raw.get("ports", {})
    if not isinstance(raw_ports, dict):
        raise MembersError(f"{where}.ports", "must be a table ([orgs.ports])")
    _known(raw_ports, f"{where}.ports", set(DEFAULT_PORTS))
    for key in raw_ports:
        ports[key] = _integer(raw_ports, f"{where}.ports.{key}", low=1, high=65535)
    taken: dict[int, str] = {}
    for key, port in ports.items():
        if port in taken:
            raise MembersError(f"{where}.ports.{key}", f"{port} is {where}.ports.{taken[port]} already")
        taken[port] = key
    return Org(name, slug, host, sealer, proml_address, ports, _identity(raw, where))


def _identity(raw: dict[str, Any], where: str) -> PublicIdentity | None:
    given = [key for key in IDENTITY_FIELDS if key in raw]
    if not given:
        return None
    for key in IDENTITY_FIELDS:
        if key not in raw:
            raise MembersError(
                f"{where}.{key}",
                f"is missing: give all of {', '.join(IDENTITY_FIELDS)} (`proml production identity`)",
            )
    enode_id = _string(raw, f"{where}.enode_id").lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{128}", enode_id) or not is_public_key(bytes.fromhex(enode_id)):
        raise MembersError(
            f"{where}.enode_id", "must be a secp256k1 public key: 128 hex digits, as an enode has"
        )
    peers = []
    for key in ("kubo_peer_id", "cluster_peer_id"):
        value = _string(raw, f"{where}.{key}")
        if not is_ed25519_peer_id(value):
            raise MembersError(
                f"{where}.{key}", f"must be an Ed25519 libp2p peer id (12D3KooW...), not {value!r}"
            )
        peers.append(value)
    return PublicIdentity(enode_id, peers[0], peers[1])


def _unique(orgs: tuple[Org, ...]) -> None:
    seen: dict[str, dict[str, int]] = {"name": {}, "slug": {}, "sealer": {}, "proml_address": {}}
    addresses: dict[str, str] = {}
    for i, org in enumerate(orgs):
        for key, value in (("name", org.name.casefold()), ("slug", org.slug)):
            if value in seen[key]:
                raise MembersError(
                    f"orgs[{i}].name",
                    f"{org.name!r} is orgs[{seen[key][value]}]'s name (or its folder's) already",
                )
            seen[key][value] = i
        for key in ("sealer", "proml_address"):
            value = getattr(org, key)
            if value is None:
                continue
            if value in addresses:
                raise MembersError(f"orgs[{i}].{key}", f"{value} is {addresses[value]} already")
            addresses[value] = f"orgs[{i}].{key}"
    hosts: dict[tuple[str, int], str] = {}
    for i, org in enumerate(orgs):
        for key in PUBLIC_PORTS:
            spot = (org.host.lower(), org.ports[key])
            if spot in hosts:
                raise MembersError(f"orgs[{i}].ports.{key}", f"{org.host}:{spot[1]} is {hosts[spot]} already")
            hosts[spot] = f"orgs[{i}].ports.{key}"


def _known(table: dict[str, Any], where: str, known: set[str]) -> None:
    for key in table:
        if key not in known:
            field = f"{where}.{key}" if where else key
            raise MembersError(field, f"unknown field (known here: {', '.join(sorted(known))})")


def _table(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    if not isinstance(value, dict):
        raise MembersError(key, f"is missing: a [{key}] table is required")
    return value


def _leaf(field: str) -> str:
    return field.rsplit(".", 1)[-1]


def _string(table: dict[str, Any], field: str) -> str:
    value = table.get(_leaf(field))
    if value is None:
        raise MembersError(field, "is missing")
    if not isinstance(value, str) or not value:
        raise MembersError(field, f"must be a non-empty string, not {value!r}")
    return value


def _integer(table: dict[str, Any], field: str, *, low: int, high: int, default: int | None = None) -> int:
    value = table.get(_leaf(field), default)
    if value is None:
        raise MembersError(field, "is missing")
    if not isinstance(value, int) or isinstance(value, bool):
        raise MembersError(field, f"must be an integer, not {value!r}")
    if not low <= value <= high:
        raise MembersError(field, f"must be between {low} and {high}, not {value}")
    return value


def _address(table: dict[str, Any], field: str) -> str:
    value = _string(table, field)
    if not _ADDRESS.fullmatch(value):
        raise MembersError(field, f"must be a 0x-prefixed address (40 hex digits), not {value!r}")
    if value != value.lower() and value[2:] != value[2:].upper() and to_checksum_address(value) != value:
        raise MembersError(field, f"has a wrong checksum (mixed case): {value}; check it")
    return to_checksum_address(value)


def _is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return bool(_HOSTNAME.fullmatch(value)) and not value.replace(".", "").isdigit()
    return True
