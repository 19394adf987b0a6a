"""What kind an asset is, for capture to validate a request that names it."""

from __future__ import annotations

from proml.contracts import calls
from proml.contracts.errors import ContractRevert
from proml.core.workflow import AssetKind

from ..providers.blockchain import BlockchainProvider
from .outbox import Outbox
from .query import Query


class AssetKinds:
    """From the index, or this node's own registrations, or else the registry (the index may lag)."""

    def __init__(self, query: Query, outbox: Outbox, chain: BlockchainProvider, registry: str) -> None:
        self._query = query
        self._outbox = outbox
        self._chain = chain
        self._registry = registry

    def __call__(self, address: str) -> AssetKind | None:
        """The kind of the asset at `address`; None if the registry has no such asset."""
        summary = self._query.asset(address)
        if summary is not None:
            return AssetKind[str(summary["kind"]).upper()]
        registered = self._outbox.registered_kind(address)
        if registered is not None:
            return AssetKind[registered.upper()]
        function = calls.function("ProML", "assetKind")
        try:
            (kind,) = function.decode_output(self._chain.call(self._registry, function.encode(address)))
        except ContractRevert:
            return None
        return AssetKind(int(kind))
