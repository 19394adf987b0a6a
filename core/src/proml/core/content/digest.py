"""Streaming content digests: SHA-256 (the default, for interoperability) and BLAKE3 (for speed).

Files are read in chunks of ``CHUNK_SIZE`` bytes, never whole. A digest is 32 bytes for both algorithms, so
it fits the contracts' ``bytes32`` fields; its text form is ``"<algorithm>:<hex>"``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeGuard, get_args

import blake3

DigestAlgorithm = Literal["sha256", "blake3"]
ALGORITHMS: Final[tuple[DigestAlgorithm, ...]] = get_args(DigestAlgorithm)
DEFAULT_ALGORITHM: Final[DigestAlgorithm] = "sha256"
DIGEST_SIZE: Final = 32
CHUNK_SIZE: Final = 1 << 20


class UnknownAlgorithm(ValueError):
    """A digest algorithm other than those in ``ALGORITHMS``."""

    def __init__(self, algorithm: str) -> None:
        super().__init__(f"unknown digest algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
        self.algorithm = algorithm


def is_algorithm(name: str) -> TypeGuard[DigestAlgorithm]:
    return name in ALGORITHMS


def check_algorithm(name: str) -> DigestAlgorithm:
    """``name`` as a ``DigestAlgorithm``, or ``UnknownAlgorithm``."""
    if not is_algorithm(name):
        raise UnknownAlgorithm(name)
    return name


@dataclass(frozen=True, slots=True)
class ContentDigest:
    """The digest of some content: algorithm and the 32 digest bytes."""

    algorithm: DigestAlgorithm
    value: bytes

    def __post_init__(self) -> None:
        check_algorithm(self.algorithm)
        if len(self.value) != DIGEST_SIZE:
            raise ValueError(f"a {self.algorithm} digest has {DIGEST_SIZE} bytes, not {len(self.value)}")

    @property
    def hex(self) -> str:
        return self.value.hex()

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, text: str) -> ContentDigest:
        """Parse ``"<algorithm>:<64 hex digits>"``."""
        algorithm, sep, hexdigits = text.partition(":")
        if not sep:
            raise ValueError(f"not a digest (expected '<algorithm>:<hex>'): {text!r}")
        try:
            value = bytes.fromhex(hexdigits)
        except ValueError:
            raise ValueError(f"not a digest (the part after ':' is not hexadecimal): {text!r}") from None
        return cls(check_algorithm(algorithm), value)


class ReadableStream(Protocol):
    """A binary stream that can read into a buffer (files opened "rb", ``io.BytesIO``, sockets' files)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


class _Hash(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def digest(self) -> bytes: ...


class Hasher:
    """An incremental digest: ``update()`` with pieces of the content, then ``finish()``."""

    __slots__ = ("_hash", "algorithm", "size")

    def __init__(self, algorithm: str = DEFAULT_ALGORITHM) -> None:
        self.algorithm: DigestAlgorithm = check_algorithm(algorithm)
        self._hash: _Hash = (
            hashlib.sha256() if self.algorithm == "sha256" else blake3.blake3(max_threads=blake3.blake3.AUTO)
        )
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)
        self.size += len(data)

    def finish(self) -> ContentDigest:
        return ContentDigest(self.algorithm, self._hash.digest())


def digest_bytes(data: bytes | bytearray | memoryview, algorithm: str = DEFAULT_ALGORITHM) -> ContentDigest:
    hasher = Hasher(algorithm)
    hasher.update(data)
    return hasher.finish()


def digest_chunks(
    chunks: Iterable[bytes | bytearray | memoryview], algorithm: str = DEFAULT_ALGORITHM
) -> ContentDigest:
    hasher = Hasher(algorithm)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.finish()


async def digest_async_chunks(
    chunks: AsyncIterable[bytes | bytearray | memoryview], algorithm: str = DEFAULT_ALGORITHM
) -> ContentDigest:
    hasher = Hasher(algorithm)
    async for chunk in chunks:
        hasher.update(chunk)
    return hasher.finish()


def read_chunks(stream: ReadableStream, chunk_size: int = CHUNK_SIZE) -> Iterable[memoryview]:
    """The stream's bytes in pieces of at most ``chunk_size``, reusing one buffer.

    Each piece is only valid until the next one is produced: consume it (hash it, copy it) first.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    while True:
        n = stream.readinto(view)
        if not n:
            return
        yield view[:n]


def digest_stream(
    stream: ReadableStream, algorithm: str = DEFAULT_ALGORITHM, chunk_size: int = CHUNK_SIZE
) -> ContentDigest:
    """Digest a binary stream from its current position to its end, chunk by chunk."""
    return digest_chunks(read_chunks(stream, chunk_size), algorithm)


def digest_file(
    path: str | os.PathLike[str], algorithm: str = DEFAULT_ALGORITHM, chunk_size: int = CHUNK_SIZE
) -> ContentDigest:
    """Digest a file: SHA-256 reading it in chunks of ``chunk_size`` bytes; BLAKE3, of a regular file, as
    `b3sum` does, the file mapped into memory and hashed on every core by the blake3 crate, outside the
    GIL (reading it in 1 MiB chunks took three times as long as b3sum: docs/benchmarks.md)."""
    check_algorithm(algorithm)
    if algorithm == "blake3" and os.path.isfile(path):
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update_mmap(path)
        return ContentDigest("blake3", hasher.digest())
    with open(path, "rb") as stream:
        return digest_stream(stream, algorithm, chunk_size)
