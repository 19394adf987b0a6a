"""One running node, as its API sees it: its clients, providers and services, built from a `NodeConfig`.

Here and in `background` (the work that signs, sends, indexes and replicates, in a process of its own) the
layers are wired; the API receives a `Node` and calls its services.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from proml.contracts import calls
from proml.contracts.addresses import checksum
from proml.contracts.errors import ContractRevert
from proml.core.workflow import AssetKind

from .background import STATUS_FILE, BackgroundError, BackgroundProcess, read_status
from .clients.chain import ChainClient, ChainClientError
from .clients.ipfs import IpfsClient, IpfsClientError
from .clients.wallet import keystore_address
from .config import NodeConfig
from .paths import Paths
from .providers.blockchain import BlockchainProvider
from .providers.storage import StorageProvider
from .services.api_keys import ApiKeyStore
from .services.capture import CaptureService
from .services.governance import GovernanceService
from .services.identity import ActorName
from .services.index import Index
from .services.interruptible_sleep import wait_or_stop
from .services.outbox import Outbox
from .services.query import Query
from .services.verify import VerifyService

log = logging.getLogger(__name__)

CHAIN_WAIT = 60.0
# How often the node looks whether its background process still runs, and waits before restarting it.
SUPERVISE_INTERVAL = 1.0
RESTART_DELAY = 5.0


class NodeSetupError(Exception):
    """The node cannot start; the message says which setting or service to fix."""


def _wait_for_chain(client: ChainClient, url: str, timeout: float = CHAIN_WAIT) -> int:
    """The chain id, waiting a while for a chain that is restarting (the outbox holds writes meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return int(client.chain_id())
        except ChainClientError as exc:
            if time.monotonic() >= deadline:
                raise NodeSetupError(f"the chain at {url} does not answer: {exc}") from None
            time.sleep(0.5)


class Node:
    """What the API serves: captures into the outbox, reads from the index, verifies. It holds no key; the
    background process (started by `start`) signs and sends, follows the chain and replicates."""

    def __init__(self, config: NodeConfig, passphrase: str | None = None) -> None:
        if not config.registry:
            raise NodeSetupError(
                "chain.registry is empty: set it to the consortium's registry (or use `proml devnet up`)"
            )
        self.config = config
        paths = Paths.of(config.data_dir)
        self.address = checksum(keystore_address(config.keystore))
        self.outbox = Outbox(paths.outbox)
        self.api_keys = ApiKeyStore(paths.api_keys)
        self.chain_client = ChainClient(config.chain_url)
        chain_id = _wait_for_chain(self.chain_client, config.chain_url, config.chain_wait)
        if config.chain_id is not None and chain_id != config.chain_id:
            raise NodeSetupError(
                f"the chain at {config.chain_url} is chain {chain_id}, but chain.chain_id pins"
                f" {config.chain_id}: point chain.url at the consortium's chain (or correct chain.chain_id)"
            )
        self.chain = BlockchainProvider.reader(
            self.chain_client, chain_id, self.address, confirmations=config.confirmations
        )
        self.ipfs = IpfsClient(config.ipfs_api)
        self.storage = StorageProvider(self.ipfs, config.digest_algorithm)
        # Created here, before the background process opens it: one process makes the schema.
        self.index = Index(paths.index, self.chain, config.registry, config.confirmations)
        self.query = Query(self.index)
        self.actor_name = ActorName(self.query, self.chain, config.registry, self.address, config.org)
        log.info("this node's documents name its organisation %r", self.actor_name())
        self.capture = CaptureService(
            self.outbox, self.actor_name, self.address, config.registry, self.asset_kind
        )
        self.governance = GovernanceService(self.outbox)
        self.verify = VerifyService(self.query, self.storage, self.chain, config.registry)
        # `passphrase`: what `proml node start` took out of its environment (None: the background
        # process reads the configured file or variable itself).
        self.background = BackgroundProcess(config, chain_id, passphrase)
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def asset_kind(self, address: str) -> AssetKind | None:
        """From the index, or this node's own registrations, or else the registry (the index may lag)."""
        summary = self.query.asset(address)
        if summary is not None:
            return AssetKind[str(summary["kind"]).upper()]
        registered = self.outbox.registered_kind(address)
        if registered is not None:
            return AssetKind[registered.upper()]
        function = calls.function("ProML", "assetKind")
        try:
            (kind,) = function.decode_output(self.chain.call(self.config.registry, function.encode(address)))
        except ContractRevert:
            return None
        return AssetKind(int(kind))

    # -- background work --------------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the background process and wait until it runs; `NodeSetupError` says why it does not
        (e.g. no passphrase, or a wrong one)."""
        if self.background.running:
            return
        try:
            self.background.start()
        except BackgroundError as exc:
            raise NodeSetupError(str(exc)) from None

    async def start(self) -> None:
        """Start the background process (if `start_background` has not) and keep it running."""
        self._stopping = asyncio.Event()
        await asyncio.to_thread(self.start_background)
        self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            await self._supervisor
        await asyncio.to_thread(self.background.stop)
        await self.ipfs.aclose()
        self.index.close()
        self.outbox.close()

    async def _supervise(self) -> None:
        """Restart the background process if it dies: the outbox holds what it had not sent yet."""
        while not self._stopping.is_set():
            await wait_or_stop(self._stopping, SUPERVISE_INTERVAL)
            if self._stopping.is_set() or self.background.running:
                continue
            log.error("the background process exited (code %s); restarting it", self.background.exit_code)
            try:
                await asyncio.to_thread(self.background.start)
            except BackgroundError as exc:
                log.error("the background process did not start: %s", exc)
                await wait_or_stop(self._stopping, RESTART_DELAY)

    # -- health -----------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        chain = await asyncio.to_thread(self._chain_health)
        ipfs = await self._ipfs_health()
        background = self._background_status()
        index: dict[str, Any] = {"cursor": self.index.cursor, "error": background.get("index_error")}
        try:
            index["lag"] = await asyncio.to_thread(self.index.lag)
        except ChainClientError:
            index["lag"] = None
        outbox = {"depth": self.outbox.depth(), "error": background.get("submitter_error")}
        ok = bool(chain["ok"] and ipfs["ok"] and self.background.running)
        return {
            "status": "ok" if ok else "degraded",
            "org": self.config.org,
            "address": self.address,
            "registry": self.config.registry,
            "chain": chain,
            "ipfs": ipfs,
            "outbox": outbox,
            "index": index,
            "background": {"running": self.background.running, "pid": self.background.pid},
            "replication": background.get("replication", {"policy": self.config.replication}),
        }

    def _background_status(self) -> dict[str, Any]:
        """What the background process last reported (nothing from a process that no longer runs)."""
        if not self.background.running:
            return {"submitter_error": "the background process is not running", "index_error": None}
        status = read_status(self.config.data_dir / STATUS_FILE)
        if status is None or status.get("pid") != self.background.pid:
            return {}  # not reported yet
        return status

    def _chain_health(self) -> dict[str, Any]:
        try:
            return {"ok": True, "chain_id": self.chain.chain_id, "block": self.chain_client.block_number()}
        except ChainClientError as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    async def _ipfs_health(self) -> dict[str, Any]:
        try:
            identity = await self.ipfs.id()
        except IpfsClientError as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "peer_id": identity.id}
