"""eth-tester behind web3 with revert data kept.

web3's EthereumTesterProvider turns a revert into `TransactionFailed("execution reverted: b'...'")`
and drops the revert data; real JSON-RPC nodes return it, and web3 raises `ContractLogicError` with
`data`. This provider restores that behaviour so that the tests see what production code sees.
"""

from __future__ import annotations

import ast
from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError


class RevertDataTesterProvider(EthereumTesterProvider):
    def make_request(self, method: Any, params: Any) -> Any:
        try:
            return super().make_request(method, params)
        except TransactionFailed as exc:
            data = _revert_data(exc.__context__)
            if data is None:
                raise
            raise ContractLogicError(f"execution reverted: 0x{data.hex()}", data="0x" + data.hex()) from exc


def _revert_data(error: BaseException | None) -> bytes | None:
    """The raw revert data somewhere down the chain of exceptions that eth-tester raised."""
    while error is not None:
        first = error.args[0] if error.args else None
        if isinstance(first, bytes):
            return first
        if isinstance(first, str) and first.startswith(("b'", 'b"')):
            # eth-tester's eth_call path keeps only the repr of the revert data.
            literal = ast.literal_eval(first)
            return literal if isinstance(literal, bytes) else None
        error = first if isinstance(first, Exception) else error.__context__
    return None


def tester_web3() -> Web3:
    return Web3(RevertDataTesterProvider(EthereumTester(PyEVMBackend())))
