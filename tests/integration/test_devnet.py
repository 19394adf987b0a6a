"""`proml devnet`: a real local consortium (geth Clique sealers, Kubo daemons, IPFS Cluster peers, nodes) in
a temporary folder.

- `up --orgs 3`: registry deployed, every organisation an active member with its roles (read by eth_call),
  its own sealer in Clique's signer set (not its ProML key), the Kubo daemons peers of each other, the
  cluster peers one cluster, configs (each node on its own engines) and API keys written, `status --json`
  in its shape;
- `up` again while running: says so, starts nothing;
- `down`: every recorded PID is gone; `up` again resumes the same chain, registry, keys and peers;
- stop by PID never signals a process that is not the one recorded.

The nodes are started when `proml node start` exists (cli/node.py); without it the rest is tested.
Every test stops what it started, whatever happened (`down` in a `finally`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from proml.cli.main import cli
from proml.core.workflow import ALL_ROLES, Role
from proml.devnet.devnet import Ports, down, status, up
from proml.devnet.processes import ProcessRecord, start_time
from proml.devnet.state import Layout
from proml.node.clients.chain import ChainClient
from proml.node.clients.ipfs import IpfsClient
from proml.node.config import load_config
from proml.node.consortium import member as registry_member
from proml.node.services.api_keys import ApiKeyStore

NODES = importlib.util.find_spec("proml.cli.node") is not None
ANY_PORT = Ports(chain=0, node=0, ipfs_api=0, ipfs_swarm=0, cluster=0)
MEMBER = int(Role.DATA_ADMIN | Role.MODEL_DEVELOPER | Role.AUDITOR)


@pytest.fixture(name="devnet_dir")
def devnet_dir_fixture(tmp_path: Path) -> Iterator[Path]:
    """A devnet folder that is always brought down at the end, by the PIDs it recorded."""
    root = tmp_path / "devnet"
    try:
        yield root
    finally:
        if Layout(root).exists():
            down(root)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["devnet", *args], catch_exceptions=False)


def peers(api: str) -> set[str]:
    async def ask() -> set[str]:
        async with IpfsClient(api, timeout=10) as client:
            return {p.peer for p in await client.swarm_peers()}

    return asyncio.run(ask())


def assert_consortium(report: dict[str, Any]) -> None:
    client = ChainClient(report["chain_url"])
    registry = report["registry"]
    assert client.get_code(registry)
    for i, org in enumerate(report["orgs"]):
        member = registry_member(client, registry, org["address"])
        assert member.active and member.name == org["name"]
        assert member.roles == (int(ALL_ROLES) if i == 0 else MEMBER)
        assert org["roles"] == member.roles


def assert_clique(report: dict[str, Any]) -> None:
    """Each organisation's geth seals with its own key, in the signer set, and they agree on the chain."""
    sealers = {org["sealer"].lower() for org in report["orgs"]}
    assert not sealers & {org["address"].lower() for org in report["orgs"]}  # not the ProML keys
    clients = [ChainClient(org["chain_url"]) for org in report["orgs"]]
    assert len({org["chain_url"] for org in report["orgs"]}) == len(clients)
    for client in clients:
        assert {s.lower() for s in client.request("clique_getSigners", [])} == sealers
    height = min(client.block_number() for client in clients)
    deadline = time.monotonic() + 30
    while min(client.block_number() for client in clients) < height + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    hashes = {client.request("eth_getBlockByNumber", [hex(height), False])["hash"] for client in clients}
    assert len(hashes) == 1, hashes


def assert_cluster(report: dict[str, Any]) -> None:
    for org in report["orgs"]:
        lines = httpx.get(f"{org['cluster_api']}/peers", timeout=10).text.strip().splitlines()
        assert len(lines) == len(report["orgs"]), org["name"]


