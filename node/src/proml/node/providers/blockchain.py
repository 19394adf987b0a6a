"""Build, sign, send and track transactions on any EVM chain.

`BlockchainProvider` is the only way the node writes to the chain. It signs with the `Signer` (never with
an account unlocked on the node), manages nonces in memory (seeded from the chain's pending count, with a
hook for the caller to persist the next one), takes fees from the chain (EIP-1559 when the chain has a base
fee, legacy `gasPrice` otherwise), retries with exponential backoff while the chain is unreachable, waits
for a configurable number of confirmations while watching for reorgs, and turns reverts into
`ContractRevert`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from proml.contracts.calls import abi_type
from proml.contracts.errors import ContractRevert, decode_revert
from proml.node.clients.chain import (
    AlreadyKnown,
    Block,
    ChainClient,
    ChainError,
    ChainUnavailable,
    ExecutionReverted,
    NonceTooHigh,
    NonceTooLow,
    Receipt,
)

if TYPE_CHECKING:  # the API process reads the chain without a key, and never loads the signing code
    from proml.node.providers.signer import Signer

T = TypeVar("T")

GWEI = 10**9
DEFAULT_PRIORITY_FEE = 1 * GWEI
DEFAULT_BUMP_PERCENT = 20


class BlockchainProviderError(Exception):
    """A transaction could not be built, sent or tracked."""


class ReceiptTimeout(BlockchainProviderError, TimeoutError):
    """No receipt with enough confirmations arrived in time."""


@dataclass(frozen=True)
class Fees:
    """Either EIP-1559 fees (`max_fee_per_gas` and `max_priority_fee_per_gas`) or a legacy `gas_price`."""

    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None

    @property
    def eip1559(self) -> bool:
        return self.max_fee_per_gas is not None

    def as_tx(self) -> dict[str, int]:
        if self.eip1559:
            assert self.max_fee_per_gas is not None and self.max_priority_fee_per_gas is not None
            return {
                "maxFeePerGas": self.max_fee_per_gas,
                "maxPriorityFeePerGas": self.max_priority_fee_per_gas,
            }
        assert self.gas_price is not None
        return {"gasPrice": self.gas_price}

    @classmethod
    def of_tx(cls, tx: Mapping[str, Any]) -> Fees:
        if "maxFeePerGas" in tx:
            return cls(int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"]))
        return cls(gas_price=int(tx["gasPrice"]))

    def capped(self, limit: int | None) -> Fees:
        """These fees, none above `limit` wei per gas (None: no limit)."""
        if limit is None:
            return self
        if self.eip1559:
            assert self.max_fee_per_gas is not None and self.max_priority_fee_per_gas is not None
            return Fees(min(self.max_fee_per_gas, limit), min(self.max_priority_fee_per_gas, limit))
        assert self.gas_price is not None
        return Fees(gas_price=min(self.gas_price, limit))

    def covers(self, other: Fees) -> bool:
        """Whether each of these fees is at least `other`'s (both of the same kind)."""
        if self.eip1559 != other.eip1559:
            return False
        if self.eip1559:
            return (self.max_fee_per_gas or 0) >= (other.max_fee_per_gas or 0) and (
                self.max_priority_fee_per_gas or 0
            ) >= (other.max_priority_fee_per_gas or 0)
        return (self.gas_price or 0) >= (other.gas_price or 0)

    def bumped(self, percent: int) -> Fees:
        """These fees raised by `percent` (rounded up, at least +1 wei each)."""

        def up(value: int) -> int:
            return max(value + 1, -(-value * (100 + percent) // 100))

        if self.eip1559:
            assert self.max_fee_per_gas is not None and self.max_priority_fee_per_gas is not None
            return Fees(up(self.max_fee_per_gas), up(self.max_priority_fee_per_gas))
        assert self.gas_price is not None
        return Fees(gas_price=up(self.gas_price))

    def at_least(self, other: Fees) -> Fees:
        """Each fee the larger of the two (both of the same kind)."""
        if self.eip1559 and other.eip1559:
            return Fees(
                max(self.max_fee_per_gas or 0, other.max_fee_per_gas or 0),
                max(self.max_priority_fee_per_gas or 0, other.max_priority_fee_per_gas or 0),
            )
        if not self.eip1559 and not other.eip1559:
            return Fees(gas_price=max(self.gas_price or 0, other.gas_price or 0))
        return self


@dataclass(frozen=True)
class SignedTransaction:
    hash: str
    raw: bytes
    nonce: int
    # What was signed (without the signature): to sign it again with other fees (a replacement).
    unsigned: Mapping[str, Any] = field(default_factory=dict, compare=False)


def unsigned_to_json(tx: Mapping[str, Any]) -> str:
    """An unsigned transaction as JSON text (bytes as 0x-hex), to store beside its signed bytes."""
    return json.dumps(
        {k: ("0x" + bytes(v).hex() if isinstance(v, (bytes, bytearray)) else v) for k, v in tx.items()},
        sort_keys=True,
    )


def unsigned_from_json(text: str) -> dict[str, Any]:
    tx: dict[str, Any] = json.loads(text)
    if isinstance(tx.get("data"), str):
        tx["data"] = bytes.fromhex(tx["data"].removeprefix("0x"))
    return tx


class NonceManager:
    """Hands out consecutive nonces for one account, thread-safely.

    The first reservation seeds the counter from `fetch_pending()` (the chain's pending transaction count),
    or from `initial` when that is higher (a nonce the caller persisted). After every reservation
    `on_reserved(next_nonce)` is called, under the lock, so that the caller can persist it.
    """

    def __init__(
        self,
        fetch_pending: Callable[[], int],
        initial: int | None = None,
        on_reserved: Callable[[int], None] | None = None,
    ) -> None:
        self._fetch_pending = fetch_pending
        self._floor = initial
        self._on_reserved = on_reserved
        self._next: int | None = None
        self._lock = threading.Lock()

    @property
    def next_nonce(self) -> int | None:
        """The nonce the next reservation returns, or None before the first one (not yet seeded)."""
        return self._next

    def reserve(self) -> int:
        with self._lock:
            if self._next is None:
                pending = self._fetch_pending()
                self._next = max(pending, self._floor or 0)
            nonce = self._next
            self._next = nonce + 1
            if self._on_reserved is not None:
                self._on_reserved(self._next)
            return nonce

    def release(self, nonce: int) -> None:
        """`nonce` was reserved but never reached the chain. The latest reservation is simply taken
        back; an older one leaves a gap, so the counter is re-seeded from the chain next time."""
        with self._lock:
            if self._next is not None and nonce == self._next - 1:
                self._next = nonce
                if self._on_reserved is not None:
                    self._on_reserved(self._next)
            else:
                self.resync_locked()

    def resync(self) -> None:
        """Forget the counter: the next reservation asks the chain again (e.g. after 'nonce too low')."""
        with self._lock:
            self.resync_locked()

    def resync_locked(self) -> None:
        self._next = None
        self._floor = None


class BlockchainProvider:
    """Sends transactions signed by `signer` through `client`, to the chain with id `chain_id`; without a
    signer (`reader`), only reads."""

    def __init__(
        self,
        client: ChainClient,
        signer: Signer | None,
        chain_id: int,
        *,
        confirmations: int = 1,
        gas_margin_percent: int = 20,
        retries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        poll_interval: float = 0.25,
        next_nonce: int | None = None,
        on_nonce_reserved: Callable[[int], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        reads_as: str = "",
        priority_fee: int | None = None,
        fee_cap: int | None = None,
        max_fee: int | None = None,
        bump_percent: int = DEFAULT_BUMP_PERCENT,
    ) -> None:
        self.client = client
        self.signer = signer
        self._reads_as = reads_as  # the account calls come from, without a signer
        self.chain_id = chain_id
        self.confirmations = confirmations
        self.gas_margin_percent = gas_margin_percent
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.poll_interval = poll_interval
        self._sleep = sleep
        # Fees in wei per gas: the tip and the first max fee (None: from the chain), and the most any
        # transaction or replacement may offer (None: no limit).
        self.priority_fee = priority_fee
        self.fee_cap = fee_cap
        self.max_fee = max_fee
        self.bump_percent = bump_percent
        self.nonces = NonceManager(self._pending_count, initial=next_nonce, on_reserved=on_nonce_reserved)
        self._sent: dict[str, dict[str, Any]] = {}
        self._sent_lock = threading.Lock()

    @classmethod
    def reader(
        cls, client: ChainClient, chain_id: int, address: str, *, confirmations: int = 1
    ) -> BlockchainProvider:
        """A provider that reads the chain (calls come from `address`) and holds no key: it cannot send."""
        return cls(client, None, chain_id, confirmations=confirmations, reads_as=address)

    @property
    def address(self) -> str:
        return self._reads_as if self.signer is None else str(self.signer.address)

    def _signer(self) -> Signer:
        if self.signer is None:
            raise BlockchainProviderError("this provider only reads the chain: it has no key to sign with")
        return self.signer

    # -- retries ----------------------------------------------------------------------------------

    def _retry(self, fn: Callable[[], T]) -> T:
        """`fn()`, retried with exponential backoff while the chain is unavailable."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except ChainUnavailable:
                if attempt >= self.retries:
                    raise
                self._sleep(delay)
                delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    def _pending_count(self) -> int:
        return int(self._retry(lambda: self.client.get_transaction_count(self.address, "pending")))

    # -- nonces -----------------------------------------------------------------------------------

    def reserve_nonce(self) -> int:
        return self.nonces.reserve()

    # -- fees and gas -----------------------------------------------------------------------------

    def fees(self) -> Fees:
        """Fees for a new transaction: on EIP-1559 chains the configured tip (else the chain's) and the
        configured fee cap (else 2 x base fee + tip); else the chain's gasPrice; never above `max_fee`."""
        if not self._retry(self.client.supports_eip1559):
            return Fees(gas_price=self._retry(self.client.gas_price)).capped(self.max_fee)
        tip = self.priority_fee if self.priority_fee is not None else self._priority_fee()
        if self.fee_cap is not None:
            return Fees(max_fee_per_gas=self.fee_cap, max_priority_fee_per_gas=min(tip, self.fee_cap))
        block = self._retry(lambda: self.client.get_block("latest"))
        base_fee = block.base_fee_per_gas if block is not None and block.base_fee_per_gas is not None else 0
        return Fees(max_fee_per_gas=2 * base_fee + tip, max_priority_fee_per_gas=tip).capped(self.max_fee)

    def replacement_fees(self, old: Fees) -> Fees | None:
        """Fees for a replacement of a transaction that paid `old`: raised by `bump_percent`, at least
        what a new transaction pays now, at most `max_fee`. None when the maximum leaves no room for a
        raise the pools accept."""
        raised = old.bumped(self.bump_percent)
        now = self.fees() if self.fee_cap is None else self._chain_fees()
        wanted = raised.at_least(now).capped(self.max_fee)
        return wanted if wanted.covers(raised) else None

    def _chain_fees(self) -> Fees:
        """What the chain asks now (2 x base fee + tip, or its gas price), whatever the configured fee cap."""
        if not self._retry(self.client.supports_eip1559):
            return Fees(gas_price=self._retry(self.client.gas_price))
        block = self._retry(lambda: self.client.get_block("latest"))
        base_fee = block.base_fee_per_gas if block is not None and block.base_fee_per_gas is not None else 0
        tip = self.priority_fee if self.priority_fee is not None else self._priority_fee()
        return Fees(max_fee_per_gas=2 * base_fee + tip, max_priority_fee_per_gas=tip)

    def _priority_fee(self) -> int:
        try:
            return int(self._retry(self.client.max_priority_fee))
        except ChainError:
            pass
        try:
            history = self._retry(lambda: self.client.fee_history(5, "latest", [50.0]))
            rewards = [int(r[0], 16) for r in history.get("reward") or [] if r]
            if rewards:
                return sorted(rewards)[len(rewards) // 2]
        except (ChainError, ValueError, TypeError):
            pass
        return DEFAULT_PRIORITY_FEE

    def estimate_gas(self, to: str | None, data: bytes, value: int = 0) -> int:
        """Estimated gas plus the safety margin; a revert raises `ContractRevert`."""
        tx: dict[str, Any] = {"from": self.address, "data": data, "value": value}
        if to is not None:
            tx["to"] = to
        try:
            estimate = self._retry(lambda: self.client.estimate_gas(tx))
        except ExecutionReverted as exc:
            raise decode_revert(exc.revert_data) from exc
        return int(estimate) * (100 + self.gas_margin_percent) // 100

    # -- building and sending ---------------------------------------------------------------------

    def build_transaction(
        self,
        to: str | None,
        data: bytes,
        gas: int | None = None,
        *,
        value: int = 0,
        nonce: int | None = None,
        fees: Fees | None = None,
    ) -> dict[str, Any]:
        """An unsigned transaction for the Signer. `nonce` is left out unless given (`send` reserves
        it); `to=None` deploys a contract."""
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "from": self.address,
            "value": value,
            "data": data,
            "gas": gas if gas is not None else self.estimate_gas(to, data, value),
        }
        if to is not None:
            tx["to"] = to_checksum_address(to)
        tx.update((fees or self.fees()).as_tx())
        if nonce is not None:
            tx["nonce"] = nonce
        return tx

    def send(
        self,
        to: str | None,
        data: bytes,
        gas: int | None = None,
        *,
        value: int = 0,
        fees: Fees | None = None,
    ) -> str:
        """Build, sign and send; the transaction hash. The nonce is reserved only once the transaction
        is built (a failing gas estimate consumes none) and given back if sending fails."""
        tx = self.build_transaction(to, data, gas, value=value, fees=fees)
        nonce = self.nonces.reserve()
        tx["nonce"] = nonce
        try:
            return self.send_transaction(tx)
        except ChainUnavailable:
            self.nonces.resync()  # it may or may not have arrived: ask the chain next time
            raise
        except (NonceTooLow, NonceTooHigh):
            self.nonces.resync()
            raise
        except ChainError:
            self.nonces.release(nonce)
            raise
        except BaseException:
            self.nonces.release(nonce)
            raise

    def send_transaction(self, tx: Mapping[str, Any]) -> str:
        """Sign a complete transaction (nonce included) and send it raw; the transaction hash."""
        signed = self.sign(tx)
        return self.broadcast(signed)

    def sign(self, tx: Mapping[str, Any]) -> SignedTransaction:
        """Sign a complete transaction (nonce included) without sending it."""
        unsigned = {k: v for k, v in tx.items() if k != "from"}
        raw = self._signer().sign_transaction(dict(unsigned))
        signed = SignedTransaction("0x" + keccak(raw).hex(), raw, int(tx["nonce"]), dict(tx))
        with self._sent_lock:
            self._sent[signed.hash] = dict(tx)
        return signed

    def prepare(self, to: str, data: bytes, gas: int | None = None) -> SignedTransaction:
        """Build and sign a call with the next nonce, ready to be stored before it is broadcast; a revert
        in the gas estimate raises `ContractRevert` and consumes no nonce."""
        tx = self.build_transaction(to, data, gas)
        tx["nonce"] = self.nonces.reserve()
        return self.sign(tx)

    def broadcast(self, signed: SignedTransaction) -> str:
        """Send signed bytes; the hash. Sending the same bytes again is harmless: a pool that holds them
        already says so (`AlreadyKnown`, which counts as sent); once they are mined, their nonce is used
        (`NonceTooLow`, raised: whether by them or by another transaction is for the caller to find)."""

        def submit() -> str:
            try:
                return str(self.client.send_raw_transaction(signed.raw))
            except AlreadyKnown:  # e.g. a retry after a lost response, or a reorg put it back in the pool
                return signed.hash

        sent = self._retry(submit)
        if sent.lower() != signed.hash:
            raise BlockchainProviderError(f"the chain reports hash {sent} for transaction {signed.hash}")
        return signed.hash

    def is_known(self, tx_hash: str) -> bool:
        """Whether the chain (pool or block) has the transaction."""
        return self._retry(lambda: self.client.get_transaction(tx_hash)) is not None

    def replace(self, tx_hash: str, fees: Fees | None = None) -> str:
        """Resubmit a stuck transaction with the same nonce and higher fees (`replacement`); the new hash."""
        with self._sent_lock:
            original = self._sent.get(tx_hash.lower())
        if original is None:
            original = self._transaction_from_chain(tx_hash)
        signed = self.replacement(original, fees)
        if signed is None:
            raise BlockchainProviderError(f"transaction {tx_hash} pays the maximum fee already")
        return self.broadcast(signed)

    def replacement(self, unsigned: Mapping[str, Any], fees: Fees | None = None) -> SignedTransaction | None:
        """`unsigned` signed again, same nonce, with `fees` or else `replacement_fees`; None when the
        maximum fee leaves no room. Not sent: the caller stores it first."""
        new_fees = fees or self.replacement_fees(Fees.of_tx(unsigned))
        if new_fees is None:
            return None
        tx = {
            k: v for k, v in unsigned.items() if k not in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice")
        }
        tx.update(new_fees.as_tx())
        return self.sign(tx)

    def nonce_used(self, nonce: int) -> bool:
        """Whether a transaction with `nonce` from this account is in a block `confirmations` deep."""
        head = self.block_number()
        depth = max(head - max(self.confirmations, 1) + 1, 0)
        return int(self._retry(lambda: self.client.get_transaction_count(self.address, depth))) > nonce

    def head(self) -> Block:
        """The chain's latest block."""
        block = self._retry(lambda: self.client.get_block("latest"))
        if block is None:
            raise BlockchainProviderError("the chain has no latest block")
        return block

    def _transaction_from_chain(self, tx_hash: str) -> dict[str, Any]:
        found = self._retry(lambda: self.client.get_transaction(tx_hash))
        if found is None:
            raise BlockchainProviderError(f"transaction {tx_hash} is unknown here and to the chain")
        if str(found.get("from", "")).lower() != self.address.lower():
            raise BlockchainProviderError(f"transaction {tx_hash} was not sent by {self.address}")
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": int(found["nonce"], 16),
            "gas": int(found["gas"], 16),
            "value": int(found["value"], 16),
            "data": bytes.fromhex(str(found["input"])[2:]),
        }
        if found.get("to"):
            tx["to"] = to_checksum_address(found["to"])
        if found.get("maxFeePerGas") is not None:
            tx["maxFeePerGas"] = int(found["maxFeePerGas"], 16)
            tx["maxPriorityFeePerGas"] = int(found["maxPriorityFeePerGas"], 16)
        else:
            tx["gasPrice"] = int(found["gasPrice"], 16)
        return tx

    # -- receipts ---------------------------------------------------------------------------------

    def wait_for_receipt(
        self, tx_hash: str, confirmations: int | None = None, timeout: float = 120.0
    ) -> Receipt:
        """The receipt once its block has `confirmations` blocks on top (counting its own) and is still
        canonical; if a reorg drops or moves the transaction, waiting goes on. A failed transaction
        raises `ContractRevert` (decoded by replaying it with `eth_call`)."""
        needed = self.confirmations if confirmations is None else confirmations
        deadline = time.monotonic() + timeout
        while True:
            receipt = self._confirmed_receipt(tx_hash, max(needed, 1))
            if receipt is not None:
                if not receipt.succeeded:
                    raise self._revert_of(tx_hash, receipt)
                return receipt
            if time.monotonic() >= deadline:
                raise ReceiptTimeout(
                    f"transaction {tx_hash}: no receipt with {needed} confirmations in {timeout}s"
                )
            self._sleep(self.poll_interval)

    def confirmed_receipt(self, tx_hash: str, confirmations: int | None = None) -> Receipt | None:
        """The receipt if its block has `confirmations` blocks (default: the setting) and is canonical."""
        needed = self.confirmations if confirmations is None else confirmations
        return self._confirmed_receipt(tx_hash, max(needed, 1))

    def revert_of(self, tx_hash: str, receipt: Receipt) -> ContractRevert:
        """Why a mined transaction failed, decoded by replaying it."""
        return self._revert_of(tx_hash, receipt)

    def _confirmed_receipt(self, tx_hash: str, needed: int) -> Receipt | None:
        receipt = self._retry(lambda: self.client.get_transaction_receipt(tx_hash))
        if receipt is None:
            return None
        head = self._retry(self.client.block_number)
        if head - receipt.block_number + 1 < needed:
            return None
        # Still canonical? The block at that height must be the receipt's block, and the receipt, asked
        # again, must still point at it.
        block = self._retry(lambda: self.client.get_block(receipt.block_number))
        if block is None or block.hash != receipt.block_hash:
            return None
        again = self._retry(lambda: self.client.get_transaction_receipt(tx_hash))
        if again is None or again.block_hash != receipt.block_hash:
            return None
        return again

    def _revert_of(self, tx_hash: str, receipt: Receipt) -> ContractRevert:
        with self._sent_lock:
            tx = self._sent.get(tx_hash.lower())
        if tx is None:
            try:
                tx = self._transaction_from_chain(tx_hash)
            except BlockchainProviderError:
                tx = None
        if tx is not None:
            call: dict[str, Any] = {"from": self.address, "data": tx["data"], "gas": tx["gas"]}
            if tx.get("to"):
                call["to"] = tx["to"]
            if tx.get("value"):
                call["value"] = tx["value"]
            for block in (receipt.block_number, max(receipt.block_number - 1, 0)):
                try:
                    self._retry(lambda b=block: self.client.call(call, b))  # type: ignore[misc]
                except ExecutionReverted as exc:
                    return decode_revert(exc.revert_data)
                except ChainError:
                    break
        return ContractRevert("TransactionFailed", {"transactionHash": tx_hash}, b"")

    def transact(
        self,
        to: str,
        data: bytes,
        gas: int | None = None,
        *,
        confirmations: int | None = None,
        timeout: float = 120.0,
    ) -> Receipt:
        """Send and wait for the receipt."""
        return self.wait_for_receipt(self.send(to, data, gas), confirmations, timeout)

    # -- reads ------------------------------------------------------------------------------------

    def call(self, to: str, data: bytes, block: int | str = "latest") -> bytes:
        """`eth_call` from this account; a revert raises `ContractRevert`."""
        try:
            return bytes(
                self._retry(lambda: self.client.call({"from": self.address, "to": to, "data": data}, block))
            )
        except ExecutionReverted as exc:
            raise decode_revert(exc.revert_data) from exc

    def block_number(self) -> int:
        """The number of the chain's latest block."""
        return int(self._retry(self.client.block_number))

    def get_block(self, number: int) -> Block | None:
        """Block `number`'s header, or None if the chain has no such block (yet, or any more)."""
        return self._retry(lambda: self.client.get_block(number))

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        addresses: list[str] | None = None,
        topics: list[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """`eth_getLogs` over blocks `from_block`..`to_block` (inclusive), as raw JSON-RPC log dicts."""
        return list(self._retry(lambda: self.client.get_logs(addresses, topics, from_block, to_block)))

    # -- deployment -------------------------------------------------------------------------------

    def deploy_contract(
        self,
        bytecode: str | bytes,
        abi: Sequence[Mapping[str, Any]],
        args: Sequence[Any] = (),
        *,
        confirmations: int | None = None,
        timeout: float = 120.0,
    ) -> str:
        """Deploy a contract signed by the Signer; its address once the deployment is confirmed."""
        code = bytecode if isinstance(bytecode, bytes) else bytes.fromhex(bytecode.removeprefix("0x"))
        data = code + encode_constructor_args(abi, args)
        receipt = self.wait_for_receipt(self.send(None, data), confirmations, timeout)
        if receipt.contract_address is None:
            raise BlockchainProviderError(f"deployment {receipt.transaction_hash} created no contract")
        return str(receipt.contract_address)


def encode_constructor_args(abi: Sequence[Mapping[str, Any]], args: Sequence[Any]) -> bytes:
    constructor = next((e for e in abi if e.get("type") == "constructor"), None)
    inputs = list(constructor.get("inputs", [])) if constructor is not None else []
    if len(inputs) != len(args):
        raise BlockchainProviderError(f"the constructor takes {len(inputs)} arguments, {len(args)} given")
    if not inputs:
        return b""
    return abi_encode([abi_type(i) for i in inputs], list(args))
