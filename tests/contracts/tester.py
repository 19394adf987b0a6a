"""eth-tester behind web3 with revert data kept.

web3's EthereumTesterProvider turns a revert into `TransactionFailed("execution reverted: b'...'")`
and drops the revert data; real JSON-RPC nodes return it, and web3 raises `ContractLogicError` with
`data`. This provider restores that behaviour so that the tests see what production code sees.
"""

from __future__ import annotations

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


def _revert_data(original: BaseException | None) -> bytes | None:
    if not isinstance(original, TransactionFailed) or not original.args:
        return None
    first = original.args[0]
    if isinstance(first, Exception) and first.args:
        first = first.args[0]
    return first if isinstance(first, bytes) else None


def tester_web3() -> Web3:
    return Web3(RevertDataTesterProvider(EthereumTester(PyEVMBackend())))
