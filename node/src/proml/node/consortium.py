"""A consortium's registry from outside a running node: deploy a new one, read one of its members.

A node cannot run before it knows its consortium's registry, so founding and joining happen here, on the
organisation's own key and the chain directly: `proml consortium deploy|join` use this module, and the
devnet founds its consortium with it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address

from proml.contracts import calls
from proml.contracts.artifacts import load_artifact
from proml.core.workflow import MemberStatus

from .clients.chain import ChainClient
from .providers.blockchain import BlockchainProvider


@dataclass(frozen=True)
class Member:
    """An address's entry in the registry (status NONE and no roles for an address that is not a member)."""

    name: str
    status: int
    roles: int

    @property
    def active(self) -> bool:
        return self.status == int(MemberStatus.ACTIVE)


def deploy_registry(founder: BlockchainProvider, founder_name: str) -> str:
    """Deploy `ProML` from the founder's key: the founder is its first member, with every role; its
    checksummed address."""
    artifact = load_artifact("ProML")
    return to_checksum_address(founder.deploy_contract(artifact.bytecode, artifact.abi, [founder_name]))


def registry_view(client: ChainClient, registry: str, name: str, *args: Any) -> tuple[Any, ...]:
    """The view function `name` of the registry at `registry`, called with `args`, its outputs decoded."""
    function = calls.function("ProML", name)
    decoded: tuple[Any, ...] = function.decode_output(
        client.call({"to": registry, "data": function.encode(*args)})
    )
    return decoded


def member(client: ChainClient, registry: str, address: str) -> Member:
    """What `registry` holds about `address`."""
    name, status, roles = registry_view(client, registry, "member", address)
    return Member(str(name), int(status), int(roles))
