"""The keystore passphrase out of the node's environment.

A process's environment stays readable for its whole life (`/proc/<pid>/environ` shows the block it was
started with, whatever it later removes from `os.environ`), and the API's process is meant never to hold
what opens the key. So `proml node start`, finding the passphrase variable in its environment, executes
itself again without it: the same process (same PID), a clean environment, and the value passed on
through an inherited pipe that it reads once. The API's process keeps the value in memory only, to hand
it to each background process it starts (through multiprocessing's pipe, never an environment).

With a passphrase file configured, the value is not needed here at all: the background process reads the
file; a passphrase variable that is set anyway is dropped the same way.
"""

from __future__ import annotations

import os
import sys

# The number of the inherited pipe's read end (not a secret).
PIPE_VARIABLE = "PROML_PASSPHRASE_PIPE"
# What a pipe surely holds without a reader (Linux holds 64 KiB; macOS 16 KiB).
MAX_PASSPHRASE_BYTES = 16 * 1024


class HandoffError(Exception):
    """The passphrase could not be passed on; the message says why (never the passphrase)."""


def restart_without_passphrase(variable: str, *, needed: bool) -> None:
    """If `variable` is in the environment, execute this program again without it (returns only when it
    is not there); the value goes through a pipe when `needed`, for `received_passphrase` to read."""
    value = os.environ.get(variable)
    if value is None:
        return
    environment = {name: text for name, text in os.environ.items() if name != variable}
    descriptors: list[int] = []
    if needed and value:
        encoded = value.encode("utf-8")
        if len(encoded) > MAX_PASSPHRASE_BYTES:
            raise HandoffError(f"the passphrase in {variable} is longer than {MAX_PASSPHRASE_BYTES} bytes")
        read_end, write_end = os.pipe()
        os.write(write_end, encoded)
        os.close(write_end)
        os.set_inheritable(read_end, True)
        environment[PIPE_VARIABLE] = str(read_end)
        descriptors.append(read_end)
    sys.stdout.flush()
    sys.stderr.flush()
    # sys.orig_argv: the interpreter's own arguments too (`python -m proml.cli.main ...` or the script).
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environment)


def received_passphrase() -> str | None:
    """The passphrase that `restart_without_passphrase` passed on, once (None if it passed none)."""
    descriptor = os.environ.pop(PIPE_VARIABLE, None)
    if descriptor is None:
        return None
    try:
        with os.fdopen(int(descriptor), "rb") as pipe:
            return pipe.read().decode("utf-8")
    except (OSError, ValueError) as exc:
        raise HandoffError(f"the passphrase could not be read from the pipe {descriptor}: {exc}") from None
