"""A small async client of the IPFS Cluster REST API (ipfs-cluster-service v1.1), on httpx.

The node speaks to its own organisation's cluster peer: it adds what it publishes to the consortium's
shared pinset with a replication factor, reads where each CID is allocated and how every peer holds it,
and asks its own peer to recover a pin that its IPFS daemon lost. The calls the node needs, nothing else.

The cluster answers JSON, and streams lists as newline-delimited JSON (one object a line; `204 No Content`
for an empty list). Errors: ``ClusterUnavailable`` when the REST API cannot be reached, times out or cuts
an answer short; ``ClusterError`` when it answered with an error (its ``{"code", "message"}``). Both
derive from ``ClusterClientError``.

Pins are asynchronous in the cluster: ``pin`` returns once the pin is in the shared pinset, not once any
IPFS daemon holds it, and ``recover`` once the peer has queued the pin again. ``status`` says how each
peer holds a CID, as the cluster peer saw its own IPFS daemon when asked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote

import httpx

from proml.core.content.cid import CID

DEFAULT_URL: Final = "http://127.0.0.1:9094"
# A replication factor of -1 (both bounds): every peer of the cluster pins the CID.
EVERYWHERE: Final = -1

# How a peer holds a CID (the cluster's TrackerStatus names that the replicator acts on).
PINNED: Final = "pinned"
PINNING: Final = "pinning"
PIN_QUEUED: Final = "pin_queued"
UNPINNED: Final = "unpinned"
REMOTE: Final = "remote"  # allocated to other peers, not to this one

__all__ = [
    "DEFAULT_URL",
    "EVERYWHERE",
    "ClusterClient",
    "ClusterClientError",
    "ClusterError",
    "ClusterId",
    "ClusterPeer",
    "ClusterUnavailable",
    "PeerStatus",
    "Pin",
    "PinStatus",
]


class ClusterClientError(Exception):
    """Base of the errors of this client."""


class ClusterUnavailable(ClusterClientError):
    """The cluster peer's REST API could not be reached, timed out, or broke off an answer."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"IPFS Cluster REST API at {url} unavailable: {reason} (is ipfs-cluster-service running, and"
            " does cluster.api name its restapi.http_listen_multiaddress?)"
        )
        self.url = url
        self.reason = reason


class ClusterError(ClusterClientError):
    """The cluster peer answered with an error: its message and the HTTP status."""

    def __init__(self, message: str, *, status: int, endpoint: str) -> None:
        super().__init__(f"IPFS Cluster {endpoint}: {message} (HTTP {status})")
        self.message = message
        self.status = status
        self.endpoint = endpoint


@dataclass(frozen=True, slots=True)
class ClusterId:
    """A cluster peer: its id, the peers it knows (itself included) and its IPFS daemon's id."""

    id: str
    peername: str
    version: str
    cluster_peers: tuple[str, ...]
    ipfs_id: str
    error: str  # "" when the peer is fine (e.g. "...connection refused" when its IPFS daemon is down)
    ipfs_error: str


@dataclass(frozen=True, slots=True)
class ClusterPeer:
    """One member of the cluster as the asked peer sees it; `error` when it does not answer."""

    id: str
    peername: str
    ipfs_id: str
    error: str


@dataclass(frozen=True, slots=True)
class Pin:
    """An entry of the shared pinset: where it is allocated and with which replication factors."""

    cid: str
    name: str
    allocations: tuple[str, ...]
    replication_min: int
    replication_max: int

    @property
    def everywhere(self) -> bool:
        """Pinned by every peer (factor -1): allocations are then empty."""
        return self.replication_min == EVERYWHERE and self.replication_max == EVERYWHERE

    def allocated_to(self, peer: str) -> bool:
        return self.everywhere or peer in self.allocations


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """How one cluster peer holds a CID."""

    peername: str
    ipfs_id: str
    status: str
    error: str
    attempts: int


@dataclass(frozen=True, slots=True)
class PinStatus:
    """A CID's status on every peer asked (one peer's with ``local=True``), by cluster peer id."""

    cid: str
    name: str
    allocations: tuple[str, ...]
    peers: Mapping[str, PeerStatus]

    def of(self, peer: str) -> str:
        """The status of `peer` ("unpinned" if it did not report)."""
        found = self.peers.get(peer)
        return found.status if found is not None else UNPINNED


