"""The outbox's transactions per group of entries: a replacement shares its group with the transactions it
replaces, whichever of them is mined records the entries, and a reorganisation can send even a final
entry back to `submitted`."""

from __future__ import annotations

import pytest

from proml.node.services import outbox as outbox_module
from proml.node.services.outbox import IllegalTransition, Outbox, OutboxStatus

PAYLOAD = {"asset": "0x" + "11" * 20, "activity": "train"}
SENDER = "0x" + "22" * 20


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(outbox_module.time, "time", lambda: now[0])
    return now


def submitted(outbox: Outbox, n: int = 2) -> list[str]:
    ids = [outbox.enqueue("record", {**PAYLOAD, "n": i})[0].id for i in range(n)]
    outbox.mark_submitted(ids, "0xold", "aa", next_nonce=(SENDER, 8), unsigned='{"nonce": 7}')
    return ids


def test_the_signed_bytes_are_stored_once_per_transaction_not_on_each_entry(outbox: Outbox) -> None:
    ids = submitted(outbox, n=3)
    attempt = outbox.attempt("0xold")
    assert attempt is not None and attempt.raw == "aa"
    assert [outbox.get(i).raw_tx for i in ids] == [None, None, None]
    outbox.mark_included(ids, 5, tx_hash="0xold", block_hash="0xblock5")
    assert [outbox.get(i).raw_tx for i in ids] == [None, None, None]


def test_a_replacement_is_stored_with_the_transaction_it_replaces(outbox: Outbox, clock: list[float]) -> None:
    ids = submitted(outbox)
    old = outbox.attempt("0xold")
    assert old is not None and (old.origin, old.nonce, old.raw, old.sent_at) == ("0xold", 7, "aa", 1000.0)

    clock[0] = 1060.0
    outbox.mark_replaced(ids, old, "0xnew", "bb", '{"nonce": 7, "maxFeePerGas": 2}')
    entry = outbox.get(ids[0])
    assert (entry.status, entry.tx_hash) == (OutboxStatus.SUBMITTED, "0xnew")
    new = outbox.attempt("0xnew")
    assert new is not None and (new.origin, new.nonce, new.raw, new.sent_at) == ("0xold", 7, "bb", 1060.0)
    # Either hash finds the whole group, the latest first.
    assert [a.hash for a in outbox.attempts("0xnew")] == ["0xnew", "0xold"]
    assert [a.hash for a in outbox.attempts("0xold")] == ["0xnew", "0xold"]
    assert outbox.attempts("0xunknown") == []


def test_the_transaction_that_was_mined_is_the_one_the_entries_keep(outbox: Outbox) -> None:
    ids = submitted(outbox)
    old = outbox.attempt("0xold")
    assert old is not None
    outbox.mark_replaced(ids, old, "0xnew", "bb", "{}")
    # The replaced transaction was mined after all: its hash, bytes and block are the entries'.
    outbox.mark_included(ids, 5, tx_hash="0xold", block_hash="0xblock5")
    entry = outbox.get(ids[1])
    assert (entry.status, entry.tx_hash, entry.block_number) == (OutboxStatus.INCLUDED, "0xold", 5)
    mined = outbox.attempt("0xold")
    assert mined is not None and mined.block_hash == "0xblock5"


def test_a_final_entry_reorganised_away_is_submitted_again_and_waits_anew(
    outbox: Outbox, clock: list[float]
) -> None:
    ids = submitted(outbox)
    outbox.mark_included(ids, 5, tx_hash="0xold", block_hash="0xblock5")
    outbox.mark_final(ids)
    assert [(t.hash, t.block_number, sorted(t.entry_ids)) for t in outbox.final_since(5)] == [
        ("0xold", 5, sorted(ids))
    ]
    assert outbox.final_since(6) == []

    clock[0] = 2000.0
    outbox.mark_resubmitted(ids)
    assert outbox.get(ids[0]).status == OutboxStatus.SUBMITTED
    again = outbox.attempt("0xold")
    assert again is not None and again.sent_at == 2000.0  # a replacement waits from now, not from the start
    assert outbox.depth() == 2


def test_a_final_entry_that_moved_block_is_included_there(outbox: Outbox) -> None:
    ids = submitted(outbox, 1)
    outbox.mark_included(ids, 5, tx_hash="0xold", block_hash="0xa")
    outbox.mark_final(ids)
    outbox.mark_included(ids, 4, tx_hash="0xold", block_hash="0xb")
    outbox.mark_final(ids, 4, block_hash=("0xold", "0xb"))
    entry = outbox.get(ids[0])
    assert (entry.status, entry.block_number) == (OutboxStatus.FINAL, 4)


def test_a_failed_entry_stays_failed(outbox: Outbox) -> None:
    ids = submitted(outbox, 1)
    outbox.mark_failed(ids, "refused")
    with pytest.raises(IllegalTransition):
        outbox.mark_resubmitted(ids)
