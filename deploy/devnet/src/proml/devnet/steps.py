"""The steps of `proml devnet up`, each idempotent: it looks at what exists (keys, balances, registry,
members, running processes, free ports) and does only what is missing, saving the state as it goes.

Per organisation, `up` starts a geth Clique sealer (or, for fast tests, one shared anvil), a Kubo daemon
in the private network, an IPFS Cluster peer over that Kubo, and the organisation's node, which talks only
to its own geth, Kubo and cluster peer.
"""

from __future__ import annotations

import secrets
import string
import subprocess
from collections.abc import Callable, Sequence
from typing import TypeVar

from proml.node.clients.chain import ChainClient
from proml.node.consortium import deploy_registry, member

from . import cluster, consortium, kubo, nodes, orgs
from .anvil import CHAIN_ID as ANVIL_CHAIN_ID
from .anvil import Anvil
from .geth import CLIQUE_CHAIN_ID, Geth, enode_url, seal_from_genesis, write_genesis, write_node_key
from .processes import (
    ProcessError,
    ProcessRecord,
    choose_port,
    port_is_free,
    wait_until,
    write_private,
    write_swarm_key,
)
from .state import DEFAULT_ORGS, ChainKind, DevnetState, Layout, OrgState, Ports

Echo = Callable[[str], None]
T = TypeVar("T")


def confirmations(chain: ChainKind, signers: int) -> int:
    """The confirmations a devnet node waits for before it calls a record final. Clique lets a signer
    seal one block in any floor(N/2) + 1 in a row, so that many blocks in a row have as many distinct
    signers, a majority: a record's block with floor(N/2) blocks on top is on the branch the majority
    seals, and signers cut off from the majority can never make a block look final (docs/devnet.md).
    anvil mines each transaction at once, alone: nothing can reorganise it."""
    return signers // 2 + 1 if chain == "clique" else 1


CHAIN_IDS: dict[ChainKind, int] = {"clique": CLIQUE_CHAIN_ID, "anvil": ANVIL_CHAIN_ID}


class DevnetError(RuntimeError):
    """The devnet could not be started, read or stopped; the message says what to do."""


def default_names(count: int) -> list[str]:
    """A, B, C, …, Z, then AA, AB, …"""
    letters = string.ascii_uppercase
    return [letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26] for i in range(count)]


def new_state(
    layout: Layout, count: int | None, names: Sequence[str] | None, ports: Ports, chain: ChainKind
) -> DevnetState:
    chosen = list(names) if names else default_names(count if count is not None else DEFAULT_ORGS)
    if count is not None and count != len(chosen):
        raise DevnetError(f"--orgs {count} but {len(chosen)} names given")
    if not 1 <= len(chosen) <= 9:
        raise DevnetError("a devnet has 1 to 9 organisations")
    check_names(chosen)
    layout.root.mkdir(parents=True, exist_ok=True)
    state = DevnetState(
        chain=chain, orgs=[], chain_id=CHAIN_IDS[chain], confirmations=confirmations(chain, len(chosen))
    )
    if chain == "anvil":
        state.anvil_port = choose_port(ports.chain)
    for i, name in enumerate(chosen):
        roles = consortium.FOUNDER_ROLES if i == 0 else consortium.MEMBER_ROLES
        state.orgs.append(new_org(layout, state, name, int(roles), ports, i))
    if chain == "clique":
        founders = [org.sealer for org in state.orgs]
        funded = {org.address: consortium.FUNDING for org in state.orgs}
        write_genesis(layout.genesis, founders, funded, chain_id=state.chain_id)
        for org in state.orgs:
            org.signer = True
    layout.save(state)
    return state


def check_names(names: Sequence[str], existing: Sequence[str] = ()) -> None:
    everyone = [*existing, *names]
    if len(set(everyone)) != len(everyone) or not all(n and n.isalnum() for n in names):
        raise DevnetError(f"organisation names must be distinct and alphanumeric, not {list(names)}")


