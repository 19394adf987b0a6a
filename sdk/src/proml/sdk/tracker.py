"""`ProvenanceTracker`: a Merkle tree of a training run's provenance, anchored through a ProML node.

A training script tracks its data (train, test), its model (architecture, weights) and each epoch (model
state, metrics, privacy metrics); each becomes a named leaf of a Merkle tree (see `proml.sdk.merkle`)
hashed with SHA-256 or BLAKE3. The root is anchored before and after training as the model's `anchor`
record; verification recomputes the roots from what was tracked and compares them with the chain's, and a
single leaf (one epoch's metrics) can be proved against an anchored root without the rest of the tree.

The tree's shape (groups with nothing tracked are left out):

    root
    ├── data: train, test
    ├── model: architecture, weights
    └── training: config, epoch-1: (model_state, metrics, privacy_metrics), epoch-2: ..., results
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from proml.core.content.digest import ContentDigest, Hasher, check_algorithm, digest_bytes, digest_file
from proml.core.records import canonical_json, rfc3339

from . import merkle
from .client import Asset, Node, Record
from .errors import ProMLError
from .merkle import ProofStep

Phase = Literal["before_training", "after_training"]
LeafKind = Literal["json", "file", "bytes", "array", "digest"]

# The order of names within a group, so that a root does not depend on the order things were tracked in.
# Names not listed come after those that are, alphabetically; epochs come by number.
_ORDER = (
    "data",
    "model",
    "training",
    "train",
    "test",
    "architecture",
    "weights",
    "config",
    "epoch",
    "results",
    "model_state",
    "metrics",
    "privacy_metrics",
)
_RANK = {name: i for i, name in enumerate(_ORDER)}
EPOCH_PARTS = ("model_state", "metrics", "privacy_metrics")


def epoch_leaf(epoch: int, part: str) -> str:
    """The name of one part of an epoch's node, e.g. `epoch_leaf(2, "metrics")`."""
    return f"training/epoch-{epoch}/{part}"


@dataclass(eq=False)
class Leaf:
    """One tracked value: its digest when tracked, and what it can be recomputed from. A JSON value is kept
    (as a copy, so later changes to the caller's object are not tracking); a file is kept by path; bytes,
    arrays and given digests are not kept (they can be large), so only their digest can be checked."""

    name: str
    digest: ContentDigest
    kind: LeafKind
    value: Any = None
    path: Path | None = None

    def recompute(self, algorithm: str) -> ContentDigest | None:
        """The digest of what is there now; None when nothing was kept or the file is gone."""
        if self.kind == "json":
            return digest_bytes(canonical_json(self.value), algorithm)
        if self.kind == "file" and self.path is not None and self.path.is_file():
            return digest_file(self.path, algorithm)
        return None


@dataclass(frozen=True, eq=False)
class AnchoredRoot:
    """A root sent to the chain, with the leaves it was computed from (re-tracking a leaf later, e.g. the
    trained weights, does not change what an earlier anchor covered)."""

    phase: Phase
    root: bytes
    leaves: tuple[Leaf, ...]
    record: Record


