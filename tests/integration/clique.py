"""Real geth Clique sealers for integration tests: a chain of N signers in a temporary folder, every process
stopped by PID at the end whatever the test did, and the moves a fault test needs (stop a sealer, isolate
one so that it seals a competing branch, bring it back so that the majority's branch replaces it).

The processes are `proml.devnet.geth.Geth`, shared with `proml devnet`.

Why isolation restarts the node: `admin_removePeer` on both sides does isolate two running nodes (it
drops the peer from the static set as well, so neither redials), but reconnecting with `admin_addPeer`
can then wait up to 35 s: geth does not dial a node it dialed in the last 35 s (its dial history, in
1.13.15 `dialHistoryExpiration`). So `isolate` has the others drop the node and restarts the node without
static peers: a fresh process has no dial history, and `rejoin` dials the others at once. A restarted
node also waits up to 10 s before it syncs from fewer than 5 peers (geth's forced sync cycle), so a
resync takes about that long.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from eth_account import Account
from eth_utils import keccak

from proml.devnet.geth import (
    CLIQUE_CHAIN_ID,
    LIGHT_SCRYPT_N,
    Geth,
    password_file,
    seal_from_genesis,
    write_genesis,
    write_sealer_key,
)
from proml.node.clients.chain import ChainClientError
from proml.node.providers.blockchain import BlockchainProvider
from proml.node.providers.signer import Signer

__all__ = [
    "CLIQUE_CHAIN_ID",
    "FUNDED_KEY",
    "Branch",
    "CliqueNet",
    "clique_net",
    "competing_branch",
    "isolate",
    "rejoin",
    "wait_agreed",
    "wait_reorganised",
]

T = TypeVar("T")
PASSWORD = "clique-test-sealer"
FUNDING = 10**6 * 10**18
TIMEOUT = 45.0
# The account the genesis funds, for the tests' transactions (not a sealing key).
FUNDED_KEY = keccak(b"proml clique test funded account")


def sealer_key(index: int) -> bytes:
    """The test's sealing key number `index` (fixed, so that a failing run can be replayed)."""
    return keccak(f"proml clique test sealer {index}".encode())


def address_of(key: bytes) -> str:
    return str(Account.from_key(key).address)


def eventually(probe: Callable[[], T | None], what: str, timeout: float = TIMEOUT) -> T:
    """The first value of `probe()` that is not None (an unavailable node counts as None)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except ChainClientError:
            value = None
        if value is not None:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting until {what}"
        time.sleep(0.1)


@dataclass
class CliqueNet:
    """Sealers of one Clique chain under `base`; `stop_all()` stops every process it ever started."""

    base: Path
    genesis: Path
    signer_keys: list[bytes]
    nodes: list[Geth] = field(default_factory=list)
    _started: list[Geth] = field(default_factory=list)

    def add_node(self, name: str, key: bytes, static_peers: Sequence[str] = (), *, seal: bool = True) -> Geth:
        """A new geth with its own datadir and sealing key, initialised from the genesis, started."""
        datadir = self.base / name / "data"
        address = write_sealer_key(datadir, key, PASSWORD, scrypt_n=LIGHT_SCRYPT_N)
        node = Geth(name, datadir, self.genesis, address, password_file(datadir))
        node.init()
        self._started.append(node)  # before start(): stop_all() must see it even if start fails
        node.start(static_peers, seal=seal)
        self.nodes.append(node)
        return node

    def others(self, node: Geth) -> list[Geth]:
        return [other for other in self.nodes if other is not node]

    def enodes(self, nodes: Sequence[Geth]) -> list[str]:
        return [node.enode() for node in nodes]

    def provider(self, node: Geth, key: bytes = FUNDED_KEY) -> BlockchainProvider:
        """The ProML node's own provider and signer, against `node` (signed raw transactions)."""
        return BlockchainProvider(node.client(), Signer(key), CLIQUE_CHAIN_ID, poll_interval=0.05)

    def stop_all(self) -> None:
        errors: list[BaseException] = []
        for node in self._started:
            try:
                node.stop()
            except BaseException as exc:  # stop every other one, then raise
                errors.append(exc)
        if errors:
            raise errors[0]


@contextmanager
def clique_net(base: Path, count: int = 3, *, period: int = 1) -> Iterator[CliqueNet]:
    """`count` sealers, the genesis signers, connected to one another, sealing a block every `period`
    seconds; all stopped by PID when the block ends.

    The first seals block 1 alone; the others start after it and seal once they hold it
    (`seal_from_genesis`).
    """
    keys = [sealer_key(i) for i in range(count)]
    genesis = write_genesis(
        base / "genesis.json", [address_of(k) for k in keys], {address_of(FUNDED_KEY): FUNDING}, period=period
    )
    net = CliqueNet(base, genesis, keys)
    try:
        first = net.add_node("sealer0", keys[0], (), seal=False)

        def start_others() -> list[Geth]:
            return [
                net.add_node(f"sealer{i}", key, net.enodes(net.nodes), seal=False)
                for i, key in enumerate(keys[1:], 1)
            ]

        seal_from_genesis(first, start_others)
        eventually(
            lambda: True if all(n.peers() == count - 1 for n in net.nodes) else None,
            f"the {count} sealers are connected",
        )
        yield net
    finally:
        net.stop_all()


