from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from proml import sdk
from proml.cli.exit_codes import EXIT_INTERRUPTED
from proml.cli.interrupted import Tracker, tracker
from proml.cli.main import cli
from proml.core.workflow import TRANSITIONS, AssetKind
from proml.sdk import ConfigurationError, NotAProMLNode, NotFound
from proml.sdk.refusals import refused
from proml.sdk.transport import check_url


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert version("proml-cli") in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2


# -- Ctrl-C: exit 130 and what was stored ------------------------------------------------------------


def _queued(ref: str = "outbox:ab12", kind: str = "register", **extra: Any) -> dict[str, Any]:
    return {"id": ref.removeprefix("outbox:"), "ref": ref, "kind": kind, "status": "queued", **extra}


def test_an_interruption_before_anything_was_sent_says_nothing_was_stored() -> None:
    tracker = Tracker().watch("register")
    with tracker.step("hashing big.bin"):
        assert tracker.message() == "interrupted while hashing big.bin: nothing was registered"
    assert tracker.message() == "interrupted: nothing was registered"


def test_an_interruption_after_the_upload_names_its_cid_and_that_nothing_was_registered() -> None:
    tracker = Tracker().watch("register")
    tracker.sending("POST", "/v1/payloads")
    tracker.answered("POST", "/v1/payloads", {"cid": "bafyX", "digest": "sha256:00", "size": 3})
    assert tracker.message() == "interrupted: the payload was uploaded (cid bafyX) but nothing was registered"
    tracker.sending("POST", "/v1/datasets")
    message = tracker.message()
    assert message.startswith("interrupted: the payload was uploaded (cid bafyX); and the registration was")
    assert "sent but not acknowledged: the node may have stored it" in message


def test_an_interruption_after_the_acknowledgement_names_the_outbox_entry_and_follows_its_state() -> None:
    tracker = Tracker().watch("register")
    tracker.sending("POST", "/v1/datasets")
    tracker.answered("POST", "/v1/datasets", _queued())
    assert tracker.message() == (
        "interrupted: the registration is stored in the node's outbox as outbox:ab12 and will be sent; "
        "follow it with `proml outbox show outbox:ab12 --wait`"
    )
    tracker.answered("GET", "/v1/outbox/ab12", {**_queued(), "status": "final", "asset": "0xA", "seq": 0})
    assert (
        tracker.message() == "interrupted: the registration outbox:ab12 is final on chain (asset 0xA, seq 0)"
    )
    failed = {**_queued(), "status": "failed", "error": "the chain refuses it: MissingRole(role=1)"}
    tracker.answered("GET", "/v1/outbox/ab12", failed)
    assert (
        "the chain refused the registration outbox:ab12: the chain refuses it: MissingRole"
        in tracker.message()
    )


def test_only_the_commands_own_writes_are_reported() -> None:
    tracker = Tracker().watch("record")
    tracker.sending("POST", "/v1/assets/0xA/verify")  # the node hashes it and stores nothing
    tracker.answered("GET", "/v1/outbox/cd34", _queued("outbox:cd34", "record", activity="train"))
    assert tracker.message() == "interrupted: nothing was recorded"
    tracker.answered("POST", "/v1/assets/0xA/records", _queued("outbox:ef56", "record", activity="train"))
    assert "the train record is stored in the node's outbox as outbox:ef56" in tracker.message()
    # A write the node answered with an error stored nothing.
    refused = Tracker().watch("register")
    refused.sending("POST", "/v1/datasets")
    refused.answered("POST", "/v1/datasets", None)
    assert refused.message() == "interrupted: nothing was registered"
    # A command that talks to no node (devnet, init) is not told about, either way.
    assert Tracker().message() == "interrupted"


@pytest.fixture
def interrupted_command() -> Iterator[str]:
    """A command of the real `proml` group that is interrupted while it hashes a file."""

    @click.command("interrupt-me")
    def interrupt_me() -> None:
        with tracker().watch("register").step("hashing big.bin"):
            raise KeyboardInterrupt

    cli.add_command(interrupt_me)
    try:
        yield "interrupt-me"
    finally:
        cli.commands.pop("interrupt-me")


def test_ctrl_c_exits_130_with_what_was_stored(interrupted_command: str) -> None:
    result = CliRunner().invoke(cli, [interrupted_command])
    assert result.exit_code == EXIT_INTERRUPTED == 130
    assert "interrupted while hashing big.bin: nothing was registered" in result.stderr
    assert "Aborted" not in result.output


# -- a URL that is not a ProML node --------------------------------------------------------------------


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


# -- refusals and activities ---------------------------------------------------------------------------


class _Index:
    """The one read `refused` makes: the asset's summary, as the node's index answers it."""

    def __init__(self, summary: dict[str, Any] | None) -> None:
        self.summary = summary
        self.paths: list[str] = []

    def get(self, path: str, **_: Any) -> Any:
        self.paths.append(path)
        if self.summary is None:
            raise NotFound("not indexed", status=404, code="unknown_asset")
        return self.summary


def test_a_not_owner_or_contributor_refusal_names_the_owner_and_contributors_not_roles() -> None:
    b, c, model = "0x" + "bb" * 20, "0x" + "cc" * 20, "0x" + "12" * 20
    view = {"id": "ab12", "asset": model, "activity": "train",
            "error": f"the chain refuses it: NotOwnerOrContributor(account={b})"}  # fmt: skip
    index = _Index({"address": model, "owner": c, "owner_name": "C"})
    error = refused(index, view)
    assert error.revert == "NotOwnerOrContributor"
    assert index.paths == [f"/v1/assets/{model}"]
    message = str(error)
    assert f"Only the owner of {model} and its contributors may record train on it" in message
    assert (
        f"and {b} is neither: the owner, C ({c}), can make it a contributor with addContributor({b})"
        in message
    )
    assert "member list" not in message
    assert "its owner (`proml dataset|model show` names it)" in str(refused(_Index(None), view))


def test_a_refusal_for_a_missing_role_points_at_roles_and_an_unknown_one_is_left_as_it_is() -> None:
    missing = refused(
        _Index(None), {"id": "1", "error": "the chain refuses it: MissingRole(account=0x1, role=4)"}
    )
    assert missing.revert == "MissingRole" and "`proml member list` shows" in str(missing)
    other = refused(_Index(None), {"id": "2", "error": "the batch reverted too often"})
    assert (
        other.revert is None
        and str(other) == "the chain refused outbox entry 2: the batch reverted too often"
    )


@pytest.mark.parametrize("kind", list(TRANSITIONS))
def test_record_help_lists_the_activities_of_the_kind(kind: AssetKind) -> None:
    result = CliRunner().invoke(cli, [kind.name.lower(), "record", "--help"])
    assert result.exit_code == 0
    listed = " ".join(result.output.split())
    names = ", ".join(activity.name.lower() for activity in TRANSITIONS[kind])
    assert f"A {kind.name.lower()}'s activities: {names}." in listed
    # An activity of neither table is refused here, before anything is hashed or sent.
    unknown = CliRunner().invoke(cli, [kind.name.lower(), "record", "0xA", "frobnicate"])
    assert unknown.exit_code == 2 and "'frobnicate' is not one of" in unknown.output
