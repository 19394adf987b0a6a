"""`proml devnet up|status|down`: a local consortium in one folder, started and stopped by PID.

`up` is idempotent: each step looks at what exists (keys, registry, members, running processes) and does
only what is missing, so running it again resumes a stopped devnet (same chain, same IPFS repos, same
configs) and finishes one that failed half-way. If it fails, it stops what it started in that call.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import steps
from .processes import ProcessError, private_dir
from .state import (
    CHAIN_PORT,
    DEFAULT_DIR,
    DEFAULT_ORGS,
    DEFAULT_PORTS,
    NODE_PORT,
    ChainKind,
    DevnetState,
    Layout,
    Ports,
    StateError,
)
from .steps import DevnetError, Echo, default_names

__all__ = [
    "CHAIN_PORT",
    "DEFAULT_DIR",
    "DEFAULT_ORGS",
    "NODE_PORT",
    "DevnetError",
    "Ports",
    "UpResult",
    "default_names",
    "down",
    "join",
    "status",
    "up",
]


@dataclass(frozen=True)
class UpResult:
    state: DevnetState
    created: bool  # a new devnet (keys, registry) rather than a resumed one
    started: tuple[str, ...]  # the processes this call started; empty when all were running already


def up(
    root: Path = DEFAULT_DIR,
    orgs_count: int | None = None,
    names: Sequence[str] | None = None,
    *,
    chain: ChainKind = "clique",
    ports: Ports = DEFAULT_PORTS,
    start_nodes: bool = True,
    echo: Echo = lambda _: None,
) -> UpResult:
    """Start the devnet in `root`: create it (`orgs_count` organisations, or `names`, on a Clique chain of
    their own geth sealers, or on one shared anvil) the first time, otherwise start whatever of it is not
    running. `echo` hears one line per thing done."""
    layout = Layout(root)
    with _locked(layout):
        created = not layout.exists()
        state = steps.new_state(layout, orgs_count, names, ports, chain) if created else _load(layout)
        if not created:
            steps.check_same(state, orgs_count, names, layout)
        # A port that is taken moves to a free one; each move is said, so that nobody reaches another
        # program (or another devnet's node) on the port they expected.
        wanted = steps.preferred_ports(state, ports) if created else steps.user_ports(state)
        with _undone_on_failure(layout, state) as started:
            steps.ensure_chain(layout, state, started, echo)
            steps.ensure_consortium(layout, state, echo)
            steps.ensure_ipfs(layout, state, started, echo)
            steps.ensure_cluster(layout, state, started, echo)
            steps.ensure_configs(layout, state, echo)
            if start_nodes:
                steps.ensure_nodes(layout, state, started, echo)
        for line in steps.port_moves(wanted, steps.user_ports(state)):
            echo(line)
        return UpResult(state, created, tuple(started))


def join(
    root: Path,
    name: str,
    *,
    ports: Ports = DEFAULT_PORTS,
    start_node: bool = True,
    echo: Echo = lambda _: None,
) -> UpResult:
    """A new organisation joins the running devnet in `root`: admitted by the members' governance, its
    sealer voted into Clique's signer set by the signers, its geth, Kubo and cluster peer joined to the
    others', and its node started (it indexes the whole history from the chain)."""
    layout = Layout(root)
    with _locked(layout):
        state = _load(layout)
        with _undone_on_failure(layout, state) as started:
            steps.join_org(layout, state, name, ports, started, echo)
            steps.ensure_configs(layout, state, echo)
            if start_node:
                steps.ensure_nodes(layout, state, started, echo)
        return UpResult(state, False, tuple(started))


def status(root: Path = DEFAULT_DIR) -> dict[str, Any]:
    """The devnet's addresses, URLs and API keys, and which of its processes run."""
    layout = Layout(root)
    state = _load(layout)
    alive = {name: record.alive() for name, record in state.processes.items()}
    return {
        "dir": str(layout.root),
        "running": bool(alive) and all(alive.values()),
        "chain": state.chain,
        "chain_url": state.chain_url(),
        "chain_id": state.chain_id,
        "confirmations": state.confirmations,
        "registry": state.registry,
        "orgs": [
            {
                "name": org.name,
                "address": org.address,
                "roles": org.roles,
                "node_url": org.node_url,
                "api_key": org.api_key,
                "chain_url": state.chain_url(org),
                "sealer": org.sealer or None,
                "ipfs_api": org.ipfs_api,
                "cluster_api": org.cluster_api,
                "config": str(layout.config(org.name)),
                "node_running": alive.get(f"node:{org.name}", False),
                "chain_running": alive.get(f"geth:{org.name}", alive.get("anvil", False)),
                "ipfs_running": alive.get(f"ipfs:{org.name}", False),
                "cluster_running": alive.get(f"cluster:{org.name}", False),
            }
            for org in state.orgs
        ],
        "processes": {
            name: {"pid": record.pid, "running": alive[name]} for name, record in state.processes.items()
        },
    }


def down(root: Path = DEFAULT_DIR, *, purge: bool = False, echo: Echo = lambda _: None) -> list[str]:
    """Stop every process `up` recorded (nodes, then the cluster peers, Kubo, and the chain), by PID; the
    ones that were still running. The data stays unless `purge`, which removes the devnet's folder."""
    layout = Layout(root)
    _load(layout)  # fail before the lock, which would create the folder
    with _locked(layout):
        state = _load(layout)
        stopped = []
        order = sorted(state.processes, key=lambda name: STOP_ORDER.index(_kind(name)))
        for name in order:
            record = state.processes[name]
            try:
                was_running = record.stop()
            except ProcessError as exc:
                raise DevnetError(f"{name}: {exc}; run `down` again") from None
            if was_running:
                echo(f"stopped {name} (pid {record.pid})")
                stopped.append(name)
            del state.processes[name]
            layout.save(state)
    if purge:
        shutil.rmtree(layout.root)
    return stopped


# -- helpers ----------------------------------------------------------------------------------------

STOP_ORDER = ("node:", "cluster:", "ipfs:", "geth:", "anvil")


def _kind(name: str) -> str:
    return name.split(":", 1)[0] + ":" if ":" in name else name


@contextmanager
def _undone_on_failure(layout: Layout, state: DevnetState) -> Iterator[list[str]]:
    """The names of the processes started in the block; if it fails, they are stopped (last first)."""
    started: list[str] = []
    try:
        yield started
    except BaseException:
        for name in reversed(started):
            with suppress(ProcessError):
                state.processes.pop(name).stop()
        layout.save(state)
        raise


def _load(layout: Layout) -> DevnetState:
    try:
        return layout.load()
    except StateError as exc:
        raise DevnetError(str(exc)) from None


@contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    """One `up` or `down` at a time per devnet folder (private: it holds every organisation's keys)."""
    private_dir(layout.root)
    with open(layout.root / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DevnetError(
                f"another `proml devnet` command is working on {layout.root}: wait for it"
            ) from None
        yield
