"""ProML: decentralised provenance for machine learning."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("proml")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "connect"]


def connect(url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0) -> Any:
    """`proml.connect()`: a connection to a ProML node for a training script (see `proml.sdk`)."""
    from proml.sdk import connect as sdk_connect

    return sdk_connect(url, api_key, timeout=timeout)
