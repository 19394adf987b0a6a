"""The steps of `proml devnet up`, each idempotent: it looks at what exists (keys, balances, registry,
members, running processes, free ports) and does only what is missing, saving the state as it goes."""

from __future__ import annotations

import string
import subprocess
from collections.abc import Callable, Sequence
from typing import TypeVar

from proml.node.clients.chain import ChainClient
from proml.node.consortium import deploy_registry, member

from . import consortium, nodes, orgs
from .anvil import Anvil
from .ipfs import IpfsDaemon, connect_swarm, start_ipfs_daemon
from .processes import ProcessError, ProcessRecord, choose_port, port_is_free, write_swarm_key
from .state import DEFAULT_ORGS, DevnetState, Layout, OrgState, Ports

Echo = Callable[[str], None]
T = TypeVar("T")


class DevnetError(RuntimeError):
    """The devnet could not be started, read or stopped; the message says what to do."""


def default_names(count: int) -> list[str]:
    """A, B, C, …, Z, then AA, AB, …"""
    letters = string.ascii_uppercase
    return [letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26] for i in range(count)]


def new_state(layout: Layout, count: int | None, names: Sequence[str] | None, ports: Ports) -> DevnetState:
    chosen = list(names) if names else default_names(count if count is not None else DEFAULT_ORGS)
    if len(set(chosen)) != len(chosen) or not all(n and n.isalnum() for n in chosen):
        raise DevnetError(f"organisation names must be distinct and alphanumeric, not {chosen}")
    if count is not None and count != len(chosen):
        raise DevnetError(f"--orgs {count} but {len(chosen)} names given")
    if not 1 <= len(chosen) <= 9:
        raise DevnetError("a devnet has 1 to 9 organisations (anvil funds the founder from one dev key)")
    layout.root.mkdir(parents=True, exist_ok=True)
    taken: list[int] = []

    def pick(base: int, i: int) -> int:
        port = choose_port(base + i if base else 0, taken)
        taken.append(port)
        return port

    chain_port = pick(ports.chain, 0)
    members = []
    for i, name in enumerate(chosen):
        address = orgs.ensure_key(layout, name)
        roles = consortium.FOUNDER_ROLES if i == 0 else consortium.MEMBER_ROLES
        members.append(
            OrgState(
                name=name,
                address=address,
                roles=int(roles),
                node_port=pick(ports.node, i),
                ipfs_api_port=pick(ports.ipfs_api, i),
                ipfs_swarm_port=pick(ports.ipfs_swarm, i),
            )
        )
    state = DevnetState(chain_port=chain_port, orgs=members)
    layout.save(state)
    return state


def check_same(state: DevnetState, count: int | None, names: Sequence[str] | None, layout: Layout) -> None:
    have = [org.name for org in state.orgs]
    if (count is not None and count != len(have)) or (names and list(names) != have):
        raise DevnetError(
            f"the devnet in {layout.root} has the organisations {', '.join(have)}: run `up` without "
            "--orgs/--names to resume it, or `down --purge` first to start a new one"
        )


def ensure_chain(layout: Layout, state: DevnetState, started: list[str], echo: Echo) -> None:
    if _running(state, "anvil"):
        return
    anvil = Anvil(layout.chain_dir, state=layout.chain_state, port=state.chain_port, detach=True)
    anvil.start()
    assert anvil.process is not None
    state.chain_port = anvil.port
    _record(layout, state, started, "anvil", ProcessRecord.of(anvil.process))
    echo(f"chain: anvil on {state.chain_url} (pid {anvil.pid})")


def ensure_consortium(layout: Layout, state: DevnetState, echo: Echo) -> None:
    client = ChainClient(state.chain_url)
    if state.registry and client.get_code(state.registry):
        if all(member(client, state.registry, org.address).active for org in state.orgs):
            return
    elif state.registry:
        raise DevnetError(
            f"the chain has no registry at {state.registry} (was {layout.chain_state} removed?): "
            "run `proml devnet down --purge` and `up` again"
        )
    keys = [(org.name, orgs.private_key(layout, org.name)) for org in state.orgs]
    providers = [(name, consortium.provider(client, key)) for name, key in keys]
    consortium.fund(client, [p.address for _, p in providers])
    if not state.registry:
        state.registry = deploy_registry(providers[0][1], providers[0][0])
        layout.save(state)
        echo(f"registry: {state.registry} (founder {state.orgs[0].name})")
    for count in range(1, len(providers)):
        org = state.orgs[count]
        consortium.admit(state.registry, providers[:count], (org.name, org.address), org.roles)
        echo(f"member: {org.name} {org.address}")


