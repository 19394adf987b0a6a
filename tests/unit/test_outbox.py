from __future__ import annotations

import asyncio
import fcntl
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from proml.node.services.outbox import (
    IdempotencyConflict,
    IllegalTransition,
    Outbox,
    OutboxEntry,
    OutboxStatus,
    UnknownEntry,
)

PAYLOAD = {"asset": "0x" + "11" * 20, "activity": "train", "recordDigest": "ab" * 32}


def test_entries_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    first = Outbox(path)
    entry, created = first.enqueue("record", PAYLOAD, "key-1")
    first.close()
    again = Outbox(path)
    assert created
    assert again.get(entry.id) == entry
    assert again.queued(10) == [entry]
    assert again.depth() == 1
    again.close()


def test_a_retried_request_returns_the_first_entry(outbox: Outbox) -> None:
    first, created = outbox.enqueue("record", PAYLOAD, "key-1")
    second, created_again = outbox.enqueue("record", dict(reversed(list(PAYLOAD.items()))), "key-1")
    assert created and not created_again
    assert second == first
    assert outbox.depth() == 1


def test_a_reused_key_for_another_request_is_refused(outbox: Outbox) -> None:
    outbox.enqueue("record", PAYLOAD, "key-1")
    with pytest.raises(IdempotencyConflict, match="new key"):
        outbox.enqueue("record", {**PAYLOAD, "activity": "evaluate"}, "key-1")
    assert outbox.depth() == 1


def test_without_a_key_every_request_is_new(outbox: Outbox) -> None:
    a, _ = outbox.enqueue("record", PAYLOAD)
    b, _ = outbox.enqueue("record", PAYLOAD)
    assert a.id != b.id and outbox.depth() == 2


def test_status_moves_forward_and_records_the_transaction(outbox: Outbox) -> None:
    entries = [outbox.enqueue("record", {**PAYLOAD, "n": n})[0] for n in range(3)]
    ids = [e.id for e in entries]
    assert [e.id for e in outbox.queued(2)] == ids[:2]
    outbox.mark_submitted(ids, "0xabc")
    outbox.mark_included(ids, 42)
    submitted = outbox.get(ids[0])
    assert (submitted.status, submitted.tx_hash, submitted.block_number, submitted.attempts) == (
        OutboxStatus.INCLUDED,
        "0xabc",
        42,
        1,
    )
    outbox.mark_final(ids)
    assert outbox.depth() == 0
    assert [e.id for e in outbox.with_status(OutboxStatus.FINAL)] == ids


def test_a_dropped_transaction_is_queued_again_and_counted(outbox: Outbox) -> None:
    entry, _ = outbox.enqueue("record", PAYLOAD)
    outbox.mark_submitted([entry.id], "0xabc")
    outbox.requeue([entry.id], "dropped by the chain")
    again = outbox.get(entry.id)
    assert (again.status, again.tx_hash, again.error) == (OutboxStatus.QUEUED, None, "dropped by the chain")
    outbox.mark_submitted([entry.id], "0xdef")
    assert outbox.get(entry.id).attempts == 2


def test_illegal_transition_changes_nothing(outbox: Outbox) -> None:
    a, _ = outbox.enqueue("record", PAYLOAD)
    b, _ = outbox.enqueue("record", PAYLOAD)
    outbox.mark_submitted([a.id], "0xabc")
    with pytest.raises(IllegalTransition):
        outbox.mark_included([a.id, b.id], 7)  # b was never submitted: neither moves
    assert outbox.get(a.id).status == OutboxStatus.SUBMITTED
    assert outbox.get(b.id).status == OutboxStatus.QUEUED
    with pytest.raises(UnknownEntry):
        outbox.get("nope")


def test_nonce_only_moves_up(outbox: Outbox) -> None:
    address = "0x" + "AB" * 20
    first, second = (outbox.enqueue("record", {"n": n})[0] for n in range(2))
    assert outbox.next_nonce(address) is None
    outbox.mark_submitted([first.id], "0xabc", "f8", next_nonce=(address, 5))
    assert outbox.next_nonce(address) == 5
    outbox.mark_submitted([second.id], "0xdef", "f8", next_nonce=(address.lower(), 3))
    assert outbox.next_nonce(address) == 5


_WRITER = """
import sys
from pathlib import Path
from proml.node.services.outbox import Outbox
box = Outbox(Path(sys.argv[1]))
prefix = sys.argv[3] if len(sys.argv) > 3 else "key"
for n in range(int(sys.argv[2])):
    entry, _ = box.enqueue("record", {"n": n, "by": prefix}, f"{prefix}-{n}")
    print(entry.id, flush=True)   # the acknowledgement
sys.stdin.read()                  # wait to be killed
"""


