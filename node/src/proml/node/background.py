"""The node's background work, in a process of its own: the submitter, the document pins, the index, the
replicator and the outbox's checkpoints.

Why a process: the API acknowledges a write as soon as its outbox entry is on disk, and must not wait for
the interpreter while the background work builds documents, signs transactions and decodes logs. Both
processes open the same SQLite files (the outbox serialises writers across processes, the index is read
in snapshots). Only this process decrypts the key: the one that parses HTTP requests never holds it.

The process dies with the node that started it (a SIGKILLed node leaves no worker behind to send
transactions twice) and holds a lock on the data folder, so that one worker at most runs per node.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .clients.chain import ChainClient, ChainClientError
from .clients.ipfs import IpfsClient
from .clients.wallet import WalletError, read_passphrase
from .config import GWEI, NodeConfig
from .paths import Paths
from .providers.blockchain import BlockchainProvider
from .providers.signer import Signer
from .providers.storage import StorageProvider
from .services.index import Index
from .services.interruptible_sleep import wait_or_stop
from .services.outbox import Outbox
from .services.query import Query
from .services.replicate import STATE_FILE as REPLICATION_FILE
from .services.replicate import Replicator
from .services.submitter import Submitter

log = logging.getLogger(__name__)

STATUS_FILE = "background.json"
LOCK_FILE = "background.lock"
INDEX_INTERVAL = 0.25
CHECKPOINT_INTERVAL = 2.0
STATUS_INTERVAL = 1.0
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
LOCK_TIMEOUT = 10.0
BACKGROUND_NICENESS = 10
# What `ps` and /proc/PID/comm show for it (Linux keeps 15 characters).
PROCESS_NAME = "proml-node-bg"
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


class BackgroundError(Exception):
    """The background process could not start; the message says why (never a secret)."""


class Background:
    """The services that work in the background, over connections of their own to the node's files."""

    def __init__(self, config: NodeConfig, signer: Signer, chain_id: int) -> None:
        paths = Paths.of(config.data_dir)
        self.config = config
        self.outbox = Outbox(paths.outbox)
        self.chain = BlockchainProvider(
            ChainClient(config.chain_url),
            signer,
            chain_id,
            confirmations=config.confirmations,
            # The submitter stores each next nonce with the signed transaction (`mark_submitted`).
            next_nonce=self.outbox.next_nonce(signer.address),
            priority_fee=_wei(config.priority_fee_gwei),
            fee_cap=_wei(config.fee_cap_gwei),
            max_fee=_wei(config.max_fee_gwei),
            bump_percent=config.bump_percent,
        )
        self.ipfs = IpfsClient(config.ipfs_api)
        storage = StorageProvider(self.ipfs, config.digest_algorithm)
        self.index = Index(paths.index, self.chain, config.registry, config.confirmations)
        self.query = Query(self.index)
        self.submitter = Submitter(
            self.outbox,
            self.chain,
            storage,
            config.registry,
            self.query.records,
            replace_after=config.replace_after,
            watch_blocks=config.watch_blocks,
        )
        self.replicator = Replicator(
            self.query, storage, signer.address, config.replication, config.data_dir / REPLICATION_FILE
        )
        self.index_error: str | None = None
        self._status_path = config.data_dir / STATUS_FILE

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(
            self.submitter.run(stop),
            self.submitter.run_pins(stop),
            self._follow_chain(stop),
            self.replicator.run(stop),
            self._checkpoint_outbox(stop),
            self._report_status(stop),
        )

    async def close(self) -> None:
        await self.ipfs.aclose()
        self.replicator.close()
        self.index.close()
        self.outbox.close()

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "updated_at": time.time(),
            "submitter_error": self.submitter.last_error,
            "index_error": self.index_error,
            "replication": self.replicator.status(),
        }

    async def _follow_chain(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.index.sync)
                self.index_error = None
            except ChainClientError as exc:
                self.index_error = f"{type(exc).__name__}: {exc}"
                log.warning("index: %s", self.index_error)
            await wait_or_stop(stop, INDEX_INTERVAL)

    async def _checkpoint_outbox(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.outbox.checkpoint)
            await wait_or_stop(stop, CHECKPOINT_INTERVAL)

    async def _report_status(self, stop: asyncio.Event) -> None:
        """Write what the node's health report needs, for the API's process to read."""
        while not stop.is_set():
            write_status(self._status_path, self.status())
            await wait_or_stop(stop, STATUS_INTERVAL)


