"""What an interrupted `proml` command says (exit 130): what the node had stored, from the requests and
answers its tracker heard (the same against a real node, in its own process: test_cli_on_devnet.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click
import pytest
from click.testing import CliRunner

from proml.cli.exit_codes import EXIT_INTERRUPTED
from proml.cli.interrupted import Tracker, tracker
from proml.cli.main import cli


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