def new_org(layout: Layout, state: DevnetState, name: str, roles: int, ports: Ports, i: int) -> OrgState:
    """An organisation's keys and ports (base + i where free, any free port for the engines' own)."""
    taken = [state.anvil_port, *(port for org in state.orgs for port in org.ports())]

    def pick(base: int) -> int:
        port = choose_port(base + i if base else 0, taken)
        taken.append(port)
        return port

    org = OrgState(
        name=name,
        address=orgs.ensure_key(layout, name),
        roles=roles,
        node_port=pick(ports.node),
        ipfs_api_port=pick(ports.ipfs_api),
        ipfs_swarm_port=pick(ports.ipfs_swarm),
        cluster_port=pick(ports.cluster),
        cluster_swarm_port=pick(0),
        cluster_proxy_port=pick(0),
    )
    if state.chain == "clique":
        org.chain_port, org.chain_p2p_port, org.chain_authrpc_port = pick(ports.chain), pick(0), pick(0)
        org.sealer = orgs.ensure_sealer_key(layout, name)
    return org


# The ports people and their tools use (what `OrgState` holds, what `Ports` starts from).
_USER_PORTS = (
    ("node API", "node_port", "node"),
    ("chain JSON-RPC", "chain_port", "chain"),
    ("Kubo RPC API", "ipfs_api_port", "ipfs_api"),
    ("Kubo swarm", "ipfs_swarm_port", "ipfs_swarm"),
    ("IPFS Cluster REST API", "cluster_port", "cluster"),
)
_ANVIL = "the chain (anvil)"


def user_ports(state: DevnetState) -> dict[str, int]:
    """The ports of the devnet that people and their tools reach, by what they are."""
    found = {
        f"{org.name}'s {what}": getattr(org, attr) for org in state.orgs for what, attr, _ in _USER_PORTS
    }
    if state.chain == "anvil":
        found[_ANVIL] = state.anvil_port
    return {what: port for what, port in found.items() if port}


def preferred_ports(state: DevnetState, ports: Ports) -> dict[str, int]:
    """What a new devnet asked for: organisation i base + i (0: any free port, which is never a move)."""
    found = {
        f"{org.name}'s {what}": getattr(ports, base) + i
        for i, org in enumerate(state.orgs)
        for what, _, base in _USER_PORTS
        if getattr(ports, base) and (base != "chain" or state.chain == "clique")
    }
    if state.chain == "anvil" and ports.chain:
        found[_ANVIL] = ports.chain
    return found


def port_moves(wanted: dict[str, int], now: dict[str, int]) -> list[str]:
    """A line for each port that is not the one wanted (it was taken)."""
    return [
        f"port moved: {what} is on {now[what]}, not {port} (taken by another program)"
        for what, port in wanted.items()
        if what in now and now[what] != port
    ]


def check_same(state: DevnetState, count: int | None, names: Sequence[str] | None, layout: Layout) -> None:
    have = [org.name for org in state.orgs]
    if (count is not None and count != len(have)) or (names and list(names) != have):
        raise DevnetError(
            f"the devnet in {layout.root} has the organisations {', '.join(have)}: run `up` without "
            "--orgs/--names to resume it, or `down --purge` first to start a new one"
        )


# -- the chain --------------------------------------------------------------------------------------


def ensure_chain(layout: Layout, state: DevnetState, started: list[str], echo: Echo) -> None:
    if state.chain == "anvil":
        _ensure_anvil(layout, state, started, echo)
        return
    starting = [org for org in state.orgs if not running(state, f"geth:{org.name}")]
    if len(starting) > 1 and not any(geth_of(layout, state, org).initialised() for org in state.orgs):
        # A new chain: one signer seals block 1 before the others may (geth.seal_from_genesis).
        first, rest = starting[0], starting[1:]

        def start_rest() -> list[Geth]:
            for org in rest:
                ensure_geth(layout, state, org, started, echo)
            return [geth_of(layout, state, org) for org in rest]

        ensure_geth(layout, state, first, started, echo)
        seal_from_genesis(geth_of(layout, state, first), start_rest)
        return
    for org in starting:
        ensure_geth(layout, state, org, started, echo)
    if starting:
        seal_when_connected(layout, state, starting)