def assert_swarm(report: dict[str, Any], layout: Layout) -> None:
    state = layout.load()
    ids = {org.name: org.peer_id for org in state.orgs}
    for org in report["orgs"]:
        others = {peer for name, peer in ids.items() if name != org["name"]}
        deadline = time.monotonic() + 30
        while not others <= peers(org["ipfs_api"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert others <= peers(org["ipfs_api"]), org["name"]


def assert_nodes(report: dict[str, Any]) -> None:
    for org in report["orgs"]:
        assert org["node_running"] is NODES
        if NODES:
            health = httpx.get(org["node_url"] + "/v1/health", timeout=10)
            assert health.status_code == 200 and health.json()["registry"] == report["registry"]
            # the API key status --json prints is the node's admin key
            auth = {"Authorization": f"Bearer {org['api_key']}"}
            assert httpx.get(org["node_url"] + "/v1/keys", headers=auth, timeout=10).status_code == 200


def test_up_status_down_and_resume(devnet_dir: Path) -> None:
    result = up(devnet_dir, 3, ports=ANY_PORT, start_nodes=NODES)
    assert result.created
    layout = Layout(devnet_dir)
    report = status(devnet_dir)

    # status --json has the documented shape
    cli_status = invoke("status", "--dir", str(devnet_dir), "--json")
    assert cli_status.exit_code == 0, cli_status.output
    shown = json.loads(cli_status.output)
    assert shown == report
    assert set(shown) >= {"chain_url", "registry", "orgs"}
    assert [o["name"] for o in shown["orgs"]] == ["A", "B", "C"]
    for org in shown["orgs"]:
        assert set(org) >= {"name", "address", "node_url", "api_key"}
        assert org["api_key"].startswith("proml_")
    assert shown["running"] is True

    assert_consortium(report)
    assert_clique(report)
    assert_swarm(report, layout)
    assert_cluster(report)
    assert_nodes(report)

    # each organisation's files: key, private passphrase, config pointing at the devnet, API key stored hashed
    for org in report["orgs"]:
        config = load_config(Path(org["config"]))
        assert config.org == org["name"]
        assert config.registry == report["registry"] and config.chain_url == org["chain_url"]
        assert (config.ipfs_api, config.cluster_api) == (org["ipfs_api"], org["cluster_api"])
        assert f"http://127.0.0.1:{config.api_port}" == org["node_url"]
        assert config.passphrase_file is not None
        assert stat.S_IMODE(config.passphrase_file.stat().st_mode) == 0o600
        keys = ApiKeyStore(config.data_dir / "api-keys.json")
        assert keys.authenticate(org["api_key"]) is not None
    assert stat.S_IMODE(layout.state_file.stat().st_mode) == 0o600

    # a daemon that died is started again, on its port (left in TIME_WAIT), and the swarm heals
    victim = layout.load().processes["ipfs:B"]
    os.kill(victim.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while victim.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    healed = up(devnet_dir, ports=ANY_PORT, start_nodes=NODES)
    assert healed.started == ("ipfs:B",)
    report = status(devnet_dir)
    assert report["orgs"][1]["ipfs_api"] == shown["orgs"][1]["ipfs_api"]
    assert report["running"] is True
    assert_swarm(report, layout)

    # up while running: nothing new starts
    again = invoke("up", "--dir", str(devnet_dir), *([] if NODES else ["--no-nodes"]))
    assert again.exit_code == 0, again.output
    assert "running already" in again.output
    assert {name: r.pid for name, r in layout.load().processes.items()} == {
        name: p["pid"] for name, p in report["processes"].items()
    }

    # down stops every recorded PID
    client = ChainClient(report["chain_url"])
    block = client.block_number()
    records = list(layout.load().processes.values())
    assert len(records) == 9 + (3 if NODES else 0)  # geth, Kubo and a cluster peer each, and the nodes
    stopped = invoke("down", "--dir", str(devnet_dir), "--json")
    assert stopped.exit_code == 0, stopped.output
    assert sorted(json.loads(stopped.output)["stopped"]) == sorted(report["processes"])
    for record in records:
        assert not record.alive(), record
    down_status = invoke("status", "--dir", str(devnet_dir), "--json")
    assert down_status.exit_code == 1
    assert json.loads(down_status.output)["running"] is False

    # up again resumes: same registry, addresses and keys, the chain where it was
    resumed = up(devnet_dir, ports=ANY_PORT, start_nodes=NODES)
    assert not resumed.created and len(resumed.started) == len(records)
    after = status(devnet_dir)
    assert after["running"] is True
    assert after["registry"] == report["registry"]
    assert [(o["name"], o["address"], o["api_key"]) for o in after["orgs"]] == [
        (o["name"], o["address"], o["api_key"]) for o in report["orgs"]
    ]
    assert ChainClient(after["chain_url"]).block_number() >= block
    assert_consortium(after)
    assert_clique(after)
    assert_swarm(after, layout)
    assert_nodes(after)
    assert [o.peer_id for o in layout.load().orgs] == [o.peer_id for o in resumed.state.orgs]


def test_cli_up_refuses_another_size_and_status_without_devnet(tmp_path: Path, devnet_dir: Path) -> None:
    missing = invoke("status", "--dir", str(tmp_path / "none"))
    assert missing.exit_code == 2 and "proml devnet up" in missing.output
    assert not (tmp_path / "none").exists()
    assert invoke("down", "--dir", str(tmp_path / "none")).exit_code == 2

    # ports that another program holds move to free ones, and the chosen ones are recorded
    with socket.socket() as chain_squatter, socket.socket() as node_squatter:
        for squatter in (chain_squatter, node_squatter):
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
        chain_port, node_port = chain_squatter.getsockname()[1], node_squatter.getsockname()[1]
        started = invoke(
            "up", "--orgs", "1", "--dir", str(devnet_dir), "--json",
            "--chain-port", str(chain_port), "--node-port", str(node_port),
            *([] if NODES else ["--no-nodes"]),
        )  # fmt: skip
    assert started.exit_code == 0, started.output
    report = json.loads(started.output)
    assert [o["name"] for o in report["orgs"]] == ["A"]
    assert report["chain_url"] != f"http://127.0.0.1:{chain_port}"
    assert report["orgs"][0]["node_url"] != f"http://127.0.0.1:{node_port}"
    assert load_config(Path(report["orgs"][0]["config"])).api_port == layout_port(devnet_dir)
    assert_consortium(report)
    assert_nodes(report)

    other = invoke("up", "--orgs", "2", "--dir", str(devnet_dir))
    assert other.exit_code == 2 and "down --purge" in other.output

    purged = invoke("down", "--dir", str(devnet_dir), "--purge")
    assert purged.exit_code == 0, purged.output
    assert not devnet_dir.exists()


def layout_port(root: Path) -> int:
    return int(Layout(root).load().orgs[0].node_port)


def test_stop_by_pid_never_signals_a_reused_pid(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        started = start_time(sleeper.pid)
        assert started is not None
        assert ProcessRecord(sleeper.pid, started).alive()
        # The same PID with another start time: a process the devnet did not start.
        foreign = ProcessRecord(sleeper.pid, started + 1)
        assert not foreign.alive()
        assert foreign.stop() is False
        assert sleeper.poll() is None
        # Ours, running: stopped. Once gone, nothing is signalled.
        assert ProcessRecord.of(sleeper).stop() is True
        assert sleeper.wait(5) is not None
        assert ProcessRecord(sleeper.pid, started).stop() is False
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_taken_port_moves_and_up_says_so_and_env_points_at_the_node(devnet_dir: Path) -> None:
    """Item 5 of "what users record": a taken port is announced, and `devnet env` gives the node that runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        said: list[str] = []
        up(
            devnet_dir,
            1,
            chain="anvil",
            ports=Ports(chain=0, node=port, ipfs_api=0, ipfs_swarm=0, cluster=0),
            echo=said.append,
        )
    (org,) = status(devnet_dir)["orgs"]
    moved = org["node_url"].rsplit(":", 1)[1]
    assert moved != str(port)
    assert f"port moved: A's node API is on {moved}, not {port} (taken by another program)" in said
    env = CliRunner().invoke(cli, ["devnet", "env", "A", "--dir", str(devnet_dir)])
    assert env.exit_code == 0, env.output
    assert env.output.strip() == f"export PROML_NODE_URL={org['node_url']} PROML_API_KEY={org['api_key']}"
    unknown = CliRunner().invoke(cli, ["devnet", "env", "Z", "--dir", str(devnet_dir)])
    assert unknown.exit_code == 2 and "no organisation 'Z'" in unknown.output and "it has A" in unknown.output
