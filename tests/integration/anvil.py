"""A real anvil process for integration tests.

Each anvil listens on a free loopback port, is ready once it answers `eth_chainId`, and is always stopped
by PID: SIGTERM, wait, then SIGKILL, whatever the test did. Its dev keys are derived from anvil's default
mnemonic with eth-account's HD wallet; nothing uses `eth_accounts` or unlocked signing.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from proml.node.clients.chain import ChainClient, ChainClientError

from .ipfs_daemons import stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 31337
DEV_ACCOUNTS = 10
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@cache
def dev_keys(count: int = DEV_ACCOUNTS) -> tuple[bytes, ...]:
    """The private keys anvil funds by default (m/44'/60'/0'/0/i of its default mnemonic)."""
    Account.enable_unaudited_hdwallet_features()
    return tuple(
        bytes(Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key) for i in range(count)
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def anvil_binary() -> Path:
    if not ANVIL.is_file():
        pytest.fail(f"no anvil at {ANVIL}: run `make setup` (npm ci) first")
    return ANVIL


class AnvilFailed(RuntimeError):
    pass


class Anvil:
    """One anvil process. `start()` / `stop()` may be called again (e.g. to test a restart with --state)."""

    def __init__(
        self,
        workdir: Path,
        block_time: float | None = None,
        state: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self.block_time = block_time
        self.state = state
        self.extra_args = list(extra_args)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "anvil.log"
        self.keys = list(dev_keys())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise AnvilFailed("anvil is not running")
        return self.process.pid

    @property
    def chain_id(self) -> int:
        return CHAIN_ID

    def client(self, timeout: float = 30.0) -> ChainClient:
        return ChainClient(self.url, timeout=timeout)

    def rpc(self, method: str, *params: Any) -> Any:
        """A raw JSON-RPC call, e.g. `anvil.rpc("evm_mine")` (test-only methods are fine here)."""
        return self.client().request(method, params)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def command(self) -> list[str]:
        cmd = [str(anvil_binary()), "--port", str(self.port), "--host", "127.0.0.1", "--hardfork", "london"]
        cmd += ["--silent"]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.state is not None:
            cmd += ["--state", str(self.state), "--state-interval", "1"]
        return cmd + self.extra_args

    def start(self, attempts: int = 3) -> Anvil:
        if self.running():
            raise AnvilFailed(f"anvil is already running (pid {self.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        last = ""
        for _ in range(attempts):  # the port may be taken between choosing and binding it
            self.port = free_port()
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
            try:
                self._wait_ready()
                return self
            except AnvilFailed as exc:
                last = str(exc)
                self.stop()
        raise AnvilFailed(last)

    def _wait_ready(self) -> None:
        client = self.client(timeout=2.0)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise AnvilFailed(f"anvil exited with {code} before it was ready:\n{self.log()}")
            with suppress(ChainClientError):
                if client.chain_id() == CHAIN_ID:
                    return
            time.sleep(0.05)
        raise AnvilFailed(f"anvil did not answer eth_chainId within {START_TIMEOUT}s:\n{self.log()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait, then SIGKILL, by PID; the exit code (None if it was not started)."""
        process, self.process = self.process, None
        if process is None:
            return None
        return stop_process(process, timeout)

    def restart(self) -> Anvil:
        self.stop()
        return self.start()


@contextmanager
def running_anvil(
    workdir: Path,
    block_time: float | None = None,
    state: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[Anvil]:
    """An anvil started for the `with` block and stopped by PID afterwards, whatever happened."""
    anvil = Anvil(workdir, block_time=block_time, state=state, extra_args=extra_args)
    try:
        yield anvil.start()
    finally:
        anvil.stop()


@pytest.fixture(name="anvil")
def anvil_fixture(tmp_path: Path) -> Iterator[Anvil]:
    """A fresh anvil (automine) for one test."""
    with running_anvil(tmp_path / "anvil") as anvil:
        yield anvil


@pytest.fixture(name="anvil_block_time")
def anvil_block_time_fixture(tmp_path: Path) -> Iterator[Anvil]:
    """A fresh anvil that mines a block every second, like a real chain (no instant inclusion)."""
    with running_anvil(tmp_path / "anvil", block_time=1) as anvil:
        yield anvil