def _ensure_anvil(layout: Layout, state: DevnetState, started: list[str], echo: Echo) -> None:
    if running(state, "anvil"):
        return
    anvil = Anvil(layout.chain_dir, state=layout.chain_state, port=state.anvil_port, detach=True)
    anvil.start()
    assert anvil.process is not None
    state.anvil_port = anvil.port
    _record(layout, state, started, "anvil", ProcessRecord.of(anvil.process))
    echo(f"chain: anvil on {state.chain_url()} (pid {anvil.pid})")


def geth_of(layout: Layout, state: DevnetState, org: OrgState) -> Geth:
    return Geth(
        "geth",
        layout.geth_dir(org.name),
        layout.genesis,
        org.sealer,
        orgs.sealer_password(layout, org.name),
        http_port=org.chain_port,
        p2p_port=org.chain_p2p_port,
        authrpc_port=org.chain_authrpc_port,
        chain_id=state.chain_id,
        detach=True,
    )


def ensure_geth(layout: Layout, state: DevnetState, org: OrgState, started: list[str], echo: Echo) -> None:
    """Start `org`'s geth, not sealing yet, with every other organisation's geth as a static peer (their
    enodes are known in advance: each node's P2P key is written before its first start)."""
    name = f"geth:{org.name}"
    if running(state, name):
        return
    geth = geth_of(layout, state, org)
    if not org.enode:
        org.chain_p2p_port = choose_port(org.chain_p2p_port, _ports_in_use(state, but=org))
        org.enode = enode_url(write_node_key(geth.datadir, secrets.token_bytes(32)), org.chain_p2p_port)
    peers = [other.enode for other in state.orgs if other is not org and other.enode]
    geth.start(peers, seal=False)
    assert geth.process is not None
    org.chain_port, org.chain_authrpc_port = geth.http_port, geth.authrpc_port
    if geth.p2p_port != org.chain_p2p_port:  # it had to move: the others must learn the new address
        org.chain_p2p_port, org.enode = geth.p2p_port, geth.enode()
        for other in state.orgs:
            if other is not org and running(state, f"geth:{other.name}"):
                geth_of(layout, state, other).add_peer(org.enode)
    _record(layout, state, started, name, ProcessRecord.of(geth.process))
    echo(f"chain: {org.name}'s geth, sealer {org.sealer}, on {state.chain_url(org)} (pid {geth.pid})")


def seal_when_connected(
    layout: Layout, state: DevnetState, starting: Sequence[OrgState], timeout: float = 60.0
) -> None:
    """Once each geth of `starting` sees every other running geth, they seal (the signers among them)."""
    alive = [org for org in state.orgs if running(state, f"geth:{org.name}")]
    for org in starting:
        geth = geth_of(layout, state, org)

        def connected(geth: Geth = geth) -> bool:
            return geth.peers() >= len(alive) - 1

        wait_until(
            connected, what=f"{org.name}'s geth connected to the other organisations'", timeout=timeout
        )
    for org in starting:
        geth_of(layout, state, org).start_sealing()


def ensure_consortium(layout: Layout, state: DevnetState, echo: Echo) -> None:
    client = ChainClient(state.chain_url())
    if state.registry and client.get_code(state.registry):
        if all(member(client, state.registry, org.address).active for org in state.orgs):
            return
    elif state.registry:
        raise DevnetError(
            f"the chain has no registry at {state.registry} (was the chain's data removed?): "
            "run `proml devnet down --purge` and `up` again"
        )
    keys = [(org.name, orgs.private_key(layout, org.name)) for org in state.orgs]
    providers = [(name, consortium.provider(client, key, state.chain_id)) for name, key in keys]
    if state.chain == "anvil":  # a Clique devnet funds its organisations in the genesis
        consortium.fund(consortium.anvil_bank(client), [p.address for _, p in providers])
    if not state.registry:
        state.registry = deploy_registry(providers[0][1], providers[0][0])
        layout.save(state)
        echo(f"registry: {state.registry} (founder {state.orgs[0].name})")
    for count in range(1, len(providers)):
        org = state.orgs[count]
        consortium.admit(state.registry, providers[:count], (org.name, org.address), org.roles)
        echo(f"member: {org.name} {org.address}")


