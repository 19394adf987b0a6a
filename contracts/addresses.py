"""Addresses in their EIP-55 (checksummed) form."""

from __future__ import annotations

from functools import lru_cache

from eth_utils.address import to_checksum_address


@lru_cache(maxsize=4096)
def checksum(address: str) -> str:
    """The EIP-55 form of a hex address. Cached: the same few addresses (assets, members) recur in
    every event, and each checksum costs a Keccak hash."""
    return str(to_checksum_address(address))
