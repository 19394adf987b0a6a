"""`proml production generate`: the files a real consortium's organisations deploy, checked as far as this
machine can: the Clique genesis's signers and funds, the secrets' modes and where they are (never in the
committed example), the QBFT extraData through RLP, the members file's errors; and, where the engines
are built, geth, Kubo and IPFS Cluster run on what was generated (three geth sealers seal blocks together,
Kubo and the cluster peers come up with the peer ids the others were given)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from eth_account import Account

from proml.cli.main import cli
from proml.devnet import engines, processes
from proml.node.production import chain_files, units
from proml.node.production.generate import GENERATED_SECRETS, OPERATOR_SECRETS, generate
from proml.node.production.keys import Libp2pIdentity, NodeKey
from proml.node.production.members import DEFAULT_PORTS, MembersError, load_members, parse_members
from tests.test_cli_operator_packages import without_operator_packages  # noqa: F401  (a fixture)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_MEMBERS = REPO / "deploy" / "production" / "members.example.toml"
EXAMPLE_OUT = REPO / "deploy" / "production" / "example"
FUND = 1_000_000 * 10**18

# Three organisations whose sealer and ProML keys the tests hold (none of them is a real key).
SEALER_KEYS = [bytes([0x51, i]) * 16 for i in range(1, 4)]
PROML_KEYS = [bytes([0x71, i]) * 16 for i in range(1, 4)]
NAMES = ["Acme Labs", "Beta Data", "Gamma Models"]


def members_text(
    chain_kind: str = "clique", hosts: list[str] | None = None, ports: list[dict[str, int]] | None = None
) -> str:
    hosts = hosts or ["10.1.0.1", "10.1.0.2", "gamma.example.org"]
    lines = [
        "[consortium]",
        'name = "test-consortium"',
        "chain_id = 4711",
        f'chain = "{chain_kind}"',
        "block_period = 1",
    ]
    for i, name in enumerate(NAMES):
        lines += ["", "[[orgs]]", f'name = "{name}"', f'host = "{hosts[i]}"']
        if chain_kind == "clique":
            lines.append(f'sealer = "{Account.from_key(SEALER_KEYS[i]).address}"')
        lines.append(f'proml_address = "{Account.from_key(PROML_KEYS[i]).address}"')
        if ports is not None:
            lines.append("[orgs.ports]")
            lines += [f"{key} = {port}" for key, port in ports[i].items()]
    return "\n".join(lines) + "\n"


def make(tmp_path: Path, text: str, out: str = "out") -> Path:
    path = tmp_path / "members.toml"
    path.write_text(text)
    target = tmp_path / out
    generate(load_members(path), text, target)
    return target


def folders(out: Path) -> list[Path]:
    return [out / slug for slug in ("acme-labs", "beta-data", "gamma-models")]


# -- the files ------------------------------------------------------------------------------------------


def test_the_clique_genesis_names_the_sealers_sorted_and_funds_each_proml_address(tmp_path: Path) -> None:
    out = make(tmp_path, members_text())
    genesis = json.loads((out / "acme-labs" / "chain" / "genesis.json").read_text())
    extra = bytes.fromhex(genesis["extraData"][2:])
    sealers = sorted(bytes.fromhex(Account.from_key(k).address[2:]) for k in SEALER_KEYS)
    assert extra == bytes(32) + b"".join(sealers) + bytes(65)
    assert len(extra) == 32 + 3 * 20 + 65
    funded = {Account.from_key(k).address.lower()[2:]: {"balance": hex(FUND)} for k in PROML_KEYS}
    assert genesis["alloc"] == funded
    config = genesis["config"]
    assert config["londonBlock"] == 0 and config["chainId"] == 4711
    assert config["clique"] == {"period": 1, "epoch": 30000}
    assert not {"shanghaiTime", "cancunTime", "terminalTotalDifficulty"} & set(config)
    assert "terminalTotalDifficultyPassed" not in config
    # Every organisation starts from the same genesis.
    assert all(
        (f / "chain" / "genesis.json").read_text() == json.dumps(genesis, indent=2) + "\n"
        for f in folders(out)
    )


def test_each_org_peers_with_the_others_and_trusts_every_cluster_peer(tmp_path: Path) -> None:
    out = make(tmp_path, members_text())
    peers = json.loads((out / "peers.json").read_text())["orgs"]
    assert [p["folder"] for p in peers] == ["acme-labs", "beta-data", "gamma-models"]
    for i, folder in enumerate(folders(out)):
        others = [p for j, p in enumerate(peers) if j != i]
        config = (folder / "chain" / "config.toml").read_text()
        assert all(p["enode"] in config for p in others) and peers[i]["enode"] not in config
        service = json.loads((folder / "cluster" / "service.json").read_text())
        assert service["consensus"]["crdt"]["trusted_peers"] == [p["cluster_peer_id"] for p in peers]
        assert service["cluster"]["secret"] == ""  # in cluster.env, not here
        assert service["api"]["restapi"]["http_listen_multiaddress"] == ["/ip4/127.0.0.1/tcp/9094"]
        script = (folder / "ipfs" / "kubo-init.sh").read_text()
        assert all(p["kubo_peer_id"] in script for p in others) and peers[i]["kubo_peer_id"] not in script
        assert "LIBP2P_FORCE_PNET=1" in (folder / "ipfs" / "kubo.service").read_text()
        node_toml = (folder / "node" / "node.toml").read_text()
        assert 'url = "http://127.0.0.1:8545"' in node_toml and "chain_id = 4711" in node_toml
        assert 'passphrase_file = "/etc/proml/node/passphrase"' in node_toml
    assert "/dns/gamma.example.org/tcp/4001" in (folders(out)[0] / "ipfs" / "kubo-init.sh").read_text()


def test_node_toml_is_a_config_the_node_loads(tmp_path: Path) -> None:
    from proml.node.config import load_config

    out = make(tmp_path, members_text())
    config = load_config(out / "beta-data" / "node" / "node.toml", environ={})
    assert (config.org, config.chain_id, config.confirmations) == ("Beta Data", 4711, 5)
    assert config.passphrase_file == Path("/etc/proml/node/passphrase")
    assert config.api_host == "127.0.0.1" and config.ipfs_api == "http://127.0.0.1:5001"
    assert config.cluster_api == "http://127.0.0.1:9094"


def test_secrets_are_private_and_only_in_their_own_folder(tmp_path: Path) -> None:
    out = make(tmp_path, members_text())
    secrets: dict[Path, str] = {}
    for folder in folders(out):
        for name in GENERATED_SECRETS:
            path = folder / name
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            secrets[path] = path.read_text()
    # The consortium's two shared secrets are the same everywhere; the keys are each organisation's own.
    for shared in ("ipfs/swarm.key", "cluster/cluster.env"):
        assert len({secrets[f / shared] for f in folders(out)}) == 1
    for own in ("chain/nodekey", "ipfs/kubo-identity.json", "cluster/identity.json"):
        assert len({secrets[f / own] for f in folders(out)}) == 3
    # No secret appears in any public file.
    values = {v.strip() for v in secrets.values()}
    values |= {
        json.loads(v)[k]
        for v in secrets.values()
        if v.startswith("{")
        for k in ("PrivKey", "private_key")
        if k in json.loads(v)
    }
    values |= {v.strip().split("=", 1)[1] for v in secrets.values() if v.startswith("CLUSTER_SECRET=")}
    values |= {v.strip().splitlines()[-1] for v in secrets.values() if v.startswith("/key/swarm/")}
    public = [p for p in out.rglob("*") if p.is_file() and p not in secrets]
    assert public
    for path in public:
        text = path.read_text()
        assert not [v for v in values if v in text], path
    ignored = (out / ".gitignore").read_text().splitlines()
    assert all(f"*/{name}" in ignored for name in (*GENERATED_SECRETS, *OPERATOR_SECRETS))


def test_generating_again_with_force_keeps_the_secrets_and_so_every_peer_id(tmp_path: Path) -> None:
    out = make(tmp_path, members_text())
    before = (out / "peers.json").read_text()
    result = CliRunner().invoke(
        cli, ["production", "generate", str(tmp_path / "members.toml"), "--out", str(out)]
    )
    assert result.exit_code == 2 and "--force" in result.stderr
    result = CliRunner().invoke(
        cli, ["production", "generate", str(tmp_path / "members.toml"), "--out", str(out), "--force"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "peers.json").read_text() == before


def test_the_qbft_extra_data_round_trips_to_the_validators(tmp_path: Path) -> None:
    out = make(tmp_path, members_text("qbft"))
    genesis = json.loads((out / "acme-labs" / "chain" / "genesis.json").read_text())
    validators = [p["validator"] for p in json.loads((out / "peers.json").read_text())["orgs"]]
    sealed = chain_files.qbft_validators(genesis["extraData"])
    assert [v.lower() for v in sealed] == [v.lower() for v in validators]
    # Besu's layout: RLP list of vanity (32 zero bytes), validators, no vote, round 0, no seals.
    import rlp

    vanity, listed, vote, round_number, seals = rlp.decode(bytes.fromhex(genesis["extraData"][2:]))
    assert (vanity, vote, round_number, seals) == (bytes(32), [], b"", [])
    assert len(listed) == 3
    assert genesis["config"]["qbft"] == {
        "blockperiodseconds": 1,
        "epochlength": 30000,
        "requesttimeoutseconds": 4,
    }
    # A QBFT validator is its node key's address.
    key = bytes.fromhex((out / "beta-data" / "chain" / "nodekey").read_text().removeprefix("0x"))
    assert Account.from_key(key).address == validators[1]
    assert (out / "beta-data" / "chain" / "besu.toml").exists()
    assert "documented, not tested here (Besu cannot run on this machine)" in (out / "README.md").read_text()
    assert 'rpc-http-host = "127.0.0.1"' in (out / "gamma-models" / "chain" / "besu.toml").read_text()


def test_ed25519_public_keys_and_peer_ids() -> None:
    # RFC 8032, 7.1, tests 1 and 2.
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    assert (
        Libp2pIdentity(seed).public.hex()
        == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    seed = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    assert (
        Libp2pIdentity(seed).public.hex()
        == "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    )
    assert Libp2pIdentity(seed).peer_id.startswith("12D3KooW")


# -- the members file's errors --------------------------------------------------------------------------


def test_the_cli_refuses_a_duplicate_org_name_naming_the_field(tmp_path: Path) -> None:
    text = members_text().replace('name = "Gamma Models"', 'name = "Acme Labs"')
    (tmp_path / "members.toml").write_text(text)
    result = CliRunner().invoke(
        cli, ["production", "generate", str(tmp_path / "members.toml"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "orgs[2].name" in result.stderr and "orgs[0]" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (('chain = "clique"', 'chain = "pow"'), "consortium.chain"),
        (('host = "10.1.0.2"', 'host = "not a host"'), "orgs[1].host"),
        (('host = "10.1.0.2"', 'hots = "10.1.0.2"'), "orgs[1].hots"),
        (("chain_id = 4711", 'chain_id = "4711"'), "consortium.chain_id"),
        (('proml_address = "0x', 'proml_address = "0xZZ'), "orgs[0].proml_address"),
    ],
)
def test_a_bad_field_is_named(change: tuple[str, str], field: str) -> None:
    import tomllib

    document = tomllib.loads(members_text().replace(*change, 1))
    with pytest.raises(MembersError) as caught:
        parse_members(document)
    assert caught.value.field == field


def test_the_same_address_twice_is_refused() -> None:
    import tomllib

    document = tomllib.loads(members_text())
    document["orgs"][2]["proml_address"] = document["orgs"][0]["proml_address"]
    with pytest.raises(MembersError) as caught:
        parse_members(document)
    assert caught.value.field == "orgs[2].proml_address"


def test_the_command_says_it_needs_the_node(
    without_operator_packages: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "members.toml").write_text(members_text())
    result = CliRunner().invoke(
        cli, ["production", "generate", str(tmp_path / "members.toml"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert result.stderr == "Error: this command needs the node: pip install proml-node\n"


# -- the committed example --------------------------------------------------------------------------------


def test_the_committed_example_holds_no_secret_and_is_what_the_generator_writes(tmp_path: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "HEAD", "deploy/production"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    committed = {
        p.removeprefix("deploy/production/example/")
        for p in listed
        if p.startswith("deploy/production/example/")
    }
    assert committed, "deploy/production/example/ is not committed"
    secret_names = {name.rstrip("/").rsplit("/", 1)[-1] for name in (*GENERATED_SECRETS, *OPERATOR_SECRETS)}
    assert not [p for p in committed if p.rsplit("/", 1)[-1] in secret_names]
    text = EXAMPLE_MEMBERS.read_text()
    fresh = tmp_path / "fresh"
    generate(load_members(EXAMPLE_MEMBERS), text, fresh)
    public = {str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file()}
    public -= {f"{f.name}/{s}" for f in fresh.iterdir() if f.is_dir() for s in GENERATED_SECRETS}
    assert committed == public
    # What depends on no secret is the same byte for byte.
    for name in committed:
        if name.endswith(("genesis.json", "node.toml", ".gitignore", "members.toml", ".service")):
            assert (EXAMPLE_OUT / name).read_text() == (fresh / name).read_text(), name


# -- the engines, where they are built -------------------------------------------------------------------


def _engine(find: Any) -> Path:
    try:
        path: Path = find()
    except processes.ToolMissing as exc:
        pytest.skip(str(exc))
    return path


@pytest.fixture
def started() -> Iterator[list[Any]]:
    """Processes a test starts; stopped by PID when it ends, passed or failed."""
    running: list[Any] = []
    yield running
    for process in reversed(running):
        processes.stop_process(process)


def _local_ports() -> list[dict[str, int]]:
    taken: list[int] = []
    ports = []
    for _ in NAMES:
        org = {}
        for key in DEFAULT_PORTS:
            org[key] = processes.choose_port(0, taken)
            taken.append(org[key])
        ports.append(org)
    return ports


def _rpc(port: int, method: str, *params: Any) -> Any:
    response = httpx.post(
        f"http://127.0.0.1:{port}", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    )
    return response.json()["result"]


def test_geth_accepts_the_genesis_and_the_config(tmp_path: Path) -> None:
    geth = _engine(engines.geth)
    # IP addresses: geth resolves a DNS name in StaticNodes when it reads the file, and fails on one that
    # does not resolve (docs/operations.md says so).
    out = make(tmp_path, members_text(hosts=["10.1.0.1", "10.1.0.2", "10.1.0.3"]))
    folder = out / "acme-labs" / "chain"
    init = subprocess.run(
        [str(geth), "init", "--datadir", str(tmp_path / "data"), str(folder / "genesis.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    dumped = subprocess.run(
        [
            str(geth),
            "--config",
            str(folder / "config.toml"),
            "--datadir",
            str(tmp_path / "data"),
            "--networkid",
            "4711",
            "dumpconfig",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert dumped.returncode == 0, dumped.stderr
    peers = json.loads((out / "peers.json").read_text())["orgs"]
    assert peers[1]["enode"].split("@")[0] in dumped.stdout and "NoDiscovery = true" in dumped.stdout


def test_three_geth_sealers_on_the_generated_files_seal_one_chain(tmp_path: Path, started: list[Any]) -> None:
    geth = _engine(engines.geth)
    ports = _local_ports()
    out = make(tmp_path, members_text(hosts=["127.0.0.1"] * 3, ports=ports))
    members = load_members(tmp_path / "members.toml")
    for i, org in enumerate(members.orgs):
        folder = out / org.slug / "chain"
        (folder / "sealer.password").write_text("test password\n")
        keystore = folder / "sealer-keystore"
        keystore.mkdir()
        encrypted = Account.encrypt(SEALER_KEYS[i], "test password", iterations=2**10)
        (keystore / "sealer.json").write_text(json.dumps(encrypted))
        datadir = tmp_path / f"geth-{org.slug}"
        init = subprocess.run(
            [str(geth), "init", "--datadir", str(datadir), str(folder / "genesis.json")],
            capture_output=True,
            check=False,
        )
        assert init.returncode == 0, init.stderr
        flags = " ".join(units.geth_flags(members, org, str(datadir), str(folder))).split()
        log = tmp_path / f"geth-{org.slug}.log"
        started.append(processes.spawn([str(geth), *flags, "--ipcdisable"], log))
    http = [p["http"] for p in ports]
    for i, port in enumerate(http):
        processes.wait_until(
            lambda port=port: _up(port) and int(_rpc(port, "eth_blockNumber"), 16) >= 4,
            what=f"geth of {NAMES[i]} at block 4",
            timeout=90,
            process=started[i],
            log_path=tmp_path / f"geth-{members.orgs[i].slug}.log",
        )
    hashes = {_rpc(port, "eth_getBlockByNumber", "0x2", False)["hash"] for port in http}
    assert len(hashes) == 1  # one chain, sealed together
    balance = _rpc(http[2], "eth_getBalance", Account.from_key(PROML_KEYS[0]).address, "latest")
    assert int(balance, 16) == FUND


def _up(port: int) -> bool:
    try:
        _rpc(port, "eth_chainId")
    except httpx.HTTPError:
        return False
    return True


def test_kubo_and_cluster_come_up_with_the_generated_identities(tmp_path: Path, started: list[Any]) -> None:
    ipfs = _engine(engines.ipfs)
    ports = _local_ports()
    out = make(tmp_path, members_text(hosts=["127.0.0.1"] * 3, ports=ports))
    peers = json.loads((out / "peers.json").read_text())["orgs"]
    env = {**os.environ, "IPFS": str(ipfs), "LIBP2P_FORCE_PNET": "1"}
    for i, peer in enumerate(peers[:2]):
        repo = tmp_path / f"ipfs-{peer['folder']}"
        made = subprocess.run(
            ["sh", str(out / peer["folder"] / "ipfs" / "kubo-init.sh")],
            env={**env, "IPFS_PATH": str(repo)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        assert peer["kubo_peer_id"] in made.stdout
        assert json.loads((repo / "config").read_text())["Provide"]["Enabled"] is False
        log = tmp_path / f"ipfs-{peer['folder']}.log"
        started.append(processes.spawn([str(ipfs), "daemon"], log, env={**env, "IPFS_PATH": str(repo)}))
        api = ports[i]["ipfs_api"]
        processes.wait_until(
            lambda api=api: _kubo_id(api) is not None,
            what="Kubo",
            timeout=60,
            process=started[-1],
            log_path=log,
        )
        assert _kubo_id(api) == peer["kubo_peer_id"]
    # The two daemons find each other through Peering.Peers, in the private network.
    processes.wait_until(
        lambda: peers[1]["kubo_peer_id"] in _kubo_peers(ports[0]["ipfs_api"]), what="Kubo peering", timeout=60
    )
    try:
        cluster = engines.cluster_service()
    except processes.ToolMissing:
        return
    for i, peer in enumerate(peers[:2]):
        # What ipfs-cluster.service does: the files into the state folder, the secret from cluster.env.
        folder = out / peer["folder"] / "cluster"
        state = tmp_path / f"cluster-{peer['folder']}"
        state.mkdir(mode=0o700)
        for name in ("service.json", "identity.json"):
            shutil.copy(folder / name, state / name)
        secret = (folder / "cluster.env").read_text().strip().split("=", 1)[1]
        log = tmp_path / f"cluster-{peer['folder']}.log"
        command = [str(cluster), "--config", str(state), "daemon"]
        started.append(processes.spawn(command, log, env={**os.environ, "CLUSTER_SECRET": secret}))
        api = ports[i]["cluster_api"]
        processes.wait_until(
            lambda api=api: _cluster_id(api) is not None,
            what="IPFS Cluster",
            timeout=60,
            process=started[-1],
            log_path=log,
        )
        assert _cluster_id(api) == peer["cluster_peer_id"]
    # The two cluster peers find each other (peer_addresses), in the network of the shared secret.
    processes.wait_until(
        lambda: peers[1]["cluster_peer_id"] in _cluster_peers(ports[0]["cluster_api"]),
        what="the cluster peers",
        timeout=60,
    )


def _cluster_peers(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/peers").text
    except httpx.HTTPError:
        return ""


def _kubo_id(port: int) -> str | None:
    try:
        return str(httpx.post(f"http://127.0.0.1:{port}/api/v0/id").json()["ID"])
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def _kubo_peers(port: int) -> str:
    try:
        return httpx.post(f"http://127.0.0.1:{port}/api/v0/swarm/peers").text
    except httpx.HTTPError:
        return ""


def _cluster_id(port: int) -> str | None:
    try:
        return str(httpx.get(f"http://127.0.0.1:{port}/id").json()["id"])
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def test_an_org_added_later_gets_the_chains_genesis_and_the_others_peer_with_it(tmp_path: Path) -> None:
    out = make(tmp_path, members_text())
    genesis = (out / "acme-labs" / "chain" / "genesis.json").read_text()
    grown = members_text() + (
        '\n[[orgs]]\nname = "Delta"\nhost = "10.1.0.4"\n'
        f'sealer = "{Account.from_key(bytes([0x52]) * 32).address}"\n'
        f'proml_address = "{Account.from_key(bytes([0x72]) * 32).address}"\n'
    )
    (tmp_path / "members.toml").write_text(grown)
    generate(load_members(tmp_path / "members.toml"), grown, out, force=True)
    assert (out / "delta" / "chain" / "genesis.json").read_text() == genesis
    assert (out / "acme-labs" / "chain" / "genesis.json").read_text() == genesis
    delta = json.loads((out / "peers.json").read_text())["orgs"][3]
    assert delta["enode"] in (out / "acme-labs" / "chain" / "config.toml").read_text()
    service = json.loads((out / "beta-data" / "cluster" / "service.json").read_text())
    assert delta["cluster_peer_id"] in service["consensus"]["crdt"]["trusted_peers"]
    assert (out / "delta" / "ipfs" / "swarm.key").read_text() == (
        out / "acme-labs" / "ipfs" / "swarm.key"
    ).read_text()


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze on this machine")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("geth", "ipfs", "ipfs-cluster-service", "proml"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    text = members_text().replace(
        "[[orgs]]", f'[deploy]\nbin_dir = "{bin_dir}"\nproml = "{bin_dir}/proml"\n\n[[orgs]]', 1
    )
    out = make(tmp_path, text)
    for unit in (
        "chain/geth.service",
        "ipfs/kubo.service",
        "cluster/ipfs-cluster.service",
        "node/proml-node.service",
    ):
        checked = subprocess.run(
            [analyze, "verify", "--man=no", str(out / "beta-data" / unit)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0 and not checked.stderr.strip(), (unit, checked.stderr)


# -- one organisation, from its units' own command lines to a healthy node --------------------------------


def _unit_commands(path: Path) -> tuple[dict[str, str], list[list[str]], list[str]]:
    """A unit's environment (Environment=, EnvironmentFile=), its ExecStartPre commands and ExecStart."""
    import shlex

    env: dict[str, str] = {}
    pre: list[list[str]] = []
    start: list[str] = []
    for line in path.read_text().replace("\\\n", " ").splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            name, _, setting = value.partition("=")
            env[name] = setting
        elif key == "EnvironmentFile":
            for entry in Path(value).read_text().splitlines():
                name, _, setting = entry.partition("=")
                env[name] = setting
        elif key == "ExecStartPre":
            pre.append(shlex.split(value))
        elif key == "ExecStart":
            start = shlex.split(value)
    return env, pre, start


