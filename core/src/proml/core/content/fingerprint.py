"""One pass over a payload for everything a record needs: its size, its content digest and its IPFS CID."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from proml.core.content.cid import CID, UnixfsBuilder
from proml.core.content.digest import CHUNK_SIZE, DEFAULT_ALGORITHM, ContentDigest, Hasher, read_chunks


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Size in bytes, content digest, and the CID that Kubo's ``ipfs add`` gives the same bytes."""

    size: int
    digest: ContentDigest
    cid: CID
    dag_size: int


class Fingerprinter:
    """Digest and CID of a payload fed in pieces, computed together."""

    __slots__ = ("_builder", "_hasher")

    def __init__(
        self, algorithm: str = DEFAULT_ALGORITHM, *, cid_version: int = 0, raw_leaves: bool | None = None
    ) -> None:
        self._hasher = Hasher(algorithm)
        self._builder = UnixfsBuilder(cid_version=cid_version, raw_leaves=raw_leaves)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._hasher.update(data)
        self._builder.update(data)

    def finish(self) -> Fingerprint:
        result = self._builder.finish()
        return Fingerprint(result.size, self._hasher.finish(), result.cid, result.dag_size)


def fingerprint_chunks(
    chunks: Iterable[bytes | bytearray | memoryview],
    algorithm: str = DEFAULT_ALGORITHM,
    *,
    cid_version: int = 0,
    raw_leaves: bool | None = None,
) -> Fingerprint:
    fingerprinter = Fingerprinter(algorithm, cid_version=cid_version, raw_leaves=raw_leaves)
    for chunk in chunks:
        fingerprinter.update(chunk)
    return fingerprinter.finish()


def fingerprint_file(
    path: str | os.PathLike[str],
    algorithm: str = DEFAULT_ALGORITHM,
    *,
    cid_version: int = 0,
    raw_leaves: bool | None = None,
) -> Fingerprint:
    """Read a file once, in chunks, for its size, digest and CID."""
    with open(path, "rb") as stream:
        return fingerprint_chunks(
            read_chunks(stream, CHUNK_SIZE), algorithm, cid_version=cid_version, raw_leaves=raw_leaves
        )
