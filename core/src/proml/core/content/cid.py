"""IPFS CIDs of files, computed exactly as Kubo's ``ipfs add`` computes them, without an IPFS daemon.

Kubo's add settings (``ipfs add`` and ``ipfs add --cid-version=1``):

- the file is cut into fixed-size chunks of 256 KiB (``size-262144``);
- each chunk is a leaf: by default a dag-pb node holding a UnixFS ``File`` message with the bytes (CIDv0,
  ``Qm...``); with raw leaves (implied by CIDv1) the chunk itself, as a ``raw`` block (CIDv1, ``bafkrei...``);
- the leaves are joined by a balanced DAG: groups of at most 174 links make a parent dag-pb node whose UnixFS
  ``File`` message lists the children's file sizes, groups of those parents make the next layer, until one
  node is left: the root. A file of one chunk is its own root;
- every block is hashed with SHA2-256.

The builder streams: it holds one chunk and, per layer of the DAG, at most 174 pending links, so memory is
bounded by the DAG's depth (a 1 TiB file has 4 layers), never by the file.

The encoders below are a small hand-written subset of protobuf, dag-pb, multihash, multibase and CID:
exactly what these blocks need, with no dependency.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from proml.core.content.digest import ReadableStream, read_chunks

CHUNK_SIZE: Final = 262_144
MAX_LINKS: Final = 174

DAG_PB: Final = 0x70
RAW: Final = 0x55
SHA2_256: Final = 0x12
SHA2_256_SIZE: Final = 32

_UNIXFS_FILE: Final = 2


# --- varints, protobuf -----------------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128, as protobuf and multiformats use it."""
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes | memoryview, offset: int = 0) -> tuple[int, int]:
    """The varint at ``offset`` and the offset after it."""
    if offset < len(data) and data[offset] < 0x80:  # one byte: every code and length a CID here has
        return data[offset], offset + 1
    value = 0
    shift = 0
    while True:
        if offset >= len(data):
            raise ValueError("truncated varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")


def _key(field_number: int, wire_type: int) -> bytes:
    return encode_varint(field_number << 3 | wire_type)


def _pb_uint(field_number: int, value: int) -> bytes:
    return _key(field_number, 0) + encode_varint(value)


def _pb_bytes(field_number: int, value: bytes) -> bytes:
    return _key(field_number, 2) + encode_varint(len(value)) + value


def unixfs_file(data: bytes | None, filesize: int, blocksizes: Iterable[int] = ()) -> bytes:
    """A UnixFS ``Data`` message of type ``File`` (proto2, fields in number order, blocksizes unpacked)."""
    out = bytearray(_pb_uint(1, _UNIXFS_FILE))
    if data:
        out += _pb_bytes(2, data)
    out += _pb_uint(3, filesize)
    for size in blocksizes:
        out += _pb_uint(4, size)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Link:
    """A dag-pb link: the child's CID, its name (always empty in a file) and its cumulative DAG size."""

    cid: CID
    tsize: int
    name: str = ""


def dag_pb_node(data: bytes | None, links: Iterable[Link] = ()) -> bytes:
    """A dag-pb ``PBNode`` in canonical form: the links (field 2) first, then the data (field 1)."""
    out = bytearray()
    for link in links:
        body = _pb_bytes(1, link.cid.to_bytes()) + _pb_bytes(2, link.name.encode()) + _pb_uint(3, link.tsize)
        out += _pb_bytes(2, body)
    if data is not None:
        out += _pb_bytes(1, data)
    return bytes(out)


# --- multibase -------------------------------------------------------------------------------------------

_B58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX: Final = {c: i for i, c in enumerate(_B58_ALPHABET)}


def base58btc_encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(_B58_ALPHABET[rest])
    return "1" * zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        try:
            number = number * 58 + _B58_INDEX[char]
        except KeyError:
            raise ValueError(f"not base58btc: {char!r}") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def base32_encode(data: bytes) -> str:
    """RFC 4648 base32, lower case, without padding (multibase ``b``)."""
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def base32_decode(text: str) -> bytes:
    padding = "=" * (-len(text) % 8)
    try:
        return base64.b32decode(text.upper() + padding)
    except ValueError:
        raise ValueError(f"not base32: {text!r}") from None


# --- CID -------------------------------------------------------------------------------------------------


def sha256_multihash(block: bytes | memoryview) -> bytes:
    return bytes((SHA2_256, SHA2_256_SIZE)) + hashlib.sha256(block).digest()