class ProvenanceTracker:
    """The Merkle tree of one model's training, anchored as that model's `anchor` records."""

    def __init__(self, node: Node, model: Asset, algorithm: str = "sha256") -> None:
        self.node = node
        self.model = model
        self.algorithm = check_algorithm(algorithm)
        self.leaves: dict[str, Leaf] = {}
        self.anchors: list[AnchoredRoot] = []

    @classmethod
    def register(
        cls,
        node: Node,
        *,
        name: str,
        ancestors: Iterable[Asset | str] = (),
        algorithm: str = "sha256",
    ) -> ProvenanceTracker:
        """Register a model (derived from `ancestors`, e.g. its datasets) and track it."""
        return cls(node, node.register_model(name=name, ancestors=list(ancestors)), algorithm)

    # -- tracking ---------------------------------------------------------------------------------

    def track(self, name: str, value: object) -> str:
        """Track a value as the leaf `name` ("/"-separated groups, e.g. `data/validation`); replaces a leaf
        of that name. Values: bytes; a file (str or path); a numpy array; a `ContentDigest`; a registered
        `Asset` (its digest); anything else as JSON (dicts, lists, numbers...). Returns the new root."""
        self._put(name, value)
        return self.merkle_root()

    def track_data(self, train_data: object, test_data: object = None) -> str:
        """The training data and, if given, the test data."""
        return self._track_some({"data/train": train_data, "data/test": test_data})

    def track_model(self, architecture: object = None, weights: object = None) -> str:
        """The model's architecture (e.g. a dict of layers, or its source file) and its weights."""
        return self._track_some({"model/architecture": architecture, "model/weights": weights})

    def track_epoch(
        self,
        epoch: int,
        *,
        model_state: object = None,
        metrics: Mapping[str, Any] | None = None,
        privacy_metrics: Mapping[str, Any] | None = None,
    ) -> str:
        """One epoch's node: the model state (a checkpoint file, bytes, an array), its metrics and its
        privacy metrics (e.g. the epsilon spent). Returns the root after the epoch."""
        if epoch < 0:
            raise ValueError(f"epoch {epoch}: epochs are numbered from 0 or 1")
        parts = dict(zip(EPOCH_PARTS, (model_state, metrics, privacy_metrics), strict=True))
        return self._track_some({epoch_leaf(epoch, part): value for part, value in parts.items()})

    def _track_some(self, values: Mapping[str, object]) -> str:
        given = {name: value for name, value in values.items() if value is not None}
        if not given:
            raise ValueError(f"nothing to track: give at least one of {', '.join(values)}")
        for name, value in given.items():
            self._put(name, value)
        return self.merkle_root()

    def _put(self, name: str, value: object) -> None:
        self._check_name(name)
        self.leaves[name] = _leaf(name, value, self.algorithm)

    def _check_name(self, name: str) -> None:
        if not all(name.split("/")):
            raise ValueError(f"leaf name {name!r}: groups and leaf are non-empty names joined by '/'")
        for other in self.leaves:
            if other.startswith(name + "/") or name.startswith(other + "/"):
                raise ValueError(f"leaf name {name!r}: {other!r} is tracked, so one would be both")

    # -- the tree ---------------------------------------------------------------------------------

    def merkle_root(self) -> str:
        """The root of everything tracked now, as anchored: "0x" and 64 hex digits."""
        return "0x" + self._root(self.leaves.values(), _recorded).hex()

    def leaf_hash(self, name: str) -> bytes:
        """The leaf's hash in the tree: what `verify_proof` starts from."""
        leaf = self._leaf(name)
        return merkle.leaf_hash(name, leaf.digest, self.algorithm)

    def proof(self, name: str) -> list[ProofStep]:
        """The inclusion proof of one leaf in the current tree: (sibling, side) steps up to the root."""
        self._leaf(name)
        return merkle.tree_proof(self._tree(self.leaves.values(), _recorded), name.split("/"), self.algorithm)

    def proof_document(self, name: str) -> dict[str, Any]:
        """The proof as JSON, with all a third party needs to check the leaf against an anchored root."""
        leaf = self._leaf(name)
        return {
            "algorithm": self.algorithm,
            "leaf": name,
            "digest": str(leaf.digest),
            "leaf_hash": "0x" + self.leaf_hash(name).hex(),
            "proof": [step.to_dict() for step in self.proof(name)],
            "root": self.merkle_root(),
        }

    @staticmethod
    def leaf_hash_of(name: str, value: object, algorithm: str = "sha256") -> bytes:
        """The hash a leaf named `name` holding `value` has: for a verifier that has the value (one epoch's
        metrics), a proof and a root, and nothing else."""
        return merkle.leaf_hash(name, _leaf(name, value, check_algorithm(algorithm)).digest, algorithm)

    @staticmethod
    def verify_proof(
        leaf_digest: bytes | str,
        proof: Iterable[ProofStep | tuple[bytes | str, str]],
        root: bytes | str,
        algorithm: str = "sha256",
    ) -> bool:
        """Does the leaf hash (`leaf_hash`, `leaf_hash_of`) lead to the root through the proof?"""
        return merkle.verify_proof(leaf_digest, proof, root, algorithm)

    def _leaf(self, name: str) -> Leaf:
        try:
            return self.leaves[name]
        except KeyError:
            raise KeyError(f"no leaf {name!r}: tracked are {', '.join(sorted(self.leaves))}") from None

    def _tree(self, leaves: Iterable[Leaf], digest: Callable[[Leaf], ContentDigest]) -> merkle.Tree:
        ordered = sorted(leaves, key=lambda leaf: _name_key(leaf.name))
        return merkle.build_tree(
            (leaf.name.split("/"), merkle.leaf_hash(leaf.name, digest(leaf), self.algorithm))
            for leaf in ordered
        )

    def _root(self, leaves: Iterable[Leaf], digest: Callable[[Leaf], ContentDigest]) -> bytes:
        return merkle.tree_root(self._tree(leaves, digest), self.algorithm)

    # -- the chain --------------------------------------------------------------------------------

    def store_merkle_on_blockchain_before_training(self, training_config: object = None) -> Record:
        """Anchor the root of what is tracked (data, model; `training_config` too, as `training/config`)
        as the model's `before_training` anchor. Returns once the node has accepted it (`.wait()`)."""
        if training_config is not None:
            self.track("training/config", training_config)
        return self._anchor("before_training")

    def store_merkle_on_blockchain_after_training(self, training_results: object = None) -> Record:
        """Anchor the root after training (the epochs; `training_results` too, as `training/results`)."""
        if training_results is not None:
            self.track("training/results", training_results)
        return self._anchor("after_training")

    def _anchor(self, phase: Phase) -> Record:
        leaves = tuple(self.leaves.values())
        root = self._root(leaves, _recorded)
        body = {
            "root": "0x" + root.hex(),
            "phase": phase,
            # The record document says what the root covers, so that an auditor knows which leaves to ask for.
            "parameters": {"hash_algorithm": self.algorithm, "leaves": sorted(self.leaves, key=_name_key)},
            "environment": self.node.environment,
            "ended_at": rfc3339(),
        }
        record = Record(self.node, self.node.transport.post(f"/v1/assets/{self.model.ref}/anchors", body))
        self.anchors.append(AnchoredRoot(phase, root, leaves, record))
        return record

    def verify_blockchain_provenance(self, timeout: float = 120.0) -> dict[str, Any]:
        """Recompute every leaf that can be (JSON values, files), then each anchored root from them, and
        compare with the root the chain holds for that anchor. `ok` (also under `chain_integrity`) when
        every anchor matches, no leaf changed and the model's record chain checks out."""
        failures = self._wait_for_anchors(timeout)
        history = self._history() if self.anchors else {}
        recomputed = {leaf: leaf.recompute(self.algorithm) for leaf in self._all_leaves()}

        def current(leaf: Leaf) -> ContentDigest:
            digest = recomputed[leaf]
            return leaf.digest if digest is None else digest

        anchors = [
            _anchor_check(a, self._root(a.leaves, current), history, failures.get(a.record.id))
            for a in self.anchors
        ]
        leaves = [_leaf_check(leaf, recomputed[leaf]) for leaf in recomputed]
        changed = [leaf["name"] for leaf in leaves if leaf["status"] == "changed"]
        records = self._records_check() if self.anchors else {"ok": False, "problems": ["nothing anchored"]}
        ok = bool(anchors) and all(a["match"] for a in anchors) and not changed and bool(records["ok"])
        return {
            "ok": ok,
            "chain_integrity": ok,
            "model": self.model.ref,
            "algorithm": self.algorithm,
            "checked_at": rfc3339(),
            "current_root": self.merkle_root() if self.leaves else None,
            "anchors": anchors,
            "changed_leaves": changed,
            "leaves": leaves,
            "records": records,
        }

    def save_blockchain_report(self, path: str | os.PathLike[str] = "blockchain_report.json") -> Path:
        """Write the verification, the status and the tree (every leaf with its proof) as JSON."""
        report = {
            "verification": self.verify_blockchain_provenance(),
            "status": self.get_blockchain_status(),
            "tree": [self.proof_document(name) for name in sorted(self.leaves, key=_name_key)],
        }
        target = Path(path)
        target.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return target

    def get_blockchain_status(self) -> dict[str, Any]:
        """The node's health, the roots this tracker sent (and where their records are), and the anchors the
        chain holds for the model. Never waits for a block."""
        try:
            health: dict[str, Any] = self.node.health()
        except ProMLError as error:
            health = {"status": "unavailable", "error": str(error)}
        return {
            "blockchain_enabled": health.get("status") == "ok",
            "node": health,
            "model": self.model.ref,
            "algorithm": self.algorithm,
            "current_root": self.merkle_root() if self.leaves else None,
            "stored_hashes": [_stored(a) for a in self.anchors],
            "anchors_on_chain": self._anchors_on_chain(),
        }

    def _all_leaves(self) -> list[Leaf]:
        """Every leaf, current or covered by an anchor, once each."""
        seen: dict[Leaf, None] = {}
        for leaves in (*(a.leaves for a in self.anchors), self.leaves.values()):
            seen.update(dict.fromkeys(leaves))
        return list(seen)

    def _wait_for_anchors(self, timeout: float) -> dict[str, str]:
        """Wait until each anchor is final and indexed; what went wrong, by outbox id."""
        failures: dict[str, str] = {}
        for anchor in self.anchors:
            try:
                anchor.record.wait(timeout)
            except ProMLError as error:
                failures[anchor.record.id] = f"{type(error).__name__}: {error}"
        return failures

    def _history(self) -> dict[int, dict[str, Any]]:
        return {int(entry["seq"]): entry for entry in self.model.history()}

    def _records_check(self) -> dict[str, Any]:
        try:
            report = self.node.verify_history(self.model)
        except ProMLError as error:
            return {"ok": False, "problems": [f"{type(error).__name__}: {error}"]}
        return {"ok": bool(report["ok"]), "problems": report.get("problems", [])}

    def _anchors_on_chain(self) -> list[dict[str, Any]]:
        try:
            if not self.model.view.get("asset") and not self.model.refresh().view.get("asset"):
                return []  # not registered on chain yet: no anchor can be either, and a status never waits
            history = self.model.history()
        except ProMLError:
            return []
        return [_on_chain(entry) for entry in history if entry.get("anchor")]


