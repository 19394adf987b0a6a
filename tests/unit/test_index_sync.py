"""The index against a scripted chain: foreign logs, oversized ranges, a chain that moves mid-read, meta."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode

from proml.contracts.events import (
    AssetRegistered,
    ContributorAdded,
    MemberAdded,
    ProvenanceRecorded,
    topic_of,
)
from proml.node.clients.chain import Block, ChainError
from proml.node.services.index import Index
from proml.node.services.query import Query

REGISTRY = "0x" + "aa" * 20
ASSET = "0x" + "bb" * 20
FOREIGN = "0x" + "cc" * 20
OWNER = "0x" + "dd" * 20


def word(address: str) -> str:
    return "0x" + "00" * 12 + address[2:]


def quantity(n: int) -> str:
    return hex(n)


@dataclass
class FakeChain:
    """Just the reads the index makes; blocks are named by a fork label so that a 'reorg' changes hashes."""

    head: int = 0
    fork: str = "a"
    logs: list[dict[str, Any]] = field(default_factory=list)
    max_range: int | None = None
    on_get_logs: Callable[[FakeChain], None] | None = None
    log_calls: list[tuple[int, int]] = field(default_factory=list)

    def hash(self, number: int) -> str:
        return "0x" + (f"{self.fork}{number:x}").rjust(64, "0")

    def block_number(self) -> int:
        return self.head

    def get_block(self, number: int) -> Block | None:
        if number > self.head:
            return None
        return Block(number, self.hash(number), self.hash(number - 1), 1_700_000_000 + number, None)

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        addresses: list[str] | None = None,
        topics: list[Any] | None = None,
    ) -> list[dict[str, Any]]:
        self.log_calls.append((from_block, to_block))
        if self.max_range is not None and to_block - from_block + 1 > self.max_range:
            raise ChainError("query returned more than 10000 results")
        if self.on_get_logs is not None:
            hook, self.on_get_logs = self.on_get_logs, None
            hook(self)
        wanted = set(topics[0]) if topics else None
        found = []
        for log in self.logs:
            number = int(log["blockNumber"], 16)
            if not from_block <= number <= min(to_block, self.head):
                continue
            if addresses is not None and log["address"] not in [a.lower() for a in addresses]:
                continue
            if wanted is not None and log["topics"][0] not in wanted:
                continue
            found.append({**log, "blockHash": self.hash(number)})
        return found

    def emit(self, block: int, address: str, topics: list[str], data: bytes) -> None:
        self.head = max(self.head, block)
        index = sum(1 for log in self.logs if log["blockNumber"] == quantity(block))
        self.logs.append(
            {
                "address": address,
                "topics": topics,
                "data": "0x" + data.hex(),
                "blockNumber": quantity(block),
                "transactionHash": "0x" + os.urandom(32).hex(),
                "logIndex": quantity(index),
            }
        )

    def member(self, block: int, member: str, name: str) -> None:
        self.emit(
            block, REGISTRY, [topic_of(MemberAdded), word(member)], encode(["string", "uint8"], [name, 15])
        )

    def register(self, block: int, asset: str = ASSET) -> None:
        topics = [topic_of(AssetRegistered), word(asset), "0x" + "00" * 31 + "01", word(OWNER)]
        self.emit(
            block,
            REGISTRY,
            topics,
            encode(["bytes32", "bytes32", "bytes"], [b"\x01" * 32, b"\x02" * 32, b""]),
        )
        self.record(block, asset, 0)

    def record(self, block: int, asset: str, seq: int) -> None:
        topics = [topic_of(ProvenanceRecorded), word(asset), word(OWNER), "0x" + "00" * 32]
        types = ["uint256", "uint8", "uint8", "bool", "bytes32", "bytes", "bytes32[]", "bytes32[]", "bytes28"]
        values = [seq, 0, 0, True, b"\x03" * 32, b"", [], [b"\x01" * 32], b"\x00" * 28]
        self.emit(block, asset, topics, encode(types, values))


def open_index(path: Path, chain: FakeChain, **options: Any) -> Index:
    return Index(path, chain, REGISTRY, **options)  # type: ignore[arg-type]


def test_logs_of_foreign_contracts_are_ignored_even_when_malformed(tmp_path: Path) -> None:
    chain = FakeChain()
    chain.member(1, OWNER, "Owner")
    chain.register(2)
    chain.record(3, FOREIGN, 7)  # same topic, not a registered asset
    chain.emit(3, FOREIGN, [topic_of(ContributorAdded)], b"")  # same topic, a different layout
    index = open_index(tmp_path / "i.db", chain)
    try:
        assert index.sync() == 3
        query = Query(index)
        assert [a["address"].lower() for a in query.assets()] == [ASSET]
        assert query.assets()[0]["owner_name"] == "Owner"
        assert query.assets()[0]["record_cid"] is None  # empty CID bytes
    finally:
        index.close()


def test_an_oversized_range_is_split_until_the_chain_accepts_it(tmp_path: Path) -> None:
    chain = FakeChain(max_range=3)
    chain.register(2)
    chain.record(9, ASSET, 1)
    chain.head = 12
    index = open_index(tmp_path / "i.db", chain, blocks_per_query=100)
    try:
        assert index.sync() == 3
        assert index.cursor == 12
        accepted = [(start, end) for start, end in chain.log_calls if end - start < 3]
        assert len(accepted) > 2 and sorted(accepted)[0][0] == 0 and max(e for _, e in accepted) == 12
    finally:
        index.close()


def test_a_chain_that_moves_during_a_read_is_read_again(tmp_path: Path) -> None:
    chain = FakeChain()
    chain.register(1)
    chain.head = 3
    index = open_index(tmp_path / "i.db", chain)
    try:
        assert index.sync() == 2

        # The next read sees the chain switch to another fork below the cursor: nothing read on the way
        # may be stored, and the new fork is indexed from the last block that is still the same (none).
        chain.record(5, ASSET, 1)

        def reorg(c: FakeChain) -> None:
            c.fork = "b"

        chain.on_get_logs = reorg
        assert index.sync() == 3  # the registration again (block hashes changed) and the new record
        assert index.cursor == 5
        assert index.cursor_position().block_hash == chain.hash(5)
        history = Query(index).history(ASSET)
        assert [h["seq"] for h in history] == [0, 1]
        assert {h["block_hash"] for h in history} == {chain.hash(1), chain.hash(5)}
    finally:
        index.close()


def test_an_index_of_another_registry_is_rebuilt(tmp_path: Path) -> None:
    chain = FakeChain()
    chain.register(1)
    index = open_index(tmp_path / "i.db", chain)
    index.sync()
    index.close()
    other = Index(tmp_path / "i.db", chain, FOREIGN)  # type: ignore[arg-type]
    try:
        assert other.cursor == -1 and Query(other).assets() == []
    finally:
        other.close()


@pytest.mark.parametrize(
    "options", [{"confirmations": 0}, {"start_block": -1}, {"blocks_per_query": 0}], ids=str
)
def test_settings_are_checked(tmp_path: Path, options: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        open_index(tmp_path / "i.db", FakeChain(), **options)


def test_reads_while_another_thread_syncs(tmp_path: Path) -> None:
    chain = FakeChain()
    for block in range(1, 200):
        chain.register(block, "0x" + f"{block:040x}")
    index = open_index(tmp_path / "i.db", chain, blocks_per_query=7)
    query = Query(index)
    seen: list[int] = []
    try:
        worker = threading.Thread(target=index.sync)
        worker.start()
        while worker.is_alive():
            assets = query.assets(limit=1000)
            # Whole ranges only: every asset visible has its registration record.
            assert all(a["record_count"] == 1 for a in assets)
            seen.append(len(assets))
        worker.join()
        assert len(query.assets(limit=1000)) == 199
        assert seen == sorted(seen)
    finally:
        index.close()


def test_an_asset_and_its_history_come_from_one_snapshot(tmp_path: Path) -> None:
    chain = FakeChain()
    chain.register(1)
    index = open_index(tmp_path / "i.db", chain)
    try:
        index.sync()
        chain.record(2, ASSET, 1)
        reading = index.reading

        @contextlib.contextmanager
        def then_sync() -> Iterator[sqlite3.Connection]:
            # Another thread's sync commits the next record as soon as a read lets go of the database.
            with reading() as db:
                yield db
            index.sync()

        index.reading = then_sync  # type: ignore[method-assign]
        asset = Query(index).asset(ASSET, with_history=True)
        assert asset is not None
        assert asset["record_count"] == len(asset["history"]) == 1
        assert Query(index).asset(ASSET, with_history=True)["record_count"] == 2  # type: ignore[index]
    finally:
        index.close()
