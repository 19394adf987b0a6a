"""The provenance tracker's Merkle tree and proofs (pure), and its anchoring and verification against a
node faked in memory (the real node is in tests/integration/test_tracker_on_a_node.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from proml.core.content.digest import ContentDigest, UnknownAlgorithm, digest_bytes
from proml.core.records import canonical_json
from proml.sdk import Asset, Node, merkle
from proml.sdk.merkle import ProofStep
from proml.sdk.tracker import ProvenanceTracker, epoch_leaf
from proml.sdk.transport import Transport

ALGORITHMS = ("sha256", "blake3")

# RFC 6962 roots of the first n leaves of Certificate Transparency's test vectors.
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
MODEL = "0x" + "ab" * 20


def hashes(n: int, algorithm: str = "sha256") -> list[bytes]:
    return [merkle.leaf_hash(f"leaf-{i}", digest_bytes(bytes([i]), algorithm), algorithm) for i in range(n)]


def flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


# -- the tree and its proofs --------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, len(CT_LEAVES) + 1))
def test_roots_are_rfc_6962s(n: int) -> None:
    leaves = [hashlib.sha256(b"\x00" + bytes.fromhex(leaf)).digest() for leaf in CT_LEAVES[:n]]
    assert merkle.root_of(leaves, "sha256").hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 8, 9, 13, 17])
def test_every_leaf_has_a_proof_and_a_changed_one_fails(algorithm: str, n: int) -> None:
    leaves = hashes(n, algorithm)
    root = merkle.root_of(leaves, algorithm)
    for index, leaf in enumerate(leaves):
        proof = merkle.audit_path(leaves, index, algorithm)
        assert len(proof) <= (n - 1).bit_length()
        assert merkle.verify_proof(leaf, proof, root, algorithm)
        assert not merkle.verify_proof(flip(leaf), proof, root, algorithm)
        assert not merkle.verify_proof(leaf, proof, flip(root), algorithm)
        for i, step in enumerate(proof):
            tampered = [*proof[:i], ProofStep(flip(step.sibling), step.side), *proof[i + 1 :]]
            assert not merkle.verify_proof(leaf, tampered, root, algorithm)
            swapped = [*proof[:i], ProofStep(step.sibling, "left" if step.side == "right" else "right")]
            assert not merkle.verify_proof(leaf, swapped + proof[i + 1 :], root, algorithm)
        if proof:
            assert not merkle.verify_proof(leaf, proof[:-1], root, algorithm)


def test_an_odd_level_duplicates_nothing() -> None:
    """Bitcoin's tree gives [a, b, c] and [a, b, c, c] one root (CVE-2012-2459); this one does not."""
    a, b, c = hashes(3)
    assert merkle.root_of([a, b, c], "sha256") != merkle.root_of([a, b, c, c], "sha256")
    assert merkle.root_of([a, b, c], "sha256") == merkle.node_hash(
        merkle.node_hash(a, b, "sha256"), c, "sha256"
    )


def test_leaves_and_inner_nodes_are_hashed_apart() -> None:
    digest = digest_bytes(b"weights")
    encoding = canonical_json({"digest": str(digest), "name": "model/weights"})
    assert merkle.leaf_encoding("model/weights", digest) == encoding
    assert merkle.leaf_hash("model/weights", digest, "sha256") == hashlib.sha256(b"\x00" + encoding).digest()
    left, right = hashes(2)
    assert merkle.node_hash(left, right, "sha256") == hashlib.sha256(b"\x01" + left + right).digest()


def test_a_malformed_proof_does_not_verify() -> None:
    leaves = hashes(4)
    root = merkle.root_of(leaves, "sha256")
    proof = merkle.audit_path(leaves, 0, "sha256")
    assert merkle.verify_proof(leaves[0], [(s.hex(), side) for s, side in proof], "0x" + root.hex(), "sha256")
    assert not merkle.verify_proof(leaves[0], [(proof[0].sibling, "up"), *proof[1:]], root, "sha256")
    assert not merkle.verify_proof(leaves[0], [("0xnothex", "left")], root, "sha256")
    with pytest.raises(UnknownAlgorithm):
        merkle.verify_proof(leaves[0], proof, root, "md5")


def test_an_empty_tree_has_no_root() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        merkle.root_of([], "sha256")


# -- the tracker's tree -------------------------------------------------------------------------------


@pytest.fixture
def offline() -> Node:
    """A node that is never called (tracking and proofs are local)."""
    return Node(Transport("http://127.0.0.1:9", "unused"))


