"""Addresses in their EIP-55 (checksummed) form, and the one parser of addresses that come from outside."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from eth_utils.address import to_checksum_address

# The shape of an address as the API's schema declares it; `parse` also checks a mixed-case checksum.
ADDRESS_PATTERN: Final = r"^0x[0-9a-fA-F]{40}$"
_ADDRESS = re.compile(ADDRESS_PATTERN)


class InvalidAddress(ValueError):
    """Text that is not an address, or a mixed-case address whose EIP-55 checksum is wrong."""


@lru_cache(maxsize=4096)
def checksum(address: str) -> str:
    """The EIP-55 form of a hex address. Cached: the same few addresses (assets, members) recur in
    every event, and each checksum costs a Keccak hash."""
    return str(to_checksum_address(address))


def parse(text: object) -> str:
    """`text` as an EIP-55 address. All-lowercase and all-uppercase hex carry no checksum and are taken
    as they are; mixed case is a checksum (EIP-55), and a wrong one is refused: it is a typo or a
    tampered copy, not the address it resembles."""
    if not isinstance(text, str) or not _ADDRESS.fullmatch(text):
        raise InvalidAddress(f"{text!r} is not an address: expected 0x and 40 hexadecimal digits")
    digits = text[2:]
    checksummed = checksum(text)
    if digits not in (digits.lower(), digits.upper()) and checksummed != text:
        raise InvalidAddress(
            f"{text} has a wrong EIP-55 checksum (its mixed case does not match its digits), so it may "
            "hold a typo: copy the address again from where it came from"
        )
    return checksummed
