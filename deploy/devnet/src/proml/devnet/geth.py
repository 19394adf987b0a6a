"""A real geth (go-ethereum v1.13.15) process sealing Clique proof-of-authority blocks: the devnet's
consortium chain, one process per organisation.

v1.13.15 is the last release that seals Clique blocks. The genesis puts London at block 0 and no later
fork (Clique refuses Shanghai) and names the first signers in `extraData`; a signer joins or leaves later
by the votes of a majority (`propose`). Each process has its own datadir and ports, no discovery, and
peers only with the nodes it is told about.

The sealing key is geth's, in the datadir's keystore, unlocked at start with a password file: it is not
an organisation's ProML signing key, which stays with the ProML node (geth unlocks an account for the
whole life of the process, behind an HTTP API that anyone on the machine can call).

Peers, as 1.13.15 handles them (checked on the real binary). `admin_removePeer` disconnects the peer
and drops it from the running node's static set, so that this side no longer dials it; but the other
side, if it has this node as a static peer, dials back in about 35 s: isolating takes `remove_peer` on
both sides. Both last while the processes run: a restart reads the static peers from the `--config` file
again (`start(static_peers=())` restarts a node alone). `admin_addPeer` does not dial a node this process
dialed in the last 35 s (geth's dial history), so reconnecting two running nodes can take that long; a
freshly started process dials at once. A node that is behind syncs only after its forced sync cycle
(10 s after it started or last synced) when it has fewer than 5 peers.

Starting signers from the genesis: each one that seals before it is connected seals its own block 1, and
then none can seal again (each signed recently) until a sync puts them on one branch; so start them with
`seal=False`, connect them, then `start_sealing()` every one.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from coincurve import PrivateKey
from eth_account import Account
from eth_utils.address import to_checksum_address

from proml.node.clients.chain import ChainClient, ChainClientError
from proml.node.production.chain_files import clique_genesis

from .engines import geth as geth_binary
from .processes import (
    ProcessError,
    choose_port,
    listens_on,
    log_tail,
    private_dir,
    spawn,
    stop_process,
    wait_until,
    write_private,
)

CLIQUE_CHAIN_ID = 1337
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
INIT_TIMEOUT = 60.0
# The keystore's scrypt work factor: geth's standard one, and its light one (for throwaway test keys:
# unlocking a standard key takes geth about a second and 256 MiB).
STANDARD_SCRYPT_N = 1 << 18
LIGHT_SCRYPT_N = 1 << 12
HTTP_APIS = "eth,net,web3,clique,admin,txpool,miner"
# Minimum tip, in wei, that the pool accepts and the sealer includes: a development chain takes cheap
# transactions (geth's defaults would refuse or postpone what the node's fee logic offers on an empty
# chain, whose base fee falls to a few wei).
MIN_TIP = 1


class GethFailed(ProcessError):
    """geth could not be initialised or started, or did not answer as expected."""


# -- genesis ----------------------------------------------------------------------------------------


def write_genesis(
    path: Path,
    signers: Sequence[str],
    alloc: Mapping[str, int],
    chain_id: int = CLIQUE_CHAIN_ID,
    period: int = 1,
) -> Path:
    """The Clique genesis of `signers` (`proml.node.production.chain_files.clique_genesis`, as a real
    consortium's) as a JSON file at `path`: every node of the chain is initialised from it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    genesis = clique_genesis(signers, alloc, chain_id=chain_id, period=period)
    path.write_text(json.dumps(genesis, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


# -- the sealing key --------------------------------------------------------------------------------


def password_file(datadir: Path) -> Path:
    """Where `write_sealer_key` puts the sealing key's password (readable by its owner only)."""
    return datadir / "sealer.password"


def write_sealer_key(
    datadir: Path, private_key: bytes, password: str, *, scrypt_n: int = STANDARD_SCRYPT_N
) -> str:
    """Store the sealing key as a geth v3 keystore file in `datadir/keystore/` and its password in
    `password_file(datadir)`, both readable by their owner only; the key's address.

    Writing the same key again replaces its file (geth refuses to unlock an address with two files).
    `scrypt_n` is the key file's work factor: with geth's standard one, unlocking at start takes geth
    about 5 s and leaves it at about 320 MB of memory instead of 60 MB; `LIGHT_SCRYPT_N` (geth's light
    one) unlocks at once, for development chains whose key file is protected by its mode alone anyway.
    """
    keystore = Account.encrypt(private_key, password, kdf="scrypt", iterations=scrypt_n)
    address = to_checksum_address("0x" + str(keystore["address"]))
    folder = private_dir(private_dir(datadir) / "keystore")
    # A fixed name, so that writing it again replaces it; geth reads every file in the folder.
    write_private(folder / f"sealer--{address[2:].lower()}.json", json.dumps(keystore))
    write_private(password_file(datadir), password + "\n")
    return address


# -- the node key (its P2P identity) ------------------------------------------------------------


def node_id(node_key: bytes) -> str:
    """The node ID (the public key, 64 bytes in hex) of a P2P node key: what an enode URL names."""
    return PrivateKey(node_key).public_key.format(compressed=False)[1:].hex()


def write_node_key(datadir: Path, node_key: bytes) -> str:
    """Give the node its P2P key (`datadir/geth/nodekey`) before it first starts, so that its enode URL
    is known in advance and every node's static peers can be written before any starts; its node ID.
    Without it geth makes a random one at its first start (`Geth.enode()` reads it then)."""
    write_private(datadir / "geth" / "nodekey", node_key.hex())
    return node_id(node_key)


def enode_url(node: str, p2p_port: int) -> str:
    """The enode URL of node ID `node` listening on loopback port `p2p_port`."""
    return f"enode://{node}@127.0.0.1:{p2p_port}"


# -- the process ------------------------------------------------------------------------------------


class Geth:
    """One geth process that seals with `sealer`'s key. `start()` / `stop()` may be called again: a
    restart keeps the datadir (the chain) and tries the ports it had first, so its enode stays the same.

    Ports are tried first when free (0: any free port). `detach` lets it outlive this Python process (the
    devnet). The log is `<datadir's parent>/<name>.log`.
    """

    def __init__(
        self,
        name: str,
        datadir: Path,
        genesis: Path,
        sealer: str,
        password: Path,
        *,
        http_port: int = 0,
        p2p_port: int = 0,
        authrpc_port: int = 0,
        detach: bool = False,
        chain_id: int = CLIQUE_CHAIN_ID,
        verbosity: int = 3,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.datadir = datadir
        self.genesis = genesis
        self.sealer = to_checksum_address(sealer)
        self.password = password
        self.http_port = http_port
        self.p2p_port = p2p_port
        self.authrpc_port = authrpc_port
        self.detach = detach
        self.chain_id = chain_id
        self.verbosity = verbosity
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = datadir.parent / f"{name}.log"
        self.config_path = datadir / "proml-geth.toml"
        self._rpc: ChainClient | None = None

    def __repr__(self) -> str:
        return f"Geth({self.name!r}, sealer={self.sealer}, http={self.http_port}, p2p={self.p2p_port})"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise GethFailed(f"geth {self.name} is not running")
        return self.process.pid

    def client(self, timeout: float = 30.0) -> ChainClient:
        return ChainClient(self.url, timeout=timeout)

    def _client(self) -> ChainClient:
        """One client per URL (the port may change on a restart), so that calls reuse a connection."""
        if self._rpc is None or self._rpc.url != self.url:
            self._rpc = self.client(timeout=10.0)
        return self._rpc

    def rpc(self, method: str, *params: Any) -> Any:
        """A raw JSON-RPC call, e.g. `geth.rpc("admin_peers")`."""
        return self._client().request(method, params)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return log_tail(self.log_path, lines=10_000)

    # -- init, start, stop ------------------------------------------------------------------------

    def initialised(self) -> bool:
        return (self.datadir / "geth" / "chaindata").is_dir()

    def init(self) -> None:
        """`geth init` the datadir with the genesis, once (a datadir that holds a chain is left alone)."""
        if self.initialised():
            return
        private_dir(self.datadir)
        command = [str(geth_binary()), "--datadir", str(self.datadir), "init", str(self.genesis)]
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=INIT_TIMEOUT, check=False, umask=0o077
            )
        except subprocess.TimeoutExpired as exc:
            raise GethFailed(f"geth init {self.name} took more than {INIT_TIMEOUT:g} s") from exc
        if done.returncode != 0 or not self.initialised():
            output = (done.stdout + done.stderr).decode("utf-8", "replace")
            raise GethFailed(f"geth init {self.name} failed with {done.returncode}:\n{output[-4000:]}")

    def write_config(self, static_peers: Sequence[str]) -> Path:
        """The TOML `--config`: the static peers (1.13 ignores static-nodes.json) and the P2P listen
        address, on loopback only (`--port` would listen on every interface)."""
        peers = ", ".join(json.dumps(enode) for enode in static_peers)
        text = f'[Node.P2P]\nListenAddr = "127.0.0.1:{self.p2p_port}"\nStaticNodes = [{peers}]\n'
        write_private(self.config_path, text)
        return self.config_path

    def command(self, seal: bool = True) -> list[str]:
        return [
            str(geth_binary()),
            "--config", str(self.config_path),
            "--datadir", str(self.datadir),
            "--networkid", str(self.chain_id),
            "--syncmode", "full",
            "--nodiscover",
            "--nat", "none",
            "--ipcdisable",
            "--http",
            "--http.addr", "127.0.0.1",
            "--http.port", str(self.http_port),
            "--http.api", HTTP_APIS,
            "--authrpc.addr", "127.0.0.1",
            "--authrpc.port", str(self.authrpc_port),
            *(["--mine"] if seal else []),
            "--miner.etherbase", self.sealer,
            "--miner.gasprice", str(MIN_TIP),
            "--txpool.pricelimit", str(MIN_TIP),
            "--unlock", self.sealer,
            "--password", str(self.password),
            "--allow-insecure-unlock",
            "--verbosity", str(self.verbosity),
            *self.extra_args,
        ]  # fmt: skip

    def start(self, static_peers: Sequence[str] = (), *, seal: bool = True, attempts: int = 3) -> Geth:
        """Start geth (after `init()`) with `static_peers` (enode URLs) and wait until it answers on HTTP,
        listens for peers and, with `seal`, seals; a port taken meanwhile is replaced by another, up to
        `attempts` times.

        `seal=False` starts it with the key unlocked but not sealing, until `start_sealing()`: signers
        started together from the genesis should all be connected before any of them seals, or each seals
        its own block 1 at once and, each having signed recently, none can go on until geth's next forced
        sync (every 10 s with fewer than 5 peers) puts them on one branch.
        """
        if self.running():
            raise GethFailed(f"geth {self.name} is already running (pid {self.pid})")
        if not self.initialised():
            self.init()
        last = ""
        for _ in range(attempts):
            taken: list[int] = []
            ports = []
            for preferred in (self.http_port, self.p2p_port, self.authrpc_port):
                ports.append(choose_port(preferred, taken))
                taken.append(ports[-1])
            self.http_port, self.p2p_port, self.authrpc_port = ports
            self.write_config(static_peers)
            self.process = spawn(self.command(seal), self.log_path, detach=self.detach)
            try:
                self._wait_ready(seal)
                return self
            except ProcessError as exc:
                last = str(exc)
                self.stop()
                # Another program may hold one of them: ask for any free ports next time.
                self.http_port = self.p2p_port = self.authrpc_port = 0
        raise GethFailed(last)

    def _wait_ready(self, seal: bool) -> None:
        client = self.client(timeout=2.0)

        def answers() -> bool:
            with suppress(ChainClientError):
                # ... this geth, not a program that took the port first; with the key unlocked (geth
                # unlocks it after opening HTTP: signing fails until then), and sealing if asked.
                return (
                    client.chain_id() == self.chain_id
                    and listens_on(self.pid, self.http_port)
                    and listens_on(self.pid, self.p2p_port)
                    and bool(client.request("eth_sign", [self.sealer, "0x00"]))
                    and (not seal or bool(client.request("eth_mining")))
                )
            return False

        what = f"geth {self.name}"
        wait_until(answers, what=what, timeout=START_TIMEOUT, process=self.process, log_path=self.log_path)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM (geth flushes its state), wait, then SIGKILL, by PID; the exit code (None if it was not
        started)."""
        process, self.process = self.process, None
        if process is None:
            return None
        return stop_process(process, timeout)

    def start_sealing(self) -> None:
        """Seal from now on (`miner_start`), after `start(seal=False)`."""
        self.rpc("miner_start")

    def sealing(self) -> bool:
        return bool(self.rpc("eth_mining"))

    # -- peers ------------------------------------------------------------------------------------

    def enode(self) -> str:
        """This node's enode URL, on loopback and its P2P port."""
        url = str(self.rpc("admin_nodeInfo")["enode"])
        return enode_url(url.removeprefix("enode://").split("@", 1)[0], self.p2p_port)

    def add_peer(self, enode: str) -> bool:
        """Dial `enode` and keep it as a static peer (redialled while this process runs)."""
        return bool(self.rpc("admin_addPeer", enode))

    def remove_peer(self, enode: str) -> bool:
        """Disconnect `enode` and drop it from the static peers, so that this side never dials it again
        while this process runs. The other side may still dial in: isolate by removing both ways."""
        return bool(self.rpc("admin_removePeer", enode))

    def peers(self) -> int:
        return len(self.rpc("admin_peers"))

    def peer_ids(self) -> set[str]:
        """The node IDs (hex public keys) of the connected peers."""
        return {str(p["enode"]).removeprefix("enode://").split("@", 1)[0] for p in self.rpc("admin_peers")}

    # -- Clique -----------------------------------------------------------------------------------

    def propose(self, address: str, authorize: bool) -> None:
        """Vote, in the blocks this node seals from now on, to add (`authorize`) or drop a signer."""
        self.rpc("clique_propose", to_checksum_address(address), authorize)

    def signers(self) -> list[str]:
        """The signers at the head of this node's chain."""
        return [to_checksum_address(s) for s in self.rpc("clique_getSigners")]

    def signer_of(self, block_hash: str) -> str:
        """The signer that sealed block `block_hash` (recovered from its seal)."""
        return to_checksum_address(self.rpc("clique_getSigner", block_hash))

    def block_number(self) -> int:
        return self._client().block_number()

    def head_hash(self) -> str:
        block = self._client().get_block("latest")
        if block is None:
            raise GethFailed(f"geth {self.name} has no latest block")
        return block.hash

    def block_hash(self, number: int) -> str | None:
        """The hash of this node's canonical block `number` (None if it has none yet)."""
        block = self._client().get_block(number)
        return None if block is None else block.hash


def seal_from_genesis(
    first: Geth, start_others: Callable[[], Sequence[Geth]], timeout: float = START_TIMEOUT
) -> None:
    """Start a new chain's signers: `first` seals block 1 alone, then `start_others()` starts the others
    (not sealing), which sync it, and only then do they seal.

    Signers that all seal from the genesis at once each seal a block 1 of their own, and then none may sign
    block 2 (each signed recently). geth discards propagated blocks until it has synced once, and it
    syncs only from a peer whose handshake announced more work than its own: so the others must meet
    `first` after its block 1, and they then sync it on geth's forced sync cycle (about 10 s)."""
    first.start_sealing()
    wait_until(lambda: first.block_number() >= 1, what=f"{first.name} sealing block 1", timeout=timeout)
    others = start_others()
    wait_until(
        lambda: all(node.block_number() >= 1 for node in others),
        what="the other signers syncing block 1",
        timeout=timeout,
    )
    for node in others:
        node.start_sealing()