def ensure_ipfs(layout: Layout, state: DevnetState, started: list[str], echo: Echo) -> None:
    if not layout.swarm_key.exists():
        write_swarm_key(layout.swarm_key)
    for org in state.orgs:
        name = f"ipfs:{org.name}"
        if _running(state, name):
            continue
        taken = _ports_in_use(state, but=org)
        org.ipfs_api_port = choose_port(org.ipfs_api_port, taken)
        org.ipfs_swarm_port = choose_port(org.ipfs_swarm_port, [*taken, org.ipfs_api_port])
        daemon = _start_ipfs(layout, state, org)
        org.peer_id = daemon.peer_id
        _record(layout, state, started, name, ProcessRecord.of(daemon.process))
        echo(f"ipfs: {org.name} on {org.ipfs_api} (pid {daemon.pid})")
    connect_swarm([o.ipfs_api for o in state.orgs], [o.swarm_addr for o in state.orgs])


def _start_ipfs(layout: Layout, state: DevnetState, org: OrgState) -> IpfsDaemon:
    return _retry_on_taken_port(
        lambda: _start_ipfs_once(layout, state, org),
        lambda: (org.ipfs_api_port, org.ipfs_swarm_port),
        lambda: _move_ipfs_ports(state, org),
    )


def _start_ipfs_once(layout: Layout, state: DevnetState, org: OrgState) -> IpfsDaemon:
    # Known peers (from an earlier start) are dialled at start and re-dialled while disconnected.
    bootstrap = [o.swarm_addr for o in state.orgs if o is not org and o.peer_id]
    return start_ipfs_daemon(
        org.name,
        layout.ipfs_repo(org.name),
        layout.swarm_key,
        stdout_path=layout.ipfs_stdout(org.name),
        log_path=layout.ipfs_log(org.name),
        api_port=org.ipfs_api_port,
        swarm_port=org.ipfs_swarm_port,
        bootstrap=bootstrap,
        detach=True,
    )


def _move_ipfs_ports(state: DevnetState, org: OrgState) -> None:
    taken = _ports_in_use(state, but=org)
    org.ipfs_api_port = choose_port(0, taken)
    org.ipfs_swarm_port = choose_port(0, [*taken, org.ipfs_api_port])


def ensure_configs(layout: Layout, state: DevnetState, echo: Echo) -> None:
    for org in state.orgs:
        node = f"node:{org.name}"
        if not _running(state, node):
            org.node_port = choose_port(org.node_port, _ports_in_use(state, but=org))
        if orgs.write_config(layout, org, state.chain_url, state.registry) and _running(state, node):
            # Its chain or IPFS daemon moved to another port: the running node would keep the old one.
            state.processes.pop(node).stop()
            echo(f"node: {org.name} stopped to restart on its new configuration")
        orgs.ensure_api_key(layout, org)
    layout.save(state)


def ensure_nodes(layout: Layout, state: DevnetState, started: list[str], echo: Echo) -> None:
    for org in state.orgs:
        name = f"node:{org.name}"
        if _running(state, name):
            continue
        process = _start_node(layout, state, org)
        _record(layout, state, started, name, ProcessRecord.of(process))
        echo(f"node: {org.name} on {org.node_url} (pid {process.pid})")


def _start_node(layout: Layout, state: DevnetState, org: OrgState) -> subprocess.Popen[bytes]:
    return _retry_on_taken_port(
        lambda: nodes.start_node(layout.config(org.name), org.node_url, layout.node_log(org.name)),
        lambda: (org.node_port,),
        lambda: _move_node_port(layout, state, org),
    )


def _move_node_port(layout: Layout, state: DevnetState, org: OrgState) -> None:
    org.node_port = choose_port(0, _ports_in_use(state, but=org))
    orgs.write_config(layout, org, state.chain_url, state.registry)
    layout.save(state)


# -- helpers ----------------------------------------------------------------------------------------


def _retry_on_taken_port(
    start: Callable[[], T], ports: Callable[[], tuple[int, ...]], move: Callable[[], None], attempts: int = 3
) -> T:
    """`start()`; if it fails because another program took one of its `ports()` meanwhile (the machine is
    shared: tests, other devnets), `move()` to free ports and try again."""
    for attempt in range(attempts):
        try:
            return start()
        except ProcessError:
            if attempt == attempts - 1 or all(port_is_free(port) for port in ports()):
                raise
            move()
    raise AssertionError("unreachable")


def _running(state: DevnetState, name: str) -> bool:
    record = state.processes.get(name)
    return record is not None and record.alive()


def _record(layout: Layout, state: DevnetState, started: list[str], name: str, record: ProcessRecord) -> None:
    # Saved at once: if `up` itself dies now, `down` still finds the PID.
    state.processes[name] = record
    started.append(name)
    layout.save(state)


def _ports_in_use(state: DevnetState, but: OrgState) -> list[int]:
    ports = [state.chain_port]
    for org in state.orgs:
        if org is not but:
            ports += [org.node_port, org.ipfs_api_port, org.ipfs_swarm_port]
    return ports
