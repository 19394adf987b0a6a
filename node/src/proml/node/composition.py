"""The node's composition root: every client, provider and service of the node's two processes is built
here, from a `NodeConfig`.

The API's process (`api_services`) captures into the outbox, reads the index and verifies; it reads the
chain without a key (`BlockchainProvider.reader`). The background process (`background_services`) signs
with the `Signer` it has decrypted, sends, indexes and replicates. What both use (the outbox, IPFS, the
storage provider, the index and its queries) is built alike (`_shared`), each process over connections
of its own to the node's files; both talk to the organisation's IPFS Cluster peer when `cluster.api` names
one (the storage provider adds what it pins to the pinset; the API's health asks how the pins are).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proml.contracts.addresses import checksum

from .clients.chain import ChainClient, ChainClientError
from .clients.cluster import ClusterClient
from .clients.ipfs import IpfsClient
from .clients.keystore import keystore_address
from .config import GWEI, NodeConfig
from .paths import Paths
from .providers.blockchain import BlockchainProvider
from .providers.storage import StorageProvider
from .services.api_keys import ApiKeyStore
from .services.asset_kinds import AssetKinds
from .services.capture import CaptureService
from .services.document_cache import FILE_NAME as DOCUMENTS_FILE
from .services.document_cache import DocumentCache
from .services.governance import GovernanceService
from .services.identity import ActorName
from .services.index import Index
from .services.outbox import Outbox
from .services.query import Query
from .services.replicate import STATE_FILE as REPLICATION_FILE
from .services.replicate import Replicator
from .services.submitter import Submitter
from .services.verify import VerifyService

if TYPE_CHECKING:  # only the background process holds a Signer; the API process never loads its code
    from .providers.signer import Signer

log = logging.getLogger(__name__)


class NodeSetupError(Exception):
    """The node cannot start; the message says which setting or service to fix."""


@dataclass(frozen=True)
class _Shared:
    ipfs: IpfsClient
    cluster: ClusterClient | None
    storage: StorageProvider
    index: Index
    query: Query


def _shared(config: NodeConfig, chain: BlockchainProvider) -> _Shared:
    ipfs = IpfsClient(config.ipfs_api)
    # The organisation's own cluster peer, if it runs one: what this node publishes joins the pinset.
    cluster = ClusterClient(config.cluster_api) if config.cluster_api else None
    storage = StorageProvider(
        ipfs, config.digest_algorithm, cluster=cluster, replication=config.cluster_factors
    )
    index = Index(Paths.of(config.data_dir).index, chain, config.registry, config.confirmations)
    return _Shared(ipfs, cluster, storage, index, Query(index))


def _replicator(
    config: NodeConfig, shared: _Shared, address: str, documents: DocumentCache | None = None
) -> Replicator:
    return Replicator(
        shared.query,
        shared.storage,
        address,
        config.replication,
        config.data_dir / REPLICATION_FILE,
        cluster=shared.cluster,
        replication=config.cluster_factors,
        documents=documents,
    )


# -- the API's process --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiServices:
    """What the API's process serves with. It holds no key."""

    address: str
    chain_id: int
    outbox: Outbox
    api_keys: ApiKeyStore
    chain_client: ChainClient
    chain: BlockchainProvider
    ipfs: IpfsClient
    cluster: ClusterClient | None
    storage: StorageProvider
    index: Index
    query: Query
    capture: CaptureService
    governance: GovernanceService
    verify: VerifyService
    # Only looked at (the health report's census); the background process's replicator repairs.
    replication: Replicator

    async def close(self) -> None:
        await self.ipfs.aclose()
        if self.cluster is not None:
            await self.cluster.aclose()
        self.replication.close()
        self.verify.close()
        self.index.close()
        self.outbox.close()


