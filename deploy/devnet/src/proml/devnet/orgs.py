"""Each organisation's files: its ProML signing key, the passphrase that opens it, its sealing key (in its
geth's keystore), its node configuration, its API key.

This is a development network: the passphrases are random and sit next to the keystores (mode 0600), and
the admin API key's secret is kept in devnet.json, so that scripts and the demo can use them. Never do
either on a real consortium (docs/operations.md).

The sealing key is not the ProML key: geth keeps its sealing key unlocked for as long as it runs, behind
a JSON-RPC endpoint, while the ProML key signs the organisation's records and is decrypted only in the
node's background process. A leaked sealing key lets someone seal blocks in the organisation's turn (and
the other signers can vote it out); it never lets them record provenance in the organisation's name.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from eth_utils.address import to_checksum_address

from proml.node.clients.keystore import create_keystore, decrypt_keystore, keystore_address, read_passphrase
from proml.node.config import NodeConfig, render_config
from proml.node.services.api_keys import FILE_NAME as API_KEYS_FILE
from proml.node.services.api_keys import ApiKeyStore, Scope

from .geth import LIGHT_SCRYPT_N, password_file, write_sealer_key
from .processes import private_dir, write_private
from .state import DevnetState, Layout, OrgState

API_KEY_NAME = "devnet"


def ensure_key(layout: Layout, name: str) -> str:
    """The organisation's address; a new key (and passphrase) the first time."""
    keystore, passphrase_file = layout.keystore(name), layout.passphrase(name)
    if keystore.exists():
        return str(to_checksum_address(keystore_address(keystore)))
    if not passphrase_file.exists():
        write_private(passphrase_file, secrets.token_urlsafe(24) + "\n")
    passphrase = read_passphrase(None, passphrase_file)
    return str(create_keystore(keystore, passphrase))


def ensure_sealer_key(layout: Layout, name: str) -> str:
    """A new sealing key for the organisation's geth (in its keystore, with a random password); its
    address. The light scrypt factor keeps geth's unlock at start fast: the password is 32 random bytes,
    so the factor adds nothing an attacker could not get more cheaply elsewhere."""
    datadir = layout.geth_dir(name)
    private_dir(datadir)
    return write_sealer_key(
        datadir, secrets.token_bytes(32), secrets.token_urlsafe(32), scrypt_n=LIGHT_SCRYPT_N
    )


def sealer_password(layout: Layout, name: str) -> Path:
    return password_file(layout.geth_dir(name))


def private_key(layout: Layout, name: str) -> bytes:
    """The organisation's key, decrypted: only to found the consortium (deploy and governance)."""
    passphrase = read_passphrase(None, layout.passphrase(name))
    return bytes(decrypt_keystore(layout.keystore(name), passphrase))


def write_config(layout: Layout, state: DevnetState, org: OrgState) -> bool:
    """Write node.toml for `org`, with paths relative to its folder, only when a setting changed (a port
    that had to move), so that a resumed devnet keeps the same file; whether it changed. The node talks to
    its own organisation's geth, Kubo and cluster peer only."""
    config = NodeConfig(
        org=org.name,
        data_dir=Path("data"),
        keystore=Path("keystore.json"),
        passphrase_file=Path("passphrase"),
        chain_url=state.chain_url(org),
        registry=state.registry,
        confirmations=state.confirmations,
        chain_id=state.chain_id,
        ipfs_api=org.ipfs_api,
        cluster_api=org.cluster_api,
        api_port=org.node_port,
    )
    path = layout.config(org.name)
    text = render_config(config)
    private_dir(layout.org_dir(org.name))
    private_dir(layout.data_dir(org.name))
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def ensure_api_key(layout: Layout, org: OrgState) -> None:
    """An admin API key in the node's key store, its secret in `org` (once)."""
    if org.api_key:
        return
    store = ApiKeyStore(layout.data_dir(org.name) / API_KEYS_FILE)
    key, secret = store.create(API_KEY_NAME, (Scope.ADMIN,))
    org.api_key_id, org.api_key = key.id, secret
