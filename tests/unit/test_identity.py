"""ActorName (`proml.node.services.identity`): the name a node's documents give their actor. The index
and the chain are fakes at their boundary: the index's member names, and the registry's `member(address)`
call."""

from __future__ import annotations

from eth_abi.abi import encode

from proml.contracts import calls
from proml.core.workflow import MemberStatus
from proml.node.clients.chain import ChainUnavailable
from proml.node.services.identity import ActorName

REGISTRY = "0x" + "99" * 20
ME = "0x" + "cd" * 20


class Index:
    def __init__(self, name: str | None) -> None:
        self.name = name

    def member_name(self, address: str) -> str | None:
        assert address == ME
        return self.name


class Registry:
    """`member(ME)` as the registry answers it, or a chain that does not answer."""

    def __init__(self, name: str, status: MemberStatus, *, down: bool = False) -> None:
        self.answer = encode(["string", "uint8", "uint8"], [name, int(status), 1])
        self.down = down
        self.asked = 0

    def call(self, to: str, data: bytes) -> bytes:
        assert (to, data) == (REGISTRY, calls.function("ProML", "member").encode(ME))
        self.asked += 1
        if self.down:
            raise ChainUnavailable("connection refused")
        return self.answer


def actor_name(index: Index, registry: Registry) -> ActorName:
    return ActorName(index, registry, REGISTRY, ME, "configured")  # type: ignore[arg-type]


def test_the_index_names_a_member_without_asking_the_registry() -> None:
    registry = Registry("Old", MemberStatus.ACTIVE)
    assert actor_name(Index("Bravo"), registry)() == "Bravo"
    assert registry.asked == 0


def test_while_the_index_lags_the_registry_is_asked_once_and_its_name_kept() -> None:
    index = Index(None)
    registry = Registry("B", MemberStatus.ACTIVE)
    name = actor_name(index, registry)
    assert (name(), name(), registry.asked) == ("B", "B", 1)
    index.name = "Bravo"  # the index caught up, with a readmission under a new name
    assert name() == "Bravo"


def test_a_suspended_member_keeps_its_name() -> None:
    assert actor_name(Index(None), Registry("B", MemberStatus.SUSPENDED))() == "B"


def test_an_address_that_is_no_member_gets_the_configured_org_and_the_registry_is_asked_again() -> None:
    registry = Registry("", MemberStatus.NONE)
    name = actor_name(Index(None), registry)
    assert (name(), name(), registry.asked) == ("configured", "configured", 2)


def test_a_chain_that_cannot_answer_gives_the_configured_org_for_now() -> None:
    registry = Registry("B", MemberStatus.ACTIVE, down=True)
    name = actor_name(Index(None), registry)
    assert name() == "configured"
    registry.down = False
    assert (name(), registry.asked) == ("B", 2)
