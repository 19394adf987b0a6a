"""Call data for the ProML contracts, encoded from the committed ABIs with eth_abi (no web3).

The node's services build transactions with these; the ABI stays the single source of every signature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from proml.core.workflow import TRANSITIONS, Activity, AssetKind

from .artifacts import load_artifact

ZERO32 = b"\x00" * 32


class UnknownFunction(LookupError):
    pass


def abi_type(entry: Mapping[str, Any]) -> str:
    """The canonical type of an ABI input or output (tuples spelled out)."""
    kind: str = entry["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in entry["components"]) + ")" + kind[len("tuple") :]
    return kind


@dataclass(frozen=True)
class Function:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def selector(self) -> bytes:
        return keccak(f"{self.name}({','.join(self.inputs)})".encode())[:4]

    def encode(self, *args: Any) -> bytes:
        return self.selector + abi_encode(list(self.inputs), list(args))

    def decode_output(self, data: bytes) -> tuple[Any, ...]:
        return tuple(abi_decode(list(self.outputs), data))


@cache
def function(contract: str, name: str) -> Function:
    """The function `name` of the artifact `contract` (no overloads exist in these contracts)."""
    for entry in load_artifact(contract).abi:
        if entry.get("type") == "function" and entry["name"] == name:
            return Function(
                name,
                tuple(abi_type(i) for i in entry["inputs"]),
                tuple(abi_type(o) for o in entry.get("outputs", [])),
            )
    raise UnknownFunction(f"{contract} has no function {name!r}")


def address_word(address: str) -> bytes:
    """An asset address as a bytes32 input or output: left-padded, as the ABI pads an address."""
    return b"\x00" * 12 + bytes.fromhex(to_checksum_address(address)[2:])


def word_address(word: bytes) -> str | None:
    """The address in a bytes32 made by `address_word`, or None when the word is not one."""
    if len(word) != 32 or word[:12] != b"\x00" * 12 or word[12:] == b"\x00" * 20:
        return None
    return to_checksum_address(word[12:])


def register(
    kind: AssetKind, content_digest: bytes, record_digest: bytes, record_cid: bytes, ancestors: Sequence[str]
) -> bytes:
    name = "registerDataset" if kind == AssetKind.DATASET else "registerModel"
    return function("ProML", name).encode(
        content_digest, record_digest, record_cid, [to_checksum_address(a) for a in ancestors]
    )


@dataclass(frozen=True)
class ActivityCall:
    """One record to append: the arguments of an activity function or of one `recordBatch` entry."""

    asset: str
    kind: AssetKind
    activity: Activity
    record_digest: bytes
    record_cid: bytes
    inputs: tuple[bytes, ...]
    outputs: tuple[bytes, ...]


def activity(call: ActivityCall) -> bytes:
    """Call data for the asset's own activity function (sent to `call.asset`)."""
    contract = "DatasetAsset" if call.kind == AssetKind.DATASET else "ModelAsset"
    name = TRANSITIONS[call.kind][call.activity].function
    return function(contract, name).encode(
        call.record_digest, call.record_cid, list(call.inputs), list(call.outputs)
    )


def record_batch(calls: Sequence[ActivityCall]) -> bytes:
    """Call data for `ProML.recordBatch` (sent to the registry)."""
    records = [
        (
            to_checksum_address(c.asset),
            int(c.activity),
            c.record_digest,
            c.record_cid,
            list(c.inputs),
            list(c.outputs),
        )
        for c in calls
    ]
    return function("ProML", "recordBatch").encode(records)
