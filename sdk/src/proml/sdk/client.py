"""What a training script holds: a connected node, its assets, their records.

Every call returns once the node has durably accepted the write (its outbox), never waiting for a block;
`.wait()` waits for the chain. An asset registered a moment ago can be used at once: until its
registration is on chain it is named by its outbox id, and the node fills in its address.
"""

from __future__ import annotations

import os
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from proml.core.content.digest import Hasher
from proml.core.records import environment_snapshot, rfc3339

from .errors import ConfigurationError, NotFound, TransitionRejected, WaitTimeout
from .refusals import refused
from .transport import Progress, Transport, Watch, chunks
from .views import (
    AssetDetails,
    AssetSummary,
    Consortium,
    Health,
    HistoryEntry,
    Lineage,
    Member,
    Proposal,
    parsed,
    parsed_list,
)

# The digest an asset input carries when its content is not known here (a model not yet trained).
NO_DIGEST = "sha256:" + "00" * 32
WAIT_POLL = 0.1

Value = Any  # an Asset, a path to a file, or an artifact mapping (name is added)
AssetKindName = Literal["dataset", "model"]


def connect(
    url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0, watch: Watch | None = None
) -> Node:
    """A node from the arguments, else PROML_NODE_URL and PROML_API_KEY (a URL starts with http:// or
    https://). `watch` is told of every request and answer."""
    url = url or os.environ.get("PROML_NODE_URL")
    api_key = api_key or os.environ.get("PROML_API_KEY")
    if not url or not api_key:
        raise ConfigurationError(
            "no node to talk to: pass url= and api_key=, or set PROML_NODE_URL and PROML_API_KEY "
            "(`proml devnet status --json` shows both for a local consortium)"
        )
    return Node(Transport(url, api_key, timeout, watch=watch))


def node_status(url: str, *, timeout: float = 10.0) -> Health:
    """The health report of the node at `url`, which any client may read (no API key), also when the node
    is degraded (see `Node.status`)."""
    with Node(Transport(url, None, timeout)) as node:
        return node.status()


class Entry:
    """A write the node accepted: its outbox entry, followed until it is final on chain."""

    def __init__(self, node: Node, view: dict[str, Any]) -> None:
        self._node = node
        self.view = view
        # Once `wait` has seen the record on chain: why the state machine refused it, or None.
        self.rejection: TransitionRejected | None = None
        self._history_entry: dict[str, Any] | None = None

    def __repr__(self) -> str:
        shown = {"id": self.view.get("id"), "status": self.view.get("status"), **self._described()}
        fields = ", ".join(f"{name}={value!r}" for name, value in shown.items() if value is not None)
        return f"{type(self).__name__}({fields})"

    def _described(self) -> dict[str, Any]:
        """What `repr` shows beside the outbox entry's id and status."""
        return {"asset": self.view.get("asset")}

    @property
    def id(self) -> str:
        return str(self.view["id"])

    @property
    def status(self) -> str:
        return str(self.view["status"])

    def refresh(self) -> Self:
        self.view = self._node.transport.get(f"/v1/outbox/{self.id}")
        return self

    def wait(self, timeout: float = 120.0) -> Self:
        """Until the record is final on chain (as many confirmations as the node is set to wait for) and
        the node's index has its block, so that histories and queries show it. A record the state machine
        refused is kept on chain: `wait` then warns (`TransitionRejected`, also kept as `.rejection`) with
        the state the asset was in and the activities it accepts from there."""
        deadline = time.monotonic() + timeout
        while self.refresh().status != "final":
            if self.status == "failed":
                raise refused(self._node.transport, self.view)
            _check_deadline(deadline, f"outbox entry {self.id} is still {self.status} after {timeout}s")
            time.sleep(WAIT_POLL)
        while not self._indexed():
            _check_deadline(deadline, f"the node has not indexed outbox entry {self.id} after {timeout}s")
            time.sleep(WAIT_POLL)
        if self.view.get("accepted") is False and self._history_entry is not None:
            self.rejection = rejection(self._history_entry)
            warnings.warn(self.rejection, stacklevel=2)
        return self

    def _indexed(self) -> bool:
        asset, seq = self.view.get("asset"), self.view.get("seq")
        if asset is None or seq is None:
            return True
        try:
            found = self._node.transport.get(f"/v1/assets/{asset}/history", since=seq)
        except NotFound:
            return False
        self._history_entry = found[0] if found else None
        return bool(found)


