"""A small async client of the Kubo RPC API (``/api/v0``), on httpx.

It speaks to the organisation's own Kubo daemon, in production, the devnet and the tests alike: the
calls the node needs and nothing else. Uploads and downloads stream; nothing is held whole in memory.

Errors: ``IpfsUnavailable`` when the daemon cannot be reached (or cut a stream short), ``IpfsError`` when
it answered with an error (Kubo's ``Message`` and ``Code``). Both derive from ``IpfsClientError``.

The client trusts nothing it is told about content: callers recompute CIDs with ``proml.core.content``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import quote

import httpx

from proml.core.content.cid import CID

DEFAULT_URL: Final = "http://127.0.0.1:5001"
UPLOAD_CHUNK: Final = 1 << 20
PinType = Literal["all", "recursive", "direct", "indirect"]

__all__ = [
    "DEFAULT_URL",
    "AddResult",
    "IpfsClient",
    "IpfsClientError",
    "IpfsError",
    "IpfsUnavailable",
    "NodeId",
    "PinType",
    "SwarmPeer",
    "VersionInfo",
]


class IpfsClientError(Exception):
    """Base of the errors of this client."""


class IpfsUnavailable(IpfsClientError):
    """The IPFS daemon could not be reached, timed out, or broke off a response."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"IPFS daemon at {url} unavailable: {reason}")
        self.url = url
        self.reason = reason


class IpfsError(IpfsClientError):
    """The IPFS daemon answered with an error: Kubo's ``Message``, its ``Code`` and the HTTP status."""

    def __init__(self, message: str, *, code: int | None = None, status: int, endpoint: str) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.message = message
        self.code = code
        self.status = status
        self.endpoint = endpoint


@dataclass(frozen=True, slots=True)
class AddResult:
    """One line of ``add``: the name sent, the root CID, and the DAG's cumulative size in bytes."""

    name: str
    cid: CID
    size: int


@dataclass(frozen=True, slots=True)
class NodeId:
    id: str
    public_key: str
    addresses: tuple[str, ...]
    agent_version: str
    protocols: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    commit: str
    repo: str
    system: str
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SwarmPeer:
    peer: str
    addr: str
    direction: int | None


Source = str | os.PathLike[str] | bytes | AsyncIterable[bytes]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _cid_text(cid: CID | str) -> str:
    return str(cid) if isinstance(cid, CID) else cid