def _cid_text(cid: CID | str) -> str:
    return str(cid) if isinstance(cid, CID) else cid


def _cid_field(value: Any) -> str:
    # v1.x writes a CID as a string; older peers wrote {"/": "..."}.
    if isinstance(value, dict):
        value = value.get("/")
    return str(value or "")


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _pin(doc: Mapping[str, Any]) -> Pin:
    return Pin(
        cid=_cid_field(doc.get("cid")),
        name=str(doc.get("name") or ""),
        allocations=_strings(doc.get("allocations")),
        replication_min=_int(doc.get("replication_factor_min")),
        replication_max=_int(doc.get("replication_factor_max")),
    )


def _pin_status(doc: Mapping[str, Any]) -> PinStatus:
    peers: dict[str, PeerStatus] = {}
    peer_map = doc.get("peer_map")
    for peer, info in peer_map.items() if isinstance(peer_map, dict) else ():
        if isinstance(info, dict):
            peers[str(peer)] = PeerStatus(
                peername=str(info.get("peername") or ""),
                ipfs_id=str(info.get("ipfs_peer_id") or ""),
                status=str(info.get("status") or UNPINNED),
                error=str(info.get("error") or ""),
                attempts=_int(info.get("attempt_count")),
            )
    return PinStatus(
        cid=_cid_field(doc.get("cid")),
        name=str(doc.get("name") or ""),
        allocations=_strings(doc.get("allocations")),
        peers=peers,
    )


def _cluster_id(doc: Mapping[str, Any]) -> ClusterId:
    ipfs = doc.get("ipfs")
    if not isinstance(ipfs, dict):
        ipfs = {}
    return ClusterId(
        id=str(doc.get("id") or ""),
        peername=str(doc.get("peername") or ""),
        version=str(doc.get("version") or ""),
        cluster_peers=_strings(doc.get("cluster_peers")),
        ipfs_id=str(ipfs.get("id") or ""),
        error=str(doc.get("error") or ""),
        ipfs_error=str(ipfs.get("error") or ""),
    )


def _peer(doc: Mapping[str, Any]) -> ClusterPeer:
    identity = _cluster_id(doc)
    return ClusterPeer(identity.id, identity.peername, identity.ipfs_id, identity.error)