# -- IPFS: Kubo and the cluster ---------------------------------------------------------------------


def ensure_ipfs(layout: Layout, state: DevnetState, started: list[str], echo: Echo) -> None:
    if not layout.swarm_key.exists():
        write_swarm_key(layout.swarm_key)
    for org in state.orgs:
        ensure_kubo(layout, state, org, started, echo)
    connect_kubos(state)


def connect_kubos(state: DevnetState) -> None:
    """Every Kubo peers with every other one now, and keeps doing so (`Peering.Peers` of the running
    daemons; each start writes the whole list into the repo)."""
    for org in state.orgs:
        kubo.add_peering(org.ipfs_api, [o.swarm_addr for o in state.orgs if o is not org])
    kubo.connect_swarm([o.ipfs_api for o in state.orgs], [o.swarm_addr for o in state.orgs])


def ensure_kubo(layout: Layout, state: DevnetState, org: OrgState, started: list[str], echo: Echo) -> None:
    name = f"ipfs:{org.name}"
    if running(state, name):
        return
    peers = [(o.peer_id, o.swarm_addr) for o in state.orgs if o is not org and o.peer_id]
    daemon = kubo.start_kubo(
        org.name,
        layout.ipfs_repo(org.name),
        layout.swarm_key,
        log_path=layout.ipfs_log(org.name),
        api_port=choose_port(org.ipfs_api_port, _ports_in_use(state, but=org)),
        swarm_port=org.ipfs_swarm_port,
        peers=peers,
        detach=True,
    )
    org.ipfs_api_port, org.ipfs_swarm_port, org.peer_id = daemon.api_port, daemon.swarm_port, daemon.peer_id
    _record(layout, state, started, name, ProcessRecord.of(daemon.process))
    echo(f"ipfs: {org.name}'s Kubo on {org.ipfs_api} (pid {daemon.pid})")


def ensure_cluster(layout: Layout, state: DevnetState, started: list[str], echo: Echo) -> None:
    if not layout.cluster_secret.exists():
        write_private(layout.cluster_secret, cluster.new_cluster_secret() + "\n")
    secret = layout.cluster_secret.read_text(encoding="utf-8").strip()
    for org in state.orgs:
        if not org.cluster_peer_id:
            org.cluster_peer_id = cluster.init_peer(
                layout.cluster_dir(org.name),
                secret,
                ipfs_api_multiaddr=f"/ip4/127.0.0.1/tcp/{org.ipfs_api_port}",
                listen_port=org.cluster_swarm_port,
                rest_port=org.cluster_port,
                proxy_port=org.cluster_proxy_port,
                pinsvc_port=None,
                trusted_peers=[],
                peer_addrs=[],
            )
            layout.save(state)
    trusted = [org.cluster_peer_id for org in state.orgs]
    for org in state.orgs:
        name = f"cluster:{org.name}"
        if running(state, name):
            continue
        folder = layout.cluster_dir(org.name)
        cluster.configure_peer(
            folder,
            ipfs_api_multiaddr=f"/ip4/127.0.0.1/tcp/{org.ipfs_api_port}",
            trusted_peers=trusted,
            peer_addrs=[o.cluster_addr for o in state.orgs if o is not org],
        )
        peer = cluster.start_cluster_peer(
            org.name, folder, log_path=layout.cluster_log(org.name), detach=True
        )
        org.cluster_port, org.cluster_swarm_port = peer.rest_port, peer.listen_port
        _record(layout, state, started, name, ProcessRecord.of(peer.process))
        echo(f"cluster: {org.name}'s IPFS Cluster peer on {org.cluster_api} (pid {peer.pid})")
    cluster.wait_connected([org.cluster_api for org in state.orgs])


