"""A node's configuration: one TOML file per node, overridden by `PROML_*` environment variables.

The file never holds a secret: the keystore passphrase comes from an environment variable or a file
(see `proml.node.clients.wallet.read_passphrase`), named here.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

CONFIG_FILE_NAME = "node.toml"
REPLICATION_POLICIES = ("all", "dependencies")
DIGEST_ALGORITHMS = ("sha256", "blake3")


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
    confirmations: int = 1
    ipfs_api: str = "http://127.0.0.1:5001"
    api_host: str = "127.0.0.1"
    api_port: int = 8701
    replication: str = "all"
    digest_algorithm: str = "sha256"

    def __post_init__(self) -> None:
        if not self.org.strip():
            raise ConfigError("node.org must name the organisation")
        if self.confirmations < 0:
            raise ConfigError("chain.confirmations must be 0 or more")
        if not 0 < self.api_port < 65536:
            raise ConfigError(f"api.port must be a TCP port (1-65535), not {self.api_port}")
        if self.replication not in REPLICATION_POLICIES:
            raise ConfigError(f"replication.policy must be one of {', '.join(REPLICATION_POLICIES)}")
        if self.digest_algorithm not in DIGEST_ALGORITHMS:
            raise ConfigError(f"node.digest_algorithm must be one of {', '.join(DIGEST_ALGORITHMS)}")
        if self.registry and not (self.registry.startswith("0x") and len(self.registry) == 42):
            raise ConfigError(f"chain.registry must be a 0x-prefixed address, not {self.registry!r}")


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
    "ipfs_api": ("ipfs", "api"),
    "api_host": ("api", "host"),
    "api_port": ("api", "port"),
    "replication": ("replication", "policy"),
}
ENVIRONMENT = {name: f"PROML_{section.upper()}_{key.upper()}" for name, (section, key) in _LOCATIONS.items()}
_PATHS = {"data_dir", "keystore", "passphrase_file"}
_INTS = {"confirmations", "api_port"}


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


def _build(values: dict[str, Any], base: Path) -> NodeConfig:
    for required in ("org", "data_dir", "keystore"):
        if required not in values:
            section, key = _LOCATIONS[required]
            raise ConfigError(f"{section}.{key} is missing (or set {ENVIRONMENT[required]})")
    converted: dict[str, Any] = {}
    for name, value in values.items():
        section, key = _LOCATIONS[name]
        if name in _PATHS:
            converted[name] = (base / Path(str(value))).resolve()
        elif name in _INTS:
            try:
                converted[name] = int(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{section}.{key} must be an integer, not {value!r}") from None
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
        rendered = str(value) if isinstance(value, int) else _toml_string(str(value))
        sections.setdefault(section, []).append(f"{key} = {rendered}")
    return "\n".join(f"[{name}]\n" + "\n".join(lines) + "\n" for name, lines in sections.items())


def _toml_string(value: str) -> str:
    # JSON's string escapes (\\, \", \n, \uXXXX) are all valid in a TOML basic string.
    return json.dumps(value, ensure_ascii=False)
