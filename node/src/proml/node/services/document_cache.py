"""Record documents this node has already fetched and checked, or published itself, kept by their on-chain
digest.

Why: verifying a whole history needs every record document of the asset, and fetching 10,000 of them
from IPFS, one request each, takes far longer than the rest of the check. A record document never
changes (the chain holds its SHA-256), so a node that fetched one and found it to be the document the
chain names can keep a copy, and verify from it the next time.

Why the copy is not trusted: an entry is a key (the SHA-256 the chain records for a document) and bytes,
in a SQLite file in the node's data folder, where a person, a bug or the disk can change it. The verify
service therefore checks the bytes of every hit exactly as it checks bytes from IPFS (their SHA-256
against the digest on chain, their CID against the CID on chain) before it reads them; an entry that
fails is dropped and the document fetched again. Hashing a document of a few KiB costs microseconds, a
fetch a millisecond or more, so the check costs the cache almost nothing and no entry can give a false
OK. Which process wrote an entry does not matter either: the check makes every entry as good as a fetch.
So the submitter keeps each document it stores on IPFS here too (under the digest it then records), and
neither the replicator nor a verification fetches back from IPFS what the node wrote itself; a document
whose record never reached the chain is an entry nothing asks for.

The store is not bounded: it holds one copy of each record document the node has verified, a few KiB
per record, as its IPFS daemon does. Deleting the file is always safe (the next verification fetches
again). A file SQLite cannot read is a cache that misses, logged, never a failed verification.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Collection, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "verified-documents.db"
# SQLite binds at most 32,766 parameters (999 before 3.32); lookups go in slices well below either.
_LOOKUP_SLICE = 500


class DocumentCache:
    """Bytes by their SHA-256 (32 bytes), in one SQLite file. Safe to call from any thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = _open(path)
        except sqlite3.DatabaseError as exc:
            log.warning("the verified-document store %s is not readable (%s): starting it afresh", path, exc)
            for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                stale.unlink(missing_ok=True)
            self._db = _open(path)

    def get_many(self, digests: Collection[bytes]) -> dict[bytes, bytes]:
        """The entries held for `digests` (unchecked: the caller checks each against the chain)."""
        keys = list(digests)
        found: dict[bytes, bytes] = {}
        try:
            with self._lock:
                for start in range(0, len(keys), _LOOKUP_SLICE):
                    part = keys[start : start + _LOOKUP_SLICE]
                    marks = ",".join("?" * len(part))
                    rows = self._db.execute(
                        f"SELECT digest, data FROM documents WHERE digest IN ({marks})", part
                    )
                    found.update((bytes(d), bytes(data)) for d, data in rows)
        except sqlite3.Error as exc:
            log.warning(
                "the verified-document store %s cannot be read (%s): fetching from IPFS", self.path, exc
            )
            return {}
        return found

    def put_many(self, documents: Iterable[tuple[bytes, bytes]]) -> None:
        """Keep `(digest, bytes)` pairs the caller has just checked against the chain (replacing any
        entry under the same digest, such as one that failed its check)."""
        rows = list(documents)
        if not rows:
            return
        try:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?)", rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("the verified-document store %s cannot be written (%s)", self.path, exc)

    def discard(self, digests: Iterable[bytes]) -> None:
        """Drop entries that failed their check, so that a bad copy is not read again."""
        keys = [(d,) for d in digests]
        if not keys:
            return
        try:
            with self._lock:
                self._db.executemany("DELETE FROM documents WHERE digest = ?", keys)
        except sqlite3.Error as exc:
            log.warning("the verified-document store %s cannot be written (%s)", self.path, exc)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # A power cut may lose the last entries: they are fetched again. Nothing here needs more.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS documents (digest BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID"
        )
    except BaseException:
        db.close()
        raise
    return db
