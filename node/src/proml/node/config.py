"""A node's configuration: one TOML file per node, overridden by `PROML_*` environment variables.

The file never holds a secret: the keystore passphrase comes from an environment variable or a file
(see `proml.node.clients.keystore.read_passphrase`), named here.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONFIG_FILE_NAME = "node.toml"
REPLICATION_POLICIES = ("all", "dependencies")
# `cluster.replication`: how many organisations' IPFS daemons hold each payload, or all of them.
EVERY_ORGANISATION = "all"
DIGEST_ALGORITHMS = ("sha256", "blake3")
GWEI = 10**9
# Blocks on top of a transaction's own (counting it) before its records are final. geth's Clique
# reorganises the last block or two when out-of-turn signers race; five is past that. Instant-finality
# BFT chains (Besu QBFT/IBFT 2.0) can use 1 (docs/node.md, "Finality and fees").
DEFAULT_CONFIRMATIONS = 5


class ConfigError(Exception):
    """The configuration cannot be used; the message names the setting and what to do."""


@dataclass(frozen=True)
class NodeConfig:
    """Every setting of a node. Once loaded, paths are absolute: relative ones start at the file's folder."""

    org: str
    data_dir: Path
    keystore: Path
    passphrase_env: str = "PROML_PASSPHRASE"
    passphrase_file: Path | None = None
    chain_url: str = "http://127.0.0.1:8545"
    registry: str = ""
    confirmations: int = DEFAULT_CONFIRMATIONS
    chain_id: int | None = None  # pinned: a node pointed at another chain refuses to start
    # Final entries whose block is at most this many blocks below the head are still checked against
    # the canonical chain (a reorganisation deeper than `confirmations` sends them again).
    watch_blocks: int = 256
    chain_wait: float = 60.0  # seconds `node start` waits for a chain that does not answer yet
    ipfs_api: str = "http://127.0.0.1:5001"
    api_host: str = "127.0.0.1"
    api_port: int = 8701
    replication: str = "all"
    # The organisation's own IPFS Cluster peer (its REST API); empty: no cluster, the node pins in its own
    # IPFS daemon only. `cluster_replication`: an integer >= 1, or "all" (every organisation's peer).
    cluster_api: str = ""
    cluster_replication: int | str = EVERY_ORGANISATION
    digest_algorithm: str = "sha256"
    # What one client may ask of the API (docs/node.md, "Limits"): JSON bodies (payload and verify uploads
    # stream and have no size limit), waits for a slow client, connections.
    max_body_bytes: int = 1 << 20
    max_json_depth: int = 64
    request_timeout: int = 30
    keepalive_timeout: int = 5
    max_connections: int = 256
    # Fees (docs/node.md, "Finality and fees"): None asks the chain (its priority fee; 2 x base fee
    # + tip). A transaction not included after `replace_after` seconds is sent again with the same
    # nonce and fees raised by `bump_percent`, never above `max_fee_gwei` per gas.
    priority_fee_gwei: float | None = None
    fee_cap_gwei: float | None = None
    max_fee_gwei: float = 1000.0
    replace_after: float = 60.0
    bump_percent: int = 20

    def __post_init__(self) -> None:
        if not self.org.strip():
            raise ConfigError("node.org must name the organisation")
        for name, check in _CHECKS.items():
            problem = check(getattr(self, name))
            if problem is not None:
                section, key = _LOCATIONS[name]
                raise ConfigError(f"{section}.{key} {problem}, not {getattr(self, name)!r}")
        for name in ("fee_cap_gwei", "priority_fee_gwei"):
            value = getattr(self, name)
            if value is not None and value > self.max_fee_gwei:
                raise ConfigError(
                    f"fees.{name} ({value}) must not exceed fees.max_fee_gwei ({self.max_fee_gwei})"
                )
        if not 0 < self.api_port < 65536:
            raise ConfigError(f"api.port must be a TCP port (1-65535), not {self.api_port}")
        if self.replication not in REPLICATION_POLICIES:
            raise ConfigError(f"replication.policy must be one of {', '.join(REPLICATION_POLICIES)}")
        if self.digest_algorithm not in DIGEST_ALGORITHMS:
            raise ConfigError(f"node.digest_algorithm must be one of {', '.join(DIGEST_ALGORITHMS)}")

    @property
    def cluster_factors(self) -> tuple[int, int]:
        """`cluster.replication` as the cluster's replication-min and -max: -1 for every peer."""
        if isinstance(self.cluster_replication, int):
            return self.cluster_replication, self.cluster_replication
        return -1, -1


