"""A real anvil process: the devnet's chain, and the integration tests' one.

Anvil listens on loopback, is ready once it answers `eth_chainId`, and is stopped by PID. Its dev keys are
derived from anvil's public default mnemonic with eth-account's HD wallet; nothing uses `eth_accounts` or
unlocked signing, so the same code works on a chain that has neither.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any

from eth_account import Account

from proml.node.clients.chain import ChainClient, ChainClientError

from .processes import (
    ProcessError,
    anvil_binary,
    choose_port,
    listens_on,
    log_tail,
    spawn,
    stop_process,
    wait_until,
)

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


class AnvilFailed(ProcessError):
    pass


class Anvil:
    """One anvil process. `start()` / `stop()` may be called again (e.g. to restart it on its --state).

    `port` is tried first when it is free (0: any free port); `state` keeps the chain across restarts
    (saved every second, loaded at start); `detach` lets it outlive this Python process (the devnet).
    """

    def __init__(
        self,
        workdir: Path,
        block_time: float | None = None,
        state: Path | None = None,
        extra_args: Sequence[str] = (),
        *,
        port: int = 0,
        detach: bool = False,
    ) -> None:
        self.workdir = workdir
        self.block_time = block_time
        self.state = state
        self.extra_args = list(extra_args)
        self.preferred_port = port
        self.detach = detach
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
        """A raw JSON-RPC call, e.g. `anvil.rpc("evm_mine")` (anvil-only methods: tests only)."""
        return self.client().request(method, params)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return log_tail(self.log_path, lines=10_000)

    def command(self) -> list[str]:
        cmd = [str(anvil_binary()), "--port", str(self.port), "--host", "127.0.0.1", "--hardfork", "london"]
        cmd += ["--silent"]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.state is not None:
            cmd += ["--state", str(self.state), "--state-interval", "5"]
        return cmd + self.extra_args

    def start(self, attempts: int = 3) -> Anvil:
        if self.running():
            raise AnvilFailed(f"anvil is already running (pid {self.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        last = ""
        taken: list[int] = []
        for _ in range(attempts):  # the port may be taken between choosing and binding it
            self.port = choose_port(self.preferred_port, taken)
            taken.append(self.port)
            self.process = spawn(self.command(), self.log_path, detach=self.detach)
            try:
                self._wait_ready()
                return self
            except ProcessError as exc:
                last = str(exc)
                self.stop()
        raise AnvilFailed(last)

    def _wait_ready(self) -> None:
        client = self.client(timeout=2.0)

        def answers() -> bool:
            with suppress(ChainClientError):
                # ... and it is this anvil that answers, not another one that took the port first.
                return bool(client.chain_id() == CHAIN_ID) and listens_on(self.pid, self.port)
            return False

        wait_until(answers, what="anvil", timeout=START_TIMEOUT, process=self.process, log_path=self.log_path)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait, then SIGKILL, by PID; the exit code (None if it was not started)."""
        process, self.process = self.process, None
        if process is None:
            return None
        return stop_process(process, timeout)


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