# -- values to leaves ---------------------------------------------------------------------------------


def _leaf(name: str, value: object, algorithm: str) -> Leaf:
    if isinstance(value, ContentDigest):
        return Leaf(name, value, "digest")
    if isinstance(value, Asset):
        if value.digest is None:
            raise ValueError(f"{name}: asset {value.ref} was registered without content, so has no digest")
        return Leaf(name, ContentDigest.parse(value.digest), "digest")
    if isinstance(value, bytes | bytearray | memoryview):
        return Leaf(name, digest_bytes(value, algorithm), "bytes")
    if isinstance(value, str | os.PathLike):
        # As everywhere in the SDK, a string is a file; pass {"name": "..."} for a text to be hashed.
        path = Path(value).resolve()
        if not path.is_file():
            raise FileNotFoundError(
                f"{name}: no file {path} (a string is a path; to hash a text, track a dict)"
            )
        return Leaf(name, digest_file(path, algorithm), "file", path=path)
    if _is_array(value):
        return Leaf(name, _digest_array(value, algorithm), "array")
    try:
        encoded = canonical_json(value)
    except ValueError as error:
        raise TypeError(
            f"{name}: cannot track {type(value).__name__} ({error}); track bytes, a file, a numpy array, "
            "or JSON (dicts, lists, numbers, strings in a dict)"
        ) from None
    return Leaf(name, digest_bytes(encoded, algorithm), "json", value=json.loads(encoded))


