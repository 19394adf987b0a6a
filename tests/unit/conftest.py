"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proml.node.services.outbox import Outbox


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    """An outbox of its own for the test, closed after it."""
    box = Outbox(tmp_path / "outbox.sqlite")
    try:
        yield box
    finally:
        box.close()
