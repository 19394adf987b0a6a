"""The replicator's decisions, over a fake index, a fake IPFS daemon and a fake cluster peer: what the
chain records is compared with what the daemon and the cluster hold now (never with a remembered list),
and only what differs is repaired; a CID that nobody serves holds up nothing; invalid documents are given
up on; failures wait for their retry. Real daemons and cluster peers: tests/integration/
test_cluster_replication.py. Also the [cluster] settings that drive it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from proml.core.content.cid import CID
from proml.core.content.digest import ContentDigest
from proml.core.records import Actor, Artifact, Environment, RecordDocument
from proml.node.clients.cluster import ClusterClient, ClusterUnavailable, PeerStatus, Pin, PinStatus
from proml.node.clients.ipfs import IpfsUnavailable
from proml.node.config import ConfigError, load_config
from proml.node.providers.storage import DigestMismatch, StorageProvider
from proml.node.services.document_cache import DocumentCache
from proml.node.services.query import Query
from proml.node.services.replicate import PAUSE_RATIO, ReplicationState, Replicator, Verdict

ME = "0x" + "aa" * 20
OTHER = "0x" + "bb" * 20
DATASET = "0x" + "d1" * 20
UNRELATED = "0x" + "d2" * 20
MODEL = "0x" + "e1" * 20
MY_PEER = "12D3KooWMe"


def _cid(data: bytes) -> str:
    return str(CID.of_block(data, codec=0x55))


def _document(asset: str, actor: str, payload: bytes) -> bytes:
    return RecordDocument(
        asset=asset,
        activity="register",
        actor=Actor("org", actor),
        environment=Environment("3.11.0"),
        started_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-01T00:00:00Z",
        outputs=(
            Artifact("content", "file", "sha256:" + hashlib.sha256(payload).hexdigest(), _cid(payload)),
        ),
    ).to_json_bytes()


class FakeQuery:
    """Three assets: my model derives from OTHER's dataset; OTHER's unrelated dataset is not used."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.owners = {DATASET: OTHER, UNRELATED: OTHER, MODEL: ME}
        self.reads: list[str] = []
        for asset, owner in self.owners.items():
            self.add_record(asset, owner, asset.encode())

    def add_record(self, asset: str, actor: str, payload: bytes) -> str:
        data = _document(asset, actor, payload)
        cid = _cid(data)
        self.documents[cid] = data
        history = self.histories.setdefault(asset, [])
        digest = "0x" + hashlib.sha256(data).hexdigest()
        history.append(
            {"asset": asset, "seq": len(history), "actor": actor, "record_cid": cid, "record_digest": digest}
        )
        return cid

    def assets(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        rows = [
            {"address": a, "owner": o, "record_count": len(self.histories[a])} for a, o in self.owners.items()
        ]
        return rows[offset : offset + limit]

    def history(self, address: str, since: int = 0) -> list[dict[str, Any]]:
        self.reads.append(address)
        return [r for r in self.histories[address] if r["seq"] >= since]

    def lineage(self, address: str) -> dict[str, Any]:
        edges = [{"from": DATASET, "to": MODEL, "via": "ancestor"}] if address == MODEL else []
        return {"root": address, "nodes": [], "edges": edges}

    def record_cid(self, asset: str, seq: int = 0) -> str:
        return str(self.histories[asset][seq]["record_cid"])


class FakeStorage:
    """The daemon: serves the documents, holds pins; can be down, lose everything, or never answer."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        self.documents = documents
        self.pinned: set[str] = set()
        self.pin_calls: list[str] = []
        self.fetches: list[str] = []
        self.down = False
        self.tampered: set[str] = set()
        self.nobody_serves: set[str] = set()
        self.listings = 0
        self.listing_seconds = 0.0

    async def fetch_bytes(
        self, cid: CID, *, max_size: int, expected_digest: ContentDigest | None = None, timeout: float | None
    ) -> bytes:
        self.fetches.append(str(cid))
        if self.down:
            raise IpfsUnavailable("http://ipfs", "connection refused")
        if str(cid) in self.nobody_serves:
            await asyncio.Event().wait()  # like Kubo looking for a block nobody has, until the timeout
        if str(cid) in self.tampered:
            raise DigestMismatch(f"{cid} has another digest")
        return self.documents[str(cid)]

    async def pin(self, cid: CID, *, timeout: float | None = None, name: str = "proml") -> None:
        self.pin_calls.append(str(cid))
        if self.down:
            raise IpfsUnavailable("http://ipfs", "connection refused")
        self.pinned.add(str(cid))

    async def pins(self) -> set[str]:
        self.listings += 1
        await asyncio.sleep(self.listing_seconds)  # a daemon holding many pins takes a while to list them
        if self.down:
            raise IpfsUnavailable("http://ipfs", "connection refused")
        return set(self.pinned)


class FakeCluster:
    """This organisation's cluster peer: the shared pinset and how this peer holds each pin."""

    def __init__(self) -> None:
        self.pinset: dict[str, Pin] = {}
        self.here: dict[str, str] = {}  # status on this peer, for pins in the pinset
        self.calls: list[tuple[str, str]] = []
        self.down = False
        self.refuse_pins = False

    async def statuses(self, *, local: bool = False) -> AsyncIterator[PinStatus]:
        assert local
        if self.down:
            raise ClusterUnavailable("http://cluster", "connection refused")
        for cid, pin in list(self.pinset.items()):
            status = self.here.get(cid) or ("pinned" if pin.allocated_to(MY_PEER) else "remote")
            yield PinStatus(
                cid, pin.name, pin.allocations, {MY_PEER: PeerStatus("me", "ipfs", status, "", 0)}
            )

    async def allocation(self, cid: str) -> Pin | None:
        self.calls.append(("allocation", cid))
        return self.pinset.get(cid)

    async def pin(self, cid: str, *, replication_min: int, replication_max: int, name: str) -> Pin:
        self.calls.append(("pin", cid))
        if self.refuse_pins:
            raise ClusterUnavailable("http://cluster", "connection refused")
        allocations = () if replication_min == -1 else (MY_PEER,)
        self.pinset[cid] = Pin(cid, name, allocations, replication_min, replication_max)
        self.here[cid] = "pin_queued"
        return self.pinset[cid]

    async def recover(self, cid: str, *, local: bool = True) -> PinStatus:
        self.calls.append(("recover", cid))
        assert local
        self.here[cid] = "pinning"
        return PinStatus(cid, "", (), {})

    def unpin(self, cid: str) -> None:
        del self.pinset[cid]
        self.here.pop(cid, None)


@pytest.fixture
def query() -> FakeQuery:
    return FakeQuery()


def _replicator(
    query: FakeQuery,
    storage: FakeStorage,
    path: Path,
    policy: str = "all",
    cluster: FakeCluster | None = None,
    replication: tuple[int, int] = (-1, -1),
    interval: float = 0,
    timeout: float = 5.0,
    documents: DocumentCache | None = None,
) -> Replicator:
    return Replicator(
        cast(Query, query),
        cast(StorageProvider, storage),
        ME,
        policy,
        path / "replication.db",
        cluster=cast(ClusterClient, cluster),
        replication=replication,
        interval=interval,
        timeout=timeout,
        documents=documents,
    )


def _payload_cid(asset: str) -> str:
    return _cid(asset.encode())


def _everything(query: FakeQuery) -> set[str]:
    return {query.record_cid(a) for a in query.owners} | {_payload_cid(a) for a in query.owners}


# -- without a cluster: the daemon's own pins ------------------------------------------------------------


def test_every_recorded_cid_is_pinned_own_records_included(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    replicator = _replicator(query, storage, tmp_path)
    assert asyncio.run(replicator.step()) == 6  # three documents, three payloads
    assert storage.pinned == _everything(query)
    assert asyncio.run(replicator.step()) == 0  # the daemon holds them all: nothing to do
    assert replicator.status()["pinned"] == 6 and replicator.status()["missing_here"] == 0


def test_a_daemon_that_lost_its_pins_is_seen_and_filled_again(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    replicator = _replicator(query, storage, tmp_path)
    asyncio.run(replicator.step())
    storage.pinned.clear()  # the repository was deleted
    before = asyncio.run(replicator.census())
    assert (before.missing_here, before.pinned, before.recorded) == (6, 0, 6)
    fetched = len(storage.fetches)
    assert asyncio.run(replicator.step()) == 6
    assert storage.pinned == _everything(query)
    assert len(storage.fetches) == fetched  # verified documents are remembered: not fetched again
    assert asyncio.run(replicator.census()).missing_here == 0


def test_dependencies_policy_keeps_what_my_assets_derive_from(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    replicator = _replicator(query, storage, tmp_path, policy="dependencies")
    asyncio.run(replicator.step())
    wanted = {query.record_cid(a) for a in (DATASET, MODEL)} | {_payload_cid(a) for a in (DATASET, MODEL)}
    assert storage.pinned == wanted
    assert {w.asset for w in replicator.wanted()} == {DATASET, MODEL}


def test_a_document_that_does_not_match_its_digest_is_not_pinned_nor_fetched_again(
    query: FakeQuery, tmp_path: Path
) -> None:
    storage = FakeStorage(query.documents)
    storage.tampered.add(query.record_cid(DATASET))
    replicator = _replicator(query, storage, tmp_path)
    asyncio.run(replicator.step())
    asyncio.run(replicator.step())
    assert storage.fetches.count(query.record_cid(DATASET)) == 1
    assert query.record_cid(DATASET) not in storage.pinned and _payload_cid(DATASET) not in storage.pinned
    assert replicator.status()["invalid"] == 1 and replicator.status()["pinned"] == 4


def test_an_ipfs_outage_is_reported_and_repaired_once_over(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    storage.down = True
    replicator = _replicator(query, storage, tmp_path)
    assert asyncio.run(replicator.step()) == 0
    assert "IpfsUnavailable" in replicator.status()["error"]
    with pytest.raises(IpfsUnavailable):
        asyncio.run(replicator.census())
    storage.down = False
    assert asyncio.run(replicator.step()) == 6  # interval 0: retries are due at once
    assert asyncio.run(replicator.step()) == 0  # the next pass finds everything held
    assert replicator.status()["missing_here"] == 0 and replicator.status()["unverified"] == 0


def test_a_failed_pin_waits_for_its_retry(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    replicator = _replicator(query, storage, tmp_path, interval=3600)
    asyncio.run(replicator.step())
    storage.pinned.clear()

    async def pins_fail_once() -> None:
        original = storage.pin

        async def failing(cid: CID, *, timeout: float | None = None, name: str = "proml") -> None:
            storage.pin_calls.append(str(cid))
            raise IpfsUnavailable("http://ipfs", "connection reset")

        storage.pin = failing  # type: ignore[method-assign]
        await replicator.step()
        storage.pin = original  # type: ignore[method-assign]
        # Due again in an hour (the delay doubles from `interval`): this pass tries nothing.
        assert await replicator.step() == 0

    calls = len(storage.pin_calls)
    asyncio.run(pins_fail_once())
    assert len(storage.pin_calls) - calls == 6  # one attempt each, not two
    assert replicator.status()["failed"] == 6 and storage.pinned == set()


def test_a_document_nobody_serves_holds_up_nothing(query: FakeQuery, tmp_path: Path) -> None:
    lost = query.add_record(DATASET, OTHER, b"held by nobody")
    storage = FakeStorage(query.documents)
    storage.nobody_serves.add(lost)
    replicator = _replicator(query, storage, tmp_path, timeout=3600)

    async def scenario() -> tuple[set[str], bool]:
        stop = asyncio.Event()
        task = asyncio.create_task(replicator.run(stop))
        # Polled, not timed: on a loaded machine the passes take longer, but never finish the lost one.
        for _ in range(3000):
            still_fetching = lost in storage.fetches and replicator.status()["in_flight"] == 1
            if storage.pinned >= _everything(query) and still_fetching:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)
        return set(storage.pinned), still_fetching

    pinned, still_fetching = asyncio.run(scenario())
    assert pinned == _everything(query)  # every other record's CIDs, while the lost document is awaited
    assert still_fetching and lost not in pinned


def test_a_restart_fetches_no_document_again(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    first = _replicator(query, storage, tmp_path)
    asyncio.run(first.step())
    first.close()
    fetched = len(storage.fetches)
    again = _replicator(query, storage, tmp_path)
    assert asyncio.run(again.step()) == 0
    assert len(storage.fetches) == fetched and again.status()["pinned"] == 6


def test_a_history_is_read_again_only_when_it_grows(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    replicator = _replicator(query, storage, tmp_path)
    asyncio.run(replicator.step())
    query.reads.clear()
    assert asyncio.run(replicator.step()) == 0
    assert query.reads == []
    new = query.add_record(DATASET, OTHER, b"more")
    assert asyncio.run(replicator.step()) == 2
    assert query.reads == [DATASET] and {new, _payload_cid("more")} <= storage.pinned


def test_a_pass_stores_its_verdicts_together(
    query: FakeQuery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One commit (and, at most, one disk sync) for a pass's documents, not one per document: under load
    the per-document syncs competed with the outbox's, which a client waits for."""
    stores: list[list[Verdict]] = []
    put = ReplicationState.put
    monkeypatch.setattr(ReplicationState, "put", lambda self, v: (stores.append(list(v)), put(self, v)))
    storage = FakeStorage(query.documents)
    storage.tampered.add(query.record_cid(UNRELATED))
    replicator = _replicator(query, storage, tmp_path)
    asyncio.run(replicator.step())
    statuses = [sorted(v.status for v in verdicts) for verdicts in stores]
    assert statuses == [["invalid", "verified", "verified"]]
    replicator.close()


def test_verified_documents_are_kept_for_the_verify_service(query: FakeQuery, tmp_path: Path) -> None:
    storage = FakeStorage(query.documents)
    storage.tampered.add(query.record_cid(UNRELATED))
    store = DocumentCache(tmp_path / "verified-documents.db")
    replicator = _replicator(query, storage, tmp_path, documents=store)
    asyncio.run(replicator.step())
    digests = {hashlib.sha256(data).digest(): data for data in query.documents.values()}
    kept = store.get_many(digests)
    assert len(kept) == 2 and all(digests[d] == data for d, data in kept.items())  # not the tampered one
    assert query.documents[query.record_cid(UNRELATED)] not in kept.values()
    replicator.close()


def test_documents_in_the_store_are_verified_without_a_fetch_and_a_bad_copy_is_fetched(
    query: FakeQuery, tmp_path: Path
) -> None:
    """What the submitter kept of the node's own documents needs no fetch back from IPFS; a stored copy is
    checked as fetched bytes are, so one altered on disk is fetched instead (and replaced)."""
    storage = FakeStorage(query.documents)
    store = DocumentCache(tmp_path / "verified-documents.db")
    own, altered = query.record_cid(DATASET), query.record_cid(UNRELATED)
    store.put_many(
        [
            (hashlib.sha256(query.documents[own]).digest(), query.documents[own]),
            (hashlib.sha256(query.documents[altered]).digest(), query.documents[altered] + b" "),
        ]
    )
    replicator = _replicator(query, storage, tmp_path, documents=store)
    asyncio.run(replicator.step())
    assert own not in storage.fetches and altered in storage.fetches
    assert replicator.status()["unverified"] == 0 and replicator.status()["invalid"] == 0
    assert storage.pinned >= _everything(query)  # the payloads the stored document names are wanted too
    digest = hashlib.sha256(query.documents[altered]).digest()
    assert store.get_many({digest}) == {digest: query.documents[altered]}
    replicator.close()


def test_the_loop_pauses_longer_after_a_long_pass(query: FakeQuery, tmp_path: Path) -> None:
    """A pass's cost grows with the history: the loop waits PAUSE_RATIO times its last pass, so that an
    idle node with a long history does not spend its time comparing."""
    storage = FakeStorage(query.documents)
    replicator = _replicator(query, storage, tmp_path, interval=0.01)
    asyncio.run(replicator.step())
    storage.listing_seconds = 0.05

    async def run_for(seconds: float) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(replicator.run(stop))
        await asyncio.sleep(seconds)
        stop.set()
        await task

    storage.listings = 0
    asyncio.run(run_for(0.6))
    assert replicator.pass_seconds >= 0.05
    assert replicator.pause() == PAUSE_RATIO * replicator.pass_seconds
    assert storage.listings == 1  # at a pause of the interval alone, about ten


def test_an_unknown_policy_is_refused(query: FakeQuery, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="policy"):
        _replicator(query, FakeStorage({}), tmp_path, policy="some")


# -- with a cluster: the pinset, and how this peer holds each pin ------------------------------------


def _with_cluster(
    query: FakeQuery, tmp_path: Path, replication: tuple[int, int] = (-1, -1)
) -> tuple[Replicator, FakeStorage, FakeCluster]:
    storage, cluster = FakeStorage(query.documents), FakeCluster()
    return _replicator(query, storage, tmp_path, cluster=cluster, replication=replication), storage, cluster


def test_recorded_cids_missing_from_the_pinset_are_pinned_with_the_replication(
    query: FakeQuery, tmp_path: Path
) -> None:
    replicator, storage, cluster = _with_cluster(query, tmp_path, replication=(2, 2))
    assert asyncio.run(replicator.step()) == 6
    assert set(cluster.pinset) == _everything(query)
    assert {(p.replication_min, p.replication_max) for p in cluster.pinset.values()} == {(2, 2)}
    assert cluster.pinset[query.record_cid(DATASET)].name == f"proml:{DATASET}:0:record"
    assert cluster.pinset[_payload_cid(DATASET)].name == f"proml:{DATASET}:0:content"
    assert storage.pin_calls == []  # the cluster pins in the daemon, not the replicator
    # Asked about each CID alone before pinning it (a listing may be cut short).
    assert [kind for kind, _ in cluster.calls].count("allocation") == 6


def test_a_cid_a_member_unpinned_is_pinned_again(query: FakeQuery, tmp_path: Path) -> None:
    replicator, _, cluster = _with_cluster(query, tmp_path)
    asyncio.run(replicator.step())
    payload = _payload_cid(DATASET)
    cluster.here.clear()  # every peer holds every pin by now
    cluster.unpin(payload)  # a rogue member, through its own cluster peer
    census = asyncio.run(replicator.census())
    assert (census.not_in_pinset, census.missing_here) == (1, 1)
    cluster.calls.clear()
    assert asyncio.run(replicator.step()) == 1
    assert cluster.calls == [("allocation", payload), ("pin", payload)]
    assert cluster.pinset[payload].everywhere


def test_a_pin_this_peers_daemon_lost_is_recovered_here(query: FakeQuery, tmp_path: Path) -> None:
    replicator, _, cluster = _with_cluster(query, tmp_path)
    asyncio.run(replicator.step())
    cluster.here = dict.fromkeys(cluster.pinset, "pinned")
    lost, failed = _payload_cid(DATASET), query.record_cid(MODEL)
    cluster.here[lost] = "unexpectedly_unpinned"  # its daemon's repository was deleted
    cluster.here[failed] = "pin_error"
    cluster.here[_payload_cid(MODEL)] = "pinning"  # on the way: left alone
    census = asyncio.run(replicator.census())
    assert (census.missing_here, census.pinned) == (3, 3)
    cluster.calls.clear()
    assert asyncio.run(replicator.step()) == 2
    assert sorted(cluster.calls) == sorted([("recover", lost), ("recover", failed)])


def test_with_a_replication_factor_pins_allocated_elsewhere_are_not_missing_here(
    query: FakeQuery, tmp_path: Path
) -> None:
    replicator, _, cluster = _with_cluster(query, tmp_path, replication=(1, 1))
    asyncio.run(replicator.step())
    elsewhere = _payload_cid(UNRELATED)
    cluster.pinset[elsewhere] = Pin(elsewhere, "", ("12D3KooWOther",), 1, 1)
    cluster.here = {cid: "pinned" for cid in cluster.pinset if cid != elsewhere}
    cluster.unpin(_payload_cid(DATASET))
    census = asyncio.run(replicator.census())
    assert (census.remote, census.not_in_pinset, census.missing_here, census.pinned) == (1, 1, 0, 4)


def test_a_cluster_that_does_not_answer_is_retried_later(query: FakeQuery, tmp_path: Path) -> None:
    replicator, _, cluster = _with_cluster(query, tmp_path)
    cluster.down = True
    assert asyncio.run(replicator.step()) == 0
    assert "ClusterUnavailable" in replicator.status()["error"]
    cluster.down, cluster.refuse_pins = False, True
    assert asyncio.run(replicator.step()) == 6  # attempted, and failed
    assert cluster.pinset == {} and replicator.status()["failed"] == 6
    cluster.refuse_pins = False
    assert asyncio.run(replicator.step()) == 6  # interval 0: due again at once
    assert set(cluster.pinset) == _everything(query)


# -- the settings ---------------------------------------------------------------------------------------


def _config(tmp_path: Path, cluster: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(f'[node]\norg = "A"\ndata_dir = "d"\n[wallet]\nkeystore = "k"\n[cluster]\n{cluster}\n')
    return path


def test_cluster_settings_and_their_defaults(tmp_path: Path) -> None:
    loaded = load_config(_config(tmp_path, ""), environ={})
    assert (loaded.cluster_api, loaded.cluster_replication, loaded.cluster_factors) == ("", "all", (-1, -1))
    loaded = load_config(_config(tmp_path, 'api = "http://127.0.0.1:9094"\nreplication = 2'), environ={})
    assert (loaded.cluster_api, loaded.cluster_factors) == ("http://127.0.0.1:9094", (2, 2))
    overridden = load_config(_config(tmp_path, ""), environ={"PROML_CLUSTER_REPLICATION": "3"})
    assert overridden.cluster_factors == (3, 3)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("replication = 0", "cluster.replication must be an integer of 1 or more"),
        ('replication = "half"', 'cluster.replication must be an integer of 1 or more, or "all"'),
        ("replication = true", "cluster.replication"),
        ('api = "127.0.0.1:9094"', "cluster.api must be an http"),
    ],
)
def test_bad_cluster_settings_name_the_setting(tmp_path: Path, setting: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, setting), environ={})