def model_of(node: Node) -> Asset:
    return Asset(
        node,
        {"id": "7", "ref": MODEL, "asset": MODEL, "status": "final"},
        kind="model",
        name="m",
        digest=None,
    )


def tracked(node: Node, algorithm: str = "sha256", epochs: int = 3, order: int = 1) -> ProvenanceTracker:
    tracker = ProvenanceTracker(node, model_of(node), algorithm)
    steps: list[Callable[[], str]] = [
        partial(tracker.track_data, b"train rows", b"test rows"),
        partial(tracker.track_model, {"layers": [784, 128, 10]}, b"initial weights"),
    ]
    for e in range(1, epochs + 1):
        parts = {"model_state": b"s%d" % e, "metrics": metrics(e), "privacy_metrics": {"epsilon": e / 2}}
        steps.append(partial(tracker.track_epoch, e, **parts))
    for step in steps[::order]:
        step()
    return tracker


def metrics(epoch: int) -> dict[str, float]:
    return {"accuracy": 0.8 + epoch / 100, "loss": 1 / epoch}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_roots_are_deterministic_whatever_the_order_of_tracking(offline: Node, algorithm: str) -> None:
    root = tracked(offline, algorithm).merkle_root()
    assert root == tracked(offline, algorithm, order=-1).merkle_root()
    assert root.startswith("0x") and len(root) == 66
    other = "blake3" if algorithm == "sha256" else "sha256"
    assert root != tracked(offline, other).merkle_root()


def test_each_tracked_value_moves_the_root(offline: Node) -> None:
    tracker = tracked(offline, epochs=1)
    roots = {tracker.merkle_root()}
    roots.add(tracker.track_epoch(2, metrics=metrics(2)))
    roots.add(tracker.track_epoch(10, metrics=metrics(10)))
    roots.add(tracker.track_model(weights=b"trained weights"))
    assert len(roots) == 4


def test_json_is_hashed_canonically_and_copied(offline: Node) -> None:
    one, two = ProvenanceTracker(offline, model_of(offline)), ProvenanceTracker(offline, model_of(offline))
    values = {"loss": 0.5, "accuracy": 1.0, "per_class": [0.25, 0.75]}
    one.track_epoch(1, metrics=values)
    two.track_epoch(1, metrics={"per_class": (0.25, 0.75), "accuracy": 1, "loss": 0.5})
    assert one.merkle_root() == two.merkle_root()
    values["loss"] = 0.0  # the caller's object changing later is not what was tracked
    assert one.merkle_root() == two.merkle_root()


def test_values_bytes_files_arrays_and_digests(offline: Node, tmp_path: Path) -> None:
    tracker = ProvenanceTracker(offline, model_of(offline), "blake3")
    (tmp_path / "train.csv").write_bytes(b"a,b\n1,2\n")
    tracker.track("data/train", str(tmp_path / "train.csv"))
    tracker.track("data/test", b"a,b\n1,2\n")
    assert tracker.leaves["data/train"].digest == tracker.leaves["data/test"].digest
    tracker.track("data/validation", digest_bytes(b"x", "sha256"))
    assert str(tracker.leaves["data/validation"].digest).startswith("sha256:")
    with pytest.raises(FileNotFoundError, match="to hash a text, track a dict"):
        tracker.track("model/architecture", "resnet18")
    with pytest.raises(TypeError, match="cannot track"):
        tracker.track("model/architecture", {"nan": float("nan")})


class FakeArray:
    """What the tracker reads of a numpy array."""

    def __init__(self, data: bytes, shape: tuple[int, ...], dtype: str = "<f4") -> None:
        self.__array_interface__ = {"shape": shape, "typestr": dtype}
        self.shape = shape
        self.dtype = type("dtype", (), {"str": dtype})()
        self._data = data

    def tobytes(self, order: str = "C") -> bytes:
        return self._data


def test_an_arrays_shape_and_type_are_part_of_its_digest(offline: Node) -> None:
    def digest(array: object) -> ContentDigest:
        tracker = ProvenanceTracker(offline, model_of(offline))
        tracker.track("data/train", array)
        return tracker.leaves["data/train"].digest

    data = bytes(range(16))
    assert digest(FakeArray(data, (4,))) == digest(FakeArray(data, (4,)))
    assert digest(FakeArray(data, (4,))) != digest(FakeArray(data, (2, 2)))
    assert digest(FakeArray(data, (4,))) != digest(FakeArray(data, (4,), "<i4"))


