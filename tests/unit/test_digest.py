"""Content digests: known vectors, streaming equals one-shot, the text form, and fingerprints."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import blake3
import pytest

from proml.core.content import (
    ContentDigest,
    Hasher,
    UnknownAlgorithm,
    digest_bytes,
    digest_file,
    digest_stream,
)
from proml.core.content.cid import cid_of_bytes
from proml.core.content.digest import ALGORITHMS, digest_async_chunks, digest_chunks, read_chunks
from proml.core.content.fingerprint import Fingerprinter, fingerprint_chunks, fingerprint_file
from tests.payloads import MIB, prng_chunks, write_prng_file

VECTORS = {
    ("sha256", b""): "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ("sha256", b"hello\n"): "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
    ("blake3", b""): "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
}


@pytest.mark.parametrize(("key", "expected"), list(VECTORS.items()))
def test_known_vectors(key: tuple[str, bytes], expected: str) -> None:
    algorithm, data = key
    digest = digest_bytes(data, algorithm)
    assert digest.hex == expected
    assert digest.value == bytes.fromhex(expected)
    assert digest.algorithm == algorithm
    assert str(digest) == f"{algorithm}:{expected}"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_an_empty_file_and_a_file_that_cannot_be_mapped_have_their_digests(
    algorithm: str, tmp_path: Path
) -> None:
    """BLAKE3 maps a regular file, an empty one too; a device is not a regular file, and is read instead."""
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    expected = digest_bytes(b"", algorithm)
    assert digest_file(empty, algorithm) == expected
    assert digest_file("/dev/null", algorithm) == expected


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_file_stream_and_chunks_agree_with_one_shot(algorithm: str, tmp_path: Path) -> None:
    size = 3 * MIB + 12_345
    path = write_prng_file(tmp_path / "data", size, seed=4)
    data = path.read_bytes()
    reference = hashlib.sha256(data).digest() if algorithm == "sha256" else blake3.blake3(data).digest()
    assert digest_file(path, algorithm).value == reference
    assert digest_file(path, algorithm, chunk_size=1000).value == reference
    assert digest_stream(io.BytesIO(data), algorithm, chunk_size=65_536).value == reference
    assert digest_chunks(prng_chunks(size, seed=4, piece=7_777), algorithm).value == reference

    async def pieces() -> AsyncIterator[bytes]:
        for piece in prng_chunks(size, seed=4):
            yield piece

    assert asyncio.run(digest_async_chunks(pieces(), algorithm)).value == reference


def test_read_chunks_reuses_one_buffer_and_covers_the_stream() -> None:
    data = bytes(range(256)) * 10
    pieces = [bytes(view) for view in read_chunks(io.BytesIO(data), 1000)]
    assert [len(p) for p in pieces] == [1000, 1000, 560]
    assert b"".join(pieces) == data
    with pytest.raises(ValueError):
        list(read_chunks(io.BytesIO(data), 0))


def test_hasher_counts_bytes() -> None:
    hasher = Hasher("blake3")
    hasher.update(b"abc")
    hasher.update(memoryview(b"defg"))
    assert hasher.size == 7
    assert hasher.finish() == digest_bytes(b"abcdefg", "blake3")


def test_text_form_round_trips_and_rejects_garbage() -> None:
    digest = digest_bytes(b"x", "sha256")
    assert ContentDigest.parse(str(digest)) == digest
    for bad in ["", "sha256", "sha256:xyz", "md5:" + "0" * 32, "sha256:" + "00" * 31]:
        with pytest.raises(ValueError):
            ContentDigest.parse(bad)


def test_unknown_algorithm() -> None:
    with pytest.raises(UnknownAlgorithm, match="sha256, blake3"):
        digest_bytes(b"", "md5")
    with pytest.raises(UnknownAlgorithm):
        Hasher("sha3_256")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fingerprint_reads_once_for_size_digest_and_cid(algorithm: str, tmp_path: Path) -> None:
    path = write_prng_file(tmp_path / "f", 600_000, seed=8)
    data = path.read_bytes()
    fingerprint = fingerprint_file(path, algorithm, cid_version=1)
    assert fingerprint.size == len(data)
    assert fingerprint.digest == digest_bytes(data, algorithm)
    assert fingerprint.cid == cid_of_bytes(data, cid_version=1)
    assert fingerprint_chunks([data[:5], data[5:]], algorithm, cid_version=1) == fingerprint
    fingerprinter = Fingerprinter(algorithm)
    fingerprinter.update(b"hello\n")
    assert str(fingerprinter.finish().cid) == "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