class Record(Entry):
    """One recorded activity. `accepted` is false when the state machine did not allow it (it is kept)."""

    def _described(self) -> dict[str, Any]:
        return {
            "asset": self.view.get("asset"),
            "activity": self.view.get("activity"),
            "seq": self.view.get("seq"),
            "accepted": self.view.get("accepted"),
        }

    @property
    def accepted(self) -> bool | None:
        value = self.view.get("accepted")
        return None if value is None else bool(value)

    @property
    def seq(self) -> int | None:
        value = self.view.get("seq")
        return None if value is None else int(value)


class Asset(Entry):
    """A dataset or a model, registered through this node (or looked up by address)."""

    def __init__(self, node: Node, view: dict[str, Any], *, kind: str, name: str, digest: str | None) -> None:
        super().__init__(node, view)
        self.kind = kind
        self.name = name
        self.digest = digest

    def _described(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "address": self.view.get("asset")}

    @property
    def ref(self) -> str:
        """The address once known, else `outbox:<id>`: either names the asset in a request."""
        return str(self.view.get("asset") or self.view["ref"])

    @property
    def address(self) -> str:
        """The asset's address, waiting for its registration to be on chain if need be."""
        if not self.view.get("asset"):
            self.wait()
        return str(self.view["asset"])

    def record(
        self,
        activity: str,
        *,
        inputs: Mapping[str, Value] | None = None,
        outputs: Mapping[str, Value] | None = None,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        notes: str | None = None,
        publish: bool = True,
        started_at: str | None = None,
        idempotency_key: str | None = None,
    ) -> Record:
        """Record an activity; returns once the node has durably accepted it (see `Node.record`)."""
        return self._node.record(
            self,
            activity,
            inputs=inputs,
            outputs=outputs,
            params=params,
            metrics=metrics,
            notes=notes,
            publish=publish,
            started_at=started_at,
            idempotency_key=idempotency_key,
        )

    def activity(
        self,
        activity: str,
        *,
        inputs: Mapping[str, Value] | None = None,
        params: Mapping[str, Any] | None = None,
        publish: bool = True,
    ) -> ActivityBlock:
        """`with asset.activity("train", ...) as act:` records when the block ends, even if it raises."""
        return ActivityBlock(self, activity, dict(inputs or {}), dict(params or {}), publish)

    def history(self) -> list[dict[str, Any]]:
        """Every record of the asset on chain, as the node's index holds it (as JSON; `Node.history` gives
        the same as typed entries)."""
        history: list[dict[str, Any]] = self._node.transport.get(f"/v1/assets/{self.address}/history")
        return history


class ActivityBlock:
    """Collects what a block of work did; records it (with its start and end time) when the block ends."""

    def __init__(
        self, asset: Asset, activity: str, inputs: dict[str, Value], params: dict[str, Any], publish: bool
    ) -> None:
        self._asset = asset
        self._activity = activity
        self._inputs = inputs
        self._params = params
        self._publish = publish
        self._outputs: dict[str, Value] = {}
        self._metrics: dict[str, Any] = {}
        self._started_at = rfc3339()
        self.record: Record | None = None

    def __repr__(self) -> str:
        done = f", record={self.record!r}" if self.record is not None else ""
        return f"ActivityBlock(asset={self._asset.ref!r}, activity={self._activity!r}{done})"

    def metric(self, name: str, value: float) -> None:
        self._metrics[name] = value

    def param(self, name: str, value: Any) -> None:
        self._params[name] = value

    def input(self, name: str, value: Value) -> None:
        self._inputs[name] = value

    def output(self, name: str, value: Value) -> None:
        """An output: a file (its digest always; uploaded unless the activity has publish=False)."""
        self._outputs[name] = value

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        notes = None
        if error is not None:
            last = traceback.extract_tb(tb)[-1] if tb is not None else None
            where = f" at {Path(last.filename).name}:{last.lineno}" if last is not None else ""
            notes = f"failed: {type(error).__name__}: {error}{where}"
        self.record = self._asset.record(
            self._activity,
            inputs=self._inputs,
            outputs=self._outputs,
            params=self._params,
            metrics=self._metrics,
            notes=notes,
            publish=self._publish,
            started_at=self._started_at,
        )