def test_one_organisation_runs_its_generated_units_up_to_a_healthy_node(
    tmp_path: Path, started: list[Any]
) -> None:
    """Everything a host runs, as its units say: geth seals (a consortium of one seals alone), Kubo and
    the cluster peer come up, the founder deploys the registry with `proml consortium deploy`, and the
    node started by proml-node.service's command answers GET /v1/health with 200."""
    found = {name: _engine(find) for name, find in (("geth", engines.geth), ("ipfs", engines.ipfs))}
    found["ipfs-cluster-service"] = _engine(engines.cluster_service)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, path in found.items():
        (bin_dir / name).symlink_to(path)
    proml = shutil.which("proml", path=str(Path(sys.executable).parent))
    assert proml is not None
    out, data = tmp_path / "out", tmp_path / "data"
    ports = _local_ports()[0]
    sealer, signer = Account.from_key(SEALER_KEYS[0]), Account.from_key(PROML_KEYS[0])
    text = "\n".join(
        [
            "[consortium]",
            'name = "solo"',
            "chain_id = 4712",
            'chain = "clique"',
            "block_period = 1",
            "[deploy]",
            f'config_dir = "{out}/solo"',
            f'data_dir = "{data}"',
            f'bin_dir = "{bin_dir}"',
            f'proml = "{proml}"',
            "[[orgs]]",
            'name = "Solo"',
            'host = "127.0.0.1"',
            f'sealer = "{sealer.address}"',
            f'proml_address = "{signer.address}"',
            "[orgs.ports]",
            *(f"{key} = {port}" for key, port in ports.items()),
            "",
        ]
    )
    (tmp_path / "members.toml").write_text(text)
    generate(load_members(tmp_path / "members.toml"), text, out)
    here = out / "solo"
    # What the organisation brings: the sealer's keystore and password, the ProML keystore and passphrase.
    (here / "chain" / "sealer.password").write_text("sealer password\n")
    (here / "chain" / "sealer-keystore").mkdir()
    sealed = Account.encrypt(SEALER_KEYS[0], "sealer password", iterations=2**10)
    (here / "chain" / "sealer-keystore" / "sealer.json").write_text(json.dumps(sealed))
    (here / "node" / "passphrase").write_text("node passphrase\n")
    keystore = Account.encrypt(PROML_KEYS[0], "node passphrase", iterations=2**10)
    (here / "node" / "keystore.json").write_text(json.dumps(keystore))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PROML_")}

    made = subprocess.run(
        ["sh", str(here / "ipfs" / "kubo-init.sh")], env=base_env, capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    for unit in ("chain/geth.service", "ipfs/kubo.service", "cluster/ipfs-cluster.service"):
        env, pre, start = _unit_commands(here / unit)
        for command in pre:
            ran = subprocess.run(
                command, env={**base_env, **env}, capture_output=True, text=True, check=False
            )
            assert ran.returncode == 0, (unit, command, ran.stderr)
        log = tmp_path / (Path(unit).stem + ".log")
        started.append(processes.spawn(start, log, env={**base_env, **env}))
    processes.wait_until(
        lambda: _up(ports["http"]) and int(_rpc(ports["http"], "eth_blockNumber"), 16) >= 1,
        what="geth sealing",
        timeout=60,
        process=started[0],
        log_path=tmp_path / "geth.log",
    )
    processes.wait_until(lambda: _cluster_id(ports["cluster_api"]) is not None, what="cluster", timeout=60)
    config = here / "node" / "node.toml"
    deployed = subprocess.run(
        [proml, "consortium", "deploy", "--config", str(config), "--json"],
        env=base_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stderr
    registry = json.loads(deployed.stdout)["registry"]
    assert f'registry = "{registry}"' in config.read_text()
    env, pre, start = _unit_commands(here / "node" / "proml-node.service")
    assert not pre and env == {}
    started.append(processes.spawn(start, tmp_path / "node.log", env=base_env))
    health = f"http://127.0.0.1:{ports['node_api']}/v1/health"
    processes.wait_until(
        lambda: _status(health) == 200,
        what="the node",
        timeout=90,
        process=started[-1],
        log_path=tmp_path / "node.log",
    )
    report = httpx.get(health).json()
    assert report["registry"] == registry and report["chain"]["chain_id"] == 4712
    assert (
        report["ipfs"]["peer_id"] == json.loads((out / "peers.json").read_text())["orgs"][0]["kubo_peer_id"]
    )


def _status(url: str) -> int | None:
    try:
        return httpx.get(url).status_code
    except httpx.HTTPError:
        return None


def test_every_file_operations_md_names_on_a_host_is_generated_or_brought(tmp_path: Path) -> None:
    """docs/operations.md's commands use the generated files' paths on the host (/etc/proml/...)."""
    import re

    out = tmp_path / "out"
    generate(load_members(EXAMPLE_MEMBERS), EXAMPLE_MEMBERS.read_text(), out)
    folder = out / "beta-data"
    generated = {str(p.relative_to(folder)) for p in folder.rglob("*")}
    brought = {name.rstrip("/") for name in OPERATOR_SECRETS} | {
        "node/admin.key"
    }  # admin.key: made in the doc
    named = set(re.findall(r"/etc/proml/([\w./-]*)", (REPO / "docs" / "operations.md").read_text()))
    assert named
    missing = {n for n in named if n.rstrip("/") and n.rstrip("/") not in generated | brought}
    assert not missing


def test_an_org_that_makes_its_own_identities_gets_none_made_and_the_others_peer_with_them(
    tmp_path: Path,
) -> None:
    host = tmp_path / "beta-host"  # Beta Data's /etc/proml, on its own host
    made = CliRunner().invoke(cli, ["production", "identity", "--out", str(host), "--json"])
    assert made.exit_code == 0, made.output
    public = json.loads(made.stdout)
    for name in ("chain/nodekey", "ipfs/kubo-identity.json", "cluster/identity.json"):
        assert stat.S_IMODE((host / name).stat().st_mode) == 0o600
    again = CliRunner().invoke(cli, ["production", "identity", "--out", str(host), "--json"])
    assert json.loads(again.stdout) == public  # kept, not made anew
    lines = "".join(f'{key} = "{value}"\n' for key, value in public.items())
    text = members_text().replace('name = "Beta Data"\n', f'name = "Beta Data"\n{lines}')
    out = make(tmp_path, text)
    beta = out / "beta-data"
    assert not (beta / "chain" / "nodekey").exists() and not (beta / "ipfs" / "kubo-identity.json").exists()
    assert not (beta / "cluster" / "identity.json").exists()
    assert (beta / "ipfs" / "swarm.key").exists() and (beta / "cluster" / "cluster.env").exists()
    acme = out / "acme-labs"
    assert public["enode_id"] in (acme / "chain" / "config.toml").read_text()
    assert public["kubo_peer_id"] in (acme / "ipfs" / "kubo-init.sh").read_text()
    service = json.loads((acme / "cluster" / "service.json").read_text())
    assert public["cluster_peer_id"] in service["consensus"]["crdt"]["trusted_peers"]
    assert "its own (`proml production identity`)" in (out / "README.md").read_text()


def test_own_identities_must_be_whole_and_well_formed() -> None:
    import tomllib

    document = tomllib.loads(members_text())
    document["orgs"][1]["enode_id"] = "ab" * 64
    with pytest.raises(MembersError) as caught:
        parse_members(document)
    assert caught.value.field == "orgs[1].kubo_peer_id"  # all three, or none
    document["orgs"][1].update(
        enode_id=NodeKey(bytes([7]) * 32).enode_id,
        kubo_peer_id=Libp2pIdentity(bytes(32)).peer_id,
        cluster_peer_id="QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",  # an RSA-style id, not Ed25519
    )
    with pytest.raises(MembersError) as caught:
        parse_members(document)
    assert caught.value.field == "orgs[1].cluster_peer_id"
    document["orgs"][1].update(cluster_peer_id=Libp2pIdentity(bytes([1]) * 32).peer_id, enode_id="00" * 64)
    with pytest.raises(MembersError) as caught:
        parse_members(document)
    assert caught.value.field == "orgs[1].enode_id"  # not a point of the curve
