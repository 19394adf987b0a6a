"""The devnet's folder and its state file, `devnet.json`: what `up` started (PIDs), where (ports), and
what it created (registry, organisations, their API keys).

Layout of the devnet folder:

    devnet.json              this state (mode 0600: it holds the development API keys)
    chain/state.json         anvil's chain, saved every second and loaded at start
    chain/anvil.log
    swarm.key                the private IPFS network's key
    orgs/<name>/             keystore.json, passphrase, node.toml, data/, ipfs/ (the IPFS repo),
                             ipfs.log, node.log
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .processes import ProcessRecord, write_private

STATE_FILE = "devnet.json"
FORMAT = 1
DEFAULT_DIR = Path(".proml-devnet")
DEFAULT_ORGS = 3
CHAIN_PORT = 8545
NODE_PORT = 8701
IPFS_API_PORT = 5001
IPFS_SWARM_PORT = 4001


@dataclass(frozen=True)
class Ports:
    """First ports to try (organisation i gets base + i); a port that is taken moves to a free one.
    0 means any free port."""

    chain: int = CHAIN_PORT
    node: int = NODE_PORT
    ipfs_api: int = IPFS_API_PORT
    ipfs_swarm: int = IPFS_SWARM_PORT


DEFAULT_PORTS = Ports()


class StateError(RuntimeError):
    pass


@dataclass
class OrgState:
    name: str
    address: str
    roles: int
    node_port: int
    ipfs_api_port: int
    ipfs_swarm_port: int
    peer_id: str = ""
    api_key_id: str = ""
    api_key: str = ""  # the secret, kept here because this is a development network (docs/devnet.md)

    @property
    def node_url(self) -> str:
        return f"http://127.0.0.1:{self.node_port}"

    @property
    def ipfs_api(self) -> str:
        return f"http://127.0.0.1:{self.ipfs_api_port}"

    @property
    def swarm_addr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.ipfs_swarm_port}/p2p/{self.peer_id}"


@dataclass
class DevnetState:
    chain_port: int
    orgs: list[OrgState]
    registry: str = ""
    processes: dict[str, ProcessRecord] = field(default_factory=dict)

    @property
    def chain_url(self) -> str:
        return f"http://127.0.0.1:{self.chain_port}"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chain_port": self.chain_port,
            "registry": self.registry,
            "orgs": [asdict(org) for org in self.orgs],
            "processes": {name: record.to_json() for name, record in self.processes.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DevnetState:
        if data.get("format") != FORMAT:
            raise StateError(f"unknown devnet state format {data.get('format')!r}")
        return cls(
            chain_port=int(data["chain_port"]),
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

    def ipfs_stdout(self, name: str) -> Path:
        return self.org_dir(name) / "ipfs.stdout"

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
