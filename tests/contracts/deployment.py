"""For the contract tests: deploy the ProML registry, bind contracts by address, and send transactions
with readable reverts, through web3 (which only the tests use: the node signs and sends through its own
`BlockchainProvider`).

This layer is deliberately thin: it knows the artifacts and web3, nothing about nodes or storage.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import TxParams, TxReceipt

from proml.contracts.artifacts import load_artifact
from proml.contracts.errors import ContractRevert, decode_revert


class DeploymentError(Exception):
    """A contract could not be deployed."""


def registry_at(w3: Web3, address: str) -> Contract:
    """The ProML registry at `address`."""
    return _bind(w3, "ProML", address)


def dataset_at(w3: Web3, address: str) -> Contract:
    """A dataset asset at `address`."""
    return _bind(w3, "DatasetAsset", address)


def model_at(w3: Web3, address: str) -> Contract:
    """A model asset at `address`."""
    return _bind(w3, "ModelAsset", address)


def _bind(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)


def transact(function: ContractFunction, tx: TxParams) -> TxReceipt:
    """Send `function` as a transaction from an account the provider can sign for; wait for the receipt.

    A revert raises `ContractRevert` naming the custom error and its arguments.
    """
    w3 = function.w3
    try:
        tx_hash = function.transact(tx)
    except ContractLogicError as exc:
        raise decode_revert(exc.data if isinstance(exc.data, (str, bytes)) else None) from exc
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise ContractRevert("TransactionFailed", {"transactionHash": tx_hash}, b"")
    return receipt


def call(function: ContractFunction, tx: TxParams | None = None) -> Any:
    """Call a view function; a revert raises `ContractRevert`."""
    try:
        return function.call(tx or {})
    except ContractLogicError as exc:
        raise decode_revert(exc.data if isinstance(exc.data, (str, bytes)) else None) from exc


def deploy_registry(w3: Web3, founder_name: str, sender: str) -> Contract:
    """Deploy a new ProML registry with `sender` as its founding member; return it bound."""
    artifact = load_artifact("ProML")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    try:
        tx_hash = factory.constructor(founder_name).transact({"from": sender})
    except ContractLogicError as exc:
        raise DeploymentError(f"deploying ProML reverted: {exc}") from exc
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    address = receipt["contractAddress"]
    if receipt["status"] != 1 or address is None:
        raise DeploymentError(f"deploying ProML failed in transaction {tx_hash.hex()}")
    return registry_at(w3, address)
