"""A thin JSON-RPC client for any EVM chain, over HTTP (httpx: a node makes many small calls, and web3's
provider stack costs several times more CPU per call).

It speaks only standard `eth_*` methods and assumes nothing about the chain behind it: no unlocked
accounts (`eth_accounts`), no instant finality, no fixed gas price. Transactions arrive already signed
(`send_raw_transaction`). Failures are split in two: `ChainUnavailable` when the endpoint cannot be
reached or does not answer in time (worth retrying), `ChainError` when the chain answered with an error;
`ExecutionReverted` is the `ChainError` of a call or gas estimate that reverted, with its revert data.

Why a transaction was refused is classified here, in `classify`, and nowhere else: by the JSON-RPC code
where the code says it (3: execution reverted; Besu's codes for `eth_sendRawTransaction`), else by the
message texts of geth, Besu and anvil (geth and anvil answer -32000 / -32003 for every refusal).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

BlockId = int | str  # a number, or "latest" / "pending" / "earliest" / "safe" / "finalized"
Topic = str | list[str] | None


class ChainClientError(Exception):
    """Base of the chain client's errors."""


class ChainUnavailable(ChainClientError):
    """The endpoint could not be reached or did not answer in time."""


class ChainError(ChainClientError):
    """The chain answered with an error (or with something that is not JSON-RPC)."""

    def __init__(self, message: str, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class TransactionRefused(ChainError):
    """The chain refused a transaction it was sent (the reason, where known, is a subclass)."""


class NonceTooLow(TransactionRefused):
    """The nonce is used already: by this very transaction (mined) or by another one."""


class NonceTooHigh(TransactionRefused):
    """The nonce leaves a gap after the account's next one."""


class AlreadyKnown(TransactionRefused):
    """The pool holds this exact transaction already: it counts as sent."""


class ReplacementUnderpriced(TransactionRefused):
    """Another transaction with this nonce waits in the pool, and this one does not pay enough more."""


class Underpriced(TransactionRefused):
    """The fees are below what the pool or the next block accepts (minimum gas price, tip, base fee)."""


class InsufficientFunds(TransactionRefused):
    """The account cannot pay gas x price + value."""


class IntrinsicGasTooLow(TransactionRefused):
    """The gas limit is below what the transaction costs before it runs."""


class GasLimitExceeded(TransactionRefused):
    """The gas limit is above the block's gas limit."""


class ExecutionReverted(ChainError):
    """A call or gas estimate reverted; `revert_data` is what the contract returned."""

    @property
    def revert_data(self) -> bytes:
        data = self.data
        if isinstance(data, Mapping):  # some clients nest it: {"data": "0x..."}
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            try:
                return bytes.fromhex(data[2:])
            except ValueError:
                return b""
        return b""


@dataclass(frozen=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    base_fee_per_gas: int | None  # None before London


@dataclass(frozen=True)
class Receipt:
    transaction_hash: str
    block_number: int
    block_hash: str
    status: int
    gas_used: int
    contract_address: str | None
    logs: list[dict[str, Any]]

    @property
    def succeeded(self) -> bool:
        return self.status == 1


# Message texts, lower case, in the order they are tried (the more specific first): geth
# (core/txpool/errors.go, core/error.go), Besu (RpcErrorType), anvil (anvil/src/eth/error.rs).
_TEXTS: tuple[tuple[str, type[TransactionRefused]], ...] = (
    ("replacement transaction underpriced", ReplacementUnderpriced),  # geth, Besu, anvil
    ("insufficient gas price to replace", ReplacementUnderpriced),  # reth
    ("already known", AlreadyKnown),  # geth
    ("known transaction", AlreadyKnown),  # Besu
    ("already imported", AlreadyKnown),  # anvil
    ("nonce too low", NonceTooLow),  # geth, Besu, anvil
    ("nonce too high", NonceTooHigh),  # geth, Besu, anvil
    ("transaction underpriced", Underpriced),  # geth: below the pool's minimum tip
    ("less than block base fee", Underpriced),  # geth, anvil: max fee per gas below the base fee
    ("below configured minimum gas price", Underpriced),  # Besu
    ("below current base fee", Underpriced),  # Besu
    ("insufficient funds", InsufficientFunds),  # geth, anvil
    ("upfront cost exceeds account balance", InsufficientFunds),  # Besu
    ("intrinsic gas too low", IntrinsicGasTooLow),  # geth, anvil
    ("intrinsic gas exceeds gas limit", IntrinsicGasTooLow),  # Besu: the limit is below the cost
    ("exceeds block gas limit", GasLimitExceeded),  # geth, Besu
    ("intrinsic gas too high", GasLimitExceeded),  # anvil: tx.gas_limit > env.block.gas_limit
    ("greater than the block gas limit", GasLimitExceeded),  # anvil
)
# Codes Besu gives the refusals of eth_sendRawTransaction (other clients answer -32000 or -32003).
_SEND_CODES: dict[int, type[TransactionRefused]] = {
    -32001: NonceTooLow,
    -32004: InsufficientFunds,
    -32005: GasLimitExceeded,
    -32006: NonceTooHigh,
    -32009: Underpriced,
}
_SEND = "eth_sendRawTransaction"
_REVERTED = 3  # EIP-1474 / geth: execution reverted, revert data in `data`
_REJECTED = -32003  # EIP-1474: transaction rejected


def classify(method: str, message: str, code: int | None = None, data: Any = None) -> ChainError:
    """The `ChainError` (subclass) that an error answered to `method` stands for."""
    text = f"{method}: {message}"
    lower = message.lower()
    if code == _REVERTED or "revert" in lower:
        return ExecutionReverted(text, code, data)
    for fragment, kind in _TEXTS:
        if fragment in lower:
            return kind(text, code, data)
    if method == _SEND and code in _SEND_CODES:
        return _SEND_CODES[code](text, code, data)
    if method == _SEND and code == _REJECTED:
        return TransactionRefused(text, code, data)
    return ChainError(text, code, data)


def to_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    raise ChainError(f"expected a quantity, got {value!r}")


def to_quantity(value: int) -> str:
    return hex(value)


def _block_id(block: BlockId) -> str:
    return to_quantity(block) if isinstance(block, int) else block


def _tx_to_rpc(tx: Mapping[str, Any]) -> dict[str, Any]:
    """A call/estimate object with quantities as hex strings and bytes as 0x-hex."""
    out: dict[str, Any] = {}
    for key, value in tx.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = value
        elif isinstance(value, int):
            out[key] = to_quantity(value)
        elif isinstance(value, (bytes, bytearray)):
            out[key] = "0x" + bytes(value).hex()
        else:
            out[key] = value
    if "data" in out:  # both names: some clients read only one of them
        out.setdefault("input", out["data"])
    return out


class ChainClient:
    """JSON-RPC calls the node needs, against one HTTP endpoint. Thread-safe."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        # No retries here: the BlockchainProvider decides when and how to retry. Replies uncompressed:
        # the endpoint is the organisation's own chain client (loopback or its LAN), where compressing
        # every reply costs both ends CPU and saves no bandwidth that counts.
        self._http = httpx.Client(timeout=timeout, trust_env=False, headers={"Accept-Encoding": "identity"})
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()
        self._eip1559: bool | None = None

    def __repr__(self) -> str:
        return f"ChainClient({self.url!r})"

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One JSON-RPC call; the `result`, or `ChainUnavailable` / `ChainError`."""
        with self._ids_lock:
            request_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
        try:
            reply = self._http.post(self.url, json=body)
        except (httpx.TransportError, ConnectionError, TimeoutError) as exc:
            raise ChainUnavailable(f"{self.url}: {method}: {type(exc).__name__}: {exc}") from exc
        if reply.status_code >= 500 or reply.status_code == 429:
            raise ChainUnavailable(f"{self.url}: {method}: HTTP {reply.status_code}")
        if reply.status_code != 200:
            raise ChainError(f"{self.url}: {method}: HTTP {reply.status_code}")
        try:
            response = reply.json()
        except ValueError as exc:  # not JSON
            raise ChainError(f"{self.url}: {method}: invalid response: {exc}") from exc
        if not isinstance(response, Mapping):
            raise ChainError(f"{self.url}: {method}: invalid response {response!r}")
        error = response.get("error")
        if error is not None:
            if not isinstance(error, Mapping):
                raise ChainError(f"{method}: {error}")
            code = error.get("code")
            raise classify(
                method,
                str(error.get("message", error)),
                code if isinstance(code, int) else None,
                error.get("data"),
            )
        if "result" not in response:
            raise ChainError(f"{self.url}: {method}: response without a result")
        return response["result"]

    # -- chain state ------------------------------------------------------------------------------

    def chain_id(self) -> int:
        return to_int(self.request("eth_chainId"))

    def block_number(self) -> int:
        return to_int(self.request("eth_blockNumber"))

    def get_block(self, block: BlockId = "latest") -> Block | None:
        raw = self.request("eth_getBlockByNumber", [_block_id(block), False])
        if raw is None:
            return None
        base_fee = raw.get("baseFeePerGas")
        return Block(
            number=to_int(raw["number"]),
            hash=str(raw["hash"]),
            parent_hash=str(raw["parentHash"]),
            timestamp=to_int(raw["timestamp"]),
            base_fee_per_gas=None if base_fee is None else to_int(base_fee),
        )

    def get_transaction_count(self, address: str, block: BlockId = "pending") -> int:
        return to_int(self.request("eth_getTransactionCount", [address, _block_id(block)]))

    def get_balance(self, address: str, block: BlockId = "latest") -> int:
        return to_int(self.request("eth_getBalance", [address, _block_id(block)]))

    def get_code(self, address: str, block: BlockId = "latest") -> bytes:
        return _hex_bytes(self.request("eth_getCode", [address, _block_id(block)]))

    # -- fees -------------------------------------------------------------------------------------

    def gas_price(self) -> int:
        return to_int(self.request("eth_gasPrice"))

    def max_priority_fee(self) -> int:
        return to_int(self.request("eth_maxPriorityFeePerGas"))

    def fee_history(
        self, block_count: int, newest: BlockId = "latest", percentiles: Sequence[float] = ()
    ) -> dict[str, Any]:
        result = self.request(
            "eth_feeHistory", [to_quantity(block_count), _block_id(newest), list(percentiles)]
        )
        if not isinstance(result, dict):
            raise ChainError(f"eth_feeHistory: unexpected result {result!r}")
        return result

    def supports_eip1559(self) -> bool:
        """Whether the latest block has a base fee (London or later); remembered once known."""
        if self._eip1559 is None:
            block = self.get_block("latest")
            self._eip1559 = block is not None and block.base_fee_per_gas is not None
        return self._eip1559

    # -- transactions -----------------------------------------------------------------------------

    def estimate_gas(self, tx: Mapping[str, Any], block: BlockId | None = None) -> int:
        params: list[Any] = [_tx_to_rpc(tx)]
        if block is not None:
            params.append(_block_id(block))
        return to_int(self.request("eth_estimateGas", params))

    def call(self, tx: Mapping[str, Any], block: BlockId = "latest") -> bytes:
        return _hex_bytes(self.request("eth_call", [_tx_to_rpc(tx), _block_id(block)]))

    def send_raw_transaction(self, raw: bytes) -> str:
        return str(self.request("eth_sendRawTransaction", ["0x" + raw.hex()]))

    def get_transaction(self, tx_hash: str) -> dict[str, Any] | None:
        result = self.request("eth_getTransactionByHash", [tx_hash])
        return None if result is None else dict(result)

    def get_transaction_receipt(self, tx_hash: str) -> Receipt | None:
        raw = self.request("eth_getTransactionReceipt", [tx_hash])
        if raw is None or raw.get("blockHash") is None:
            return None
        return Receipt(
            transaction_hash=str(raw["transactionHash"]),
            block_number=to_int(raw["blockNumber"]),
            block_hash=str(raw["blockHash"]),
            status=to_int(raw.get("status", "0x1")),
            gas_used=to_int(raw["gasUsed"]),
            contract_address=raw.get("contractAddress"),
            logs=list(raw.get("logs") or []),
        )

    def get_logs(
        self,
        address: str | Sequence[str] | None = None,
        topics: Sequence[Topic] | None = None,
        from_block: BlockId = "earliest",
        to_block: BlockId = "latest",
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"fromBlock": _block_id(from_block), "toBlock": _block_id(to_block)}
        if address is not None:
            query["address"] = address if isinstance(address, str) else list(address)
        if topics is not None:
            query["topics"] = list(topics)
        return list(self.request("eth_getLogs", [query]))


def _hex_bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainError(f"expected hex data, got {value!r}")
    return bytes.fromhex(value[2:])