def _is_array(value: object) -> bool:
    """A numpy array (by its interface: the SDK does not need numpy)."""
    return all(
        hasattr(value, attribute) for attribute in ("__array_interface__", "dtype", "shape", "tobytes")
    )


def _digest_array(array: Any, algorithm: str) -> ContentDigest:
    """The array's dtype (with byte order) and shape, as canonical JSON, then its bytes in C order: two
    arrays with the same bytes but another shape or type are different data."""
    hasher = Hasher(algorithm)
    hasher.update(canonical_json({"dtype": str(array.dtype.str), "shape": [int(n) for n in array.shape]}))
    try:
        hasher.update(memoryview(array).cast("B"))  # no copy when the array is contiguous
    except (TypeError, ValueError, BufferError):
        hasher.update(array.tobytes(order="C"))
    return hasher.finish()


def _recorded(leaf: Leaf) -> ContentDigest:
    return leaf.digest


def _name_key(name: str) -> list[tuple[int, int, str]]:
    return [_segment_key(segment) for segment in name.split("/")]


def _segment_key(segment: str) -> tuple[int, int, str]:
    base, _, number = segment.partition("-")
    if base == "epoch" and number.isdigit():
        return (_RANK["epoch"], int(number), "")
    return (_RANK.get(segment, len(_RANK)), 0, segment)


