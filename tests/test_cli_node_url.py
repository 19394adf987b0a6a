"""A node URL that cannot be a node's (no scheme, another scheme, no host), and one where another server
answers: the command says so in one line, exit 2, and the SDK raises the matching error."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from proml import sdk
from proml.cli.main import cli
from proml.sdk import ConfigurationError, NotAProMLNode
from proml.sdk.transport import check_url


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # its access log would land in the CLI's stderr
        pass


@pytest.fixture
def other_server(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server that is not a ProML node (python's http.server: HTML pages, 501 to a POST)."""
    (tmp_path / "index.html").write_text("<html><body>Someone else's site</body></html>")
    handler = functools.partial(_QuietFiles, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    "command",
    [
        ["member", "list"],
        ["history", "0x" + "12" * 20],
        ["dataset", "register", "pyproject.toml", "--name", "x"],
    ],
)
def test_a_command_pointed_at_another_server_says_it_is_not_a_proml_node(
    other_server: str, command: list[str]
) -> None:
    result = CliRunner().invoke(cli, [*command, "--node-url", other_server, "--api-key", "k"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {other_server} is not a ProML node: it answered ")
    assert "(text/html)" in result.stderr and "--node-url" in result.stderr
    assert result.stderr.count("\n") == 1 and "<" not in result.stderr


def test_the_sdk_raises_not_a_proml_node_for_another_server(other_server: str) -> None:
    with sdk.connect(other_server, "k") as node, pytest.raises(NotAProMLNode, match="is not a ProML node"):
        node.health()


@pytest.mark.parametrize("url", ["localhost:8702", "127.0.0.1:8702"])
@pytest.mark.parametrize("command", [["history", "0xdead", "--api-key", "k"], ["node", "status"]])
def test_a_url_without_a_scheme_is_explained(url: str, command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--node-url", url])
    assert result.exit_code == 2
    assert result.stderr == f"Error: the node URL '{url}' has no scheme: add http:// (http://{url})\n"
    with pytest.raises(ConfigurationError, match="add http://"):
        sdk.connect(url, "k")


def test_a_url_of_another_scheme_or_without_a_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="must start with http:// or https://"):
        check_url("ftp://127.0.0.1:8702")
    with pytest.raises(ConfigurationError, match="names no host"):
        check_url("http://:8702")
    assert check_url("http://127.0.0.1:8702/") == "http://127.0.0.1:8702"


def test_node_status_says_when_no_node_answers_or_another_server_does(other_server: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = CliRunner().invoke(cli, ["node", "status", "--node-url", nobody])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: no node answers at {nobody} (ConnectError): start it with `proml node start`\n"
    )
    other = CliRunner().invoke(cli, ["node", "status", "--node-url", other_server])
    assert other.exit_code == 2
    assert other.stderr == (
        f"Error: {other_server} answered, but not with a ProML health report: is --node-url right?\n"
    )
