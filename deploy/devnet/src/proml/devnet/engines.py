"""Where the consortium's engines are: geth, Kubo and IPFS Cluster, built from their Go modules by
`deploy/engines/build.sh` (run by `make setup`) into a cache outside the work tree.

`PROML_ENGINES` names the cache (default `~/.cache/proml/engines`); each engine is in
`<cache>/<name>-<version>/bin/`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .processes import ToolMissing

GETH_VERSION = "v1.13.15"
KUBO_VERSION = "v0.43.1"
CLUSTER_VERSION = "v1.1.6"


def cache_dir() -> Path:
    override = os.environ.get("PROML_ENGINES")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "proml" / "engines"


def _binary(engine: str, version: str, name: str) -> Path:
    path = cache_dir() / f"{engine}-{version}" / "bin" / name
    if not os.access(path, os.X_OK):
        raise ToolMissing(f"no {name} at {path}: run `make setup` (it builds the engines from Go modules)")
    return path


def geth() -> Path:
    return _binary("geth", GETH_VERSION, "geth")


def ipfs() -> Path:
    return _binary("kubo", KUBO_VERSION, "ipfs")


def cluster_service() -> Path:
    return _binary("ipfs-cluster", CLUSTER_VERSION, "ipfs-cluster-service")
