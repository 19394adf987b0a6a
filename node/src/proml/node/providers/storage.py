"""Storage on IPFS that never trusts the daemon: every payload's CID and digest are recomputed locally.

Adding streams the payload once, computing its digest and CID on the way to the daemon, and refuses a
CID that differs from the daemon's. Fetching streams into a temporary file, recomputes the CID of what
arrived and, when one is expected, its digest, and keeps the file only if both match (threats T1 and T2
of docs/security.md).

Every publish passes through here, so this is where it reaches the consortium: with an IPFS Cluster peer
configured, whatever the provider pins in its own daemon (a payload added, a record document pinned) it
also adds to the cluster's shared pinset with the configured replication, right away. A cluster that
does not answer does not fail the publish: the payload is pinned here, and once it is recorded on chain
the replicator (services/replicate.py) adds it to the pinset.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from proml.core.content.cid import CID, RAW
from proml.core.content.digest import CHUNK_SIZE, DEFAULT_ALGORITHM, ContentDigest
from proml.core.content.fingerprint import Fingerprint, Fingerprinter
from proml.node.clients.cluster import EVERYWHERE, ClusterClient, ClusterClientError
from proml.node.clients.ipfs import IpfsClient

log = logging.getLogger(__name__)

# Kubo 0.43.1 never fetches the empty raw block (the CIDv1 of an empty file) from its peers: `cat` and
# `pin/add` wait until they time out, though the peer that added it holds it. Its bytes are known, so the
# provider serves it without the network, and makes it in its own daemon before pinning it.
EMPTY_RAW_BLOCK = CID.of_block(b"", codec=RAW)

# Pin requests to the cluster at once when several documents are pinned together.
CLUSTER_CONCURRENCY = 8


class StorageError(Exception):
    pass


class PayloadMismatch(StorageError):
    """What IPFS holds or returned is not what was expected: the payload is refused."""


class DigestMismatch(PayloadMismatch):
    """IPFS returned the content its CID names, but that content has another digest than the one the
    caller expected: the caller's premise (a record's digest with this CID) is false, not IPFS."""


@dataclass(frozen=True)
class StoredPayload:
    cid: CID
    digest: ContentDigest
    size: int


class StorageProvider:
    """Add, fetch and pin payloads through a Kubo-RPC daemon, checking CIDs and digests here.

    New payloads get CIDv1 with raw leaves: the CID of a small payload then carries its SHA-256 itself.
    With `cluster`, what is pinned here is also added to the cluster's pinset with `replication` (the
    cluster's replication-min and -max; -1 for every peer).
    """

    def __init__(
        self,
        ipfs: IpfsClient,
        algorithm: str = DEFAULT_ALGORITHM,
        cid_version: int = 1,
        *,
        cluster: ClusterClient | None = None,
        replication: tuple[int, int] = (EVERYWHERE, EVERYWHERE),
    ) -> None:
        self._ipfs = ipfs
        self._algorithm = algorithm
        self._cid_version = cid_version
        self._cluster = cluster
        self._replication = replication
        # The last failure to add a publish to the cluster's pinset (None since the last success).
        self.cluster_error: str | None = None

    async def add_file(self, path: Path, *, pin: bool = True) -> StoredPayload:
        """Upload `path`, streaming; its digest and CID are computed from the same read."""
        fingerprinter = Fingerprinter(self._algorithm, cid_version=self._cid_version)
        return await self._add(_read_file(path, fingerprinter), fingerprinter, pin)

    async def add_stream(self, chunks: AsyncIterator[bytes], *, pin: bool = True) -> StoredPayload:
        """Upload what `chunks` yields (an HTTP request body, say) without holding it all in memory."""
        fingerprinter = Fingerprinter(self._algorithm, cid_version=self._cid_version)
        return await self._add(_fingerprinted(chunks, fingerprinter), fingerprinter, pin)

    async def add_documents(self, documents: Sequence[bytes], *, pin: bool = True) -> list[CID]:
        """Several small documents in one request, each CID checked here; their CIDs, in order."""
        added = await self._ipfs.add_many(documents, cid_version=self._cid_version, pin=pin)
        cids = []
        for document, result in zip(documents, added, strict=True):
            fingerprinter = Fingerprinter(self._algorithm, cid_version=self._cid_version)
            fingerprinter.update(document)
            local = fingerprinter.finish().cid
            if result.cid != local:
                raise PayloadMismatch(
                    f"the IPFS daemon stored a document as {result.cid}, but its CID is {local}"
                )
            cids.append(local)
        if pin:
            await self._publish(cids, "proml:record")
        return cids

    async def pin_many(
        self, cids: Sequence[CID], *, timeout: float | None = None, name: str = "proml"
    ) -> None:
        if cids:
            await self._make_empty_block(cids)
            await self._ipfs.pin_add(cids, timeout=timeout)
            await self._publish(cids, name)

    async def add_bytes(self, data: bytes, *, pin: bool = True) -> StoredPayload:
        fingerprinter = Fingerprinter(self._algorithm, cid_version=self._cid_version)
        return await self._add(_once(data, fingerprinter), fingerprinter, pin)

    async def fetch_to_file(
        self,
        cid: CID,
        destination: Path,
        *,
        expected_digest: ContentDigest | None = None,
        timeout: float | None = None,
    ) -> StoredPayload:
        """Stream `cid` into `destination`; keep it only if its CID (and digest, if given) match."""
        fingerprinter = _fingerprinter_for(cid, expected_digest, self._algorithm)
        partial = destination.with_name(destination.name + ".partial")
        try:
            with open(partial, "wb") as out:
                async for chunk in self._cat(cid, timeout):
                    fingerprinter.update(chunk)
                    out.write(chunk)
            stored = _check(cid, fingerprinter.finish(), expected_digest)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, destination)
        return stored

    async def check(
        self, cid: CID, *, expected_digest: ContentDigest | None = None, timeout: float | None = None
    ) -> StoredPayload:
        """Stream `cid` through the hashers, keeping nothing: `PayloadMismatch` unless what IPFS serves has
        that CID (and digest, if given)."""
        fingerprinter = _fingerprinter_for(cid, expected_digest, self._algorithm)
        async for chunk in self._cat(cid, timeout):
            fingerprinter.update(chunk)
        return _check(cid, fingerprinter.finish(), expected_digest)

    async def fetch_bytes(
        self,
        cid: CID,
        *,
        max_size: int,
        expected_digest: ContentDigest | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """A small payload (a record document) in memory, checked like `fetch_to_file`."""
        if cid == EMPTY_RAW_BLOCK:
            data = b""
        else:
            data = bytes(await self._ipfs.cat_bytes(cid, max_size=max_size, timeout=timeout))
        fingerprinter = _fingerprinter_for(cid, expected_digest, self._algorithm)
        fingerprinter.update(data)
        _check(cid, fingerprinter.finish(), expected_digest)
        return data

    async def pin(self, cid: CID, *, timeout: float | None = None, name: str = "proml") -> None:
        await self._make_empty_block([cid])
        await self._ipfs.pin_add(cid, timeout=timeout)
        await self._publish([cid], name)

    async def _cat(self, cid: CID, timeout: float | None) -> AsyncIterator[bytes]:
        if cid == EMPTY_RAW_BLOCK:
            return
        async for chunk in self._ipfs.cat(cid, timeout=timeout):
            yield chunk

    async def _make_empty_block(self, cids: Sequence[CID]) -> None:
        if EMPTY_RAW_BLOCK in cids:
            await self._ipfs.add(b"", cid_version=1, pin=False)

    async def is_pinned(self, cid: CID) -> bool:
        return bool(await self._ipfs.is_pinned(cid))

    async def pins(self) -> set[str]:
        """The CIDs the daemon holds pinned (recursively), as its daemon says now."""
        return set(await self._ipfs.pin_ls(type="recursive"))

    async def _publish(self, cids: Sequence[CID], name: str) -> None:
        """Add `cids` to the cluster's pinset, if there is a cluster; a failure is logged, not raised."""
        if self._cluster is None or not cids:
            return
        cluster = self._cluster
        low, high = self._replication
        slots = asyncio.Semaphore(CLUSTER_CONCURRENCY)

        async def one(cid: CID) -> None:
            async with slots:
                await cluster.pin(cid, replication_min=low, replication_max=high, name=name)

        outcomes = await asyncio.gather(*(one(cid) for cid in cids), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, ClusterClientError):
                self.cluster_error = str(outcome)
                log.warning(
                    "not in the cluster's pinset yet (the replicator adds it once recorded): %s", outcome
                )
                return
            if isinstance(outcome, BaseException):
                raise outcome
        self.cluster_error = None

    async def _add(
        self, content: AsyncIterator[bytes], fingerprinter: Fingerprinter, pin: bool
    ) -> StoredPayload:
        added = await self._ipfs.add(content, cid_version=self._cid_version, pin=pin)
        local = fingerprinter.finish()
        if added.cid != local.cid:
            if pin:
                await self._ipfs.pin_rm(added.cid)
            raise PayloadMismatch(
                f"the IPFS daemon stored the payload as {added.cid}, but its CID is {local.cid}"
            )
        if pin:
            await self._publish([local.cid], "proml:payload")
        return StoredPayload(local.cid, local.digest, local.size)