@dataclass(frozen=True, slots=True)
class CID:
    """A content identifier: version (0 or 1), content codec (dag-pb, raw, ...) and multihash bytes."""

    version: int
    codec: int
    multihash: bytes

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise ValueError(f"unknown CID version {self.version}")
        if self.version == 0 and (self.codec != DAG_PB or self.multihash[:2] != bytes((SHA2_256, 32))):
            raise ValueError("a CIDv0 is always dag-pb with a sha2-256 multihash")
        _, offset = decode_varint(self.multihash)  # the hash function's code
        length, offset = decode_varint(self.multihash, offset)
        if len(self.multihash) - offset != length:
            raise ValueError("malformed multihash: the digest length does not match")

    @classmethod
    def v0(cls, multihash: bytes) -> CID:
        return cls(0, DAG_PB, multihash)

    @classmethod
    def v1(cls, codec: int, multihash: bytes) -> CID:
        return cls(1, codec, multihash)

    @classmethod
    def of_block(cls, block: bytes | memoryview, *, codec: int = DAG_PB, version: int = 1) -> CID:
        """The CID of one block, hashed with sha2-256."""
        return cls(version, codec, sha256_multihash(block))

    @property
    def hash_code(self) -> int:
        return decode_varint(self.multihash)[0]

    @property
    def digest(self) -> bytes:
        """The hash digest inside the multihash (for sha2-256: the SHA-256 of the block)."""
        _, offset = decode_varint(self.multihash)
        _, offset = decode_varint(self.multihash, offset)
        return self.multihash[offset:]

    def to_bytes(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def __str__(self) -> str:
        if self.version == 0:
            return base58btc_encode(self.multihash)
        return "b" + base32_encode(self.to_bytes())

    def __repr__(self) -> str:
        return f"CID({self})"

    def to_v1(self) -> CID:
        return CID(1, self.codec, self.multihash)

    def same_content(self, other: CID) -> bool:
        """Whether both name the same block (same codec and multihash), whatever their versions."""
        return self.codec == other.codec and self.multihash == other.multihash

    @classmethod
    def from_bytes(cls, data: bytes) -> CID:
        if len(data) == 34 and data[0] == SHA2_256 and data[1] == 32:
            return cls.v0(bytes(data))
        version, offset = decode_varint(data)
        if version != 1:
            raise ValueError(f"unknown CID version {version}")
        codec, offset = decode_varint(data, offset)
        return cls(1, codec, bytes(data[offset:]))

    @classmethod
    def parse(cls, text: str) -> CID:
        """Parse a CID string: CIDv0 (``Qm...``) or a CIDv1 in base32 (``b``), base58btc (``z``) or base16."""
        text = text.strip()
        if text.startswith("/ipfs/"):
            text = text[len("/ipfs/") :]
        if not text:
            raise ValueError("empty CID")
        try:
            if len(text) == 46 and text.startswith("Qm"):
                return cls.v0(base58btc_decode(text))
            prefix, body = text[0], text[1:]
            if prefix in "bB":
                return cls.from_bytes(base32_decode(body))
            if prefix == "z":
                return cls.from_bytes(base58btc_decode(body))
            if prefix in "fF":
                return cls.from_bytes(bytes.fromhex(body))
        except ValueError as err:
            raise ValueError(f"invalid CID {text!r}: {err}") from None
        raise ValueError(f"invalid CID {text!r}: unsupported multibase prefix {text[0]!r}")


# --- the UnixFS balanced DAG -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CidResult:
    """What ``ipfs add`` reports for a file: its root CID, the file's size and the DAG's cumulative size.

    ``dag_size`` is the ``Size`` of Kubo's add output: every block's bytes, the root's included.
    """

    cid: CID
    size: int
    dag_size: int


@dataclass(slots=True)
class _Child:
    link: Link
    filesize: int


BlockSink = Callable[[CID, bytes], None]


@dataclass(slots=True)
class _Layers:
    levels: list[list[_Child]] = field(default_factory=list)

    def level(self, index: int) -> list[_Child]:
        while len(self.levels) <= index:
            self.levels.append([])
        return self.levels[index]


class UnixfsBuilder:
    """Compute the CID of a file fed in pieces, exactly as Kubo's ``ipfs add`` does.

    ``cid_version`` 0 (Kubo's default) or 1; ``raw_leaves`` defaults to ``cid_version == 1`` as in Kubo.
    ``on_block`` (optional) receives every block with its CID, leaves first, the root last.
    """

    def __init__(
        self,
        *,
        cid_version: int = 0,
        raw_leaves: bool | None = None,
        chunk_size: int = CHUNK_SIZE,
        max_links: int = MAX_LINKS,
        on_block: BlockSink | None = None,
    ) -> None:
        if cid_version not in (0, 1):
            raise ValueError(f"cid_version must be 0 or 1, not {cid_version}")
        if chunk_size <= 0 or max_links < 2:
            raise ValueError("chunk_size must be positive and max_links at least 2")
        self.cid_version = cid_version
        self.raw_leaves = cid_version == 1 if raw_leaves is None else raw_leaves
        self.chunk_size = chunk_size
        self.max_links = max_links
        self._on_block = on_block
        self._buffer = bytearray()
        self._layers = _Layers()
        self._leaves = 0
        self._size = 0
        self._result: CidResult | None = None

    @property
    def size(self) -> int:
        """Bytes fed so far."""
        return self._size

    def _emit(self, cid: CID, block: bytes) -> None:
        if self._on_block is not None:
            self._on_block(cid, block)

    def _leaf(self, chunk: bytes) -> _Child:
        if self.raw_leaves:
            cid = CID.of_block(chunk, codec=RAW, version=1)
            block = chunk
        else:
            block = dag_pb_node(unixfs_file(chunk, len(chunk)))
            cid = CID.of_block(block, codec=DAG_PB, version=self.cid_version)
        self._emit(cid, block)
        return _Child(Link(cid, len(block)), len(chunk))

    def _parent(self, children: list[_Child]) -> _Child:
        filesize = sum(child.filesize for child in children)
        data = unixfs_file(None, filesize, (child.filesize for child in children))
        block = dag_pb_node(data, (child.link for child in children))
        cid = CID.of_block(block, codec=DAG_PB, version=self.cid_version)
        self._emit(cid, block)
        tsize = len(block) + sum(child.link.tsize for child in children)
        return _Child(Link(cid, tsize), filesize)

    def _push(self, level: int, child: _Child) -> None:
        # A full group becomes a parent one layer up (the balanced layout fills left to right).
        while True:
            nodes = self._layers.level(level)
            nodes.append(child)
            if len(nodes) < self.max_links:
                return
            self._layers.levels[level] = []
            child = self._parent(nodes)
            level += 1

    def _add_chunk(self, chunk: bytes) -> None:
        self._leaves += 1
        self._push(0, self._leaf(chunk))

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed the next bytes of the file."""
        if self._result is not None:
            raise RuntimeError("the builder is finished")
        view = memoryview(data).cast("B")
        self._size += len(view)
        if self._buffer:
            need = self.chunk_size - len(self._buffer)
            self._buffer += view[:need]
            view = view[need:]
            if len(self._buffer) < self.chunk_size:
                return
            self._add_chunk(bytes(self._buffer))
            self._buffer.clear()
        while len(view) >= self.chunk_size:
            self._add_chunk(bytes(view[: self.chunk_size]))
            view = view[self.chunk_size :]
        self._buffer += view

    def finish(self) -> CidResult:
        """The root: reduce the partial groups layer by layer until one node is left."""
        if self._result is not None:
            return self._result
        if self._buffer or self._leaves == 0:
            # The last, short chunk; an empty file is one empty leaf.
            self._add_chunk(bytes(self._buffer))
            self._buffer.clear()
        levels = self._layers.levels
        level = 0
        while True:
            nodes = self._layers.level(level)
            higher = any(levels[level + 1 :])
            if not higher and len(nodes) == 1:
                root = nodes[0]
                break
            if nodes:
                # A group of one is still wrapped in a parent, except the single leaf of a one-chunk file.
                levels[level] = []
                parent = self._parent(nodes)
                self._layers.level(level + 1).append(parent)
            level += 1
        self._result = CidResult(root.link.cid, self._size, root.link.tsize)
        return self._result


def cid_of_bytes(
    data: bytes | bytearray | memoryview, *, cid_version: int = 0, raw_leaves: bool | None = None
) -> CID:
    builder = UnixfsBuilder(cid_version=cid_version, raw_leaves=raw_leaves)
    builder.update(data)
    return builder.finish().cid


def cid_of_chunks(
    chunks: Iterable[bytes | bytearray | memoryview], *, cid_version: int = 0, raw_leaves: bool | None = None
) -> CidResult:
    builder = UnixfsBuilder(cid_version=cid_version, raw_leaves=raw_leaves)
    for chunk in chunks:
        builder.update(chunk)
    return builder.finish()


def cid_of_stream(
    stream: ReadableStream, *, cid_version: int = 0, raw_leaves: bool | None = None
) -> CidResult:
    """The CID of a binary stream from its current position to its end."""
    return cid_of_chunks(read_chunks(stream, 4 * CHUNK_SIZE), cid_version=cid_version, raw_leaves=raw_leaves)


def cid_of_file(
    path: str | os.PathLike[str], *, cid_version: int = 0, raw_leaves: bool | None = None
) -> CidResult:
    """The CID of a file, read in chunks."""
    with open(path, "rb") as stream:
        return cid_of_stream(stream, cid_version=cid_version, raw_leaves=raw_leaves)
