"""Which node a command talks to, with which key; and how what goes wrong becomes an exit code.

The node's URL comes from `--node-url`, else PROML_NODE_URL, else the `api.host`/`api.port` of a node.toml
(`--config`, PROML_CONFIG, or ./.proml/node.toml if it exists). The API key comes from `--api-key`, else
PROML_API_KEY, else a file (`--api-key-file`, PROML_API_KEY_FILE): node.toml never holds one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from proml.sdk import ConfigurationError, ProMLError, WaitTimeout, connect
from proml.sdk.transport import check_url

from .interrupted import tracker
from .needs import DEFAULT_CONFIG, needs
from .output import fail

# A node bound to every interface is reached on loopback from the machine it runs on.
_ANY_HOST = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True)
class Target:
    url: str
    api_key: str | None


def resolve(
    node_url: str | None, api_key: str | None, api_key_file: Path | None, config: Path | None
) -> Target:
    """The node and key from the flags (click has already put the environment variables in)."""
    try:
        url = check_url(node_url or _url_from_config(config))
    except ConfigurationError as exc:
        fail(str(exc))
    if api_key is None and api_key_file is not None:
        try:
            api_key = api_key_file.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            fail(f"cannot read the API key file {api_key_file}: {exc.strerror}")
    return Target(url, api_key)


def _url_from_config(config: Path | None) -> str:
    path = config if config is not None else DEFAULT_CONFIG
    if config is None and not path.exists():
        fail(
            "no node to talk to: pass --node-url (or set PROML_NODE_URL), or --config with the node's "
            "node.toml (`proml devnet status --json` shows the URLs of a local consortium)"
        )
    with needs("proml-node"):
        from proml.node.config import ConfigError, load_config
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        fail(str(exc))
    host = _ANY_HOST.get(loaded.api_host, loaded.api_host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{loaded.api_port}"


def connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say which node to talk to; they reach `func` as one `target: Target`."""

    @click.option("--node-url", envvar="PROML_NODE_URL", help="The node's API (env PROML_NODE_URL).")
    @click.option("--api-key", envvar="PROML_API_KEY", help="An API key of the node (env PROML_API_KEY).")
    @click.option(
        "--api-key-file",
        envvar="PROML_API_KEY_FILE",
        type=click.Path(path_type=Path, dir_okay=False),
        help="A file holding the API key (env PROML_API_KEY_FILE).",
    )
    @click.option(
        "--config",
        "config_path",
        envvar="PROML_CONFIG",
        type=click.Path(path_type=Path, dir_okay=False),
        help=f"The node's node.toml, for its URL (env PROML_CONFIG; default {DEFAULT_CONFIG} if present).",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        node_url: str | None,
        api_key: str | None,
        api_key_file: Path | None,
        config_path: Path | None,
        **kwargs: Any,
    ) -> Any:
        return func(*args, target=resolve(node_url, api_key, api_key_file, config_path), **kwargs)

    return wrapper


def with_node(func: Callable[..., Any]) -> Callable[..., Any]:
    """`connection_options`, then a connected SDK `Node` passed as `node` (and the `target`), with every
    SDK error turned into its message and an exit code."""

    @connection_options
    @functools.wraps(func)
    def wrapper(*args: Any, target: Target, **kwargs: Any) -> Any:
        if target.api_key is None:
            fail(
                f"no API key for {target.url}: pass --api-key or --api-key-file, or set PROML_API_KEY "
                "(`proml node key --name cli --scopes write` creates one; `proml devnet status --json` "
                "shows a local consortium's)"
            )
        # The command's tracker hears every request and answer, for what Ctrl-C says was stored.
        watch = tracker().watch(click.get_current_context().info_name or "")
        with sdk_errors(), connect(target.url, target.api_key, watch=watch) as node:
            return func(*args, node=node, target=target, **kwargs)

    return wrapper


@contextmanager
def sdk_errors() -> Iterator[None]:
    """An SDK error is a usage or connection problem (exit 2): say it, and what to do, without a
    traceback. Each SDK message already names the next step (a refusal by the chain says who may do it
    instead); a timeout needs the CLI's words."""
    try:
        yield
    except WaitTimeout as exc:
        fail(f"{exc}; it stays in the node's outbox and will land: look again with `proml history`")
    except ProMLError as exc:
        code = getattr(exc, "code", None)
        fail(f"{exc}" + (f" [{code}]" if code else ""))