# (TOML section, key) of each field, and the environment variable that overrides it.
_LOCATIONS: dict[str, tuple[str, str]] = {
    "org": ("node", "org"),
    "data_dir": ("node", "data_dir"),
    "digest_algorithm": ("node", "digest_algorithm"),
    "keystore": ("wallet", "keystore"),
    "passphrase_env": ("wallet", "passphrase_env"),
    "passphrase_file": ("wallet", "passphrase_file"),
    "chain_url": ("chain", "url"),
    "registry": ("chain", "registry"),
    "confirmations": ("chain", "confirmations"),
    "chain_id": ("chain", "chain_id"),
    "watch_blocks": ("chain", "watch_blocks"),
    "chain_wait": ("chain", "startup_timeout"),
    "priority_fee_gwei": ("fees", "priority_fee_gwei"),
    "fee_cap_gwei": ("fees", "fee_cap_gwei"),
    "max_fee_gwei": ("fees", "max_fee_gwei"),
    "replace_after": ("fees", "replace_after"),
    "bump_percent": ("fees", "bump_percent"),
    "ipfs_api": ("ipfs", "api"),
    "api_host": ("api", "host"),
    "api_port": ("api", "port"),
    "max_body_bytes": ("api", "max_body_bytes"),
    "max_json_depth": ("api", "max_json_depth"),
    "request_timeout": ("api", "request_timeout"),
    "keepalive_timeout": ("api", "keepalive_timeout"),
    "max_connections": ("api", "max_connections"),
    "replication": ("replication", "policy"),
    "cluster_api": ("cluster", "api"),
    "cluster_replication": ("cluster", "replication"),
}
ENVIRONMENT = {name: f"PROML_{section.upper()}_{key.upper()}" for name, (section, key) in _LOCATIONS.items()}
_PATHS = {"data_dir", "keystore", "passphrase_file"}
_API_LIMITS = ("max_body_bytes", "max_json_depth", "request_timeout", "keepalive_timeout", "max_connections")
_INTS = {"confirmations", "chain_id", "watch_blocks", "bump_percent", "api_port", *_API_LIMITS}
_NUMBERS = {"chain_wait", "priority_fee_gwei", "fee_cap_gwei", "max_fee_gwei", "replace_after"}


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> NodeConfig:
    """Read `path`, apply `PROML_*` overrides from `environ` (default: the process environment)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"no node configuration at {path}: create one with `proml init --org NAME`"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    _refuse_unknown(document, path)
    values: dict[str, Any] = {}
    for name, (section, key) in _LOCATIONS.items():
        table = document.get(section, {})
        if isinstance(table, dict) and key in table:
            values[name] = table[key]
    env = os.environ if environ is None else environ
    for name, variable in ENVIRONMENT.items():
        if env.get(variable):
            values[name] = env[variable]
    return _build(values, base=path.parent)


def _refuse_unknown(document: Mapping[str, Any], path: Path) -> None:
    """A misspelt setting would otherwise be ignored, silently, and its default used."""
    known: dict[str, set[str]] = {}
    for section, key in _LOCATIONS.values():
        known.setdefault(section, set()).add(key)
    for section, table in document.items():
        if section not in known:
            raise ConfigError(f"{path}: unknown section [{section}] (known: {', '.join(sorted(known))})")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section} must be a table ([{section}]), not {table!r}")
        for key in table:
            if key not in known[section]:
                names = ", ".join(sorted(known[section]))
                raise ConfigError(f"{path}: unknown setting {section}.{key} (known in [{section}]: {names})")


def _build(values: dict[str, Any], base: Path) -> NodeConfig:
    for required in ("org", "data_dir", "keystore"):
        if required not in values:
            section, key = _LOCATIONS[required]
            raise ConfigError(f"{section}.{key} is missing (or set {ENVIRONMENT[required]})")
    converted: dict[str, Any] = {}
    for name, value in values.items():
        section, key = _LOCATIONS[name]
        if name in _PATHS:
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{section}.{key} must be a path, not {value!r}")
            converted[name] = (base / Path(value)).resolve()
        elif name in _INTS:
            converted[name] = _integer(value, f"{section}.{key}")
        elif name in _NUMBERS:
            converted[name] = _number(value, f"{section}.{key}")
        elif name == "cluster_replication":
            converted[name] = _replication_factor(value, f"{section}.{key}")
        elif isinstance(value, str):
            converted[name] = value
        else:
            raise ConfigError(f"{section}.{key} must be a string, not {value!r}")
    return NodeConfig(**converted)


def render_config(config: NodeConfig) -> str:
    """The TOML text of `config`, grouped by section, with paths as written."""
    sections: dict[str, list[str]] = {}
    for field in fields(config):
        value = getattr(config, field.name)
        if value is None:
            continue
        section, key = _LOCATIONS[field.name]
        rendered = str(value) if isinstance(value, (int, float)) else _toml_string(str(value))
        sections.setdefault(section, []).append(f"{key} = {rendered}")
    return "\n".join(f"[{name}]\n" + "\n".join(lines) + "\n" for name, lines in sections.items())


def _toml_string(value: str) -> str:
    # JSON's string escapes (\\, \", \n, \uXXXX) are all valid in a TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def _integer(value: Any, setting: str) -> int:
    """An integer from TOML (not a boolean, not a float) or from the environment's text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ConfigError(f"{setting} must be an integer, not {value!r}")


