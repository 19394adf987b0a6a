"""The only code that touches the organisation's private key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from eth_account import Account
from eth_account.signers.local import LocalAccount

from proml.node.clients.keystore import decrypt_keystore


class Signer:
    """Signs transactions with the organisation's key. The key stays inside: it is not an attribute
    anyone can read by accident, it is not in `repr`, and the object refuses to be pickled or copied."""

    __slots__ = ("__account",)

    def __init__(self, private_key: bytes) -> None:
        self.__account: LocalAccount = Account.from_key(private_key)

    @classmethod
    def from_keystore(cls, path: Path, passphrase: str) -> Signer:
        return cls(decrypt_keystore(path, passphrase))

    @property
    def address(self) -> str:
        return str(self.__account.address)

    def sign_transaction(self, transaction: dict[str, Any]) -> bytes:
        """The signed raw transaction, ready for `eth_sendRawTransaction`."""
        return bytes(self.__account.sign_transaction(transaction).raw_transaction)

    def __repr__(self) -> str:
        return f"Signer(address={self.address})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Signer cannot be pickled or copied: the key stays in this process")
