"""The node's background work, in a process of its own: the submitter, the document pins, the index, the
replicator and the outbox's checkpoints (and the return of its freed heap, `heap`).

Why a process: the API acknowledges a write as soon as its outbox entry is on disk, and must not wait for
the interpreter while the background work builds documents, signs transactions and decodes logs. Both
processes open the same SQLite files (the outbox serialises writers across processes, the index is read
in snapshots). Only this process decrypts the key: the one that parses HTTP requests never holds it.

The process dies with the node that started it and holds a lock on the data folder, so that one worker
at most runs per node (`os_process` does both).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from . import heap, os_process
from .clients.chain import ChainClientError
from .clients.keystore import KeystoreError, read_passphrase
from .composition import BackgroundServices, background_services
from .config import NodeConfig
from .services.interruptible_sleep import wait_or_stop

log = logging.getLogger(__name__)

STATUS_FILE = "background.json"
LOCK_FILE = "background.lock"
INDEX_INTERVAL = 0.25
CHECKPOINT_INTERVAL = 2.0
STATUS_INTERVAL = 1.0
# Behind the API's process for the CPU: a request waiting to be acknowledged goes first, and this
# work catches up in the gaps (it is batched, so it loses little by waiting).
BACKGROUND_NICENESS = 10
# What `ps` and /proc/PID/comm show for it (Linux keeps 15 characters).
PROCESS_NAME = "proml-node-bg"


class Background:
    """The background process's loops, over the services it has built for itself."""

    def __init__(self, services: BackgroundServices, status_path: Path) -> None:
        self.services = services
        self.index_error: str | None = None
        self._status_path = status_path

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(
            self.services.submitter.run(stop),
            self.services.submitter.run_pins(stop),
            self._follow_chain(stop),
            self.services.replicator.run(stop),
            self._checkpoint_outbox(stop),
            self._report_status(stop),
            heap.release_periodically(stop),
        )

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "updated_at": time.time(),
            "submitter_error": self.services.submitter.last_error,
            "index_error": self.index_error,
            "replication": self.services.replicator.status(),
        }

    async def _follow_chain(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.services.index.sync)
                self.index_error = None
            except ChainClientError as exc:
                self.index_error = f"{type(exc).__name__}: {exc}"
                log.warning("index: %s", self.index_error)
            await wait_or_stop(stop, INDEX_INTERVAL)

    async def _checkpoint_outbox(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.services.outbox.checkpoint)
            await wait_or_stop(stop, CHECKPOINT_INTERVAL)

    async def _report_status(self, stop: asyncio.Event) -> None:
        """Write what the node's health report needs, for the API's process to read."""
        while not stop.is_set():
            write_status(self._status_path, self.status())
            await wait_or_stop(stop, STATUS_INTERVAL)


def write_status(path: Path, status: dict[str, Any]) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(status))
    os.replace(partial, path)


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        status: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return status


def process(config: NodeConfig, chain_id: int, passphrase: str | None) -> os_process.BackgroundProcess:
    """The API's handle on the background process, not started yet. `passphrase`: what `proml node start`
    took out of its environment, handed to each process it starts (None: the process reads the configured
    file or variable itself, `keystore.read_passphrase`)."""
    return os_process.BackgroundProcess(main, (config, chain_id, passphrase), PROCESS_NAME)


def main(
    config: NodeConfig,
    chain_id: int,
    passphrase: str | None,
    parent: int,
    log_level: int,
    ready: Connection,
) -> None:
    """The background process: dies with `parent`; decrypts the key; works until SIGTERM or SIGINT."""
    os_process.become_background(parent, PROCESS_NAME, BACKGROUND_NICENESS)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with os_process.exclusive(config.data_dir / LOCK_FILE) as locked:
        if not locked:
            os_process.refuse_start(ready, f"another background process holds {config.data_dir / LOCK_FILE}")
        try:
            if passphrase is None:
                passphrase = read_passphrase(config.passphrase_env, config.passphrase_file)
            from .providers.signer import Signer  # the signing code, loaded in this process only

            signer = Signer.from_keystore(config.keystore, passphrase)
            background = Background(
                background_services(config, signer, chain_id), config.data_dir / STATUS_FILE
            )
        except KeystoreError as exc:
            os_process.refuse_start(ready, str(exc))
        asyncio.run(os_process.serve(background.run, parent, ready, background.services.close))
