"""The chain's refusals, classified in one place (`classify`): by code where the code says it, else by the
real message texts of geth (core/txpool/errors.go, core/error.go), Besu (RpcErrorType) and anvil (as it
answers; anvil/src/eth/error.rs)."""

from __future__ import annotations

import pytest

from proml.node.clients.chain import (
    AlreadyKnown,
    ChainError,
    ExecutionReverted,
    GasLimitExceeded,
    InsufficientFunds,
    IntrinsicGasTooLow,
    NonceTooHigh,
    NonceTooLow,
    ReplacementUnderpriced,
    TransactionRefused,
    Underpriced,
    classify,
)

SEND = "eth_sendRawTransaction"
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

GETH = [
    (-32000, f"nonce too low: address {ADDRESS}, tx: 0 state: 1", NonceTooLow),
    (-32000, f"nonce too high: address {ADDRESS}, tx: 9 state: 1", NonceTooHigh),
    (-32000, "already known", AlreadyKnown),
    (-32000, "replacement transaction underpriced", ReplacementUnderpriced),
    (-32000, "transaction underpriced: gas tip cap 1, minimum needed 1000000000", Underpriced),
    (
        -32000,
        f"max fee per gas less than block base fee: address {ADDRESS}, maxFeePerGas: 1, baseFee: 7",
        Underpriced,
    ),
    (
        -32000,
        f"insufficient funds for gas * price + value: address {ADDRESS} have 0 want 21000",
        InsufficientFunds,
    ),
    (-32000, "intrinsic gas too low: gas 20000, minimum needed 21000", IntrinsicGasTooLow),
    (-32000, "exceeds block gas limit", GasLimitExceeded),
    (3, "execution reverted", ExecutionReverted),
]
BESU = [
    (-32001, "Nonce too low", NonceTooLow),
    (-32006, "Nonce too high", NonceTooHigh),
    (-32000, "Known transaction", AlreadyKnown),
    (-32000, "Replacement transaction underpriced", ReplacementUnderpriced),
    (-32009, "Gas price below configured minimum gas price", Underpriced),
    (-32009, "Gas price below current base fee", Underpriced),
    (-32004, "Upfront cost exceeds account balance", InsufficientFunds),
    (-32003, "Intrinsic gas exceeds gas limit", IntrinsicGasTooLow),
    (-32005, "Transaction gas limit exceeds block gas limit", GasLimitExceeded),
    (-32000, "Execution reverted", ExecutionReverted),
]
ANVIL = [  # as anvil answers eth_sendRawTransaction (seen against a running anvil)
    (-32003, "nonce too low", NonceTooLow),
    (-32003, "Nonce too high", NonceTooHigh),
    (-32003, "transaction already imported", AlreadyKnown),
    (-32003, "replacement transaction underpriced", ReplacementUnderpriced),
    (-32003, "max fee per gas less than block base fee", Underpriced),
    (-32003, "Insufficient funds for gas * price + value", InsufficientFunds),
    (-32000, "intrinsic gas too low", IntrinsicGasTooLow),
    (-32000, "intrinsic gas too high -- tx.gas_limit > env.block.gas_limit", GasLimitExceeded),
    (
        -32003,
        "Transaction gas limit is greater than the block gas limit, gas_limit: 9, cap: 8",
        GasLimitExceeded,
    ),
    (3, "execution reverted: custom error 0x5c4e8a29", ExecutionReverted),
]


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [pytest.param(*case, id=f"geth: {case[1]}") for case in GETH]
    + [pytest.param(*case, id=f"besu: {case[1]}") for case in BESU]
    + [pytest.param(*case, id=f"anvil: {case[1]}") for case in ANVIL],
)
def test_real_refusals_are_classified(code: int, message: str, kind: type[ChainError]) -> None:
    error = classify(SEND, message, code)
    assert type(error) is kind
    assert error.code == code
    assert message in str(error) and SEND in str(error)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (-32001, NonceTooLow),
        (-32004, InsufficientFunds),
        (-32005, GasLimitExceeded),
        (-32006, NonceTooHigh),
        (-32009, Underpriced),
        (-32003, TransactionRefused),
        (3, ExecutionReverted),
    ],
)
def test_codes_classify_a_text_never_seen(code: int, kind: type[ChainError]) -> None:
    assert type(classify(SEND, "a wording of a later release", code)) is kind


def test_send_codes_mean_nothing_for_other_methods() -> None:
    # anvil answers -32001 for a missing block or transaction: not a nonce.
    error = classify("eth_getTransactionByHash", "transaction not found", -32001)
    assert type(error) is ChainError
    assert not isinstance(error, TransactionRefused)


def test_an_unknown_refusal_stays_a_plain_chain_error() -> None:
    assert type(classify(SEND, "something else went wrong", -32000)) is ChainError


def test_replacement_underpriced_is_not_taken_for_underpriced() -> None:
    assert type(classify(SEND, "replacement transaction underpriced", -32000)) is ReplacementUnderpriced
    assert not isinstance(classify(SEND, "replacement transaction underpriced"), Underpriced)
