"""The devnet's folder and its state file, `devnet.json`: what `up` started (PIDs), where (ports), and
what it created (registry, organisations, their API keys).

Layout of the devnet folder:

    devnet.json              this state (mode 0600: it holds the development API keys)
    genesis.json             the Clique chain's genesis (its signers: the founding organisations' sealers)
    swarm.key                the private IPFS network's key
    cluster.secret           the IPFS Cluster's shared secret
    chain/                   anvil's chain (state.json, anvil.log), when the devnet runs on anvil
    orgs/<name>/             keystore.json, passphrase (the ProML signing key), node.toml, data/,
                             geth/ (the sealer's chain data and its own key), ipfs/ (the Kubo repo),
                             cluster/ (the IPFS Cluster peer), and each process's log
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .processes import ProcessRecord, write_private

STATE_FILE = "devnet.json"
FORMAT = 2
DEFAULT_DIR = Path(".proml-devnet")
DEFAULT_ORGS = 3
CHAIN_PORT = 8545
NODE_PORT = 8701
IPFS_API_PORT = 5001
IPFS_SWARM_PORT = 4001
CLUSTER_PORT = 9094

ChainKind = Literal["clique", "anvil"]
CHAIN_KINDS: tuple[ChainKind, ...] = ("clique", "anvil")


@dataclass(frozen=True)
class Ports:
    """First ports to try (organisation i gets base + i); a port that is taken moves to a free one.
    0 means any free port. Ports that only the engines use among themselves (geth's peer-to-peer and
    engine API, the cluster's own swarm and proxy) are always any free port."""

    chain: int = CHAIN_PORT
    node: int = NODE_PORT
    ipfs_api: int = IPFS_API_PORT
    ipfs_swarm: int = IPFS_SWARM_PORT
    cluster: int = CLUSTER_PORT


DEFAULT_PORTS = Ports()


class StateError(RuntimeError):
    pass


@dataclass
class OrgState:
    name: str
    address: str  # the ProML signing key's address: the member in the registry
    roles: int
    node_port: int
    ipfs_api_port: int
    ipfs_swarm_port: int
    cluster_port: int  # the cluster peer's REST API
    cluster_swarm_port: int
    cluster_proxy_port: int
    chain_port: int = 0  # the organisation's geth: JSON-RPC over HTTP (0 on anvil, which all share)
    chain_p2p_port: int = 0
    chain_authrpc_port: int = 0
    sealer: str = ""  # the address geth seals blocks with: not the ProML key (docs/devnet.md)
    signer: bool = False  # in Clique's signer set
    enode: str = ""  # its geth's peer-to-peer address
    peer_id: str = ""
    cluster_peer_id: str = ""
    api_key_id: str = ""
    api_key: str = ""  # the secret, kept here because this is a development network (docs/devnet.md)

    @property
    def node_url(self) -> str:
        return f"http://127.0.0.1:{self.node_port}"

    @property
    def ipfs_api(self) -> str:
        return f"http://127.0.0.1:{self.ipfs_api_port}"

    @property
    def cluster_api(self) -> str:
        return f"http://127.0.0.1:{self.cluster_port}"

    @property
    def swarm_addr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.ipfs_swarm_port}/p2p/{self.peer_id}"

    @property
    def cluster_addr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.cluster_swarm_port}/p2p/{self.cluster_peer_id}"

    def ports(self) -> list[int]:
        return [
            self.node_port,
            self.ipfs_api_port,
            self.ipfs_swarm_port,
            self.cluster_port,
            self.cluster_swarm_port,
            self.cluster_proxy_port,
            self.chain_port,
            self.chain_p2p_port,
            self.chain_authrpc_port,
        ]


@dataclass
class DevnetState:
    chain: ChainKind
    orgs: list[OrgState]
    chain_id: int
    anvil_port: int = 0  # when `chain` is anvil: the one chain every organisation uses
    confirmations: int = 1
    registry: str = ""
    processes: dict[str, ProcessRecord] = field(default_factory=dict)

    def chain_url(self, org: OrgState | None = None) -> str:
        """The chain's JSON-RPC as `org` reaches it: its own geth (the first organisation's when `org`
        is None), or the shared anvil."""
        if self.chain == "anvil":
            return f"http://127.0.0.1:{self.anvil_port}"
        return f"http://127.0.0.1:{(org or self.orgs[0]).chain_port}"

    def org(self, name: str) -> OrgState:
        for org in self.orgs:
            if org.name == name:
                return org
        raise StateError(f"the devnet has no organisation {name!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chain": self.chain,
            "chain_id": self.chain_id,
            "anvil_port": self.anvil_port,
            "confirmations": self.confirmations,
            "registry": self.registry,
            "orgs": [asdict(org) for org in self.orgs],
            "processes": {name: record.to_json() for name, record in self.processes.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DevnetState:
        if data.get("format") != FORMAT:
            raise StateError(
                f"this devnet was made by another version of ProML (state format {data.get('format')!r}): "
                "run `proml devnet down --purge` and `up` again"
            )
        return cls(
            chain=data["chain"],
            chain_id=int(data["chain_id"]),
            anvil_port=int(data.get("anvil_port", 0)),
            confirmations=int(data.get("confirmations", 1)),
            registry=str(data.get("registry", "")),
            orgs=[OrgState(**org) for org in data["orgs"]],
            processes={name: ProcessRecord.from_json(rec) for name, rec in data.get("processes", {}).items()},
        )


class Layout:
    """Where everything of the devnet rooted at `root` lives."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def chain_dir(self) -> Path:
        return self.root / "chain"

    @property
    def chain_state(self) -> Path:
        return self.chain_dir / "state.json"

    @property
    def swarm_key(self) -> Path:
        return self.root / "swarm.key"

    @property
    def cluster_secret(self) -> Path:
        return self.root / "cluster.secret"

    @property
    def genesis(self) -> Path:
        return self.root / "genesis.json"

    def org_dir(self, name: str) -> Path:
        return self.root / "orgs" / name

    def keystore(self, name: str) -> Path:
        return self.org_dir(name) / "keystore.json"

    def passphrase(self, name: str) -> Path:
        return self.org_dir(name) / "passphrase"

    def config(self, name: str) -> Path:
        return self.org_dir(name) / "node.toml"

    def data_dir(self, name: str) -> Path:
        return self.org_dir(name) / "data"

    def ipfs_repo(self, name: str) -> Path:
        return self.org_dir(name) / "ipfs"

    def ipfs_log(self, name: str) -> Path:
        return self.org_dir(name) / "ipfs.log"

    def geth_dir(self, name: str) -> Path:
        return self.org_dir(name) / "geth"

    def cluster_dir(self, name: str) -> Path:
        return self.org_dir(name) / "cluster"

    def cluster_log(self, name: str) -> Path:
        return self.org_dir(name) / "cluster.log"

    def node_log(self, name: str) -> Path:
        return self.org_dir(name) / "node.log"

    def exists(self) -> bool:
        return self.state_file.is_file()

    def load(self) -> DevnetState:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            return DevnetState.from_json(data)
        except FileNotFoundError:
            raise StateError(f"no devnet in {self.root}: start one with `proml devnet up`") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(
                f"{self.state_file} is damaged ({exc}): remove the folder and run up again"
            ) from None

    def save(self, state: DevnetState) -> None:
        write_private(self.state_file, json.dumps(state.to_json(), indent=2) + "\n")