def _fingerprinter_for(cid: CID, expected: ContentDigest | None, default_algorithm: str) -> Fingerprinter:
    algorithm = expected.algorithm if expected is not None else default_algorithm
    # Kubo's conventions: CIDv0 has dag-pb leaves, CIDv1 raw leaves.
    return Fingerprinter(algorithm, cid_version=cid.version)


def _check(cid: CID, got: Fingerprint, expected_digest: ContentDigest | None) -> StoredPayload:
    if not got.cid.same_content(cid):
        raise PayloadMismatch(f"asked IPFS for {cid}, received content whose CID is {got.cid}")
    if expected_digest is not None and got.digest != expected_digest:
        raise DigestMismatch(f"{cid} has digest {got.digest}, but {expected_digest} was recorded")
    return StoredPayload(cid, got.digest, got.size)


async def _read_file(path: Path, fingerprinter: Fingerprinter) -> AsyncIterator[bytes]:
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_SIZE):
            fingerprinter.update(chunk)
            yield chunk


async def _once(data: bytes, fingerprinter: Fingerprinter) -> AsyncIterator[bytes]:
    fingerprinter.update(data)
    yield data


async def _fingerprinted(chunks: AsyncIterator[bytes], fingerprinter: Fingerprinter) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        if chunk:
            fingerprinter.update(chunk)
            yield chunk