def _duration(seconds: float) -> str:
    """A Go duration for Kubo's ``timeout`` option."""
    return f"{max(1, round(seconds * 1000))}ms"


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(open, path, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, UPLOAD_CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


async def _multipart(
    boundary: str, parts: Sequence[tuple[str, AsyncIterable[bytes]]]
) -> AsyncIterator[bytes]:
    for name, content in parts:
        # Kubo (go-ipfs-files) expects the file name URL-escaped.
        filename = quote(name, safe="")
        yield (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        async for chunk in content:
            if chunk:
                yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


class IpfsClient:
    """An async Kubo RPC client. Use as ``async with IpfsClient(url) as ipfs: ...`` or call ``aclose()``.

    ``timeout`` bounds connecting and each wait for the daemon (seconds, ``None`` for none); calls that may
    wait on the network (``cat``, ``pin_add``, ``swarm_connect``) also take a ``timeout`` that the daemon
    itself enforces (Kubo's ``timeout`` option).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float | None = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/api/v0",
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0) if timeout is not None else None),
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

    # --- plumbing ----------------------------------------------------------------------------------------

    def _unavailable(self, err: Exception) -> IpfsUnavailable:
        reason = str(err) or type(err).__name__
        return IpfsUnavailable(self.base_url, reason)

    @staticmethod
    def _error(endpoint: str, response: httpx.Response, body: bytes) -> IpfsError:
        text = body.decode("utf-8", "replace").strip()
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("Message"), str):
            code = doc.get("Code")
            return IpfsError(
                doc["Message"],
                code=code if isinstance(code, int) else None,
                status=response.status_code,
                endpoint=endpoint,
            )
        return IpfsError(text or response.reason_phrase, status=response.status_code, endpoint=endpoint)

    async def _post(
        self,
        endpoint: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        content: bytes | AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = await self._http.post(
                endpoint, params=httpx.QueryParams(tuple(params)), content=content, headers=headers
            )
        except httpx.TransportError as err:
            raise self._unavailable(err) from err
        if response.status_code != 200:
            raise self._error(endpoint, response, response.content)
        return response

    async def _json(self, endpoint: str, params: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        response = await self._post(endpoint, params)
        try:
            doc = response.json()
        except ValueError as err:
            raise IpfsError(f"not JSON: {response.text[:200]!r}", status=200, endpoint=endpoint) from err
        if not isinstance(doc, dict):
            raise IpfsError(f"unexpected answer: {doc!r}", status=200, endpoint=endpoint)
        return doc

    # --- content -----------------------------------------------------------------------------------------

    async def add(
        self,
        source: Source,
        *,
        name: str | None = None,
        cid_version: int = 0,
        raw_leaves: bool | None = None,
        pin: bool = True,
        only_hash: bool = False,
    ) -> AddResult:
        """Upload a file (path), bytes, or an async iterator of bytes, streaming; return the root.

        ``cid_version`` 0 (Kubo's default) or 1; ``raw_leaves`` defaults to ``cid_version == 1``, as in Kubo.
        ``only_hash`` computes the CID without storing anything.
        """
        if cid_version not in (0, 1):
            raise ValueError(f"cid_version must be 0 or 1, not {cid_version}")
        content: AsyncIterable[bytes]
        if isinstance(source, bytes):
            content = _single(source)
            name = name if name is not None else "data"
        elif isinstance(source, str | os.PathLike):
            path = Path(source)
            content = _file_chunks(path)
            name = name if name is not None else path.name
        else:
            content = source
            name = name if name is not None else "data"
        results = await self._add_parts([(name, content)], cid_version, raw_leaves, pin, only_hash)
        return results[-1]

    async def add_many(
        self, contents: Sequence[bytes], *, cid_version: int = 0, pin: bool = True
    ) -> list[AddResult]:
        """Several small files in one request: one result per file, in order. Much faster than one
        request each for many small documents."""
        if cid_version not in (0, 1):
            raise ValueError(f"cid_version must be 0 or 1, not {cid_version}")
        if not contents:
            return []
        parts = [(f"{i}", _single(data)) for i, data in enumerate(contents)]
        # Already in memory and small: one body with a length, not a chunk per boundary and per file.
        results = await self._add_parts(parts, cid_version, None, pin, False, buffered=True)
        if len(results) != len(contents):
            raise IpfsError(f"{len(results)} results for {len(contents)} files", status=200, endpoint="add")
        return results

    async def _add_parts(
        self,
        parts: Sequence[tuple[str, AsyncIterable[bytes]]],
        cid_version: int,
        raw_leaves: bool | None,
        pin: bool,
        only_hash: bool,
        *,
        buffered: bool = False,
    ) -> list[AddResult]:
        params = [("cid-version", str(cid_version)), ("pin", _bool(pin)), ("only-hash", _bool(only_hash))]
        if raw_leaves is not None:
            params.append(("raw-leaves", _bool(raw_leaves)))
        params.append(("chunker", "size-262144"))
        boundary = "proml-" + secrets.token_hex(16)
        stream = _multipart(boundary, parts)
        response = await self._post(
            "add",
            params,
            content=b"".join([chunk async for chunk in stream]) if buffered else stream,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        results = []
        for line in response.text.splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            if isinstance(doc, dict) and "Hash" in doc:
                results.append(
                    AddResult(str(doc.get("Name", "")), CID.parse(doc["Hash"]), int(doc.get("Size", 0)))
                )
        if not results:
            raise IpfsError(f"no result in the answer: {response.text[:200]!r}", status=200, endpoint="add")
        return results

    async def cat(
        self,
        cid: CID | str,
        *,
        offset: int | None = None,
        length: int | None = None,
        timeout: float | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """The file's bytes, in chunks as they arrive (fetched from other peers when not local).

        Stop early with ``contextlib.aclosing``; the daemon stops fetching when the request closes.
        """
        params = [("arg", _cid_text(cid))]
        if offset is not None:
            params.append(("offset", str(offset)))
        if length is not None:
            params.append(("length", str(length)))
        if timeout is not None:
            params.append(("timeout", _duration(timeout)))
        try:
            async with self._http.stream("POST", "cat", params=httpx.QueryParams(tuple(params))) as response:
                if response.status_code != 200:
                    raise self._error("cat", response, await response.aread())
                announced = response.headers.get("x-content-length")
                received = 0
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    yield chunk
        except httpx.TransportError as err:
            raise self._unavailable(err) from err
        # Kubo reports an error in the middle of a stream (its `timeout` passing, a block it cannot get)
        # in a trailer, which httpx does not read: the size it announced tells a cut-short stream.
        whole_file = offset is None and length is None
        if whole_file and announced is not None and announced.isdigit() and received != int(announced):
            raise IpfsUnavailable(
                self.base_url, f"cat of {_cid_text(cid)} stopped after {received} of {announced} bytes"
            )

    async def cat_bytes(
        self, cid: CID | str, *, max_size: int | None = None, timeout: float | None = None
    ) -> bytes:
        """The whole file in memory: for small documents only (``max_size`` guards against surprises)."""
        parts: list[bytes] = []
        total = 0
        stream = self.cat(cid, timeout=timeout)
        try:
            async for chunk in stream:
                total += len(chunk)
                if max_size is not None and total > max_size:
                    raise IpfsError(f"{cid} is larger than {max_size} bytes", status=200, endpoint="cat")
                parts.append(chunk)
        finally:
            await stream.aclose()
        return b"".join(parts)

    # --- pins --------------------------------------------------------------------------------------------

    async def pin_add(
        self, cid: CID | str | Sequence[CID | str], *, recursive: bool = True, timeout: float | None = None
    ) -> list[str]:
        """Pin (and fetch whatever is missing of) a DAG, or several; returns the pinned CIDs."""
        cids = [cid] if isinstance(cid, CID | str) else list(cid)
        params = [("arg", _cid_text(c)) for c in cids] + [("recursive", _bool(recursive))]
        if timeout is not None:
            params.append(("timeout", _duration(timeout)))
        doc = await self._json("pin/add", params)
        return [str(p) for p in doc.get("Pins") or []]

    async def pin_rm(self, cid: CID | str) -> list[str]:
        doc = await self._json("pin/rm", [("arg", _cid_text(cid))])
        return [str(p) for p in doc.get("Pins") or []]

    async def pin_ls(self, cid: CID | str | None = None, *, type: PinType = "recursive") -> dict[str, str]:
        """Pins as ``{cid: "recursive" | "direct" | "indirect"}``. Kubo's default type is "all", which lists
        every block below the recursive pins; this client asks for the recursive pins unless told."""
        params: list[tuple[str, str]] = [("type", type)]
        if cid is not None:
            params.append(("arg", _cid_text(cid)))
        doc = await self._json("pin/ls", params)
        keys = doc.get("Keys") or {}
        return {str(k): str(v.get("Type", "")) for k, v in keys.items() if isinstance(v, dict)}

    async def is_pinned(self, cid: CID | str) -> bool:
        try:
            return bool(await self.pin_ls(cid, type="all"))
        except IpfsError as err:
            if "not pinned" in err.message:
                return False
            raise

    # --- node and swarm ----------------------------------------------------------------------------------

    async def id(self) -> NodeId:
        doc = await self._json("id")
        return NodeId(
            id=str(doc.get("ID", "")),
            public_key=str(doc.get("PublicKey", "")),
            addresses=tuple(str(a) for a in doc.get("Addresses") or []),
            agent_version=str(doc.get("AgentVersion", "")),
            protocols=tuple(str(p) for p in doc.get("Protocols") or []),
        )

    async def version(self) -> VersionInfo:
        doc = await self._json("version")
        known = {"Version", "Commit", "Repo", "System"}
        return VersionInfo(
            version=str(doc.get("Version", "")),
            commit=str(doc.get("Commit", "")),
            repo=str(doc.get("Repo", "")),
            system=str(doc.get("System", "")),
            extra={k: str(v) for k, v in doc.items() if k not in known},
        )

    async def swarm_connect(self, multiaddr: str, *, timeout: float | None = None) -> list[str]:
        """Connect to a peer, ``/ip4/.../tcp/.../p2p/<peer id>``."""
        params = [("arg", multiaddr)]
        if timeout is not None:
            params.append(("timeout", _duration(timeout)))
        doc = await self._json("swarm/connect", params)
        return [str(s) for s in doc.get("Strings") or []]

    async def swarm_peers(self) -> list[SwarmPeer]:
        doc = await self._json("swarm/peers")
        peers: list[SwarmPeer] = []
        for entry in doc.get("Peers") or []:  # Kubo answers null when there are none
            direction = entry.get("Direction")
            peers.append(
                SwarmPeer(
                    peer=str(entry.get("Peer", "")),
                    addr=str(entry.get("Addr", "")),
                    direction=direction if isinstance(direction, int) else None,
                )
            )
        return peers