def test_every_acknowledged_entry_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), "50"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        acknowledged = [writer.stdout.readline().strip() for _ in range(50)]
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
    assert writer.returncode == -signal.SIGKILL
    box = Outbox(path)
    try:
        assert [e.id for e in box.queued(100)] == acknowledged
    finally:
        box.close()


def _writer(path: Path, count: int, prefix: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(count), prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_writers_in_several_processes_lose_nothing(tmp_path: Path) -> None:
    """The API's process and the background process write to one outbox; so do these three."""
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    writers = [_writer(path, 100, f"p{i}") for i in range(2)]
    try:
        here = [box.enqueue("record", {"n": n}, f"here-{n}")[0].id for n in range(100)]
        acknowledged = set(here)
        for writer in writers:
            assert writer.stdout is not None
            acknowledged |= {writer.stdout.readline().strip() for _ in range(100)}
        assert len(acknowledged) == 300
        assert {e.id for e in box.queued(1000)} == acknowledged
    finally:
        for writer in writers:
            writer.kill()
            writer.wait(10)
        box.close()


def test_a_writer_waits_for_the_lock_another_process_holds(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    Outbox(path).close()
    with (tmp_path / "outbox.sqlite.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        writer = _writer(path, 1, "waiting")
        try:
            assert writer.stdout is not None
            readable, _, _ = select.select([writer.stdout], [], [], 2.0)
            assert not readable, "acknowledged while another process held the writers' lock"
            fcntl.flock(lock, fcntl.LOCK_UN)
            assert writer.stdout.readline().strip()
        finally:
            writer.kill()
            writer.wait(10)


def test_requests_of_one_event_loop_pass_are_stored_together(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    store = outbox._store
    monkeypatch.setattr(outbox, "_store", lambda batch: (batches.append(len(batch)), store(batch)))

    async def main() -> list[tuple[OutboxEntry, bool] | BaseException]:
        first, _ = await outbox.enqueue_on_loop("record", {"n": "first"}, "key")
        assert outbox.get(first.id).status == OutboxStatus.QUEUED
        requests = [outbox.enqueue_on_loop("record", {"n": n}) for n in range(20)]
        requests.append(outbox.enqueue_on_loop("record", {"n": "other"}, "key"))  # a conflict
        requests.append(outbox.enqueue_on_loop("record", {"n": "first"}, "key"))  # a retry
        return await asyncio.gather(*requests, return_exceptions=True)

    results = asyncio.run(main())
    stored = [r for r in results[:20] if isinstance(r, tuple)]
    assert len({entry.id for entry, created in stored if created}) == 20
    assert isinstance(results[20], IdempotencyConflict)
    retried = results[21]
    assert isinstance(retried, tuple) and retried[1] is False and retried[0].payload == {"n": "first"}
    assert len(outbox.queued(100)) == 21
    assert batches == [1, 22]  # the first alone, then the 22 of one pass in one transaction


def test_a_cancelled_request_on_the_loop_is_stored_and_others_are_answered(outbox: Outbox) -> None:
    async def main() -> tuple[OutboxEntry, bool]:
        cancelled = asyncio.ensure_future(outbox.enqueue_on_loop("record", {"n": "gone"}))
        answered = asyncio.ensure_future(outbox.enqueue_on_loop("record", {"n": "kept"}))
        await asyncio.sleep(0)  # both are waiting for the store
        cancelled.cancel()
        return await answered

    entry, created = asyncio.run(main())
    assert created and entry.payload == {"n": "kept"}
    assert sorted(e.payload["n"] for e in outbox.queued(10)) == ["gone", "kept"]


def test_every_kind_of_write_waits_for_the_writers_lock(tmp_path: Path) -> None:
    """A write outside the lock would meet the other process's transaction in SQLite's busy handler,
    which sleeps and polls: the acknowledgement it holds up would wait milliseconds too long."""
    box = Outbox(tmp_path / "outbox.sqlite")
    entry, _ = box.enqueue("record", {"n": 1})
    writes = [
        lambda: box.enqueue("record", {"n": 2}),
        lambda: box.mark_submitted([entry.id], "0x" + "cd" * 32, "f8", next_nonce=("0x" + "ab" * 20, 7)),
        lambda: box.set_results({entry.id: {"seq": 1}}),
    ]
    try:
        for write in writes:
            with (tmp_path / "outbox.sqlite.lock").open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                done = threading.Event()
                writer = threading.Thread(target=lambda w=write, d=done: (w(), d.set()))
                writer.start()
                assert not done.wait(0.5), "a write went ahead while another process held the lock"
                fcntl.flock(lock, fcntl.LOCK_UN)
                assert done.wait(10)
                writer.join()
    finally:
        box.close()