def test_numpy_arrays(offline: Node) -> None:
    numpy = pytest.importorskip("numpy")
    tracker = ProvenanceTracker(offline, model_of(offline))
    array = numpy.arange(12, dtype="<f8").reshape(3, 4)
    tracker.track("data/train", array)
    tracker.track("data/test", numpy.asfortranarray(array))  # not C-contiguous: same data, same digest
    assert tracker.leaves["data/train"].digest == tracker.leaves["data/test"].digest


def test_names_and_arguments_are_checked(offline: Node) -> None:
    tracker = ProvenanceTracker(offline, model_of(offline))
    with pytest.raises(ValueError, match="at least one leaf"):
        tracker.merkle_root()
    with pytest.raises(ValueError, match="nothing to track"):
        tracker.track_epoch(1)
    tracker.track("data/train", b"x")
    with pytest.raises(ValueError, match="would be both"):
        tracker.track("data/train/part", b"y")
    with pytest.raises(ValueError, match="would be both"):
        tracker.track("data", b"y")
    with pytest.raises(ValueError, match="non-empty"):
        tracker.track("data//x", b"y")
    with pytest.raises(KeyError, match="no leaf"):
        tracker.proof("data/test")
    with pytest.raises(UnknownAlgorithm):
        ProvenanceTracker(offline, model_of(offline), "md5")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_one_epochs_metrics_verify_without_the_rest_of_the_tree(offline: Node, algorithm: str) -> None:
    tracker = tracked(offline, algorithm, epochs=5)
    name = epoch_leaf(3, "metrics")
    # What a third party receives: the metrics, the proof and the anchored root, nothing else.
    document = json.loads(json.dumps(tracker.proof_document(name)))
    proof = [ProofStep.from_dict(step) for step in document["proof"]]
    leaf = ProvenanceTracker.leaf_hash_of(name, metrics(3), algorithm)
    assert ProvenanceTracker.verify_proof(leaf, proof, document["root"], algorithm)
    forged = ProvenanceTracker.leaf_hash_of(name, {**metrics(3), "accuracy": 0.99}, algorithm)
    assert not ProvenanceTracker.verify_proof(forged, proof, document["root"], algorithm)
    # The name is part of the leaf: epoch 3's metrics do not pass for epoch 4's.
    moved = ProvenanceTracker.leaf_hash_of(epoch_leaf(4, "metrics"), metrics(3), algorithm)
    assert not ProvenanceTracker.verify_proof(moved, proof, document["root"], algorithm)
    for other in tracker.leaves:
        assert tracker.verify_proof(
            tracker.leaf_hash(other), tracker.proof(other), tracker.merkle_root(), algorithm
        )


# -- anchoring and verification, against a node faked in memory ---------------------------------------


