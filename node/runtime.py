"""One running node: its clients, providers and services, built from a `NodeConfig`, and their work.

This is the only place that knows how the layers are wired; the API receives a `Node` and calls its services.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proml.contracts import calls
from proml.contracts.errors import ContractRevert
from proml.contracts.transitions import AssetKind

from .clients.chain import ChainClient, ChainClientError
from .clients.ipfs import IpfsClient, IpfsClientError
from .clients.wallet import read_passphrase
from .config import NodeConfig
from .providers.blockchain import BlockchainProvider
from .providers.signer import Signer
from .providers.storage import StorageProvider
from .services.api_keys import FILE_NAME as API_KEYS_FILE
from .services.api_keys import ApiKeyStore
from .services.capture import CaptureService
from .services.governance import GovernanceService
from .services.index import Index
from .services.outbox import Outbox
from .services.query import Query
from .services.replicate import STATE_FILE as REPLICATION_FILE
from .services.replicate import Replicator
from .services.submitter import Submitter, wait_or_stop
from .services.verify import VerifyService

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.db"
INDEX_FILE = "index.db"
INDEX_INTERVAL = 0.25
CHAIN_WAIT = 60.0
WORK_STOP_TIMEOUT = 30.0
CHECKPOINT_INTERVAL = 2.0


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


@dataclass(frozen=True)
class Paths:
    outbox: Path
    index: Path
    api_keys: Path

    @classmethod
    def of(cls, data_dir: Path) -> Paths:
        return cls(data_dir / OUTBOX_FILE, data_dir / INDEX_FILE, data_dir / API_KEYS_FILE)


class Node:
    def __init__(self, config: NodeConfig, signer: Signer) -> None:
        if not config.registry:
            raise NodeSetupError(
                "chain.registry is empty: set it to the consortium's registry (or use `proml devnet up`)"
            )
        self.config = config
        paths = Paths.of(config.data_dir)
        self.outbox = Outbox(paths.outbox)
        self.api_keys = ApiKeyStore(paths.api_keys)
        self.chain_client = ChainClient(config.chain_url)
        chain_id = _wait_for_chain(self.chain_client, config.chain_url)
        self.chain = BlockchainProvider(
            self.chain_client,
            signer,
            chain_id,
            confirmations=config.confirmations,
            next_nonce=self.outbox.next_nonce(signer.address),
            on_nonce_reserved=lambda n: self.outbox.store_next_nonce(signer.address, n),
        )
        # The API's requests and the background work run on two event loops (see `start`): each has its
        # own IPFS client, since an async HTTP client belongs to one loop.
        self.ipfs = IpfsClient(config.ipfs_api)
        self.storage = StorageProvider(self.ipfs, config.digest_algorithm)
        self._work_ipfs = IpfsClient(config.ipfs_api)
        work_storage = StorageProvider(self._work_ipfs, config.digest_algorithm)
        self.index = Index(paths.index, self.chain, config.registry, config.confirmations)
        self.query = Query(self.index)
        self.capture = CaptureService(
            self.outbox, config.org, signer.address, config.registry, self.asset_kind
        )
        self.governance = GovernanceService(self.outbox)
        self.verify = VerifyService(self.query, self.storage, self.chain, config.registry)
        self.submitter = Submitter(self.outbox, self.chain, work_storage, config.registry, self.query.records)
        self.replicator = Replicator(
            self.query, work_storage, signer.address, config.replication, config.data_dir / REPLICATION_FILE
        )
        self._stop = asyncio.Event()
        self._worker: threading.Thread | None = None
        self._work_loop: asyncio.AbstractEventLoop | None = None
        self._index_error: str | None = None

    @classmethod
    def open(cls, config: NodeConfig) -> Node:
        """Decrypt the key (passphrase from the environment or a file) and build the node."""
        passphrase = read_passphrase(config.passphrase_env, config.passphrase_file)
        return cls(config, Signer.from_keystore(config.keystore, passphrase))

    @property
    def address(self) -> str:
        return str(self.chain.address)

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

    async def start(self) -> None:
        """Start the submitter, the document pins, the index and the replicator on a thread and event loop
        of their own, so that their work never delays the API's acknowledgements."""
        started = threading.Event()
        self._worker = threading.Thread(target=self._work, args=(started,), name="proml-work", daemon=True)
        self._worker.start()
        started.wait()

    def _work(self, started: threading.Event) -> None:
        async def main() -> None:
            self._work_loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            started.set()
            await asyncio.gather(
                self.submitter.run(self._stop),
                self.submitter.run_pins(self._stop),
                self._follow_chain(),
                self.replicator.run(self._stop),
                self._checkpoint_outbox(),
            )
            await self._work_ipfs.aclose()

        try:
            asyncio.run(main())
        except Exception:
            log.exception("the node's background work stopped")
            raise

    async def stop(self) -> None:
        if self._worker is not None and self._work_loop is not None:
            self._work_loop.call_soon_threadsafe(self._stop.set)
            await asyncio.to_thread(self._worker.join, WORK_STOP_TIMEOUT)
        await self.ipfs.aclose()
        self.replicator.close()
        self.index.close()
        self.outbox.close()

    async def _follow_chain(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.index.sync)
                self._index_error = None
            except ChainClientError as exc:
                self._index_error = f"{type(exc).__name__}: {exc}"
                log.warning("index: %s", self._index_error)
            await wait_or_stop(self._stop, INDEX_INTERVAL)

    async def _checkpoint_outbox(self) -> None:
        while not self._stop.is_set():
            await asyncio.to_thread(self.outbox.checkpoint)
            await wait_or_stop(self._stop, CHECKPOINT_INTERVAL)

    # -- health -----------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        chain = await asyncio.to_thread(self._chain_health)
        ipfs = await self._ipfs_health()
        index: dict[str, Any] = {"cursor": self.index.cursor, "error": self._index_error}
        try:
            index["lag"] = await asyncio.to_thread(self.index.lag)
        except ChainClientError:
            index["lag"] = None
        outbox = {"depth": self.outbox.depth(), "error": self.submitter.last_error}
        ok = bool(chain["ok"] and ipfs["ok"])
        return {
            "status": "ok" if ok else "degraded",
            "org": self.config.org,
            "address": self.address,
            "registry": self.config.registry,
            "chain": chain,
            "ipfs": ipfs,
            "outbox": outbox,
            "index": index,
            "replication": self.replicator.status(),
        }

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
