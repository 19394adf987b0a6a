"""The secrets the generator makes, and what the other organisations may know of them.

- a chain node key per organisation (secp256k1): its public key is the organisation's enode id; with
  Besu QBFT its address is the organisation's validator;
- a libp2p identity per organisation for Kubo and one for IPFS Cluster (Ed25519): the peer ids go into
  the others' peering lists and the cluster's trusted peers;
- the consortium's swarm key (Kubo's private network) and cluster secret, one each for everyone.

Every secret is written mode 0600 and only into the folder of the organisation that holds it. A secret
already in the output is read back instead of made again, so that generating once more (`--force`, after
a change of the members file) keeps every enode and peer id the others know.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from coincurve import PrivateKey, PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

SWARM_KEY_HEADER = "/key/swarm/psk/1.0.0/\n/base16/\n"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class SecretFileError(ValueError):
    """A secret file in the output that cannot be read back: the message names it and what to do."""


@dataclass(frozen=True)
class NodeKey:
    """A chain client's p2p key: secp256k1."""

    private: bytes

    @property
    def enode_id(self) -> str:
        """The 64-byte uncompressed public key without its 0x04 prefix, in hex: an enode URL's user part."""
        return PrivateKey(self.private).public_key.format(compressed=False)[1:].hex()

    @property
    def address(self) -> str:
        """The key's Ethereum address (checksummed): a Besu QBFT validator is its node key's address."""
        return address_of(self.enode_id)


@dataclass(frozen=True)
class Libp2pIdentity:
    """An Ed25519 libp2p key: Kubo's `Identity` and IPFS Cluster's identity.json."""

    seed: bytes

    @property
    def public(self) -> bytes:
        key = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def peer_id(self) -> str:
        """The peer id: the identity multihash of the protobuf-encoded public key, base58btc (12D3KooW…)."""
        encoded = _protobuf_key(self.public)
        return _base58(bytes([0x00, len(encoded)]) + encoded)

    @property
    def private_key_b64(self) -> str:
        """The protobuf-encoded private key (type Ed25519, data = seed ‖ public key), base64: the form
        both Kubo's config and IPFS Cluster's identity.json hold."""
        return base64.b64encode(_protobuf_key(self.seed + self.public)).decode()


def _protobuf_key(data: bytes) -> bytes:
    # libp2p's crypto.pb PublicKey/PrivateKey: field 1 (KeyType, varint) = 1 (Ed25519), field 2 (bytes).
    return bytes([0x08, 0x01, 0x12, len(data)]) + data


def _base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


def _unbase58(text: str) -> bytes | None:
    number = 0
    for char in text:
        digit = _B58.find(char)
        if digit < 0:
            return None
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def is_ed25519_peer_id(text: str) -> bool:
    """Whether `text` is a peer id of an Ed25519 key (identity multihash of its protobuf form)."""
    raw = _unbase58(text)
    return raw is not None and len(raw) == 38 and raw[:6] == bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])


def is_public_key(raw: bytes) -> bool:
    """Whether `raw` (64 bytes, no 0x04 prefix) is a point of secp256k1."""
    try:
        PublicKey(b"\x04" + raw)
    except ValueError:
        return False
    return len(raw) == 64


def address_of(enode_id: str) -> str:
    """The Ethereum address of a node's public key (an enode id): a QBFT validator's address."""
    return to_checksum_address(keccak(bytes.fromhex(enode_id))[-20:])


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, mode 0600 from its creation (never readable by others, not for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _existing(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def node_key(path: Path, besu: bool = False) -> NodeKey:
    """The node key at `path`, made there if absent. geth reads 64 hex digits; Besu wants them 0x-prefixed."""
    text = _existing(path)
    if text is not None:
        try:
            key = bytes.fromhex(text.strip().removeprefix("0x"))
            PrivateKey(key)
        except ValueError:
            raise SecretFileError(
                f"{path} is not a node key (64 hex digits): delete it to make a new one"
            ) from None
        return NodeKey(key)
    key = PrivateKey().secret
    write_private(path, ("0x" if besu else "") + key.hex())
    return NodeKey(key)


def kubo_identity(path: Path) -> Libp2pIdentity:
    """Kubo's identity at `path` (`{"PeerID", "PrivKey"}`, the `Identity` section of its config)."""
    return _identity(path, "PeerID", "PrivKey")


def cluster_identity(path: Path) -> Libp2pIdentity:
    """IPFS Cluster's identity.json at `path` (`{"id", "private_key"}`)."""
    return _identity(path, "id", "private_key")


def _identity(path: Path, id_key: str, key_key: str) -> Libp2pIdentity:
    text = _existing(path)
    if text is not None:
        try:
            document = json.loads(text)
            raw = base64.b64decode(document[key_key], validate=True)
            if raw[:4] != bytes([0x08, 0x01, 0x12, 64]) or len(raw) != 68:
                raise ValueError("not an Ed25519 key")
            identity = Libp2pIdentity(raw[4:36])
            if identity.peer_id != document[id_key] or identity.public != raw[36:]:
                raise ValueError("the id does not match the key")
        except (ValueError, KeyError, TypeError) as exc:
            raise SecretFileError(
                f"{path} is not a usable Ed25519 identity ({exc}): delete it to make a new one"
            ) from None
        return identity
    identity = Libp2pIdentity(secrets.token_bytes(32))
    document = {id_key: identity.peer_id, key_key: identity.private_key_b64}
    write_private(path, json.dumps(document, indent=4) + "\n")
    return identity


def swarm_key(existing: list[Path]) -> str:
    """The consortium's swarm key file: the first of `existing` that holds one, or a new one."""
    for path in existing:
        text = _existing(path)
        if text is not None:
            if (
                not text.startswith(SWARM_KEY_HEADER)
                or len(bytes.fromhex(text[len(SWARM_KEY_HEADER) :].strip())) != 32
            ):
                raise SecretFileError(f"{path} is not a swarm key: delete every copy to make a new one")
            return text
    return SWARM_KEY_HEADER + secrets.token_hex(32) + "\n"


def cluster_secret(existing: list[Path]) -> str:
    """The consortium's cluster secret (32 bytes, hex): from the first `cluster.env` of `existing`, or new."""
    for path in existing:
        text = _existing(path)
        if text is not None:
            for line in text.splitlines():
                if line.startswith("CLUSTER_SECRET="):
                    value = line.removeprefix("CLUSTER_SECRET=").strip()
                    if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
                        return value
            raise SecretFileError(
                f"{path} holds no CLUSTER_SECRET of 64 hex digits: delete every copy to make a new one"
            )
    return secrets.token_hex(32)
