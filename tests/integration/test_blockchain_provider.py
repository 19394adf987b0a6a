"""BlockchainProvider against a real anvil: deploy, send, confirmations, nonces, reverts, replacement."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from web3 import Web3

from proml.contracts.artifacts import load_artifact
from proml.contracts.errors import ContractRevert
from proml.core.workflow import Role
from proml.node.clients.chain import (
    AlreadyKnown,
    ChainClient,
    ChainUnavailable,
    GasLimitExceeded,
    InsufficientFunds,
    IntrinsicGasTooLow,
    NonceTooLow,
    Underpriced,
)
from proml.node.providers.blockchain import GWEI, BlockchainProvider, Fees, ReceiptTimeout
from proml.node.providers.signer import Signer
from tests.integration.anvil import (  # noqa: F401  (fixtures)
    Anvil,
    anvil_block_time_fixture,
    anvil_fixture,
    free_port,
)

CID_PREFIX = bytes.fromhex("01551220")
REGISTRY_ABI = load_artifact("ProML").abi
_ENCODER = Web3().eth.contract(abi=REGISTRY_ABI)


def calldata(function: str, *args: Any) -> bytes:
    return bytes.fromhex(_ENCODER.encode_abi(function, args=list(args))[2:])


def dataset_args() -> tuple[bytes, bytes, bytes, list[str]]:
    digest = os.urandom(32)
    return digest, os.urandom(32), CID_PREFIX + digest, []


def provider_for(anvil: Anvil, key_index: int = 0, **options: Any) -> BlockchainProvider:
    return BlockchainProvider(anvil.client(), Signer(anvil.keys[key_index]), anvil.chain_id, **options)


def deploy_registry(provider: BlockchainProvider) -> str:
    artifact = load_artifact("ProML")
    return provider.deploy_contract(artifact.bytecode, artifact.abi, ["A"])


def view_uint(provider: BlockchainProvider, registry: str, function: str, *args: Any) -> int:
    (value,) = abi_decode(["uint256"], provider.call(registry, calldata(function, *args)))
    return int(value)


def address_of(anvil: Anvil, key_index: int) -> str:
    return str(Account.from_key(anvil.keys[key_index]).address)


def test_deploy_propose_member_and_register_dataset(anvil: Anvil) -> None:
    provider = provider_for(anvil)
    registry = deploy_registry(provider)
    assert anvil.client().get_code(registry) != b""

    # The founder is alone: its proposal passes at once.
    propose = provider.send(
        registry, calldata("proposeAddMember", address_of(anvil, 1), "B", int(Role.DATA_ADMIN))
    )
    receipt = provider.wait_for_receipt(propose, confirmations=1)
    assert receipt.succeeded
    assert view_uint(provider, registry, "memberCount") == 2

    content, record, cid, ancestors = dataset_args()
    tx_hash = provider.send(registry, calldata("registerDataset", content, record, cid, ancestors))
    receipt = provider.wait_for_receipt(tx_hash, confirmations=1)
    assert receipt.succeeded and receipt.transaction_hash == tx_hash
    assert view_uint(provider, registry, "assetCount") == 1

    topic = "0x" + Web3.keccak(text="AssetRegistered(address,uint8,address,bytes32,bytes32,bytes)").hex()
    logs = anvil.client().get_logs(registry, [topic], receipt.block_number, receipt.block_number)
    assert len(logs) == 1 and logs[0]["transactionHash"] == tx_hash


def test_confirmations_counted_by_blocks(anvil: Anvil) -> None:
    provider = provider_for(anvil)
    registry = deploy_registry(provider)
    tx_hash = provider.send(registry, calldata("registerDataset", *dataset_args()))
    mined = provider.wait_for_receipt(tx_hash, confirmations=1)
    # Automine makes no further blocks: 3 confirmations are not there yet.
    with pytest.raises(ReceiptTimeout):
        provider.wait_for_receipt(tx_hash, confirmations=3, timeout=0)
    anvil.mine(2)
    receipt = provider.wait_for_receipt(tx_hash, confirmations=3, timeout=30)
    assert receipt.block_hash == mined.block_hash
    assert anvil.client().block_number() == receipt.block_number + 2


def test_three_confirmations_on_a_chain_with_block_time(anvil_block_time: Anvil) -> None:
    provider = provider_for(anvil_block_time, poll_interval=0.1)
    registry = deploy_registry(provider)
    tx_hash = provider.send(registry, calldata("registerDataset", *dataset_args()))
    receipt = provider.wait_for_receipt(tx_hash, confirmations=3, timeout=60)
    assert receipt.succeeded
    assert anvil_block_time.client().block_number() >= receipt.block_number + 2


def test_reorged_receipt_is_waited_for_again(anvil: Anvil) -> None:
    provider = provider_for(anvil)
    registry = deploy_registry(provider)
    snapshot = anvil.rpc("evm_snapshot")
    tx_hash = provider.send(registry, calldata("registerDataset", *dataset_args()))
    first = provider.wait_for_receipt(tx_hash, confirmations=1)
    # Drop the block: the transaction is gone from the canonical chain, so there is nothing to confirm.
    assert anvil.rpc("evm_revert", snapshot) is True
    anvil.mine(3)
    with pytest.raises(ReceiptTimeout):
        provider.wait_for_receipt(tx_hash, confirmations=1, timeout=0)
    # Re-included in another block, it is confirmed there.
    anvil.client().send_raw_transaction(_raw_of(anvil, tx_hash, provider))
    again = provider.wait_for_receipt(tx_hash, confirmations=1, timeout=30)
    assert again.block_hash != first.block_hash


def _raw_of(anvil: Anvil, tx_hash: str, provider: BlockchainProvider) -> bytes:
    tx = dict(provider._sent[tx_hash])  # the provider keeps what it sent, for replacement
    tx.pop("from", None)
    return Signer(anvil.keys[0]).sign_transaction(tx)


def test_twenty_back_to_back_get_consecutive_nonces_and_all_land(anvil: Anvil) -> None:
    provider = provider_for(anvil)
    registry = deploy_registry(provider)
    start = anvil.client().get_transaction_count(provider.address, "pending")
    data = [calldata("registerDataset", *dataset_args()) for _ in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        hashes = list(pool.map(lambda d: provider.send(registry, d), data))
    assert len(set(hashes)) == 20
    client = anvil.client()
    nonces = []
    for tx_hash in hashes:
        found = client.get_transaction(tx_hash)
        assert found is not None
        nonces.append(int(found["nonce"], 16))
    assert sorted(nonces) == list(range(start, start + 20))
    for tx_hash in hashes:
        assert provider.wait_for_receipt(tx_hash, confirmations=1, timeout=30).succeeded
    assert view_uint(provider, registry, "assetCount") == 20


def test_new_provider_seeds_its_nonce_from_the_pending_count(anvil: Anvil) -> None:
    persisted: list[int] = []
    first = provider_for(anvil, on_nonce_reserved=persisted.append)
    registry = deploy_registry(first)
    anvil.rpc("evm_setAutomine", False)
    pending = [first.send(registry, calldata("registerDataset", *dataset_args())) for _ in range(3)]
    assert persisted == [1, 2, 3, 4]  # the deployment took nonce 0

    # A restarted node: new provider, same key. The three pending transactions are not mined yet.
    second = provider_for(anvil)
    assert second.nonces.next_nonce is None
    tx_hash = second.send(registry, calldata("registerDataset", *dataset_args()))
    found = anvil.client().get_transaction(tx_hash)
    assert found is not None and int(found["nonce"], 16) == 4

    # A persisted nonce above the chain's count wins (the outbox knows of a transaction not yet seen).
    third = provider_for(anvil, next_nonce=7)
    assert third.reserve_nonce() == 7

    anvil.mine()
    for h in [*pending, tx_hash]:
        assert second.wait_for_receipt(h, confirmations=1, timeout=30).succeeded
    assert view_uint(second, registry, "assetCount") == 4


def test_missing_role_raises_contract_revert(anvil: Anvil) -> None:
    founder = provider_for(anvil)
    registry = deploy_registry(founder)
    founder.wait_for_receipt(
        founder.send(registry, calldata("proposeAddMember", address_of(anvil, 1), "B", int(Role.DATA_ADMIN)))
    )
    member_b = provider_for(anvil, 1)
    before = anvil.client().get_transaction_count(member_b.address, "pending")

    # Refused at gas estimation: nothing is sent, no nonce is used.
    with pytest.raises(ContractRevert) as caught:
        member_b.send(registry, calldata("registerModel", *dataset_args()))
    assert caught.value.name == "MissingRole"
    assert caught.value.args_by_name["account"].lower() == member_b.address.lower()
    assert caught.value.args_by_name["role"] == int(Role.MODEL_DEVELOPER)
    assert member_b.reserve_nonce() == before
    member_b.nonces.release(before)

    # Mined with a fixed gas limit, it fails on chain; the receipt's revert is replayed and decoded.
    tx_hash = member_b.send(registry, calldata("registerModel", *dataset_args()), gas=500_000)
    with pytest.raises(ContractRevert) as caught:
        member_b.wait_for_receipt(tx_hash)
    assert caught.value.name == "MissingRole"


def test_outsider_raises_not_a_member(anvil: Anvil) -> None:
    registry = deploy_registry(provider_for(anvil))
    outsider = provider_for(anvil, 9)
    with pytest.raises(ContractRevert) as caught:
        outsider.send(registry, calldata("registerDataset", *dataset_args()))
    assert caught.value.name == "NotAMember"


def test_closed_port_raises_chain_unavailable_after_backoff(anvil: Anvil) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChainUnavailable):
        ChainClient(url, timeout=2).chain_id()
    delays: list[float] = []
    provider = BlockchainProvider(
        ChainClient(url, timeout=2),
        Signer(anvil.keys[0]),
        anvil.chain_id,
        retries=3,
        backoff=0.01,
        sleep=delays.append,
    )
    with pytest.raises(ChainUnavailable):
        provider.send("0x" + "11" * 20, b"", gas=21_000)
    assert delays == [0.01, 0.02, 0.04]


def test_replaced_transaction_lands_once(anvil: Anvil) -> None:
    provider = provider_for(anvil)
    registry = deploy_registry(provider)
    client = anvil.client()
    nonce_before = client.get_transaction_count(provider.address, "latest")
    anvil.rpc("evm_setAutomine", False)

    block = client.get_block("latest")
    assert block is not None and block.base_fee_per_gas is not None
    low = Fees(max_fee_per_gas=block.base_fee_per_gas, max_priority_fee_per_gas=1)
    stuck = provider.send(registry, calldata("registerDataset", *dataset_args()), fees=low)
    replacement = provider.replace(stuck)
    assert replacement != stuck
    sent = client.get_transaction(replacement)
    assert sent is not None and int(sent["maxPriorityFeePerGas"], 16) > 1

    anvil.mine()
    receipt = provider.wait_for_receipt(replacement, confirmations=1, timeout=30)
    assert receipt.succeeded
    assert client.get_transaction_receipt(stuck) is None
    assert client.get_transaction_count(provider.address, "latest") == nonce_before + 1
    assert view_uint(provider, registry, "assetCount") == 1


def test_configured_fees_are_offered_and_never_above_the_maximum(anvil: Anvil) -> None:
    provider = provider_for(anvil, priority_fee=3 * GWEI, max_fee=50 * GWEI)
    base = anvil.client().get_block("latest")
    assert base is not None and base.base_fee_per_gas is not None
    assert provider.fees() == Fees(2 * base.base_fee_per_gas + 3 * GWEI, 3 * GWEI)
    assert provider_for(anvil, fee_cap=7 * GWEI, priority_fee=GWEI).fees() == Fees(7 * GWEI, GWEI)

    # The base fee jumps: a replacement pays what the chain asks now, but no more than the maximum...
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", hex(100 * GWEI))
    anvil.mine()
    first = Fees(4 * GWEI, 3 * GWEI)
    replacement = provider.replacement_fees(first)
    assert replacement == Fees(50 * GWEI, 3 * GWEI * 120 // 100)
    # ... and at the maximum there is no room for the raise the pools want: no replacement.
    assert provider.replacement_fees(replacement) is None
    assert provider.fees().max_fee_per_gas == 50 * GWEI


def test_the_chains_refusals_arrive_classified(anvil: Anvil) -> None:
    provider = provider_for(anvil)
    client = anvil.client()
    to = address_of(anvil, 1)
    signed = provider.prepare(to, b"", gas=21_000)
    provider.broadcast(signed)
    provider.wait_for_receipt(signed.hash)
    with pytest.raises(NonceTooLow):  # the same bytes, once mined
        client.send_raw_transaction(signed.raw)

    anvil.rpc("evm_setAutomine", False)
    pending = provider.prepare(to, b"", gas=21_000)
    provider.broadcast(pending)
    with pytest.raises(AlreadyKnown):
        client.send_raw_transaction(pending.raw)
    assert provider.broadcast(pending) == pending.hash  # already known counts as sent

    def signed_with(**changes: Any) -> bytes:
        return bytes(provider.sign({**pending.unsigned, "nonce": pending.nonce + 1, **changes}).raw)

    with pytest.raises(Underpriced):
        client.send_raw_transaction(signed_with(maxFeePerGas=1, maxPriorityFeePerGas=1))
    with pytest.raises(IntrinsicGasTooLow):
        client.send_raw_transaction(signed_with(gas=20_000))
    with pytest.raises(GasLimitExceeded):
        client.send_raw_transaction(signed_with(gas=10**9))
    with pytest.raises(InsufficientFunds):
        client.send_raw_transaction(signed_with(value=10**30))
