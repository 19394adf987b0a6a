from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from .consortium import Consortium
from .tester import tester_web3


@pytest.fixture(scope="session")
def _chain() -> tuple[Web3, Consortium]:
    w3 = tester_web3()
    return w3, Consortium.create(w3)


@pytest.fixture
def consortium(_chain: tuple[Web3, Consortium]) -> Iterator[Consortium]:
    """A consortium of A (founder), B, C and V; every test starts from the same snapshot."""
    w3, consortium = _chain
    snapshot = w3.testing.snapshot()
    try:
        yield consortium
    finally:
        w3.testing.revert(snapshot)


@pytest.fixture
def w3(_chain: tuple[Web3, Consortium]) -> Web3:
    return _chain[0]
