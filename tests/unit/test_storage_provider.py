"""StorageProvider refuses what a lying daemon returns or stores (threat T2 of docs/security.md). The
daemon here is a fake, the only place one stands in for IPFS: a real daemon never lies, which is the point
of the check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proml.core.content.cid import cid_of_bytes
from proml.node.clients.ipfs import AddResult
from proml.node.providers.storage import PayloadMismatch, StorageProvider


class LyingDaemon:
    """Serves other bytes than asked for, and reports another CID than the content's."""

    def __init__(self) -> None:
        self.unpinned: list[Any] = []

    async def cat(self, cid: Any, timeout: float | None = None) -> AsyncIterator[bytes]:
        yield b"tampered "
        yield b"content"

    async def cat_bytes(self, cid: Any, max_size: int, timeout: float | None = None) -> bytes:
        return b"tampered content"

    async def add(self, content: AsyncIterator[bytes], cid_version: int, pin: bool) -> AddResult:
        async for _ in content:
            pass
        return AddResult("data", cid_of_bytes(b"something else", cid_version=cid_version), 0)

    async def pin_rm(self, cid: Any) -> list[str]:
        self.unpinned.append(cid)
        return [str(cid)]


def test_fetched_content_must_hash_to_the_cid_asked_for(tmp_path: Path) -> None:
    provider = StorageProvider(LyingDaemon())  # type: ignore[arg-type]
    wanted = cid_of_bytes(b"the real content", cid_version=1)
    with pytest.raises(PayloadMismatch, match="received content whose CID is"):
        asyncio.run(provider.fetch_to_file(wanted, tmp_path / "out"))
    with pytest.raises(PayloadMismatch):
        asyncio.run(provider.fetch_bytes(wanted, max_size=100))
    assert list(tmp_path.iterdir()) == []


def test_a_daemon_reporting_another_cid_is_refused_and_unpinned() -> None:
    daemon = LyingDaemon()
    with pytest.raises(PayloadMismatch, match="stored the payload as"):
        asyncio.run(StorageProvider(daemon).add_bytes(b"weights"))  # type: ignore[arg-type]
    assert daemon.unpinned == [cid_of_bytes(b"something else", cid_version=1)]
