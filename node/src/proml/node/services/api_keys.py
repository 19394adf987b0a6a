"""API keys of a node: random secrets handed out once, stored only as hashes, each with scopes.

A key is 32 random bytes (`proml_` + URL-safe base64), so a plain SHA-256 of it is enough to store: there
is nothing to brute-force. The store is a JSON file in the node's data folder, mode 0600, rewritten
atomically.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

KEY_PREFIX = "proml_"
FILE_NAME = "api-keys.json"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


# A wider scope includes the narrower ones.
_INCLUDES: dict[Scope, frozenset[Scope]] = {
    Scope.READ: frozenset({Scope.READ}),
    Scope.WRITE: frozenset({Scope.READ, Scope.WRITE}),
    Scope.ADMIN: frozenset({Scope.READ, Scope.WRITE, Scope.ADMIN}),
}


class ApiKeyError(Exception):
    pass


class UnknownScope(ApiKeyError, ValueError):
    pass


@dataclass(frozen=True)
class ApiKey:
    """What the node keeps of a key: never the key itself."""

    id: str
    name: str
    scopes: tuple[Scope, ...]
    sha256: str
    created_at: float

    def allows(self, scope: Scope) -> bool:
        return any(scope in _INCLUDES[s] for s in self.scopes)


def parse_scopes(names: str | Sequence[str]) -> tuple[Scope, ...]:
    """`"read,write"` or `["read", "write"]` as scopes; an unknown name raises `UnknownScope`."""
    items = names.split(",") if isinstance(names, str) else list(names)
    scopes = []
    for item in (i.strip() for i in items):
        try:
            scopes.append(Scope(item))
        except ValueError:
            raise UnknownScope(f"{item!r} is not a scope: use {', '.join(s.value for s in Scope)}") from None
    if not scopes:
        raise UnknownScope("a key needs at least one scope: read, write or admin")
    return tuple(dict.fromkeys(scopes))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime = self._modified()
        self._keys = self._load()

    def _modified(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def _reload_if_changed(self) -> None:
        """Pick up keys that `proml node key` wrote while the node runs."""
        modified = self._modified()
        if modified != self._mtime:
            self._mtime = modified
            self._keys = self._load()

    def _load(self) -> list[ApiKey]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return [
            ApiKey(k["id"], k["name"], tuple(Scope(s) for s in k["scopes"]), k["sha256"], k["created_at"])
            for k in document["keys"]
        ]

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        text = json.dumps({"keys": [asdict(k) for k in self._keys]}, indent=2)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        self._mtime = self._modified()

    def create(self, name: str, scopes: tuple[Scope, ...]) -> tuple[ApiKey, str]:
        """A new key: what is stored, and the secret, which is shown this once and never again."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(secrets.token_hex(8), name, scopes, _hash(secret), time.time())
        with self._lock:
            self._reload_if_changed()
            self._keys.append(key)
            self._save()
        return key, secret

    def revoke(self, key_id: str) -> bool:
        with self._lock:
            self._reload_if_changed()
            kept = [k for k in self._keys if k.id != key_id]
            if len(kept) == len(self._keys):
                return False
            self._keys = kept
            self._save()
            return True

    def list(self) -> list[ApiKey]:
        with self._lock:
            self._reload_if_changed()
            return list(self._keys)

    def authenticate(self, secret: str) -> ApiKey | None:
        """The key whose hash matches `secret`, compared in constant time; None if there is none."""
        digest = _hash(secret)
        with self._lock:
            self._reload_if_changed()
            keys = list(self._keys)
        found = None
        for key in keys:
            if hmac.compare_digest(key.sha256, digest):
                found = key
        return found