# -- report pieces ------------------------------------------------------------------------------------


def _leaf_check(leaf: Leaf, recomputed: ContentDigest | None) -> dict[str, Any]:
    if recomputed is not None:
        status = "unchanged" if recomputed == leaf.digest else "changed"
    elif leaf.kind == "file":
        status = "missing"  # the file is gone: its recorded digest still stands in the root
    else:
        status = "digest only"  # bytes, arrays, given digests: nothing kept to recompute from
    return {
        "name": leaf.name,
        "kind": leaf.kind,
        "digest": str(leaf.digest),
        "recomputed": None if recomputed is None else str(recomputed),
        "status": status,
    }


def _anchor_check(
    anchor: AnchoredRoot, recomputed: bytes, history: Mapping[int, dict[str, Any]], failure: str | None
) -> dict[str, Any]:
    record = anchor.record
    entry = None if failure is not None or record.seq is None else history.get(record.seq)
    on_chain = (entry or {}).get("anchor") or {}
    anchored_root = on_chain.get("root")
    error = failure or _entry_problem(anchor.phase, entry, on_chain)
    return {
        "phase": anchor.phase,
        "outbox_id": record.id,
        "seq": record.seq,
        "sent_root": "0x" + anchor.root.hex(),
        "recomputed_root": "0x" + recomputed.hex(),
        "anchored_root": anchored_root,
        "match": error is None and str(anchored_root).lower() == "0x" + recomputed.hex(),
        "block_number": (entry or {}).get("block_number"),
        "transaction_hash": (entry or {}).get("transaction_hash"),
        "error": error,
    }


def _entry_problem(phase: Phase, entry: dict[str, Any] | None, on_chain: Mapping[str, Any]) -> str | None:
    if entry is None:
        return "the anchor record is not in the model's history on chain"
    if entry.get("activity") != "anchor" or not entry.get("accepted") or not on_chain:
        return f"record {entry.get('seq')} is not an accepted anchor (a retired model refuses anchors)"
    if on_chain.get("phase") != phase:
        return f"record {entry.get('seq')} anchors {on_chain.get('phase')}, not {phase}"
    return None


def _stored(anchor: AnchoredRoot) -> dict[str, Any]:
    try:
        status = anchor.record.refresh().status
    except ProMLError as error:
        status = f"unknown ({type(error).__name__})"
    return {
        "phase": anchor.phase,
        "root": "0x" + anchor.root.hex(),
        "outbox_id": anchor.record.id,
        "status": status,
    }


def _on_chain(entry: Mapping[str, Any]) -> dict[str, Any]:
    anchor = entry["anchor"]
    return {
        "seq": entry["seq"],
        "phase": anchor["phase"],
        "root": anchor["root"],
        "block_number": entry.get("block_number"),
        "transaction_hash": entry.get("transaction_hash"),
        "timestamp": entry.get("timestamp"),
    }
