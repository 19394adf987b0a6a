"""geth v1.13.15 Clique proof-of-authority sealers, as the devnet runs them: real processes from one
genesis, their agreement on blocks, a sealer's loss and return, a signer voted in, and a competing branch
that the majority's replaces (the reorganisation a fault test of the node relies on).

Every process is stopped by PID when the test ends (`clique.clique_net`), whatever happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proml.devnet import engines
from proml.devnet.geth import CLIQUE_CHAIN_ID
from proml.devnet.processes import ToolMissing
from proml.node.production.chain_files import clique_extra_data, clique_genesis
from proml.node.providers.blockchain import BlockchainProvider

from .clique import (
    CliqueNet,
    address_of,
    clique_net,
    competing_branch,
    eventually,
    rejoin,
    sealer_key,
    wait_agreed,
    wait_reorganised,
)

try:
    engines.geth()
except ToolMissing as missing:  # pragma: no cover - depends on `make setup`
    pytest.skip(str(missing), allow_module_level=True)


@pytest.fixture(name="net")
def net_fixture(tmp_path: Path) -> Iterator[CliqueNet]:
    with clique_net(tmp_path / "clique", 3) as net:
        yield net


def test_genesis_names_the_signers_in_order() -> None:
    signers = [address_of(sealer_key(i)) for i in range(3)]
    extra = bytes.fromhex(clique_extra_data(signers)[2:])
    assert len(extra) == 32 + 3 * 20 + 65
    named = [extra[32 + 20 * i : 52 + 20 * i].hex() for i in range(3)]
    assert named == sorted(s[2:].lower() for s in signers)
    config = clique_genesis(signers, {}, chain_id=CLIQUE_CHAIN_ID, period=1)["config"]
    assert config["londonBlock"] == 0
    assert not {"shanghaiTime", "terminalTotalDifficulty", "mergeNetsplitBlock"} & set(config)


def test_three_sealers_agree_and_carry_a_transaction(net: CliqueNet) -> None:
    height = wait_agreed(net.nodes, at_least=4, timeout=30)
    assert len({node.block_hash(height) for node in net.nodes}) == 1
    assert sorted(net.nodes[0].signers()) == sorted(node.sealer for node in net.nodes)
    # Every signer seals: the blocks so far come from more than one of them.
    sealers = {net.nodes[0].signer_of(h) for n in range(1, height + 1) if (h := net.nodes[0].block_hash(n))}
    assert len(sealers) >= 2

    sender = net.provider(net.nodes[0])
    recipient = address_of(sealer_key(99))
    tx_hash = sender.send(recipient, b"", value=12345)
    elsewhere = BlockchainProvider(net.nodes[2].client(), None, CLIQUE_CHAIN_ID, poll_interval=0.05)
    receipt = elsewhere.wait_for_receipt(tx_hash, confirmations=2, timeout=30)
    assert receipt.succeeded
    assert net.nodes[2].client().get_balance(recipient) == 12345
    assert net.nodes[1].client().get_transaction_receipt(tx_hash) is not None


def test_two_sealers_go_on_without_the_third_which_resyncs(net: CliqueNet) -> None:
    wait_agreed(net.nodes, at_least=2)
    gone, *staying = net.nodes
    gone.stop()
    assert not gone.running()
    left_at = min(node.block_number() for node in staying)
    wait_agreed(staying, at_least=left_at + 3)

    gone.start(net.enodes(staying))
    target = min(node.block_number() for node in staying)
    height = wait_agreed(net.nodes, at_least=target)
    assert gone.block_hash(height) == staying[0].block_hash(height)


def test_a_fourth_signer_is_voted_in_and_syncs(net: CliqueNet) -> None:
    wait_agreed(net.nodes, at_least=1)
    newcomer_key = sealer_key(3)
    newcomer = address_of(newcomer_key)
    for node in net.nodes[:2]:  # a majority of 3
        node.propose(newcomer, True)
    eventually(lambda: True if newcomer in net.nodes[0].signers() else None, "the vote passes")

    fourth = net.add_node("sealer3", newcomer_key, net.enodes(net.nodes))
    target = max(node.block_number() for node in net.nodes[:3])
    wait_agreed(net.nodes, at_least=target)
    assert sorted(fourth.signers()) == sorted([*(n.sealer for n in net.nodes[:3]), newcomer])
    assert len(net.nodes[1].signers()) == 4

    # And it seals its turns: a block it signed reaches the others.
    def sealed_by_fourth() -> bool | None:
        head = net.nodes[0].block_number()
        hashes = [net.nodes[0].block_hash(n) for n in range(max(1, head - 8), head + 1)]
        return True if any(h and net.nodes[0].signer_of(h) == newcomer for h in hashes) else None

    eventually(sealed_by_fourth, "the fourth signer's block is on the others' chain", timeout=30)


def test_an_isolated_signers_branch_is_replaced_by_the_majoritys(net: CliqueNet) -> None:
    wait_agreed(net.nodes, at_least=2)
    lone, *majority = net.nodes
    sent: list[str] = []

    def send_to_lone(node: object) -> None:
        sent.append(net.provider(lone).send(address_of(sealer_key(98)), b"", value=7))

    branch = competing_branch(lone, majority, before_sealing=send_to_lone)
    assert branch.blocks
    # Its own blocks: sealed by it, and not the majority's at those heights.
    for height, own in branch.blocks.items():
        assert lone.signer_of(own) == lone.sealer
        assert majority[0].block_hash(height) not in (own, None)
    # The transaction sent to it is in its own branch only.
    receipt = lone.client().get_transaction_receipt(sent[0])
    assert receipt is not None and receipt.block_hash in branch.blocks.values()
    assert majority[0].client().get_transaction_receipt(sent[0]) is None

    rejoin(lone, majority)
    wait_reorganised(lone, majority, branch)
    for height, own in branch.blocks.items():
        assert lone.block_hash(height) == majority[0].block_hash(height) != own
    # The dropped block's transaction went back to the pool and was sealed again on the majority's chain.
    moved = eventually(
        lambda: majority[0].client().get_transaction_receipt(sent[0]), "the transaction is sealed again"
    )
    assert moved.block_hash not in branch.blocks.values()
