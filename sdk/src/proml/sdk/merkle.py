"""A Merkle tree of named leaves in groups (data, model, training, one group per epoch), with inclusion
proofs that check one leaf against a root without the rest of the tree.

Hashing is RFC 6962's (Certificate Transparency): a leaf is H(0x00 || leaf bytes) and an inner node
H(0x01 || left || right), so that a leaf can never pass for an inner node (a second preimage), and a level
of n > 1 nodes splits at the largest power of two below n, so that nothing is duplicated when n is odd
(duplicating the last node, as Bitcoin does, lets two different leaf lists share a root: CVE-2012-2459).

A group is the tree of its children, and its root is one child of the group above it: the whole is a single
binary tree, and a proof is one list of sibling steps from the leaf up to the root.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, NamedTuple, TypeAlias

from proml.core.content.digest import ContentDigest, check_algorithm, digest_bytes
from proml.core.records import canonical_json

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

Side = Literal["left", "right"]
# A group: its children by name, in the tree's order; a child is a leaf's hash or a group.
Tree: TypeAlias = Mapping[str, "bytes | Tree"]


class ProofStep(NamedTuple):
    """One step up from a node: the sibling's hash and the side the sibling is on."""

    sibling: bytes
    side: Side

    def to_dict(self) -> dict[str, str]:
        return {"sibling": "0x" + self.sibling.hex(), "side": self.side}

    @classmethod
    def of(cls, sibling: bytes | str, side: str) -> ProofStep:
        """A step from its parts as given (bytes or "0x" hex); ValueError when they are not a step."""
        if side not in ("left", "right"):
            raise ValueError(f"a proof step's side is 'left' or 'right', not {side!r}")
        return cls(parse_hash(sibling), "left" if side == "left" else "right")

    @classmethod
    def from_dict(cls, step: Mapping[str, str]) -> ProofStep:
        return cls.of(step["sibling"], step["side"])


def parse_hash(value: bytes | str) -> bytes:
    """A node hash from its bytes or its text ("0x" and hex digits, as anchored)."""
    return value if isinstance(value, bytes) else bytes.fromhex(value.removeprefix("0x"))


def leaf_encoding(name: str, digest: ContentDigest) -> bytes:
    """What a leaf hashes: its name and its content's digest (with the algorithm) as canonical JSON, so
    that a leaf proves both what the content was and where it sits (`training/epoch-2/metrics`)."""
    return canonical_json({"digest": str(digest), "name": name})


def leaf_hash(name: str, digest: ContentDigest, algorithm: str) -> bytes:
    return digest_bytes(LEAF_PREFIX + leaf_encoding(name, digest), algorithm).value


def node_hash(left: bytes, right: bytes, algorithm: str) -> bytes:
    return digest_bytes(NODE_PREFIX + left + right, algorithm).value


def _split(n: int) -> int:
    """The largest power of two below n (n > 1): the size of the left subtree."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(hashes: Sequence[bytes], algorithm: str) -> bytes:
    """The root over nodes already hashed (leaves or groups' roots); a single node is its own root."""
    if not hashes:
        raise ValueError("a Merkle tree needs at least one leaf: track something first")
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(root_of(hashes[:k], algorithm), root_of(hashes[k:], algorithm), algorithm)


def audit_path(hashes: Sequence[bytes], index: int, algorithm: str) -> list[ProofStep]:
    """The siblings from node `index` up to the root of `hashes`, lowest first."""
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if index < k:
        step = ProofStep(root_of(hashes[k:], algorithm), "right")
        return [*audit_path(hashes[:k], index, algorithm), step]
    step = ProofStep(root_of(hashes[:k], algorithm), "left")
    return [*audit_path(hashes[k:], index - k, algorithm), step]


def tree_root(tree: bytes | Tree, algorithm: str) -> bytes:
    if isinstance(tree, bytes):
        return tree
    return root_of([tree_root(child, algorithm) for child in tree.values()], algorithm)


def tree_proof(tree: Tree, path: Sequence[str], algorithm: str) -> list[ProofStep]:
    """The proof of the leaf at `path` (group names, then the leaf's): its path within its group, then
    its group's within the group above, and so on up to the root."""
    names = list(tree)
    if not path or path[0] not in tree:
        raise KeyError("/".join(path))
    child = tree[path[0]]
    inner: list[ProofStep] = []
    if len(path) > 1:
        if isinstance(child, bytes):
            raise KeyError("/".join(path))
        inner = tree_proof(child, path[1:], algorithm)
    elif not isinstance(child, bytes):
        raise KeyError(f"{path[0]} is a group, not a leaf")
    hashes = [tree_root(tree[name], algorithm) for name in names]
    return inner + audit_path(hashes, names.index(path[0]), algorithm)


def build_tree(leaves: Iterable[tuple[Sequence[str], bytes]]) -> dict[str, bytes | Tree]:
    """Nested groups from (path, leaf hash) pairs, in the order given (the caller's order is the tree's)."""
    tree: dict[str, bytes | Tree] = {}
    for path, hashed in leaves:
        group = tree
        for name in path[:-1]:
            child = group.setdefault(name, {})
            if not isinstance(child, dict):
                raise ValueError(f"{'/'.join(path)}: {name} is a leaf, not a group")
            group = child
        if path[-1] in group:
            raise ValueError(f"two leaves named {'/'.join(path)}")
        group[path[-1]] = hashed
    return tree


def root_from_proof(leaf: bytes, proof: Iterable[ProofStep], algorithm: str) -> bytes:
    node = leaf
    for sibling, side in proof:
        node = node_hash(sibling, node, algorithm) if side == "left" else node_hash(node, sibling, algorithm)
    return node


def verify_proof(
    leaf: bytes | str, proof: Iterable[ProofStep | tuple[bytes | str, str]], root: bytes | str, algorithm: str
) -> bool:
    """Does the leaf hash, with these siblings, lead to the root? Needs nothing else of the tree. A
    malformed proof (a side other than left or right, a hash that is not hex) does not verify."""
    check_algorithm(algorithm)  # an unknown algorithm is the caller's mistake, not a failed proof
    try:
        steps = [ProofStep.of(sibling, side) for sibling, side in proof]
        computed = root_from_proof(parse_hash(leaf), steps, algorithm)
        return hmac.compare_digest(computed, parse_hash(root))
    except ValueError:
        return False
