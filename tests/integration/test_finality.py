"""Final means final, on a real anvil with a real IPFS daemon: a record whose block is reorganised away
(anvil_reorg), even after it was reported final, is sent again and lands once; a transaction that the
chain does not mine for its fees is replaced (same nonce, higher fees) and lands once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from proml.contracts import calls
from proml.devnet.anvil import Anvil
from proml.node.providers.blockchain import GWEI, BlockchainProvider, Fees
from proml.node.providers.signer import Signer
from proml.node.runtime import NodeRuntime
from proml.node.services.api_keys import Scope
from tests.integration.polling import eventually, wait_entry
from tests.integration.single_node import running_node


@pytest.fixture(scope="module", name="reorg_node")
def reorg_node_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, Anvil, NodeRuntime]]:
    # One confirmation: a reorganisation of one block undoes a record the node reported final.
    with running_node(tmp_path_factory.mktemp("finality"), confirmations=1) as (client, anvil, node):
        yield as_admin(client, node), anvil, node


def as_admin(client: TestClient, node: NodeRuntime) -> TestClient:
    client.headers["Authorization"] = "Bearer " + node.services.api_keys.create("t", (Scope.ADMIN,))[1]
    return client


def register(client: TestClient, anvil: Anvil) -> str:
    entry = client.post("/v1/models", json={"name": "m"}).json()
    asset = str(wait_entry(client, entry["id"])["asset"])
    anvil.mine(3)  # bury the registration below the reorganisations that follow
    return asset


def record(client: TestClient, asset: str, activity: str) -> str:
    response = client.post(f"/v1/assets/{asset}/records", json={"activity": activity})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def record_count(node: NodeRuntime, asset: str) -> int:
    function = calls.function("ModelAsset", "recordCount")
    (count,) = function.decode_output(node.services.chain.call(asset, function.encode()))
    return int(count)


def sent_count(anvil: Anvil, node: NodeRuntime) -> int:
    return int(anvil.client().get_transaction_count(node.services.address, "latest"))


def entry(client: TestClient, entry_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/outbox/{entry_id}").json()
    return body


def entry_when(
    client: TestClient, entry_id: str, condition: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = entry(client, entry_id)
        return found if condition(found) else None

    return eventually(probe, what)


def test_a_final_record_reorganised_away_is_sent_again_and_lands_once(
    reorg_node: tuple[TestClient, Anvil, NodeRuntime],
) -> None:
    client, anvil, node = reorg_node
    asset = register(client, anvil)
    entry_id = record(client, asset, "select_data")
    final = wait_entry(client, entry_id)
    assert record_count(node, asset) == 2
    sent = sent_count(anvil, node)

    anvil.rpc("anvil_reorg", 1, [])  # the record's block is replaced by an empty one
    chain = anvil.client()
    assert chain.get_transaction_receipt(final["tx_hash"]) is None
    assert record_count(node, asset) == 1

    # The node notices, sends the same signed bytes again, and the record is final once more.
    receipt = eventually(lambda: chain.get_transaction_receipt(final["tx_hash"]), "the record is sent again")
    again = entry_when(
        client,
        entry_id,
        lambda e: e["status"] == "final" and e["block_number"] == receipt.block_number,
        "the entry is final in its new block",
    )
    assert again["tx_hash"] == final["tx_hash"]
    assert record_count(node, asset) == 2
    assert sent_count(anvil, node) == sent  # the same transaction, not a second one


def test_a_reorged_record_that_comes_back_on_its_own_is_not_sent_twice(
    reorg_node: tuple[TestClient, Anvil, NodeRuntime],
) -> None:
    client, anvil, node = reorg_node
    asset = register(client, anvil)
    entry_id = record(client, asset, "select_data")
    final = wait_entry(client, entry_id)
    sent = sent_count(anvil, node)
    attempt = node.services.outbox.attempt(final["tx_hash"])
    assert attempt is not None
    raw = "0x" + attempt.raw

    # Another block producer's branch wins, with the record's transaction in its first block.
    anvil.rpc("anvil_reorg", 2, [[raw, 0]])
    moved = anvil.client().get_transaction_receipt(final["tx_hash"])
    assert moved is not None and moved.block_number == final["block_number"] - 1

    again = entry_when(
        client,
        entry_id,
        lambda e: e["status"] == "final" and e["block_number"] == moved.block_number,
        "the entry follows its transaction to its new block",
    )
    assert again["tx_hash"] == final["tx_hash"]
    assert record_count(node, asset) == 2
    assert sent_count(anvil, node) == sent


def test_a_reorged_record_back_in_the_pool_is_mined_once(
    reorg_node: tuple[TestClient, Anvil, NodeRuntime],
) -> None:
    client, anvil, node = reorg_node
    asset = register(client, anvil)
    entry_id = record(client, asset, "select_data")
    final = wait_entry(client, entry_id)
    sent = sent_count(anvil, node)
    attempt = node.services.outbox.attempt(final["tx_hash"])
    assert attempt is not None
    chain = anvil.client()
    anvil.rpc("evm_setAutomine", False)
    try:
        # As geth does with the transactions of a dropped block: the pool takes it back, unmined.
        anvil.rpc("anvil_reorg", 1, [])
        chain.send_raw_transaction(bytes.fromhex(attempt.raw))
        entry_when(client, entry_id, lambda e: e["status"] == "submitted", "the node sees it is not final")
        anvil.mine()
        again = entry_when(client, entry_id, lambda e: e["status"] == "final", "it is final again")
    finally:
        anvil.rpc("evm_setAutomine", True)
    assert again["tx_hash"] == final["tx_hash"]
    assert record_count(node, asset) == 2
    assert sent_count(anvil, node) == sent


def test_a_record_whose_nonce_another_transaction_took_is_sent_anew_once(
    reorg_node: tuple[TestClient, Anvil, NodeRuntime],
) -> None:
    client, anvil, node = reorg_node
    asset = register(client, anvil)
    chain = anvil.client()
    anvil.rpc("evm_setAutomine", False)
    try:
        entry_id = record(client, asset, "select_data")
        stuck = entry_when(client, entry_id, lambda e: e["status"] == "submitted", "the record is sent")
        sent = eventually(lambda: chain.get_transaction(stuck["tx_hash"]), "the pool holds it")
        # Another program with the same key takes the nonce, paying more: the record's transaction
        # can never be mined now.
        other = BlockchainProvider(chain, Signer(anvil.keys[0]), anvil.chain_id)
        fees = Fees(2 * int(sent["maxFeePerGas"], 16), 2 * int(sent["maxPriorityFeePerGas"], 16))
        tx = other.build_transaction(
            node.services.address, b"", 21_000, fees=fees, nonce=int(sent["nonce"], 16)
        )
        other.broadcast(other.sign(tx))
        anvil.mine()
    finally:
        anvil.rpc("evm_setAutomine", True)
    final = wait_entry(client, entry_id)
    assert final["tx_hash"] != stuck["tx_hash"]
    assert chain.get_transaction_receipt(stuck["tx_hash"]) is None
    assert "used by another transaction" in (final["error"] or "")
    assert record_count(node, asset) == 2


def test_a_transaction_the_chain_does_not_mine_for_its_fees_is_replaced_and_lands_once(
    tmp_path: Path,
) -> None:
    with running_node(tmp_path, confirmations=1, replace_after=1.0, bump_percent=20) as (client, anvil, node):
        as_admin(client, node)
        asset = register(client, anvil)
        sent = sent_count(anvil, node)
        chain = anvil.client()
        anvil.rpc("evm_setAutomine", False)
        entry_id = record(client, asset, "select_data")
        stuck = entry_when(client, entry_id, lambda e: e["status"] == "submitted", "the record is sent")
        first = eventually(lambda: chain.get_transaction(stuck["tx_hash"]), "the pool holds it")

        # The base fee jumps above what the transaction offers: the next block leaves it out.
        anvil.rpc("anvil_setNextBlockBaseFeePerGas", hex(100 * GWEI))
        anvil.mine()
        assert chain.get_transaction_receipt(stuck["tx_hash"]) is None
        assert int(first["maxFeePerGas"], 16) < 100 * GWEI

        replaced = entry_when(
            client, entry_id, lambda e: e["tx_hash"] != stuck["tx_hash"], "the node replaces it"
        )
        replacement = chain.get_transaction(replaced["tx_hash"])
        assert replacement is not None
        assert replacement["nonce"] == first["nonce"]
        assert int(replacement["maxFeePerGas"], 16) > 100 * GWEI

        anvil.mine()
        final = wait_entry(client, entry_id)
        assert final["tx_hash"] == replaced["tx_hash"]
        assert chain.get_transaction_receipt(stuck["tx_hash"]) is None
        assert record_count(node, asset) == 2
        assert sent_count(anvil, node) == sent + 1
