"""Turn the contracts' custom errors into readable Python exceptions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from .artifacts import CONTRACT_NAMES, load_artifact

# Solidity's built-in revert payloads, which are not in any ABI.
_ERROR_STRING: tuple[str, tuple[str, ...], tuple[str, ...]] = ("Error", ("string",), ("message",))
_PANIC: tuple[str, tuple[str, ...], tuple[str, ...]] = ("Panic", ("uint256",), ("code",))


class ContractRevert(Exception):
    """A contract call reverted. `name` and `args` are the decoded custom error, if known."""

    def __init__(self, name: str, args: Mapping[str, Any], data: bytes) -> None:
        self.name = name
        self.args_by_name = dict(args)
        self.data = data
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in self.args_by_name.items())
        super().__init__(f"{name}({rendered})")


@dataclass(frozen=True)
class _ErrorSpec:
    name: str
    types: tuple[str, ...]
    names: tuple[str, ...]


def _abi_type(entry: Mapping[str, Any]) -> str:
    """The canonical ABI type of one input, expanding tuples."""
    kind: str = entry["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in entry["components"]) + ")" + kind[len("tuple") :]
    return kind


@cache
def _errors_by_selector() -> dict[bytes, _ErrorSpec]:
    specs: dict[bytes, _ErrorSpec] = {}
    for name, types, names in (_ERROR_STRING, _PANIC):
        specs[function_signature_to_4byte_selector(f"{name}({','.join(types)})")] = _ErrorSpec(
            name, types, names
        )
    for contract in CONTRACT_NAMES:
        for entry in load_artifact(contract).abi:
            if entry["type"] != "error":
                continue
            types = tuple(_abi_type(i) for i in entry["inputs"])
            names = tuple(i["name"] for i in entry["inputs"])
            selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")
            specs[selector] = _ErrorSpec(entry["name"], types, names)
    return specs


def decode_revert(data: bytes | str | None) -> ContractRevert:
    """Decode revert data returned by a call into a `ContractRevert`."""
    raw = _as_bytes(data)
    spec = _errors_by_selector().get(raw[:4])
    if spec is None:
        return ContractRevert("UnknownRevert", {"data": "0x" + raw.hex()}, raw)
    values = abi_decode(list(spec.types), raw[4:])
    # eth-abi decodes addresses in lower case; everything else in web3 is checksummed.
    values = tuple(
        to_checksum_address(v) if t == "address" else v for t, v in zip(spec.types, values, strict=True)
    )
    return ContractRevert(spec.name, dict(zip(spec.names, values, strict=True)), raw)


def _as_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    return bytes.fromhex(data.removeprefix("0x"))


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x"):
        return value
    return repr(value)