def stop_cluster_peer(layout: Layout, state: DevnetState, org: OrgState) -> None:
    """Stop `org`'s cluster peer if it runs: `ensure_cluster` starts it again on a configuration written
    anew (e.g. to trust an organisation that joined)."""
    record = state.processes.pop(f"cluster:{org.name}", None)
    if record is not None:
        record.stop()
        layout.save(state)


# -- a new organisation -----------------------------------------------------------------------------


def join_org(
    layout: Layout, state: DevnetState, name: str, ports: Ports, started: list[str], echo: Echo
) -> OrgState:
    """Everything a new organisation needs up to its node: keys, governance, the Clique vote, its engines."""
    if state.chain != "clique":
        raise DevnetError("organisations join a Clique devnet (`up --chain clique`); anvil has no signers")
    check_names([name], [org.name for org in state.orgs])
    members = [org for org in state.orgs if running(state, f"geth:{org.name}")]
    if not state.registry or len(members) < len(state.orgs):
        raise DevnetError("the devnet must be running to admit an organisation: run `proml devnet up` first")
    org = new_org(layout, state, name, int(consortium.MEMBER_ROLES), ports, len(state.orgs))
    state.orgs.append(org)
    layout.save(state)

    client = ChainClient(state.chain_url())
    providers = [
        (m.name, consortium.provider(client, orgs.private_key(layout, m.name), state.chain_id))
        for m in members
    ]
    consortium.fund(providers[0][1], [org.address], consortium.JOINING_FUNDING)
    consortium.admit(state.registry, providers, (org.name, org.address), org.roles)
    echo(f"member: {org.name} {org.address} admitted by governance")

    ensure_geth(layout, state, org, started, echo)
    seal_when_connected(layout, state, [org])
    vote_signer(layout, state, org)
    echo(f"chain: {org.name}'s sealer {org.sealer} voted into the Clique signer set")

    ensure_kubo(layout, state, org, started, echo)
    connect_kubos(state)
    for other in state.orgs[:-1]:
        stop_cluster_peer(layout, state, other)
    ensure_cluster(layout, state, started, echo)
    return org


def vote_signer(layout: Layout, state: DevnetState, newcomer: OrgState, timeout: float = 60.0) -> None:
    """The signers propose `newcomer`'s sealer until Clique counts a majority, then wait until it signs."""
    signers = [org for org in state.orgs if org.signer]
    for org in signers:
        geth_of(layout, state, org).propose(newcomer.sealer, True)
    geth = geth_of(layout, state, newcomer)
    wait_until(
        lambda: newcomer.sealer.lower() in {s.lower() for s in geth.signers()},
        what=f"the Clique vote for {newcomer.name}'s sealer",
        timeout=timeout,
    )
    newcomer.signer = True
    layout.save(state)


# -- the nodes --------------------------------------------------------------------------------------


def ensure_configs(layout: Layout, state: DevnetState, echo: Echo) -> None:
    for org in state.orgs:
        node = f"node:{org.name}"
        if not running(state, node):
            org.node_port = choose_port(org.node_port, _ports_in_use(state, but=org))
        if orgs.write_config(layout, state, org) and running(state, node):
            # Its chain or IPFS daemon moved to another port: the running node would keep the old one.
            state.processes.pop(node).stop()
            echo(f"node: {org.name} stopped to restart on its new configuration")
        orgs.ensure_api_key(layout, org)
    layout.save(state)


def ensure_nodes(layout: Layout, state: DevnetState, started: list[str], echo: Echo) -> None:
    for org in state.orgs:
        name = f"node:{org.name}"
        if running(state, name):
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
    orgs.write_config(layout, state, org)
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


def running(state: DevnetState, name: str) -> bool:
    record = state.processes.get(name)
    return record is not None and record.alive()


def _record(layout: Layout, state: DevnetState, started: list[str], name: str, record: ProcessRecord) -> None:
    # Saved at once: if `up` itself dies now, `down` still finds the PID.
    state.processes[name] = record
    started.append(name)
    layout.save(state)


def _ports_in_use(state: DevnetState, but: OrgState) -> list[int]:
    ports = [state.anvil_port]
    for org in state.orgs:
        if org is not but:
            ports += org.ports()
    return ports