def _wei(gwei: float | None) -> int | None:
    return None if gwei is None else round(gwei * GWEI)


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


# -- the process --------------------------------------------------------------------------------------


class BackgroundProcess:
    """The node's handle on its background process: start it, see whether it runs, stop it."""

    def __init__(self, config: NodeConfig, chain_id: int, passphrase: str | None = None) -> None:
        self._config = config
        self._chain_id = chain_id
        # Handed to each process it starts (a restart too) through multiprocessing's pipe; None: the
        # process reads the passphrase itself (`wallet.read_passphrase`).
        self._passphrase = passphrase
        self._process: multiprocessing.process.BaseProcess | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.exitcode

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Start the process and wait until it has its key and its files open (`BackgroundError` if not)."""
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=main,
            args=(
                self._config,
                self._chain_id,
                os.getpid(),
                logging.getLogger().level,
                send,
                self._passphrase,
            ),
            name=PROCESS_NAME,
            daemon=True,
        )
        process.start()
        send.close()
        self._process = process
        try:
            message = _wait_ready(receive, process, timeout)
        finally:
            receive.close()
        if message is not None:
            self.stop()
            raise BackgroundError(message)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL if it has not finished its current step within `timeout`."""
        process = self._process
        if process is None or not process.is_alive():
            return
        process.terminate()
        process.join(timeout)
        if process.is_alive():
            log.warning("the background process did not stop within %.0fs; killing it", timeout)
            process.kill()
            process.join()


def _wait_ready(
    receive: Connection, process: multiprocessing.process.BaseProcess, timeout: float
) -> str | None:
    """None once the process says it is ready, else why it is not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if receive.poll(0.1):
            try:
                error: str | None = receive.recv()
            except EOFError:
                break
            return error
        if not process.is_alive():
            break
    process.join(0.5)
    if process.is_alive():
        return f"the background process was not ready within {timeout:.0f}s"
    return f"the background process exited (code {process.exitcode}) before it was ready; see the log above"


def main(
    config: NodeConfig,
    chain_id: int,
    parent: int,
    log_level: int,
    ready: Connection,
    passphrase: str | None = None,
) -> None:
    """The background process: dies with `parent`; decrypts the key; works until SIGTERM or SIGINT."""
    _die_with_parent(parent)
    # Behind the API's process for the CPU: a request waiting to be acknowledged goes first, and this
    # work catches up in the gaps (it is batched, so it loses little by waiting).
    os.nice(BACKGROUND_NICENESS)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with _exclusive(config.data_dir / LOCK_FILE) as locked:
        if not locked:
            ready.send(f"another background process holds {config.data_dir / LOCK_FILE}")
            sys.exit(1)
        try:
            if passphrase is None:
                passphrase = read_passphrase(config.passphrase_env, config.passphrase_file)
            signer = Signer.from_keystore(config.keystore, passphrase)
            background = Background(config, signer, chain_id)
        except WalletError as exc:
            ready.send(str(exc))
            sys.exit(1)
        asyncio.run(_serve(background, parent, ready))


async def _serve(background: Background, parent: int, ready: Connection) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ready.send(None)
    ready.close()
    try:
        await asyncio.gather(background.run(stop), _watch_parent(parent, stop))
    finally:
        await background.close()


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """Where the kernel cannot kill us with the parent (not Linux), notice that it is gone."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("the node that started this process is gone; stopping")
            stop.set()
        await wait_or_stop(stop, STATUS_INTERVAL)


def _die_with_parent(parent: int) -> None:
    """Linux kills this process with its parent; the process also takes a name of its own in `ps`."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        libc.prctl(_PR_SET_NAME, PROCESS_NAME.encode())
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(1)


@contextlib.contextmanager
def _exclusive(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[bool]:
    """An exclusive lock on `path` for as long as this process holds it (waiting up to `timeout`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        yield True
