"""The read side over the index: assets, histories, lineage, members and proposals, JSON-ready.

Conventions of every dict returned: addresses checksummed; bytes as 0x-hex; CIDs as text (None when
the bytes are not a CID); enumerations as a lower-case name plus the number under `<name>_id`
(e.g. ``"state": "published", "state_id": 4``); organisations' names joined from the members
(`actor_name`, `owner_name`, ...; None for an address that is not a member); times as RFC 3339 UTC.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import IntEnum
from functools import lru_cache
from typing import Any

from proml.contracts import addresses, calls
from proml.contracts.events import AnchorPhase
from proml.contracts.hash_chain import ChainedRecord
from proml.core.content.cid import CID
from proml.core.records import rfc3339
from proml.core.workflow import (
    ASSET_KINDS,
    STATES,
    TRANSITIONS,
    Activity,
    AssetKind,
    MemberStatus,
    ProposalKind,
    Role,
)
from proml.node.services.index import Index, address_word

MAX_LIMIT = 1000
# The largest offset or seq a query takes: SQLite's integers stop at 2**63 - 1, and a JSON client's exact
# integers at 2**53 - 1; no index holds that many assets or records.
MAX_POSITION = 2**53 - 1
ZERO_ADDRESS = "0x" + "00" * 20

# Records whose inputs are not data the asset was derived from: the registration's inputs are its
# ancestors (already "ancestor" edges), a rollback's are a seq and a hash, an anchor's its phase.
_NOT_DERIVATION = (Activity.REGISTER, Activity.ROLLBACK, Activity.ANCHOR)


class InvalidQuery(ValueError):
    """A filter or argument has a value the index does not know; the message says what is allowed."""


class UnindexedAsset(LookupError):
    """No asset with that address is in the index."""


# The names of enum values, states and block times recur in every record of a history: cached, they are
# made once rather than once a record.
@lru_cache(maxsize=1024)
def _name(enum: type[IntEnum], value: int) -> str | None:
    try:
        return enum(value).name.lower()
    except ValueError:
        return None  # a number this version does not know (a newer contract)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + bytes(value).hex()


def _cid(value: bytes) -> str | None:
    if not value:
        return None
    try:
        return str(CID.from_bytes(bytes(value)))
    except (ValueError, IndexError):
        return None


@lru_cache(maxsize=4096)
def _time(timestamp: int | None) -> str | None:
    return None if timestamp is None else rfc3339(datetime.fromtimestamp(timestamp, UTC))


def _roles(roles: int) -> list[str]:
    return [role.name.lower() for role in Role if roles & role]


def _address(value: str, what: str = "address") -> str:
    try:
        checksummed: str = addresses.parse(value)
    except addresses.InvalidAddress as exc:
        raise InvalidQuery(f"{what}: {exc}") from None
    return checksummed


def _position(name: str, value: int) -> None:
    if not 0 <= value <= MAX_POSITION:
        raise InvalidQuery(f"{name} must be from 0 to {MAX_POSITION}, not {value}")


@lru_cache(maxsize=1024)
def _state_name(kind: int, state: int) -> str | None:
    try:
        return _name(STATES[AssetKind(kind)], state)
    except (ValueError, KeyError):
        return None


def _word_address(word: str) -> str | None:
    """The address in a bytes32 input (0x-hex), if it has the shape of one."""
    address: str | None = calls.word_address(bytes.fromhex(word.removeprefix("0x")))
    return address


class Query:
    """Read-only questions to an `Index`; safe to call from any thread while the index syncs."""

    def __init__(self, index: Index) -> None:
        self._index = index

    # -- assets -----------------------------------------------------------------------------------

    def assets(
        self,
        kind: str | None = None,
        owner: str | None = None,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Registered assets in order of registration, filtered by kind (`dataset`, `model`), owner
        (any case) and state name (e.g. `published`; with no kind, the state of either kind)."""
        where, params = _asset_filters(kind, owner, state)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        _position("offset", offset)
        sql = _ASSETS_SQL + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY a.block_number, a.log_index LIMIT ? OFFSET ?"
        with self._index.reading() as db:
            return [_asset(row) for row in db.execute(sql, (*params, limit, offset))]

    def asset(self, address: str, with_history: bool = False) -> dict[str, Any] | None:
        """One asset's summary (as in `assets`), or None if the index does not know it; `with_history`
        adds its `history`, read in the same snapshot so that the state agrees with the last record."""
        with self._index.reading() as db:
            summary = self._asset_summary(db, _address(address))
            if summary is not None and with_history:
                summary["history"] = _history(db, summary["address"], 0)
            return summary

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every question asked inside sees one snapshot of the index, whatever a sync commits meanwhile
        (for answers that must agree, such as an asset's history and its records)."""
        with self._index.reading():
            yield

    def history(self, address: str, since: int = 0) -> list[dict[str, Any]]:
        """Every record of the asset in seq order (from seq `since`), accepted and rejected, with rollback
        and anchor details."""
        _position("since", since)
        asset = self._known(address)
        with self._index.reading() as db:
            return _history(db, asset, since)

    def records(self, address: str) -> list[ChainedRecord]:
        """The asset's records as `ChainedRecord`s in seq order (for `check_chain` or `rollback_proof`)."""
        asset = self._known(address)
        with self._index.reading() as db:
            rows = db.execute("SELECT * FROM records WHERE asset = ? ORDER BY seq", (asset,)).fetchall()
        return [_record(row, _words(row["inputs"]), _words(row["outputs"])) for row in rows]

    def history_and_records(self, address: str) -> tuple[list[dict[str, Any]], list[ChainedRecord]]:
        """`history` and `records` at once, from one read of the rows: the same records, in the same order
        (a whole-history verification needs both: one read instead of two, one JSON parse of the words)."""
        asset = self._known(address)
        with self._index.reading() as db:
            kind = _kind(db, asset)
            rows = db.execute(_HISTORY_SQL, (asset, 0)).fetchall()
        history = [_history_entry(row, kind) for row in rows]
        records = [
            _record(row, _hex_words(entry["inputs"]), _hex_words(entry["outputs"]))
            for row, entry in zip(rows, history, strict=True)
        ]
        return history, records

    def lineage(self, address: str) -> dict[str, Any]:
        """The asset's lineage graph: every ancestor, transitively, and every descendant, transitively.

        Edges point from the source to what was derived from it; `via` is `ancestor` (declared at
        registration) or `input` (an accepted record named the source asset among its inputs).
        """
        root = self._known(address)
        with self._index.reading() as db:
            up = _reachable(root, lambda a: [p for p, _ in _parents(db, a)])
            down = _reachable(root, lambda a: [c for c, _ in _children(db, a)])
            order = _by_registration(db, {root, *up, *down})
            # Every edge between two nodes of the graph, also those neither walk crossed (an ancestor
            # that also feeds a descendant directly).
            edges = [
                {"from": source, "to": asset, "via": via}
                for asset in order
                for source, via in _parents(db, asset)
                if source in up or source == root or source in down
            ]
            nodes = [self._asset_summary(db, a) for a in order]
        return {"root": root, "nodes": nodes, "edges": edges}

    # -- the consortium ---------------------------------------------------------------------------

    def members(self) -> list[dict[str, Any]]:
        """Every organisation ever admitted, in order of admission, with its current roles and status."""
        with self._index.reading() as db:
            rows = db.execute("SELECT * FROM members ORDER BY joined_block, joined_log_index").fetchall()
        return [
            {
                "address": row["address"],
                "name": row["name"],
                "roles": row["roles"],
                "role_names": _roles(row["roles"]),
                "status": _name(MemberStatus, row["status"]),
                "status_id": row["status"],
                "joined_block": row["joined_block"],
                "updated_block": row["updated_block"],
                "updated_at": _time(row["updated_at"]),
            }
            for row in rows
        ]

    def proposals(self) -> list[dict[str, Any]]:
        """Every governance proposal by id, with its approvers and whether it executed."""
        with self._index.reading() as db:
            rows = db.execute(_PROPOSALS_SQL).fetchall()
            approvers: dict[int, list[str]] = {}
            for row in db.execute(
                "SELECT proposal_id, approver FROM approvals ORDER BY block_number, log_index"
            ):
                approvers.setdefault(row["proposal_id"], []).append(row["approver"])
        return [_proposal(row, approvers.get(row["id"], [])) for row in rows]

    def actor_names(self, address: str) -> dict[int, str | None]:
        """The name each record's actor had as a member when it signed the record (the name of its last
        admission before it), by seq; None where the index has no admission of the actor before it."""
        asset = self._known(address)
        with self._index.reading() as db:
            rows = db.execute(_ACTOR_NAMES_SQL, (asset,)).fetchall()
        return {row["seq"]: row["name"] for row in rows}

    def member_name(self, address: str) -> str | None:
        """The name of the member at `address`, or None if it is not one."""
        with self._index.reading() as db:
            row = db.execute("SELECT name FROM members WHERE address = ?", (_address(address),)).fetchone()
        return None if row is None else str(row["name"])

    # -- helpers ----------------------------------------------------------------------------------

    def _known(self, address: str) -> str:
        checksummed = _address(address)
        if not self._index.is_asset(checksummed):
            raise UnindexedAsset(f"no asset {checksummed} in the index (not registered, or not indexed yet)")
        return checksummed

    @staticmethod
    def _asset_summary(db: sqlite3.Connection, address: str) -> dict[str, Any] | None:
        row = db.execute(_ASSETS_SQL + " WHERE a.address = ?", (address,)).fetchone()
        return None if row is None else _asset(row)


# -- assets -----------------------------------------------------------------------------------------

_ASSETS_SQL = """
SELECT a.*, m.name AS owner_name FROM assets a LEFT JOIN members m ON m.address = a.owner
"""


def _asset_filters(kind: str | None, owner: str | None, state: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    kinds = list(ASSET_KINDS.values())
    if kind is not None:
        found = ASSET_KINDS.get(kind.strip().lower())
        if found is None:
            raise InvalidQuery(f"unknown kind {kind!r}: use one of {', '.join(ASSET_KINDS)}")
        kinds = [found]
        where.append("a.kind = ?")
        params.append(int(found))
    if owner is not None:
        where.append("a.owner = ?")
        params.append(_address(owner, "owner"))
    if state is not None:
        pairs = _state_pairs(state, kinds)
        where.append("(" + " OR ".join("(a.kind = ? AND a.state = ?)" for _ in pairs) + ")")
        params.extend(value for pair in pairs for value in pair)
    return where, params


def _state_pairs(state: str, kinds: Sequence[AssetKind]) -> list[tuple[int, int]]:
    """(kind, state number) of each kind that has a state called `state`."""
    wanted = state.strip().lower()
    pairs = [
        (int(kind), int(member)) for kind in kinds for member in STATES[kind] if member.name.lower() == wanted
    ]
    if not pairs:
        allowed = sorted({m.name.lower() for kind in kinds for m in STATES[kind]})
        raise InvalidQuery(f"unknown state {state!r}: use one of {', '.join(allowed)}")
    return pairs


def _asset(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "address": row["address"],
        "kind": _name(AssetKind, row["kind"]),
        "kind_id": row["kind"],
        "owner": row["owner"],
        "owner_name": row["owner_name"],
        "state": _state_name(row["kind"], row["state"]),
        "state_id": row["state"],
        "record_count": row["record_count"],
        "content_digest": _hex(row["content_digest"]),
        "record_digest": _hex(row["record_digest"]),
        "record_cid": _cid(row["record_cid"]),
        "ancestors": json.loads(row["ancestors"]),
        "registered_block": row["block_number"],
        "registered_transaction": row["tx_hash"],
        "registered_at": _time(row["timestamp"]),
    }


def _by_registration(db: sqlite3.Connection, addresses: Iterable[str]) -> list[str]:
    wanted = set(addresses)
    rows = db.execute("SELECT address FROM assets ORDER BY block_number, log_index")
    return [row["address"] for row in rows if row["address"] in wanted]


# -- history ----------------------------------------------------------------------------------------

_HISTORY_SQL = """
SELECT r.*, m.name AS actor_name,
       rb.to_seq AS rb_to_seq, rb.accepted AS rb_accepted, rb.reason AS rb_reason,
       an.phase AS an_phase, an.root AS an_root
FROM records r
LEFT JOIN members m ON m.address = r.actor
LEFT JOIN rollbacks rb ON rb.asset = r.asset AND rb.seq = r.seq
LEFT JOIN anchors an ON an.asset = r.asset AND an.seq = r.seq
WHERE r.asset = ? AND r.seq >= ? ORDER BY r.seq
"""


# A member re-admitted after a suspension may have a new name: a record is signed under the name of the
# member's last admission before it, in chain order.
_ACTOR_NAMES_SQL = """
SELECT r.seq, (
    SELECT me.name FROM member_events me
    WHERE me.member = r.actor AND me.event = 'added'
      AND (me.block_number < r.block_number
           OR (me.block_number = r.block_number AND me.log_index < r.log_index))
    ORDER BY me.block_number DESC, me.log_index DESC LIMIT 1
) AS name
FROM records r WHERE r.asset = ? ORDER BY r.seq
"""


def _kind(db: sqlite3.Connection, asset: str) -> int:
    kind: int = db.execute("SELECT kind FROM assets WHERE address = ?", (asset,)).fetchone()["kind"]
    return kind


def _history(db: sqlite3.Connection, asset: str, since: int) -> list[dict[str, Any]]:
    kind = _kind(db, asset)
    return [_history_entry(row, kind) for row in db.execute(_HISTORY_SQL, (asset, since)).fetchall()]


def _allowed_activities(kind: int, activity: int, state: int) -> list[str]:
    """The activities the state machine of `kind` accepts from `state`, in the table's order; none for a
    rollback or an anchor, whose rules are not the table's."""
    try:
        table = TRANSITIONS[AssetKind(kind)]
    except (ValueError, KeyError):
        return []
    if activity not in table:
        return []
    return [a.name.lower() for a, rule in table.items() if state in rule.allowed_from]


def _history_entry(row: sqlite3.Row, kind: int) -> dict[str, Any]:
    rollback = None
    if row["rb_to_seq"] is not None:
        rollback = {
            "to_seq": row["rb_to_seq"],
            "accepted": bool(row["rb_accepted"]),
            "reason": row["rb_reason"],
        }
    anchor = None
    if row["an_phase"] is not None:
        anchor = {
            "phase": _name(AnchorPhase, row["an_phase"]),
            "phase_id": row["an_phase"],
            "root": _hex(row["an_root"]),
        }
    return {
        "asset": row["asset"],
        "seq": row["seq"],
        "actor": row["actor"],
        "actor_name": row["actor_name"],
        "activity": _name(Activity, row["activity"]),
        "activity_id": row["activity"],
        "from_state": _state_name(kind, row["from_state"]),
        "from_state_id": row["from_state"],
        "to_state": _state_name(kind, row["to_state"]),
        "to_state_id": row["to_state"],
        "accepted": bool(row["accepted"]),
        # What could have been recorded instead of a refused activity; None for an accepted record.
        "allowed_activities": (
            None if row["accepted"] else _allowed_activities(kind, row["activity"], row["from_state"])
        ),
        "record_digest": _hex(row["record_digest"]),
        "record_cid": _cid(row["record_cid"]),
        "inputs": _json(row["inputs"]),
        "outputs": _json(row["outputs"]),
        "prev_head": _hex(row["prev_head"]),
        "block_number": row["block_number"],
        "block_hash": row["block_hash"],
        "transaction_hash": row["tx_hash"],
        "log_index": row["log_index"],
        "timestamp": _time(row["timestamp"]),
        "rollback": rollback,
        "anchor": anchor,
    }


# The index keeps inputs and outputs as JSON arrays of 0x-hex words; a history reads two a record.
_json = json.JSONDecoder().decode


def _hex_words(words: list[str]) -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(w.removeprefix("0x")) for w in words)


def _words(text: str) -> tuple[bytes, ...]:
    return _hex_words(_json(text))


def _record(row: sqlite3.Row, inputs: tuple[bytes, ...], outputs: tuple[bytes, ...]) -> ChainedRecord:
    return ChainedRecord(
        asset=row["asset"],
        seq=row["seq"],
        actor=row["actor"],
        activity=row["activity"],
        from_state=row["from_state"],
        to_state=row["to_state"],
        accepted=bool(row["accepted"]),
        record_digest=bytes(row["record_digest"]),
        record_cid=bytes(row["record_cid"]),
        inputs=inputs,
        outputs=outputs,
        prev_head=bytes(row["prev_head"]),
    )


# -- lineage ----------------------------------------------------------------------------------------


_DERIVATION = "r.accepted = 1 AND r.activity NOT IN (" + ", ".join(str(int(a)) for a in _NOT_DERIVATION) + ")"
_INPUTS_OF = (
    f"SELECT DISTINCT j.value FROM records r, json_each(r.inputs) j WHERE r.asset = ? AND {_DERIVATION}"
)
_USERS_OF = (
    f"SELECT DISTINCT r.asset FROM records r, json_each(r.inputs) j WHERE j.value = ? AND {_DERIVATION}"
)


def _parents(db: sqlite3.Connection, asset: str) -> list[tuple[str, str]]:
    """(source, via) of every asset `asset` derives from: its ancestors, then assets among its inputs."""
    row = db.execute("SELECT ancestors FROM assets WHERE address = ?", (asset,)).fetchone()
    ancestors: list[str] = json.loads(row["ancestors"]) if row is not None else []
    found = [(a, "ancestor") for a in ancestors]
    inputs = db.execute(_INPUTS_OF, (asset,))
    for (word,) in inputs:
        source = _word_address(word)
        if source is not None and source != asset and source not in ancestors and _exists(db, source):
            found.append((source, "input"))
    return found


def _children(db: sqlite3.Connection, asset: str) -> list[tuple[str, str]]:
    """(derived, via) of every asset derived from `asset`."""
    declared = [
        row[0]
        for row in db.execute(
            "SELECT a.address FROM assets a, json_each(a.ancestors) j WHERE j.value = ?", (asset,)
        )
    ]
    found = [(d, "ancestor") for d in declared]
    used = db.execute(_USERS_OF, (address_word(asset),))
    found += [(row[0], "input") for row in used if row[0] != asset and row[0] not in declared]
    return found


def _exists(db: sqlite3.Connection, address: str) -> bool:
    return db.execute("SELECT 1 FROM assets WHERE address = ?", (address,)).fetchone() is not None


def _reachable(root: str, neighbours: Callable[[str], list[str]]) -> set[str]:
    """Every asset reachable from `root` through `neighbours`, transitively (`root` itself left out)."""
    seen: set[str] = set()
    queue = deque([root])
    while queue:
        for other in neighbours(queue.popleft()):
            if other not in seen and other != root:
                seen.add(other)
                queue.append(other)
    return seen


# -- governance -------------------------------------------------------------------------------------

_PROPOSALS_SQL = """
SELECT p.*, mp.name AS proposer_name, mt.name AS target_name FROM proposals p
LEFT JOIN members mp ON mp.address = p.proposer
LEFT JOIN members mt ON mt.address = p.target
ORDER BY p.id
"""


def _proposal(row: sqlite3.Row, approvers: list[str]) -> dict[str, Any]:
    kind = row["kind"]
    has_target = row["target"] != addresses.checksum(ZERO_ADDRESS)
    return {
        "id": row["id"],
        "kind": _name(ProposalKind, kind),
        "kind_id": kind,
        "proposer": row["proposer"],
        "proposer_name": row["proposer_name"],
        "target": row["target"] if has_target else None,
        "target_name": row["target_name"] if has_target else None,
        "name": row["name"] or None,
        "roles": row["roles"],
        "role_names": _roles(row["roles"]),
        "threshold_bps": row["threshold_bps"] if kind == ProposalKind.CHANGE_THRESHOLD else None,
        "approvals": row["approvals"],
        "approvers": approvers,
        "executed": bool(row["executed"]),
        "created_block": row["block_number"],
        "created_transaction": row["tx_hash"],
        "created_at": _time(row["timestamp"]),
        "executed_block": row["executed_block"],
        "executed_at": _time(row["executed_at"]),
    }
