"""Where a node keeps its files, inside its data folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .services.api_keys import FILE_NAME as API_KEYS_FILE

OUTBOX_FILE = "outbox.db"
INDEX_FILE = "index.db"


@dataclass(frozen=True)
class Paths:
    outbox: Path
    index: Path
    api_keys: Path

    @classmethod
    def of(cls, data_dir: Path) -> Paths:
        return cls(data_dir / OUTBOX_FILE, data_dir / INDEX_FILE, data_dir / API_KEYS_FILE)
