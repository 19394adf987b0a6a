"""The chain's files: the genesis (geth Clique or Besu QBFT), and each organisation's client
configuration with the other organisations as its static peers.

geth 1.13.15 is the last geth that seals Clique blocks; its genesis must have London at block 0 and no
later fork (Clique refuses Shanghai) and no terminal total difficulty. Besu QBFT is documented here, not
tested: Besu cannot run on this machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import rlp
from eth_utils.address import to_canonical_address, to_checksum_address

from .members import Members, Org

GAS_LIMIT = 30_000_000
CLIQUE_EPOCH = 30_000
QBFT_EPOCH = 30_000
# QBFT's genesis mixHash: the constant Besu's documentation gives ("ctical byzantine fault tolerance").
QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
_ZERO32 = "0x" + "00" * 32
_ZERO20 = "0x" + "00" * 20


def enode(enode_id: str, org: Org) -> str:
    """The enode URL of `org`'s chain client (a DNS name is resolved when the client starts)."""
    return f"enode://{enode_id}@{org.host}:{org.ports['p2p']}"


def clique_extra_data(signers: Sequence[str]) -> str:
    """The genesis `extraData` that names the first signers: 32 zero bytes, the addresses in ascending
    order (20 bytes each), 65 zero bytes (no seal in a genesis)."""
    if not signers:
        raise ValueError("a Clique chain needs at least one signer")
    ordered = sorted({to_canonical_address(s) for s in signers})
    return "0x" + (bytes(32) + b"".join(ordered) + bytes(65)).hex()


def qbft_extra_data(validators: list[str]) -> str:
    """RLP([32 zero bytes of vanity, [validators], no vote (an empty list), round 0 (empty bytes), no
    seals (an empty list)]), as Besu encodes a QBFT genesis's extraData."""
    addresses = [to_canonical_address(v) for v in validators]
    encoded: bytes = rlp.encode([bytes(32), addresses, [], b"", []])
    return "0x" + encoded.hex()


def qbft_validators(extra_data: str) -> list[str]:
    """The validators a QBFT extraData names (the inverse of `qbft_extra_data`, for checks)."""
    decoded = rlp.decode(bytes.fromhex(extra_data.removeprefix("0x")))
    return ["0x" + bytes(v).hex() for v in decoded[1]]


def _alloc(balances: Mapping[str, int]) -> dict[str, dict[str, str]]:
    """A genesis `alloc`: wei by address."""
    return {to_checksum_address(a)[2:].lower(): {"balance": hex(wei)} for a, wei in balances.items()}


def _funded(members: Members) -> dict[str, int]:
    return {org.proml_address: members.fund_wei for org in members.orgs}


def clique_genesis(
    signers: Sequence[str], alloc: Mapping[str, int], *, chain_id: int, period: int
) -> dict[str, Any]:
    """A Clique genesis: every fork up to London at block 0 and none after (no Shanghai, no merge: Clique
    cannot seal them); `signers` seal from block 1; `alloc` is wei by address; a block every `period`
    seconds (whole seconds: Clique has no finer unit). The devnet's genesis is made here too."""
    if period < 0:
        raise ValueError(f"the Clique period is whole seconds, not {period}")
    forks = ["homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople", "petersburg"]
    forks += ["istanbul", "muirGlacier", "berlin", "london"]
    config: dict[str, Any] = {"chainId": chain_id}
    config.update({f"{fork}Block": 0 for fork in forks})
    config["clique"] = {"period": period, "epoch": CLIQUE_EPOCH}
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": "0x0",
        "extraData": clique_extra_data(signers),
        "gasLimit": hex(GAS_LIMIT),
        "difficulty": "0x1",
        "mixHash": _ZERO32,
        "coinbase": _ZERO20,
        "alloc": _alloc(alloc),
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": _ZERO32,
    }


def members_clique_genesis(members: Members) -> dict[str, Any]:
    """The consortium's Clique genesis: its sealers sign, each organisation's ProML address is funded."""
    return clique_genesis(
        [org.sealer for org in members.orgs if org.sealer is not None],
        _funded(members),
        chain_id=members.chain_id,
        period=members.block_period,
    )


def qbft_genesis(members: Members, validators: list[str]) -> dict[str, Any]:
    return {
        "config": {
            "chainId": members.chain_id,
            "berlinBlock": 0,
            "londonBlock": 0,
            "qbft": {
                "blockperiodseconds": members.block_period,
                "epochlength": QBFT_EPOCH,
                "requesttimeoutseconds": max(4, 2 * members.block_period),
            },
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        "extraData": qbft_extra_data(validators),
        "gasLimit": hex(GAS_LIMIT),
        "difficulty": "0x1",
        "mixHash": QBFT_MIX_HASH,
        "coinbase": _ZERO20,
        "alloc": _alloc(_funded(members)),
    }


def _toml_list(values: list[str]) -> str:
    if not values:
        return "[]"
    return "[\n" + "".join(f"  {json.dumps(v)},\n" for v in values) + "]"


def geth_config(members: Members, org: Org, peers: list[str]) -> str:
    """geth's `--config` TOML: the static peers (geth 1.13 ignores static-nodes.json), no discovery. The
    rest is in the service's flags, where an operator looks for it."""
    return (
        f"# geth 1.13.15 for {org.name} in {members.consortium} (chain id {members.chain_id}).\n"
        "# The other organisations' chain clients, dialled and redialled; DNS names are resolved at start.\n"
        "[Node.P2P]\n"
        "NoDiscovery = true\n"
        "BootstrapNodes = []\n"
        "BootstrapNodesV5 = []\n"
        f'ListenAddr = ":{org.ports["p2p"]}"\n'
        "MaxPeers = 50\n"
        f"StaticNodes = {_toml_list(peers)}\n"
        f"TrustedNodes = {_toml_list(peers)}\n"
    )


def besu_config(members: Members, org: Org) -> str:
    """Besu's `--config-file` TOML (documented, not tested here)."""
    d = members.deploy
    return (
        f"# Besu QBFT for {org.name} in {members.consortium} (chain id {members.chain_id}).\n"
        "# Documented, not tested here (Besu cannot run on the machine this was made on).\n"
        f'data-path = "{d.data_dir}/besu"\n'
        f'genesis-file = "{d.config_dir}/chain/genesis.json"\n'
        f'node-private-key-file = "{d.config_dir}/chain/nodekey"\n'
        f'static-nodes-file = "{d.config_dir}/chain/static-nodes.json"\n'
        f"network-id = {members.chain_id}\n"
        "discovery-enabled = false\n"
        'p2p-host = "0.0.0.0"\n'
        f"p2p-port = {org.ports['p2p']}\n"
        'sync-mode = "FULL"\n'
        "rpc-http-enabled = true\n"
        'rpc-http-host = "127.0.0.1"\n'
        f"rpc-http-port = {org.ports['http']}\n"
        'rpc-http-api = ["ETH", "NET", "WEB3", "QBFT"]\n'
        'host-allowlist = ["localhost", "127.0.0.1"]\n'
        + (
            ""
            if all(o.host_is_ip for o in members.orgs)
            else "# Static nodes named by DNS names: Besu's (experimental) DNS option.\nXdns-enabled = true\n"
        )
    )
