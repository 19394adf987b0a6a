"""NonceManager alone, with a fake pending count in place of the chain."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from proml.node.providers.blockchain import Fees, NonceManager


class FakePendingCount:
    def __init__(self, value: int) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.value


def test_seeds_once_from_the_chain_then_counts_in_memory() -> None:
    chain = FakePendingCount(5)
    nonces = NonceManager(chain)
    assert nonces.next_nonce is None
    assert [nonces.reserve() for _ in range(3)] == [5, 6, 7]
    assert chain.calls == 1
    assert nonces.next_nonce == 8


def test_hook_sees_every_next_nonce() -> None:
    persisted: list[int] = []
    nonces = NonceManager(FakePendingCount(0), on_reserved=persisted.append)
    nonces.reserve()
    nonces.reserve()
    assert persisted == [1, 2]


def test_persisted_nonce_above_the_chain_wins() -> None:
    assert NonceManager(FakePendingCount(3), initial=10).reserve() == 10
    assert NonceManager(FakePendingCount(12), initial=10).reserve() == 12


def test_concurrent_reservations_are_distinct_and_consecutive() -> None:
    nonces = NonceManager(FakePendingCount(100))
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(lambda _: nonces.reserve(), range(500)))
    assert sorted(got) == list(range(100, 600))


def test_release_of_the_latest_takes_it_back() -> None:
    persisted: list[int] = []
    nonces = NonceManager(FakePendingCount(0), on_reserved=persisted.append)
    first = nonces.reserve()
    second = nonces.reserve()
    nonces.release(second)
    assert nonces.reserve() == second
    assert persisted[-2:] == [first + 1, second + 1]


def test_release_of_an_older_one_reseeds_from_the_chain() -> None:
    chain = FakePendingCount(0)
    nonces = NonceManager(chain)
    first = nonces.reserve()
    nonces.reserve()
    chain.value = 2
    nonces.release(first)
    assert nonces.next_nonce is None
    assert nonces.reserve() == 2
    assert chain.calls == 2


def test_resync_forgets_the_counter() -> None:
    chain = FakePendingCount(4)
    nonces = NonceManager(chain, initial=9)
    assert nonces.reserve() == 9
    nonces.resync()
    assert nonces.reserve() == 4


def test_fee_bump_is_at_least_the_percentage() -> None:
    fees = Fees(max_fee_per_gas=100, max_priority_fee_per_gas=1).bumped(10)
    assert fees == Fees(max_fee_per_gas=110, max_priority_fee_per_gas=2)
    assert Fees(gas_price=1000).bumped(15) == Fees(gas_price=1150)