class ClusterClient:
    """An async IPFS Cluster REST client. Use as ``async with ClusterClient(url) as cluster: ...`` or call
    ``aclose()``.

    ``timeout`` bounds connecting and each wait for the peer (seconds): the calls the node makes are all
    quick for a cluster peer that works (pins are asynchronous), so it is short by default, and a peer that
    hangs costs one timeout, not a stalled reconciliation.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            trust_env=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the peer ----------------------------------------------------------------------------------------

    async def id(self) -> ClusterId:
        """This peer: its id, the cluster's peers it knows, its IPFS daemon (and their errors)."""
        return _cluster_id(await self._json("GET", "/id"))

    async def peers(self) -> list[ClusterPeer]:
        """Every peer of the cluster, with an error for those that do not answer."""
        return [_peer(doc) async for doc in self._stream("/peers")]

    # --- the pinset ------------------------------------------------------------------------------------

    async def pin(
        self,
        cid: CID | str,
        *,
        replication_min: int = EVERYWHERE,
        replication_max: int = EVERYWHERE,
        name: str = "",
    ) -> Pin:
        """Add `cid` to the shared pinset (or update its options); the cluster then allocates it and the
        allocated peers pin it, in the background. ``ClusterError`` when it cannot be allocated (fewer
        peers than `replication_min`, say)."""
        params = {
            "replication-min": str(replication_min),
            "replication-max": str(replication_max),
            "name": name,
        }
        return _pin(await self._json("POST", f"/pins/{_path(cid)}", params))

    async def unpin(self, cid: CID | str) -> bool:
        """Remove `cid` from the shared pinset (every peer unpins it); False if it was not there."""
        try:
            await self._json("DELETE", f"/pins/{_path(cid)}")
        except ClusterError as err:
            if err.status == 404:
                return False
            raise
        return True

    async def allocation(self, cid: CID | str) -> Pin | None:
        """The pinset's entry for `cid`, or None when it is not in the pinset."""
        try:
            return _pin(await self._json("GET", f"/allocations/{_path(cid)}"))
        except ClusterError as err:
            if err.status == 404:
                return None
            raise

    async def allocations(self) -> AsyncIterator[Pin]:
        """Every (data) pin of the shared pinset, streamed."""
        async for doc in self._stream("/allocations", {"filter": "pin"}):
            yield _pin(doc)

    async def pinset_size(self) -> int:
        return sum([1 async for _ in self.allocations()])

    # --- status and recovery -------------------------------------------------------------------------

    async def status(self, cid: CID | str, *, local: bool = False) -> PinStatus:
        """How every peer (``local``: only this one) holds `cid`: "pinned", "pinning", "pin_queued",
        "pin_error", "unexpectedly_unpinned", "remote" (allocated elsewhere), "unpinned" (not in the
        pinset), "cluster_error" (the peer could not ask its IPFS daemon)..."""
        params = {"local": "true"} if local else {}
        return _pin_status(await self._json("GET", f"/pins/{_path(cid)}", params))

    async def statuses(
        self, *, local: bool = False, filter: Iterable[str] = (), cids: Iterable[CID | str] = ()
    ) -> AsyncIterator[PinStatus]:
        """The status of every pin of the pinset (``local``: as this peer holds them, which costs the
        peer one listing of its IPFS daemon's pins), streamed; `filter` keeps some statuses only, `cids`
        asks for those CIDs only."""
        params: dict[str, str] = {}
        if local:
            params["local"] = "true"
        wanted = ",".join(filter)
        if wanted:
            params["filter"] = wanted
        listed = ",".join(_cid_text(c) for c in cids)
        if listed:
            params["cids"] = listed
        async for doc in self._stream("/pins", params):
            yield _pin_status(doc)

    async def recover(self, cid: CID | str, *, local: bool = True) -> PinStatus:
        """Have this peer (``local``; else every peer) pin `cid` again if it failed or its IPFS daemon lost
        it; a pin already held or on the way is left alone. Returns once the pin is queued."""
        params = {"local": "true"} if local else {}
        return _pin_status(await self._json("POST", f"/pins/{_path(cid)}/recover", params))

    # --- plumbing ------------------------------------------------------------------------------------

    def _unavailable(self, err: Exception) -> ClusterUnavailable:
        return ClusterUnavailable(self.base_url, str(err) or type(err).__name__)

    @staticmethod
    def _error(endpoint: str, status: int, body: bytes, reason: str) -> ClusterError:
        text = body.decode("utf-8", "replace").strip()
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            return ClusterError(doc["message"], status=status, endpoint=endpoint)
        return ClusterError(text[:200] or reason, status=status, endpoint=endpoint)

    async def _json(
        self, method: str, endpoint: str, params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, endpoint, params=params)
        except httpx.TransportError as err:
            raise self._unavailable(err) from err
        if response.status_code >= 400:
            raise self._error(endpoint, response.status_code, response.content, response.reason_phrase)
        if response.status_code == 204 or not response.content.strip():
            return {}
        try:
            doc = response.json()
        except ValueError as err:
            raise ClusterError(
                f"not JSON: {response.text[:200]!r}", status=response.status_code, endpoint=endpoint
            ) from err
        if not isinstance(doc, dict):
            raise ClusterError(f"unexpected answer: {doc!r}", status=response.status_code, endpoint=endpoint)
        return doc

    async def _stream(
        self, endpoint: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The objects of a streamed (newline-delimited JSON) answer, as they arrive. The cluster reports
        an error met after the first object only in an HTTP trailer, which httpx does not read: a list cut
        short that way looks complete, so callers act on what is absent from one only after asking about
        that CID alone (`allocation`)."""
        try:
            async with self._http.stream("GET", endpoint, params=params) as response:
                if response.status_code >= 400:
                    raise self._error(
                        endpoint, response.status_code, await response.aread(), response.reason_phrase
                    )
                if response.status_code == 204:
                    return
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    try:
                        doc = json.loads(line)
                    except ValueError as err:
                        raise ClusterError(
                            f"not JSON: {line[:200]!r}", status=response.status_code, endpoint=endpoint
                        ) from err
                    if isinstance(doc, dict):
                        yield doc
        except httpx.TransportError as err:
            raise self._unavailable(err) from err


def _path(cid: CID | str) -> str:
    return quote(_cid_text(cid), safe="")
