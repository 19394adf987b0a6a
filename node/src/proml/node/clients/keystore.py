"""The organisation's key at rest: an eth-account encrypted keystore (scrypt, AES-128-CTR).

Only `proml.node.providers.signer.Signer` calls `decrypt_keystore`; nothing else ever holds the key.
The passphrase comes from an environment variable or a file, never from a config value or an argument
that would show in a process list.

eth-account is imported by the two functions that make or open a key, not by the module: the node's API
process reads only the address (`keystore_address`), and so never loads the signing library and its
dependencies (about 3 MiB of its memory and a second of its start-up, measured alone).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class KeystoreError(Exception):
    """The keystore or its passphrase could not be used; the message says what to do."""


class KeystoreNotFound(KeystoreError):
    pass


class KeystoreExists(KeystoreError):
    pass


class PassphraseMissing(KeystoreError):
    pass


class WrongPassphrase(KeystoreError):
    pass


def read_passphrase(env_var: str | None, file: Path | None) -> str:
    """The passphrase from `file` if given, else from environment variable `env_var`."""
    if file is not None:
        try:
            passphrase = file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise PassphraseMissing(f"cannot read the passphrase file {file}: {exc.strerror}") from None
        if passphrase:
            return passphrase
        raise PassphraseMissing(f"the passphrase file {file} is empty")
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    where = f"the environment variable {env_var}" if env_var else "a passphrase file"
    raise PassphraseMissing(f"no keystore passphrase: set {where} (or configure a passphrase file)")


def create_keystore(path: Path, passphrase: str, private_key: bytes | None = None) -> str:
    """Write a new encrypted keystore at `path` (mode 0600) and return its address.

    A fresh key is generated unless `private_key` is given (to import an existing one).
    """
    if path.exists():
        raise KeystoreExists(f"{path} exists already; move it away or use it as it is")
    if len(passphrase) < 8:
        raise KeystoreError("the keystore passphrase must be at least 8 characters long")
    from eth_account import Account  # only here: see the module's docstring

    account = Account.from_key(private_key) if private_key is not None else Account.create()
    keystore = Account.encrypt(account.key, passphrase, kdf="scrypt")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(keystore, out)
    return str(account.address)


def keystore_address(path: Path) -> str:
    """The address a keystore holds the key of, read without decrypting it."""
    address = _read(path).get("address")
    if not isinstance(address, str):
        raise KeystoreError(f"{path} is not an Ethereum keystore (it has no address)")
    return "0x" + address.removeprefix("0x")


def decrypt_keystore(path: Path, passphrase: str) -> bytes:
    """The private key in the keystore at `path`. For the Signer only."""
    from eth_account import Account  # only here: see the module's docstring

    keystore = _read(path)
    try:
        return bytes(Account.decrypt(keystore, passphrase))
    except ValueError:
        raise WrongPassphrase(f"the passphrase does not open the keystore {path}") from None


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeystoreNotFound(f"no keystore at {path}: create one with `proml init`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise KeystoreError(f"cannot read the keystore {path}: {exc}") from None
    if not isinstance(data, dict):
        raise KeystoreError(f"{path} is not an Ethereum keystore")
    return data
