"""The hash chain of an asset's records, recomputed off chain from `ProvenanceRecorded` events.

`record_hash` and `next_head` mirror ProvenanceAsset.sol exactly, so that anyone holding the events
can check them against the head stored on chain, and build the proof that `ModelAsset.rollback`
needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .addresses import checksum
from .keccak import keccak

HEAD_BYTES = 28
ZERO_HEAD = b"\x00" * HEAD_BYTES


@dataclass(frozen=True)
class ChainedRecord:
    """One provenance record as its `ProvenanceRecorded` event carries it: a link of the hash chain."""

    asset: str
    seq: int
    actor: str
    activity: int
    from_state: int
    to_state: int
    accepted: bool
    record_digest: bytes
    record_cid: bytes
    inputs: tuple[bytes, ...]
    outputs: tuple[bytes, ...]
    prev_head: bytes

    @classmethod
    def from_event_args(cls, args: Mapping[str, Any]) -> ChainedRecord:
        """Build from the decoded arguments of a `ProvenanceRecorded` event."""
        return cls(
            asset=checksum(args["asset"]),
            seq=int(args["seq"]),
            actor=checksum(args["actor"]),
            activity=int(args["activity"]),
            from_state=int(args["fromState"]),
            to_state=int(args["toState"]),
            accepted=bool(args["accepted"]),
            record_digest=bytes(args["recordDigest"]),
            record_cid=bytes(args["recordCID"]),
            inputs=tuple(bytes(x) for x in args["inputs"]),
            outputs=tuple(bytes(x) for x in args["outputs"]),
            prev_head=bytes(args["prevHead"]),
        )

    def commitments(self) -> tuple[bytes, bytes, bytes]:
        """What the chain keeps of the variable-length fields: keccak of the CID, inputs and outputs."""
        return keccak(self.record_cid), keccak(b"".join(self.inputs)), keccak(b"".join(self.outputs))

    def hash(self) -> bytes:
        """This record's `recordHash`, as the contract computes it."""
        return record_hash(
            self.asset,
            self.seq,
            self.actor,
            self.activity,
            self.from_state,
            self.to_state,
            self.accepted,
            self.record_digest,
            *self.commitments(),
        )


def record_hash(
    asset: str,
    seq: int,
    actor: str,
    activity: int,
    from_state: int,
    to_state: int,
    accepted: bool,
    record_digest: bytes,
    record_cid_hash: bytes,
    inputs_hash: bytes,
    outputs_hash: bytes,
) -> bytes:
    """`keccak256(abi.encode(asset, seq, actor, activity, fromState, toState, accepted, recordDigest,
    keccak256(recordCID), keccak256(inputs), keccak256(outputs)))`. Every field is a static type, so the
    encoding is their 32-byte words side by side: built directly, it is several times faster than a
    general ABI encoder, which counts when a whole history of thousands of records is checked."""
    return keccak(
        b"".join(
            (
                _address_word(asset),
                _uint_word(seq),
                _address_word(actor),
                _uint_word(activity),
                _uint_word(from_state),
                _uint_word(to_state),
                _uint_word(int(accepted)),
                _bytes32(record_digest),
                _bytes32(record_cid_hash),
                _bytes32(inputs_hash),
                _bytes32(outputs_hash),
            )
        )
    )


def next_head(prev_head: bytes, recordhash: bytes) -> bytes:
    """One link: `bytes28(keccak256(abi.encode(prevHead, recordHash)))`."""
    if len(prev_head) != HEAD_BYTES:
        raise ValueError(f"a head has {HEAD_BYTES} bytes, not {len(prev_head)}")
    return keccak(prev_head + bytes(32 - HEAD_BYTES) + _bytes32(recordhash))[:HEAD_BYTES]


def _address_word(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"not an address: {address!r}")
    return bytes(12) + raw


def _uint_word(value: int) -> bytes:
    return value.to_bytes(32, "big")  # OverflowError for a negative or oversized value


def _bytes32(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError(f"a bytes32 has 32 bytes, not {len(value)}")
    return value


def recompute_head(records: Iterable[ChainedRecord]) -> bytes:
    """The head after `records`, folded from the zero head in the order given."""
    head = ZERO_HEAD
    for record in records:
        head = next_head(head, record.hash())
    return head


@dataclass(frozen=True)
class ChainCheck:
    """The result of checking an asset's records against its on-chain head."""

    ok: bool
    recomputed_head: bytes
    problems: tuple[str, ...]


def check_chain(records: Sequence[ChainedRecord], onchain_head: bytes) -> ChainCheck:
    """Check that `records` are complete, in order, each linked to the one before, and lead to the
    head on chain."""
    problems: list[str] = []
    head = ZERO_HEAD
    for position, record in enumerate(records):
        if record.seq != position:
            problems.append(f"record at position {position} has seq {record.seq}")
        if record.prev_head != head:
            problems.append(f"record {record.seq}: prevHead does not match the records before it")
        head = next_head(head, record.hash())
    if head != bytes(onchain_head):
        problems.append("the recomputed head differs from the head on chain")
    return ChainCheck(ok=not problems, recomputed_head=head, problems=tuple(problems))


class ProofError(ValueError):
    """A rollback proof cannot be built from these records."""


def rollback_proof(records: Sequence[ChainedRecord], to_seq: int) -> tuple[Any, ...]:
    """The `RecordProof` tuple that proves record `to_seq` against the head after `records`."""
    if not 0 <= to_seq < len(records):
        raise ProofError(f"no record {to_seq}: the asset has {len(records)} records")
    target = records[to_seq]
    if target.seq != to_seq:
        raise ProofError(f"records are not in order: position {to_seq} holds seq {target.seq}")
    return (
        target.seq,
        target.prev_head,
        target.actor,
        target.activity,
        target.from_state,
        target.to_state,
        target.accepted,
        target.record_digest,
        *target.commitments(),
        [r.hash() for r in records[to_seq + 1 :]],
    )
