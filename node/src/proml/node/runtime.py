"""A node's API process at run time: its services (built by `composition`), its background process kept
running, and its health."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from . import background, heap
from .clients.chain import ChainClientError
from .clients.cluster import ClusterClientError
from .clients.ipfs import IpfsClientError
from .composition import NodeSetupError, api_services
from .config import NodeConfig
from .os_process import BackgroundError
from .services.interruptible_sleep import wait_or_stop

log = logging.getLogger(__name__)

# How often the node looks whether its background process still runs, and waits before restarting it.
SUPERVISE_INTERVAL = 1.0
RESTART_DELAY = 5.0
# The health report's count of recorded CIDs against the cluster's and the daemon's pins is reused this
# long (seconds), or longer after a census that took long (`Replicator.pause`), and given at most
# CENSUS_BUDGET to be made: health must answer quickly, and often.
CENSUS_TTL = 3.0
CENSUS_BUDGET = 5.0


class NodeRuntime:
    """What the API serves: captures into the outbox, reads from the index, verifies (`services`). It holds
    no key; the background process (started by `start`) signs and sends, follows the chain and replicates.
    """

    def __init__(self, config: NodeConfig, passphrase: str | None = None) -> None:
        self.config = config
        self.services = api_services(config)
        # `passphrase`: what `proml node start` took out of its environment (None: the background
        # process reads the configured file or variable itself).
        self.background = background.process(config, self.services.chain_id, passphrase)
        self._supervisor: asyncio.Task[None] | None = None
        self._heap_release: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._census: tuple[float, dict[str, Any]] | None = None
        self._census_lock: asyncio.Lock | None = None

    # -- background work --------------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the background process and wait until it runs; `NodeSetupError` says why it does not
        (e.g. no passphrase, or a wrong one)."""
        if self.background.running:
            return
        try:
            self.background.start()
        except BackgroundError as exc:
            raise NodeSetupError(str(exc)) from None

    async def start(self) -> None:
        """Start the background process (if `start_background` has not) and keep it running."""
        self._stopping = asyncio.Event()
        await asyncio.to_thread(self.start_background)
        self._supervisor = asyncio.create_task(self._supervise())
        self._heap_release = asyncio.create_task(heap.release_periodically(self._stopping))

    async def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            await self._supervisor
        if self._heap_release is not None:
            await self._heap_release
        await asyncio.to_thread(self.background.stop)
        await self.services.close()

    async def _supervise(self) -> None:
        """Restart the background process if it dies: the outbox holds what it had not sent yet."""
        while not self._stopping.is_set():
            await wait_or_stop(self._stopping, SUPERVISE_INTERVAL)
            if self._stopping.is_set() or self.background.running:
                continue
            log.error("the background process exited (code %s); restarting it", self.background.exit_code)
            try:
                await asyncio.to_thread(self.background.start)
            except BackgroundError as exc:
                log.error("the background process did not start: %s", exc)
                await wait_or_stop(self._stopping, RESTART_DELAY)

    # -- health -----------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        services = self.services
        chain_check = asyncio.create_task(asyncio.to_thread(self._chain_health))
        ipfs, cluster = await asyncio.gather(self._ipfs_health(), self._cluster_health())
        chain = await chain_check
        reported = self._background_status()
        index: dict[str, Any] = {"cursor": services.index.cursor, "error": reported.get("index_error")}
        try:
            index["lag"] = await asyncio.to_thread(services.index.lag)
        except ChainClientError:
            index["lag"] = None
        outbox = {"depth": services.outbox.depth(), "error": reported.get("submitter_error")}
        ok = bool(chain["ok"] and ipfs["ok"] and cluster["ok"] is not False and self.background.running)
        return {
            "status": "ok" if ok else "degraded",
            "org": self.config.org,
            "address": services.address,
            "registry": self.config.registry,
            "chain": chain,
            "ipfs": ipfs,
            "cluster": cluster,
            "outbox": outbox,
            "index": index,
            "background": {"running": self.background.running, "pid": self.background.pid},
            "replication": reported.get("replication", {"policy": self.config.replication}),
        }

    def _background_status(self) -> dict[str, Any]:
        """What the background process last reported (nothing from a process that no longer runs)."""
        if not self.background.running:
            return {"submitter_error": "the background process is not running", "index_error": None}
        status = background.read_status(self.config.data_dir / background.STATUS_FILE)
        if status is None or status.get("pid") != self.background.pid:
            return {}  # not reported yet
        return status

    def _chain_health(self) -> dict[str, Any]:
        try:
            return {
                "ok": True,
                "chain_id": self.services.chain.chain_id,
                "block": self.services.chain_client.block_number(),
            }
        except ChainClientError as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    async def _ipfs_health(self) -> dict[str, Any]:
        try:
            identity, peers = await asyncio.gather(self.services.ipfs.id(), self.services.ipfs.swarm_peers())
        except IpfsClientError as exc:
            return {"ok": False, "peers": 0, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "peer_id": identity.id, "peers": len(peers)}

    async def _cluster_health(self) -> dict[str, Any]:
        """The cluster peer as it answers now, and the recorded CIDs against what it and the daemon hold
        (without a cluster, against the daemon's own pins): `missing_here` counts those this peer should
        hold and does not."""
        cluster = self.services.cluster
        report: dict[str, Any] = {"configured": cluster is not None, "ok": None, "peers": 0, "errors": []}
        if cluster is not None:
            try:
                identity = await cluster.id()
            except ClusterClientError as exc:
                report.update(ok=False, errors=[f"{type(exc).__name__}: {exc}"])
            else:
                errors = [e for e in (identity.error, identity.ipfs_error) if e]
                report.update(ok=not errors, id=identity.id, peers=len(identity.cluster_peers), errors=errors)
        census = await self._replication_census()
        if "error" in census:
            report["errors"] = [*report["errors"], census["error"]]
        report.update({k: v for k, v in census.items() if k != "error"})
        return report

    async def _replication_census(self) -> dict[str, Any]:
        """`Replicator.census` as a report, made at most once every CENSUS_TTL seconds (or the replicator's
        pause, if longer)."""
        if self._census_lock is None:
            self._census_lock = asyncio.Lock()
        async with self._census_lock:
            ttl = max(CENSUS_TTL, self.services.replication.pause())
            if self._census is not None and time.monotonic() - self._census[0] < ttl:
                return self._census[1]
            keys = ("recorded", "pinned", "missing_here", "not_in_pinset", "unverified", "invalid", "pinset")
            report: dict[str, Any]
            try:
                census = await asyncio.wait_for(self.services.replication.census(), CENSUS_BUDGET)
                report = {key: value for key, value in census.report().items() if key in keys}
            except Exception as exc:  # the cluster, IPFS, or anything else: health answers regardless
                if not isinstance(exc, ClusterClientError | IpfsClientError | TimeoutError):
                    log.exception("health: counting the recorded CIDs failed")
                report = dict.fromkeys(keys)
                report["error"] = f"recorded CIDs not checked: {type(exc).__name__}: {exc}"
            report["checked_at"] = time.time()
            self._census = (time.monotonic(), report)
            return report
