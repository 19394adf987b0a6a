"""Kubo-compatible CIDs: known vectors, and the DAG's shape checked block by block.

The daemon comparison for large files (no Kubo here; the embedded daemon's importer is Kubo-compatible) is in
tests/integration/test_ipfs_daemon.py. Here: vectors that Kubo prints, and internal consistency: every block
hashes to its CID, links point at emitted blocks, no node has more than 174 links, the leaves in DAG order
are the file, sizes add up, and the result does not depend on how the bytes are fed.
"""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from proml.core.content.cid import (
    CHUNK_SIZE,
    CID,
    DAG_PB,
    MAX_LINKS,
    RAW,
    UnixfsBuilder,
    base32_decode,
    base32_encode,
    base58btc_decode,
    base58btc_encode,
    cid_of_bytes,
    cid_of_chunks,
    cid_of_file,
    cid_of_stream,
    decode_varint,
    encode_varint,
)
from tests.payloads import MIB, prng_chunks, write_prng_file

HELLO = b"hello\n"

# What `ipfs add` (Kubo) prints for these contents.
KUBO_VECTORS = [
    (HELLO, 0, "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN", 14),
    (b"", 0, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", 6),
    (HELLO, 1, "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am", 6),
    (b"", 1, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", 0),
]


@pytest.mark.parametrize(("data", "version", "expected", "dag_size"), KUBO_VECTORS)
def test_kubo_vectors(data: bytes, version: int, expected: str, dag_size: int) -> None:
    builder = UnixfsBuilder(cid_version=version)
    builder.update(data)
    result = builder.finish()
    assert str(result.cid) == expected
    assert result.size == len(data)
    assert result.dag_size == dag_size
    assert str(cid_of_bytes(data, cid_version=version)) == expected


def test_hello_block_bytes() -> None:
    blocks: list[tuple[CID, bytes]] = []
    builder = UnixfsBuilder(on_block=lambda cid, block: blocks.append((cid, block)))
    builder.update(HELLO)
    builder.finish()
    ((cid, block),) = blocks
    # PBNode{Data: UnixFS{Type: File, Data: "hello\n", filesize: 6}}
    assert block == bytes.fromhex("0a0c080212") + bytes([6]) + HELLO + bytes.fromhex("1806")
    assert hashlib.sha256(block).digest() == cid.digest


# --- a small reader of the blocks, to check the DAG's shape ----------------------------------------------


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    offset = 0
    while offset < len(data):
        key, offset = decode_varint(data, offset)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, offset = decode_varint(data, offset)
            out.append((number, value))
        elif wire == 2:
            length, offset = decode_varint(data, offset)
            out.append((number, data[offset : offset + length]))
            offset += length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return out


@dataclass
class Node:
    links: list[tuple[CID, str, int]]
    unixfs_type: int
    data: bytes
    filesize: int
    blocksizes: list[int]


def decode_node(block: bytes) -> Node:
    links: list[tuple[CID, str, int]] = []
    unixfs = b""
    seen_data = False
    for number, value in _fields(block):
        assert isinstance(value, bytes)
        if number == 2:
            assert not seen_data, "dag-pb links must come before the data"
            link = dict(_fields(value))
            assert list(dict(_fields(value)).keys()) == [1, 2, 3], "Hash, Name, Tsize in that order"
            hash_, name, tsize = link[1], link[2], link[3]
            assert isinstance(hash_, bytes) and isinstance(name, bytes) and isinstance(tsize, int)
            links.append((CID.from_bytes(hash_), name.decode(), tsize))
        elif number == 1:
            seen_data = True
            unixfs = value
    fields = _fields(unixfs)
    numbers = [n for n, _ in fields]
    assert numbers == sorted(numbers), "UnixFS fields in number order"
    kind = next(v for n, v in fields if n == 1)
    data = next((v for n, v in fields if n == 2), b"")
    filesize = next(v for n, v in fields if n == 3)
    blocksizes = [v for n, v in fields if n == 4]
    assert isinstance(kind, int) and isinstance(data, bytes) and isinstance(filesize, int)
    return Node(links, kind, data, filesize, [b for b in blocksizes if isinstance(b, int)])


@dataclass
class Dag:
    root: CID
    size: int
    dag_size: int
    inner: dict[bytes, bytes]  # dag-pb nodes with links, by CID bytes
    leaves: list[tuple[CID, int, str]]  # in emission order: CID, block size, sha256 of the file bytes
    file_sha256: str


def build(size: int, seed: int, *, cid_version: int = 0, piece: int = MIB) -> Dag:
    inner: dict[bytes, bytes] = {}
    leaves: list[tuple[CID, int, str]] = []
    raw = cid_version == 1

    def on_block(cid: CID, block: bytes) -> None:
        assert hashlib.sha256(block).digest() == cid.digest, "every block hashes to its CID"
        if cid.codec == RAW:
            leaves.append((cid, len(block), hashlib.sha256(block).hexdigest()))
            return
        node = decode_node(block)
        if node.links:
            inner[cid.to_bytes()] = block
        else:
            leaves.append((cid, len(block), hashlib.sha256(node.data).hexdigest()))

    builder = UnixfsBuilder(cid_version=cid_version, on_block=on_block)
    whole = hashlib.sha256()
    for chunk in prng_chunks(size, seed, piece):
        whole.update(chunk)
        builder.update(chunk)
    result = builder.finish()
    assert all((leaf.codec == RAW) == raw for leaf, _, _ in leaves)
    return Dag(result.cid, result.size, result.dag_size, inner, leaves, whole.hexdigest())


def walk(dag: Dag) -> tuple[list[bytes], int, int]:
    """The leaves' CIDs in DAG order, the DAG's depth, and the sum of all block sizes."""
    leaf_sizes = {cid.to_bytes(): size for cid, size, _ in dag.leaves}
    order: list[bytes] = []
    depths: set[int] = set()
    total = 0

    def visit(cid: CID, depth: int) -> tuple[int, int]:  # (filesize, cumulative size)
        nonlocal total
        key = cid.to_bytes()
        if key in leaf_sizes:
            order.append(key)
            depths.add(depth)
            total += leaf_sizes[key]
            return -1, leaf_sizes[key]
        block = dag.inner[key]
        total += len(block)
        node = decode_node(block)
        assert 1 <= len(node.links) <= MAX_LINKS
        assert node.unixfs_type == 2 and node.data == b""
        filesizes = []
        cumulative = len(block)
        for child, name, tsize in node.links:
            assert name == ""
            assert child.version == cid.version or child.codec == RAW
            child_filesize, child_cumulative = visit(child, depth + 1)
            assert tsize == child_cumulative
            cumulative += tsize
            filesizes.append(child_filesize)
        for expected, actual in zip(node.blocksizes, filesizes, strict=True):
            assert actual in (-1, expected)
        assert node.filesize == sum(node.blocksizes)
        return node.filesize, cumulative

    visit(dag.root, 0)
    assert len(depths) <= 1, "balanced: every leaf at the same depth"
    return order, (depths.pop() if depths else 0), total


@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize(
    ("size", "leaves", "depth"),
    [
        (1, 1, 0),
        (CHUNK_SIZE, 1, 0),
        (CHUNK_SIZE + 1, 2, 1),
        (5 * MIB + 7, 21, 1),
        (MAX_LINKS * CHUNK_SIZE, MAX_LINKS, 1),
        (MAX_LINKS * CHUNK_SIZE + 12_345, MAX_LINKS + 1, 2),
    ],
)
def test_dag_shape(version: int, size: int, leaves: int, depth: int) -> None:
    dag = build(size, seed=size, cid_version=version)
    assert dag.size == size
    assert len(dag.leaves) == leaves
    if leaves == 1:
        # A one-chunk file is its own root: a raw block (CIDv1) or a UnixFS file node (CIDv0).
        assert dag.root == dag.leaves[0][0]
        assert dag.dag_size == dag.leaves[0][1]
        assert dag.root.codec == (RAW if version else DAG_PB)
        return
    assert dag.root.version == version and dag.root.codec == DAG_PB
    order, found_depth, total = walk(dag)
    assert order == [cid.to_bytes() for cid, _, _ in dag.leaves], "leaves in file order"
    assert found_depth == depth
    assert total == dag.dag_size
    # The leaves' contents, in DAG order, are the file.
    assert [h for _, _, h in dag.leaves] == list(_chunk_hashes(size, seed=size))


def _chunk_hashes(size: int, seed: int) -> Iterator[str]:
    """The SHA-256 of each 256 KiB chunk of the payload, computed independently of the builder."""
    pending = bytearray()
    for piece in prng_chunks(size, seed):
        pending += piece
        while len(pending) >= CHUNK_SIZE:
            yield hashlib.sha256(pending[:CHUNK_SIZE]).hexdigest()
            del pending[:CHUNK_SIZE]
    if pending:
        yield hashlib.sha256(pending).hexdigest()


def test_175_leaves_root_wraps_the_last_leaf_in_its_own_parent() -> None:
    # Kubo's balanced layout: the root holds a full node of 174 leaves and a node holding the 175th leaf,
    # not the leaf itself.
    dag = build(MAX_LINKS * CHUNK_SIZE + 1, seed=3)
    root = decode_node(dag.inner[dag.root.to_bytes()])
    assert len(root.links) == 2
    second = decode_node(dag.inner[root.links[1][0].to_bytes()])
    assert len(second.links) == 1
    assert second.blocksizes == [1]
    assert root.blocksizes == [MAX_LINKS * CHUNK_SIZE, 1]


def test_three_layers() -> None:
    # 174 * 174 + 1 leaves need a third layer; feed with a chunk size of 16 bytes to keep it small.
    leaves = MAX_LINKS * MAX_LINKS + 1
    builder = UnixfsBuilder(chunk_size=16)
    roots: list[CID] = []
    builder2 = UnixfsBuilder(chunk_size=16, on_block=lambda cid, block: roots.append(cid))
    data = bytes(random.Random(9).randbytes(16 * leaves))
    builder.update(data)
    builder2.update(data)
    assert builder.finish().cid == builder2.finish().cid == roots[-1]
    inner = sum(1 for cid in roots if cid.codec == DAG_PB) - leaves
    # 175 nodes of leaves (174 full, 1 with one leaf), 2 in the middle layer, 1 root
    assert inner == MAX_LINKS + 1 + 2 + 1


@pytest.mark.parametrize("version", [0, 1])
def test_result_does_not_depend_on_how_bytes_are_fed(version: int) -> None:
    data = random.Random(7).randbytes(3 * CHUNK_SIZE + 999)
    expected = cid_of_bytes(data, cid_version=version)
    rng = random.Random(8)
    for _ in range(5):
        builder = UnixfsBuilder(cid_version=version)
        offset = 0
        while offset < len(data):
            n = rng.choice([0, 1, 7, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 100_000])
            builder.update(memoryview(data)[offset : offset + n])
            offset += n
        assert builder.finish().cid == expected
    assert cid_of_chunks([data[:10], data[10:]], cid_version=version).cid == expected
    assert cid_of_stream(io.BytesIO(data), cid_version=version).cid == expected


def test_file_and_stream_helpers(tmp_path: Path) -> None:
    path = write_prng_file(tmp_path / "payload.bin", 2 * CHUNK_SIZE + 5, seed=1)
    with open(path, "rb") as stream:
        data = stream.read()
    for version in (0, 1):
        result = cid_of_file(path, cid_version=version)
        assert result.cid == cid_of_bytes(data, cid_version=version)
        assert result.size == len(data)


def test_raw_leaves_with_cidv0_roots() -> None:
    # --raw-leaves without --cid-version=1: raw CIDv1 leaves under CIDv0 dag-pb parents, as Kubo does.
    blocks: list[CID] = []
    builder = UnixfsBuilder(cid_version=0, raw_leaves=True, on_block=lambda cid, block: blocks.append(cid))
    builder.update(bytes(CHUNK_SIZE + 1))
    root = builder.finish().cid
    assert [c.codec for c in blocks] == [RAW, RAW, DAG_PB]
    assert root.version == 0 and str(root).startswith("Qm")
    assert cid_of_bytes(b"x", raw_leaves=True).codec == RAW


def test_cidv1_with_dag_pb_leaves() -> None:
    cid = cid_of_bytes(HELLO, cid_version=1, raw_leaves=False)
    assert cid.version == 1 and cid.codec == DAG_PB
    assert cid.multihash == CID.parse("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN").multihash


def test_memory_is_bounded_by_the_dag_not_the_file() -> None:
    size = 48 * MIB  # more than 174 chunks: two layers of parents
    builder = UnixfsBuilder()
    chunks = prng_chunks(size, seed=11, piece=MIB)
    first = next(chunks)
    builder.update(first)
    tracemalloc.start()
    try:
        for chunk in chunks:
            builder.update(chunk)
            del chunk
        builder.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One input piece (1 MiB), one chunk in the buffer, and the pending links: far below the file's size.
    assert peak < 6 * MIB


def test_finish_is_idempotent_and_update_after_finish_fails() -> None:
    builder = UnixfsBuilder()
    builder.update(HELLO)
    assert builder.finish() == builder.finish()
    with pytest.raises(RuntimeError):
        builder.update(b"more")


def test_builder_arguments() -> None:
    with pytest.raises(ValueError):
        UnixfsBuilder(cid_version=2)
    with pytest.raises(ValueError):
        UnixfsBuilder(chunk_size=0)


# --- CIDs and encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN",
        "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
        "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am",
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    ],
)
def test_cid_round_trip(text: str) -> None:
    cid = CID.parse(text)
    assert str(cid) == text
    assert CID.from_bytes(cid.to_bytes()) == cid
    assert CID.parse("/ipfs/" + text) == cid
    v1 = cid.to_v1()
    assert CID.parse(str(v1)) == v1
    assert v1.same_content(cid)
    assert CID.parse("z" + base58btc_encode(v1.to_bytes())) == v1
    assert CID.parse("f" + v1.to_bytes().hex()) == v1
    assert CID.parse(str(v1).upper()) == v1


