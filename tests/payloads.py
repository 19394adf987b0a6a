"""Deterministic test payloads of any size, generated as a stream (a seeded PRNG), never whole in memory."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
CHUNK = 256 * KIB


def prng_chunks(size: int, seed: int, piece: int = MIB) -> Iterator[bytes]:
    """``size`` pseudo-random bytes from ``seed``, in pieces of at most ``piece`` bytes.

    The bytes depend only on ``size`` and ``seed``: they are drawn in blocks of 1 MiB whatever ``piece`` is.
    """
    rng = random.Random(seed)
    left = size
    while left > 0:
        block = rng.randbytes(min(MIB, left))
        left -= len(block)
        for offset in range(0, len(block), piece):
            yield block[offset : offset + piece]


def write_prng_file(path: Path, size: int, seed: int) -> Path:
    with open(path, "wb") as out:
        for chunk in prng_chunks(size, seed):
            out.write(chunk)
    return path
