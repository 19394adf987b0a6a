"""The passphrase out of a process's environment (proml.node.passphrase_handoff), in a child Python that
does what `proml node start` does first, and reports what its own /proc/PID/environ holds afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys

VARIABLE = "PROML_TEST_HANDOFF_PASSPHRASE"
PASSPHRASE = "correct horse battery staple"
CHILD = f"""
import json, os, sys
from proml.node.passphrase_handoff import received_passphrase, restart_without_passphrase
restart_without_passphrase({VARIABLE!r}, needed=sys.argv[1] == "needed")
print(json.dumps({{
    "received": received_passphrase(),
    "environ": open(f"/proc/{{os.getpid()}}/environ", "rb").read().decode(),
}}))
"""


def run_child(needed: str, environment: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, needed], env=environment, capture_output=True, text=True, check=True
    )
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_the_passphrase_leaves_the_environment_and_arrives_through_the_pipe() -> None:
    report = run_child("needed", {**os.environ, VARIABLE: PASSPHRASE})
    assert report["received"] == PASSPHRASE
    assert PASSPHRASE not in str(report["environ"])
    assert f"{VARIABLE}=" not in str(report["environ"])


def test_a_passphrase_not_needed_is_dropped_and_not_passed_on() -> None:
    report = run_child("not needed", {**os.environ, VARIABLE: PASSPHRASE})
    assert report["received"] is None
    assert PASSPHRASE not in str(report["environ"])


def test_without_the_variable_nothing_happens() -> None:
    environment = {name: value for name, value in os.environ.items() if name != VARIABLE}
    report = run_child("needed", environment)
    assert report["received"] is None
