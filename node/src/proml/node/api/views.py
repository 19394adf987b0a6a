"""How service objects appear in responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from proml.core.records import rfc3339

from ..services.api_keys import ApiKey
from ..services.outbox import OutboxEntry


def entry_view(entry: OutboxEntry) -> dict[str, Any]:
    """An outbox entry as the client sees it: never the signed transaction."""
    result = entry.result or {}
    return {
        "id": entry.id,
        "ref": f"outbox:{entry.id}",
        "kind": entry.kind,
        "status": entry.status.value,
        "asset": result.get("asset") or entry.payload.get("asset"),
        "activity": entry.payload.get("document", {}).get("activity"),
        "function": entry.payload.get("function"),
        "proposal_id": result.get("proposal_id"),
        "seq": result.get("seq"),
        "accepted": result.get("accepted"),
        "record_digest": result.get("record_digest"),
        "record_cid": result.get("record_cid"),
        "tx_hash": entry.tx_hash,
        "block_number": entry.block_number,
        "attempts": entry.attempts,
        "error": entry.error,
        "created_at": _time(entry.created_at),
        "updated_at": _time(entry.updated_at),
    }


def key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "scopes": [s.value for s in key.scopes],
        "created_at": _time(key.created_at),
    }


def _time(seconds: float) -> str:
    return rfc3339(datetime.fromtimestamp(seconds, UTC))