def test_cid_hello_v1_dag_pb_form() -> None:
    cid = CID.parse("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN").to_v1()
    assert str(cid).startswith("bafybei")
    assert cid.codec == DAG_PB and cid.hash_code == 0x12 and len(cid.digest) == 32


@pytest.mark.parametrize("bad", ["", "Qm", "xyz", "bafy!!", "Qm" + "0" * 44, "z111"])
def test_cid_parse_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        CID.parse(bad)


def test_cid_invariants() -> None:
    with pytest.raises(ValueError):
        CID(0, RAW, CID.parse("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN").multihash)
    with pytest.raises(ValueError):
        CID(1, RAW, bytes([0x12, 32]) + bytes(31))
    with pytest.raises(ValueError):
        CID(2, RAW, bytes([0x12, 32]) + bytes(32))


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 300, 16_384, 2**32, 2**63 - 1])
def test_varint_round_trip(value: int) -> None:
    encoded = encode_varint(value)
    assert decode_varint(encoded) == (value, len(encoded))


def test_varint_errors() -> None:
    with pytest.raises(ValueError):
        encode_varint(-1)
    with pytest.raises(ValueError):
        decode_varint(b"\x80")


@pytest.mark.parametrize("data", [b"", b"\0", b"\0\0\1", b"hello", bytes(range(256))])
def test_base_encodings_round_trip(data: bytes) -> None:
    assert base58btc_decode(base58btc_encode(data)) == data
    assert base32_decode(base32_encode(data)) == data
    assert base32_encode(data) == base32_encode(data).lower()
