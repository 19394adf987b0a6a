"""A node's key on disk, as `proml init` writes it: the background process decrypts it itself."""

from __future__ import annotations

import secrets
from pathlib import Path

from proml.node.clients.keystore import create_keystore


def write_keystore(folder: Path, private_key: bytes) -> tuple[Path, Path]:
    """A keystore holding `private_key` and the passphrase file that opens it."""
    keystore, passphrase_file = folder / "keystore.json", folder / "passphrase"
    passphrase = secrets.token_urlsafe(16)
    folder.mkdir(parents=True, exist_ok=True)
    passphrase_file.write_text(passphrase + "\n")
    passphrase_file.chmod(0o600)
    create_keystore(keystore, passphrase, private_key)
    return keystore, passphrase_file