# -- agreement ---------------------------------------------------------------------------------------


def wait_agreed(nodes: Sequence[Geth], at_least: int, timeout: float = TIMEOUT) -> int:
    """Wait until every node has the same block at a height of at least `at_least` (one below the lowest
    head, which a late out-of-turn block may still replace); that height."""

    def agreed() -> int | None:
        height = min(node.block_number() for node in nodes) - 1
        if height < at_least:
            return None
        hashes = {node.block_hash(height) for node in nodes}
        return height if len(hashes) == 1 else None

    return eventually(agreed, f"{[n.name for n in nodes]} agree on a block at height >= {at_least}", timeout)


# -- a competing branch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Branch:
    """What an isolated node sealed alone: its blocks above `fork` (the last height before it was cut
    off), by height; `majority_head` is where the others were when it was let back."""

    fork: int
    blocks: dict[int, str]
    majority_head: int = 0


def isolate(node: Geth, others: Sequence[Geth], *, seal: bool = True) -> int:
    """Cut `node` off from `others`: they drop it (and no longer dial it), and it restarts on its datadir
    without peers (sealing, unless `seal=False`: then transactions sent to it wait in its pool until
    `node.start_sealing()`). Its head when it was cut off."""
    enode = node.enode()
    node_id = enode.removeprefix("enode://").split("@", 1)[0]
    for other in others:
        other.remove_peer(enode)
    node.stop()
    node.start((), seal=seal)
    for other in others:
        eventually(
            lambda o=other: True if node_id not in o.peer_ids() else None,  # type: ignore[misc]
            f"{other.name} dropped {node.name}",
        )
    assert node.peers() == 0
    return node.block_number()


def rejoin(node: Geth, others: Sequence[Geth]) -> None:
    """Connect `node` to `others` again (both ways, so that either redials after a drop)."""
    for other in others:
        node.add_peer(other.enode())
        other.add_peer(node.enode())


def competing_branch(
    node: Geth,
    others: Sequence[Geth],
    *,
    before_sealing: Callable[[Geth], None] | None = None,
    ahead: int = 2,
    attempts: int = 3,
) -> Branch:
    """Isolate `node` until it has sealed a block of its own and `others` are `ahead` blocks past it (so
    that theirs is the heavier branch); still isolated on return (`rejoin` ends it).
    `before_sealing(node)` runs once it is isolated and before it seals: a transaction sent to it then is
    in its own block, which the reorganisation will drop.

    With 3 signers an isolated one seals one block, then Clique's recent-signer rule stops it; if it had
    sealed the block it was cut off at, it can seal none. So it is cut off just after a block that
    another signer sealed; should it seal one in the instant before it stops, it rejoins, resyncs (about
    10 s) and is cut off again.
    """
    for _ in range(attempts):
        eventually(
            lambda: True if node.signer_of(node.head_hash()) != node.sealer else None,
            f"{node.name}'s head is another signer's block",
        )
        fork = isolate(node, others, seal=False)
        if node.signer_of(node.head_hash()) != node.sealer:
            return _seal_alone(node, others, fork, before_sealing, ahead)
        node.start_sealing()
        rejoin(node, others)
        wait_agreed([node, *others], fork + 1)
    raise AssertionError(f"{node.name} sealed no block of its own in {attempts} isolations")


def _seal_alone(
    node: Geth,
    others: Sequence[Geth],
    fork: int,
    before_sealing: Callable[[Geth], None] | None,
    ahead: int,
) -> Branch:
    if before_sealing is not None:
        before_sealing(node)
    node.start_sealing()
    eventually(lambda: True if node.block_number() > fork else None, f"{node.name} seals alone")
    time.sleep(0.5)  # it cannot seal another (3 signers), but with more signers it may
    head = node.block_number()
    blocks = {n: h for n in range(fork + 1, head + 1) if (h := node.block_hash(n)) is not None}
    majority = eventually(
        lambda: m if (m := min(o.block_number() for o in others)) >= head + ahead else None,
        f"the others are {ahead} blocks past {head}",
    )
    return Branch(fork, blocks, majority)


def wait_reorganised(node: Geth, others: Sequence[Geth], branch: Branch, timeout: float = TIMEOUT) -> None:
    """Wait until `node` holds the others' blocks at every height of its `branch` (its own replaced)."""
    top = max(branch.blocks)

    def replaced() -> bool | None:
        if node.block_number() < branch.majority_head:
            return None
        for height in range(branch.fork + 1, top + 1):
            theirs = {o.block_hash(height) for o in others}
            if len(theirs) != 1 or node.block_hash(height) not in theirs:
                return None
        return True

    eventually(replaced, f"{node.name} is back on the others' branch", timeout)