def api_services(config: NodeConfig) -> ApiServices:
    """The API's services, once the configured chain answers (`NodeSetupError` says what to fix)."""
    if not config.registry:
        raise NodeSetupError(
            "chain.registry is empty: set it to the consortium's registry (or use `proml devnet up`)"
        )
    paths = Paths.of(config.data_dir)
    address = checksum(keystore_address(config.keystore))
    outbox = Outbox(paths.outbox)
    api_keys = ApiKeyStore(paths.api_keys)
    chain_client = ChainClient(config.chain_url)
    chain_id = _wait_for_chain(chain_client, config.chain_url, config.chain_wait)
    if config.chain_id is not None and chain_id != config.chain_id:
        raise NodeSetupError(
            f"the chain at {config.chain_url} is chain {chain_id}, but chain.chain_id pins"
            f" {config.chain_id}: point chain.url at the consortium's chain (or correct chain.chain_id)"
        )
    chain = BlockchainProvider.reader(chain_client, chain_id, address, confirmations=config.confirmations)
    # The index is created here, before the background process opens it: one process makes the schema.
    shared = _shared(config, chain)
    actor_name = ActorName(shared.query, chain, config.registry, address, config.org)
    log.info("this node's documents name its organisation %r", actor_name())
    asset_kinds = AssetKinds(shared.query, outbox, chain, config.registry)
    return ApiServices(
        address=address,
        chain_id=chain_id,
        outbox=outbox,
        api_keys=api_keys,
        chain_client=chain_client,
        chain=chain,
        ipfs=shared.ipfs,
        cluster=shared.cluster,
        storage=shared.storage,
        index=shared.index,
        query=shared.query,
        capture=CaptureService(outbox, actor_name, address, config.registry, asset_kinds),
        governance=GovernanceService(outbox),
        verify=VerifyService(
            shared.query,
            shared.storage,
            chain,
            config.registry,
            DocumentCache(config.data_dir / DOCUMENTS_FILE),
        ),
        replication=_replicator(config, shared, address),
    )


def _wait_for_chain(client: ChainClient, url: str, timeout: float) -> int:
    """The chain id, waiting a while for a chain that is restarting (the outbox holds writes meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return int(client.chain_id())
        except ChainClientError as exc:
            if time.monotonic() >= deadline:
                raise NodeSetupError(f"the chain at {url} does not answer: {exc}") from None
            time.sleep(0.5)


# -- the background process ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BackgroundServices:
    """What the background process works with: the only services that sign."""

    outbox: Outbox
    chain: BlockchainProvider
    ipfs: IpfsClient
    cluster: ClusterClient | None
    storage: StorageProvider
    index: Index
    query: Query
    submitter: Submitter
    replicator: Replicator

    async def close(self) -> None:
        await self.ipfs.aclose()
        if self.cluster is not None:
            await self.cluster.aclose()
        self.replicator.close()
        self.index.close()
        self.outbox.close()


def background_services(config: NodeConfig, signer: Signer, chain_id: int) -> BackgroundServices:
    outbox = Outbox(Paths.of(config.data_dir).outbox)
    chain = BlockchainProvider(
        ChainClient(config.chain_url),
        signer,
        chain_id,
        confirmations=config.confirmations,
        # The submitter stores each next nonce with the signed transaction (`mark_submitted`).
        next_nonce=outbox.next_nonce(signer.address),
        priority_fee=_wei(config.priority_fee_gwei),
        fee_cap=_wei(config.fee_cap_gwei),
        max_fee=_wei(config.max_fee_gwei),
        bump_percent=config.bump_percent,
    )
    shared = _shared(config, chain)
    # One store of checked record documents for both: the submitter keeps what it publishes, the
    # replicator what it fetches (and closes it).
    documents = DocumentCache(config.data_dir / DOCUMENTS_FILE)
    submitter = Submitter(
        outbox,
        chain,
        shared.storage,
        config.registry,
        shared.query.records,
        replace_after=config.replace_after,
        watch_blocks=config.watch_blocks,
        documents=documents,
    )
    replicator = _replicator(config, shared, signer.address, documents)
    return BackgroundServices(
        outbox=outbox,
        chain=chain,
        ipfs=shared.ipfs,
        cluster=shared.cluster,
        storage=shared.storage,
        index=shared.index,
        query=shared.query,
        submitter=submitter,
        replicator=replicator,
    )


def _wei(gwei: float | None) -> int | None:
    return None if gwei is None else round(gwei * GWEI)
