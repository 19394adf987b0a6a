"""The name a node's record documents give their actor: its organisation's name as the registry holds it.

Verification checks a document's actor name against the signer's on-chain name, so the node writes that
name, not its configuration's `org` (which only names the organisation locally, e.g. in logs).
"""

from __future__ import annotations

import logging

from proml.contracts import calls
from proml.contracts.errors import ContractRevert
from proml.core.workflow import MemberStatus

from ..clients.chain import ChainClientError
from ..providers.blockchain import BlockchainProvider
from .query import Query

log = logging.getLogger(__name__)


class ActorName:
    """Called for each document (a read of the local index: microseconds). The index follows admissions,
    re-admissions under a new name included; the registry is asked while the index does not know the
    address as a member (it may lag behind an admission). An address that is not a member gets the
    configured `org`: the chain refuses its records until it is admitted, and should one be sent after an
    admission under another name, verification reports the document's name as the member's."""

    def __init__(
        self, query: Query, chain: BlockchainProvider, registry: str, address: str, org: str
    ) -> None:
        self._query = query
        self._chain = chain
        self._registry = registry
        self._address = address
        self._org = org
        self._from_registry: str | None = None

    def __call__(self) -> str:
        name = self._query.member_name(self._address) or self._from_registry
        if name is None:
            name = self._from_registry = self.registry_name()
        return name or self._org

    def registry_name(self) -> str | None:
        """The address's name in the registry, None if it is not a member or the chain cannot say now."""
        function = calls.function("ProML", "member")
        try:
            name, status, _ = function.decode_output(
                self._chain.call(self._registry, function.encode(self._address))
            )
        except (ChainClientError, ContractRevert) as exc:
            log.warning("could not read this node's member name from the registry: %s", exc)
            return None
        return None if int(status) == MemberStatus.NONE else str(name)