def _replication_factor(value: Any, setting: str) -> int | str:
    """`all`, or an integer (from TOML, or the environment's text); its range is checked with the rest."""
    if isinstance(value, str) and value.strip().lower() == EVERY_ORGANISATION:
        return EVERY_ORGANISATION
    try:
        return _integer(value, setting)
    except ConfigError:
        raise ConfigError(
            f'{setting} must be an integer of 1 or more, or "{EVERY_ORGANISATION}", not {value!r}'
        ) from None


def _number(value: Any, setting: str) -> float:
    """A finite number (integer or decimal) from TOML or from the environment's text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{setting} must be a number, not {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{setting} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{setting} must be a finite number, not {value!r}")
    return number


# -- what each setting may be: None if the value is fine, else what it must be -------------------------


def _url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host (e.g. http://127.0.0.1:8545)"
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number, or out of range)
    except ValueError:
        return "must have a port between 1 and 65535"
    return None


_HOSTNAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def _optional_url(value: str) -> str | None:
    return None if value == "" else _url(value)


def _factor(value: int | str) -> str | None:
    if value == EVERY_ORGANISATION or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return None
    return f'must be an integer of 1 or more, or "{EVERY_ORGANISATION}" (every organisation)'


def _host(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if _HOSTNAME.fullmatch(value):
        return None
    return "must be an IP address or a host name to bind (e.g. 127.0.0.1), without scheme or port"


def _at_least(low: float, high: float | None = None) -> Any:
    def check(value: float | None) -> str | None:
        if value is None:
            return None
        if value < low or (high is not None and value > high):
            return f"must be between {low:g} and {high:g}" if high is not None else f"must be {low:g} or more"
        return None

    return check


def _positive(value: float | None) -> str | None:
    return None if value is None or value > 0 else "must be more than 0"


def _variable(value: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) else "must be an environment variable name"


def _registry(value: str) -> str | None:
    if not value or re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        return None
    return "must be a 0x-prefixed address (40 hex digits)"


def _not_a_file(value: Path | None) -> str | None:
    return "must be a folder, but a file is there" if value is not None and value.is_file() else None


def _not_a_folder(value: Path | None) -> str | None:
    return "must be a file, but a folder is there" if value is not None and value.is_dir() else None


_CHECKS: dict[str, Any] = {
    "data_dir": _not_a_file,
    "keystore": _not_a_folder,
    "passphrase_file": _not_a_folder,
    "passphrase_env": _variable,
    "chain_url": _url,
    "registry": _registry,
    "confirmations": _at_least(1, 10_000),
    "chain_id": _at_least(1),
    "watch_blocks": _at_least(1, 100_000),
    "chain_wait": _at_least(0),
    "ipfs_api": _url,
    "cluster_api": _optional_url,
    "cluster_replication": _factor,
    "api_host": _host,
    "priority_fee_gwei": _at_least(0),
    "fee_cap_gwei": _positive,
    "max_fee_gwei": _positive,
    "replace_after": _positive,
    # geth and Besu refuse a replacement that raises the fees by less than 10 %.
    "bump_percent": _at_least(10, 1000),
    "max_body_bytes": _at_least(1),
    "max_json_depth": _at_least(1, 1000),
    "request_timeout": _at_least(1),
    "keepalive_timeout": _at_least(1),
    "max_connections": _at_least(1),
}