class FakeNode:
    """The node's anchor endpoint, outbox, history, verification and health, as the SDK sees them."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = [
            {"seq": 0, "activity": "register", "accepted": True, "anchor": None}
        ]
        self.outbox: dict[str, dict[str, Any]] = {}
        self.chain_root: str | None = None  # what the chain holds instead of what was sent, if set
        self.health = {"status": "ok"}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == f"/v1/assets/{MODEL}/anchors":
            return httpx.Response(202, json=self.anchor(json.loads(request.content)))
        if path.startswith("/v1/outbox/"):
            return httpx.Response(200, json=self.outbox[path.rsplit("/", 1)[1]])
        if path == f"/v1/assets/{MODEL}/history":
            since = int(request.url.params.get("since", 0))
            return httpx.Response(200, json=[e for e in self.history if e["seq"] >= since])
        if path == f"/v1/assets/{MODEL}/verification":
            return httpx.Response(200, json={"ok": True, "problems": []})
        if path == "/v1/health":
            return httpx.Response(200 if self.health["status"] == "ok" else 503, json=self.health)
        return httpx.Response(404, json={"detail": f"no {path}", "code": "not_found"})

    def anchor(self, body: dict[str, str]) -> dict[str, Any]:
        seq = len(self.history)
        anchor = {"phase": body["phase"], "phase_id": int(body["phase"] == "after_training")}
        self.history.append(
            {
                "seq": seq,
                "activity": "anchor",
                "accepted": True,
                "anchor": {**anchor, "root": self.chain_root or body["root"]},
                "block_number": 100 + seq,
                "transaction_hash": "0x" + "cd" * 32,
            }
        )
        view = {"id": str(seq), "ref": f"outbox:{seq}", "asset": MODEL, "seq": seq, "accepted": None}
        self.outbox[str(seq)] = {**view, "status": "final", "accepted": True}
        return {**view, "status": "pending"}


@pytest.fixture
def fake() -> FakeNode:
    return FakeNode()


@pytest.fixture
def node(fake: FakeNode) -> Node:
    node = Node(Transport("http://node", "key"))
    node.transport._http = httpx.Client(base_url="http://node", transport=httpx.MockTransport(fake.handle))
    return node


def trained(node: Node) -> ProvenanceTracker:
    tracker = tracked(node, epochs=0)
    tracker.store_merkle_on_blockchain_before_training({"epochs": 3, "batch_size": 64})
    for epoch in range(1, 4):
        tracker.track_epoch(epoch, model_state=b"s%d" % epoch, metrics=metrics(epoch))
    tracker.track_model(weights=b"trained weights")
    tracker.store_merkle_on_blockchain_after_training({"accuracy": 0.83})
    return tracker


def test_anchored_roots_verify(node: Node, fake: FakeNode) -> None:
    tracker = trained(node)
    anchored = [e["anchor"] for e in fake.history if e["anchor"]]
    assert [a["phase"] for a in anchored] == ["before_training", "after_training"]
    assert anchored[1]["root"] == tracker.merkle_root() != anchored[0]["root"]
    report = tracker.verify_blockchain_provenance()
    assert report["ok"] is report["chain_integrity"] is True
    assert [a["match"] for a in report["anchors"]] == [True, True]
    assert report["changed_leaves"] == []
    # Re-tracked weights replaced a leaf, but the first anchor still covers the initial ones.
    assert {leaf["digest"] for leaf in report["leaves"] if leaf["name"] == "model/weights"} == {
        str(digest_bytes(b"initial weights")),
        str(digest_bytes(b"trained weights")),
    }


def test_a_tampered_metric_is_found(node: Node) -> None:
    tracker = trained(node)
    tracker.leaves[epoch_leaf(2, "metrics")].value["accuracy"] = 0.99
    report = tracker.verify_blockchain_provenance()
    assert report["ok"] is False
    assert report["changed_leaves"] == [epoch_leaf(2, "metrics")]
    before, after = report["anchors"]
    assert before["match"] is True  # epoch 2 came after the first anchor
    assert (
        after["match"] is False and after["anchored_root"] == after["sent_root"] != after["recomputed_root"]
    )


def test_a_changed_file_is_found(node: Node, tmp_path: Path) -> None:
    tracker = ProvenanceTracker(node, model_of(node))
    checkpoint = tmp_path / "epoch-1.pt"
    checkpoint.write_bytes(b"state")
    tracker.track_epoch(1, model_state=checkpoint)
    tracker.store_merkle_on_blockchain_after_training()
    assert tracker.verify_blockchain_provenance()["ok"] is True
    checkpoint.write_bytes(b"other state")
    assert tracker.verify_blockchain_provenance()["changed_leaves"] == [epoch_leaf(1, "model_state")]
    checkpoint.unlink()  # gone: its recorded digest stands, and the report says so
    report = tracker.verify_blockchain_provenance()
    assert report["ok"] is True
    assert [leaf["status"] for leaf in report["leaves"]] == ["missing"]


def test_a_root_the_chain_does_not_hold_fails(node: Node, fake: FakeNode) -> None:
    fake.chain_root = "0x" + "00" * 32
    tracker = tracked(node)
    tracker.store_merkle_on_blockchain_after_training()
    report = tracker.verify_blockchain_provenance()
    assert report["ok"] is False and report["anchors"][0]["anchored_root"] == fake.chain_root


def test_nothing_anchored_is_not_verified(node: Node) -> None:
    report = tracked(node).verify_blockchain_provenance()
    assert report["ok"] is False and report["anchors"] == []


def test_report_and_status(node: Node, fake: FakeNode, tmp_path: Path) -> None:
    tracker = trained(node)
    status = tracker.get_blockchain_status()
    assert status["blockchain_enabled"] is True
    assert [h["status"] for h in status["stored_hashes"]] == ["final", "final"]
    assert [a["root"] for a in status["anchors_on_chain"]] == [h["root"] for h in status["stored_hashes"]]
    path = tracker.save_blockchain_report(tmp_path / "report.json")
    report = json.loads(path.read_text())
    assert report["verification"]["ok"] is True
    for leaf in report["tree"]:
        proof = [ProofStep.from_dict(step) for step in leaf["proof"]]
        assert ProvenanceTracker.verify_proof(leaf["leaf_hash"], proof, status["anchors_on_chain"][1]["root"])
    fake.health = {"status": "degraded"}
    status = tracker.get_blockchain_status()
    assert status["blockchain_enabled"] is False and status["node"]["status"] == "unavailable"