class Node:
    """A connection to one ProML node (see `connect`)."""

    def __repr__(self) -> str:
        return f"Node({self.transport.url!r})"  # never the API key

    def __init__(self, transport: Transport, environment_packages: tuple[str, ...] = ()) -> None:
        self.transport = transport
        # What a record says about where it ran: the Python version, and the packages the script names
        # (`track_packages`); nothing else is collected.
        self.environment = environment_snapshot(environment_packages, skip_missing=True).to_dict()

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def track_packages(self, *packages: str) -> None:
        """Name the packages whose versions every record's environment should state."""
        self.environment = environment_snapshot(packages, skip_missing=True).to_dict()

    def health(self) -> dict[str, Any]:
        """The node's health report as JSON; a degraded node (its chain or IPFS down) is `NodeUnavailable`."""
        health: dict[str, Any] = self.transport.get("/v1/health")
        return health

    def status(self) -> Health:
        """The node's health report, typed; a degraded node's too (answered 503), with what fails."""
        return parsed(Health.from_dict, self.transport.get_report("/v1/health", also=(503,)), "/v1/health")

    def upload(self, path: str | os.PathLike[str], *, progress: Progress | None = None) -> dict[str, Any]:
        """Put a file on the consortium's IPFS through the node (streamed); its digest, CID and size.
        `progress(n)` is called as each n bytes go."""
        stored: dict[str, Any] = self.transport.post_file("/v1/payloads", Path(path), progress=progress)
        return stored

    def download(
        self,
        cid: str,
        path: str | os.PathLike[str],
        *,
        digest: str | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Fetch a payload from the consortium's IPFS through the node into `path` (streamed): the node
        checks its CID, and `digest` (as a record names it) if given, before it sends the first byte, so a
        payload that is not what was recorded is `PayloadMismatch` and no file is written."""
        target = Path(path)
        return self.transport.get_file(f"/v1/payloads/{cid}", target, progress=progress, digest=digest)

    def content(
        self, path: str | os.PathLike[str], *, publish: bool = True, progress: Progress | None = None
    ) -> dict[str, Any]:
        """A file as a record names it: uploaded (`digest`, `cid`, `size`), or with publish=False only hashed
        here (`digest`, `size`; nothing leaves the machine). `progress(n)` as each n bytes are read."""
        if publish:
            return self.upload(path, progress=progress)
        hasher = Hasher()
        for chunk in chunks(Path(path), progress):
            hasher.update(chunk)
        return {"digest": str(hasher.finish()), "size": hasher.size}

    def register(
        self,
        kind: AssetKindName,
        *,
        name: str,
        content: Mapping[str, Any] | None = None,
        ancestors: Sequence[Asset | str] = (),
        params: Mapping[str, Any] | None = None,
        notes: str | None = None,
        idempotency_key: str | None = None,
    ) -> Asset:
        """Register a dataset or a model whose content (if any) is already described: what `content`
        returns, or `{"digest": ...}` alone. `register_dataset` and `register_model` do this from a file."""
        body = {
            "name": name,
            "content": None if content is None else dict(content),
            "ancestors": [a.ref if isinstance(a, Asset) else a for a in ancestors],
            "parameters": dict(params or {}),
            "environment": self.environment,
            "notes": notes,
        }
        view = self.transport.post(f"/v1/{kind}s", _without_none(body), idempotency_key=idempotency_key)
        digest = None if content is None else str(content["digest"])
        return Asset(self, view, kind=kind, name=name, digest=digest)

    def register_dataset(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        name: str,
        digest: str | None = None,
        publish: bool = True,
        ancestors: tuple[Asset | str, ...] | list[Asset | str] = (),
        params: Mapping[str, Any] | None = None,
        notes: str | None = None,
        idempotency_key: str | None = None,
    ) -> Asset:
        """Register a dataset from a file (uploaded unless publish=False: then only its digest is sent) or
        from a digest alone."""
        content = self._content(path, digest, publish)
        return self.register(
            "dataset",
            name=name,
            content=content,
            ancestors=ancestors,
            params=params,
            notes=notes,
            idempotency_key=idempotency_key,
        )

    def register_model(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        name: str,
        digest: str | None = None,
        publish: bool = True,
        ancestors: tuple[Asset | str, ...] | list[Asset | str] = (),
        params: Mapping[str, Any] | None = None,
        notes: str | None = None,
        idempotency_key: str | None = None,
    ) -> Asset:
        """Register a model, with the datasets and base models it derives from; its file is optional (a
        model is often registered before it is trained)."""
        content = self._content(path, digest, publish)
        return self.register(
            "model",
            name=name,
            content=content,
            ancestors=ancestors,
            params=params,
            notes=notes,
            idempotency_key=idempotency_key,
        )

    def asset(self, address: str, *, timeout: float = 30.0) -> Asset:
        """An asset already on chain, by address, from the node's index: one another organisation has just
        registered appears once its block is indexed, so this waits up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                summary = self.transport.get(f"/v1/assets/{address}")
                break
            except NotFound:
                if time.monotonic() > deadline:
                    raise
                time.sleep(WAIT_POLL)
        view = {"id": "", "ref": summary["address"], "asset": summary["address"], "status": "final"}
        return Asset(self, view, kind=summary["kind"], name="", digest=None)

    def verify(
        self, asset: Asset | str, path: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Is this file the one recorded for the asset? `result` is OK (an accepted record holds it),
        REJECTED_ONLY (only records the state machine refused hold it) or MISMATCH; `ok` is true only for
        OK. `matches` are the records that hold it, `recorded` every file recorded for the asset, each
        with who, when and `accepted`."""
        endpoint = f"/v1/assets/{_address(asset)}/verify"
        report: dict[str, Any] = self.transport.post_file(endpoint, Path(path), progress=progress)
        return report

    def verify_history(
        self, asset: Asset | str, *, payloads: bool = False, payload_timeout: float = 60.0
    ) -> dict[str, Any]:
        """The node's check of the asset's whole history: every record document against the chain (its
        actor's name against the member's), the hash chain against the head; with `payloads=True`, also
        every payload the documents name by CID, streamed from IPFS against its CID and digest
        (`payloads`, `payload_problems`), each within `payload_timeout` seconds."""
        endpoint = f"/v1/assets/{_address(asset)}/verification"
        if not payloads:
            report: dict[str, Any] = self.transport.get(endpoint)
            return report
        checked: dict[str, Any] = self.transport.get_unhurried(
            endpoint, payloads="true", payload_timeout=payload_timeout
        )
        return checked

    def asset_ref(self, ref: str) -> Asset:
        """An asset named by its address or by `outbox:<id>` (a registration not yet on chain), to record
        or name as an input or an ancestor at once. An address is looked up in the node's index for its
        kind (`NotFound` at once if it is not indexed); an outbox id is sent as it is, for the node to
        resolve, with the kind `asset`."""
        if ref.startswith("outbox:"):
            view = {"id": ref.removeprefix("outbox:"), "ref": ref, "asset": None, "status": "unknown"}
            return Asset(self, view, kind="asset", name="", digest=None)
        return self.asset(ref, timeout=0)

    def record(
        self,
        asset: Asset | str,
        activity: str,
        *,
        inputs: Mapping[str, Value] | None = None,
        outputs: Mapping[str, Value] | None = None,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        notes: str | None = None,
        publish: bool = True,
        started_at: str | None = None,
        idempotency_key: str | None = None,
    ) -> Record:
        """Record an activity on `asset` (an `Asset`, an address or `outbox:<id>`); returns once the node has
        durably accepted it. Inputs and outputs map a name to an `Asset`, a file path (uploaded unless
        publish=False) or an artifact mapping (`content` makes one of a file)."""
        body = {
            "activity": activity,
            "inputs": [self.artifact(n, v, publish) for n, v in (inputs or {}).items()],
            "outputs": [self.artifact(n, v, publish) for n, v in (outputs or {}).items()],
            "parameters": dict(params or {}),
            "metrics": dict(metrics or {}),
            "environment": self.environment,
            "notes": notes,
            "started_at": started_at,
            "ended_at": rfc3339(),
        }
        view = self.transport.post(
            f"/v1/assets/{_ref(asset)}/records", _without_none(body), idempotency_key=idempotency_key
        )
        return Record(self, view)

    def rollback(
        self, model: Asset | str, *, to_seq: int, reason: str, idempotency_key: str | None = None
    ) -> Record:
        """Return a model to the state it had after record `to_seq` (an earlier accepted record); the node
        builds the proof, and the chain keeps `reason`."""
        body = {"to_seq": to_seq, "reason": reason}
        view = self.transport.post(
            f"/v1/assets/{_ref(model)}/rollbacks", body, idempotency_key=idempotency_key
        )
        return Record(self, view)

    def entry(self, ref: str) -> Record:
        """A write this node acknowledged, by its outbox id (`outbox:<id>` or the id): where it is, and
        `.wait()` to follow it to the chain."""
        return Record(self, self.transport.get(f"/v1/outbox/{ref.removeprefix('outbox:')}"))

    def asset_details(self, asset: Asset | str) -> AssetDetails:
        """The asset's summary in the node's index, with its whole history."""
        address = _address(asset)
        return parsed(AssetDetails.from_dict, self.transport.get(f"/v1/assets/{address}"), address)

    def assets(
        self,
        *,
        kind: AssetKindName | None = None,
        owner: str | None = None,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AssetSummary]:
        """The registered assets in order of registration, `limit` of them from `offset`; only those of a
        kind, an owner (an address) or a state if given."""
        found = self.transport.get(
            "/v1/assets", kind=kind, owner=owner, state=state, limit=limit, offset=offset or None
        )
        return parsed_list(AssetSummary.from_dict, found, "/v1/assets")

    def history(self, asset: Asset | str) -> list[HistoryEntry]:
        """Every record of the asset on chain, accepted or refused, as the node's index holds it."""
        address = _address(asset)
        return parsed_list(
            HistoryEntry.from_dict, self.transport.get(f"/v1/assets/{address}/history"), address
        )

    def lineage(self, asset: Asset | str) -> Lineage:
        """What the asset derives from and what derives from it, all the way."""
        address = _address(asset)
        return parsed(Lineage.from_dict, self.transport.get(f"/v1/assets/{address}/lineage"), address)

    def members(self) -> list[Member]:
        """Every organisation the consortium ever admitted, with its roles and status."""
        return parsed_list(Member.from_dict, self.transport.get("/v1/members"), "/v1/members")

    def proposals(self) -> list[Proposal]:
        """Every governance proposal, executed or not, in order."""
        return parsed_list(Proposal.from_dict, self.transport.get("/v1/proposals"), "/v1/proposals")

    def consortium(self) -> Consortium:
        """The consortium as this node sees it: registry, members, proposals, and how many approvals a
        proposal needs now."""
        health = self.health()
        return Consortium.of(health, self.members(), self.proposals())

    def propose_admission(self, account: str, *, name: str, roles: Sequence[str]) -> Entry:
        """Propose admitting the organisation `account` as `name` with `roles` (data_admin, model_developer,
        validator, auditor); proposing counts as this organisation's approval. Needs an admin key."""
        return self._propose({"kind": "add_member", "account": account, "name": name, "roles": list(roles)})

    def propose_suspension(self, account: str) -> Entry:
        """Propose suspending the member `account`."""
        return self._propose({"kind": "suspend_member", "account": account})

    def propose_roles(self, account: str, *, roles: Sequence[str]) -> Entry:
        """Propose giving the member `account` other `roles`."""
        return self._propose({"kind": "change_roles", "account": account, "roles": list(roles)})

    def propose_threshold(self, threshold_bps: int) -> Entry:
        """Propose another approval threshold, in basis points of the active members (1..9999)."""
        return self._propose({"kind": "change_threshold", "threshold_bps": threshold_bps})

    def approve(self, proposal_id: int) -> Entry:
        """Approve a proposal as this organisation (`proposals()` lists them). Needs an admin key."""
        return Entry(self, self.transport.post(f"/v1/proposals/{proposal_id}/approvals", {}))

    # -- helpers for the objects above ------------------------------------------------------------

    def _propose(self, body: dict[str, Any]) -> Entry:
        return Entry(self, self.transport.post("/v1/proposals", body))

    def _content(
        self, path: str | os.PathLike[str] | None, digest: str | None, publish: bool
    ) -> dict[str, Any] | None:
        if path is None:
            return None if digest is None else {"digest": digest}
        return self.content(path, publish=publish)

    def artifact(self, name: str, value: Value, publish: bool) -> dict[str, Any]:
        """An input or output as the API takes it."""
        if isinstance(value, Asset):
            return {"name": name, "kind": value.kind, "digest": value.digest or NO_DIGEST, "asset": value.ref}
        if isinstance(value, Mapping):
            return {"name": name, **value}
        path = Path(value)
        content = self._content(path, None, publish)
        assert content is not None
        return {"name": name, "kind": "file", **content}


def rejection(record: Mapping[str, Any]) -> TransitionRejected:
    """What to tell of a refused record, from its entry in the asset's history."""
    activity, state = str(record["activity"]), record.get("from_state")
    allowed = tuple(record.get("allowed_activities") or ())
    message = (
        f"the state machine refused {activity} on {record['asset']} (seq {record['seq']}): the asset was in "
        f"state {state}"
    )
    if allowed:
        message += f", from which it accepts only {', '.join(allowed)}"
    message += ". The record is kept on chain with accepted=false; it is no proof of the work it describes."
    return TransitionRejected(
        message,
        asset=str(record["asset"]),
        seq=int(record["seq"]),
        activity=activity,
        state=state,
        allowed_activities=allowed,
    )


def _ref(asset: Asset | str) -> str:
    """How a write names the asset: its address, or its outbox id before it has one."""
    return asset.ref if isinstance(asset, Asset) else asset


def _address(asset: Asset | str) -> str:
    """How a read names the asset: its address (waiting for an asset's registration if need be)."""
    return asset.address if isinstance(asset, Asset) else asset


def _check_deadline(deadline: float, message: str) -> None:
    if time.monotonic() > deadline:
        raise WaitTimeout(message)


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}
