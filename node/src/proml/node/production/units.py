"""systemd units, one per service of an organisation: the chain client, Kubo, the IPFS Cluster peer and
the ProML node. Each runs as the deployment's user, restarts when it fails, and is ordered after the
services it needs on the same host.
"""

from __future__ import annotations

import ipaddress

from .members import Members, Org

_HARDENING = (
    "NoNewPrivileges=true\n"
    "PrivateTmp=true\n"
    "ProtectSystem=full\n"
    "ProtectHome=true\n"
    "UMask=0077\n"
    "LimitNOFILE=65536\n"
)


def _unit(description: str, after: list[str], body: str, members: Members) -> str:
    wants = " ".join(["network-online.target", *after])
    return (
        "[Unit]\n"
        f"Description={description}\n"
        f"Wants={wants}\n"
        f"After={wants}\n"
        "\n"
        "[Service]\n"
        f"User={members.deploy.user}\n"
        f"Group={members.deploy.user}\n"
        f"{body}"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        f"{_HARDENING}"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def _args(lines: list[str]) -> str:
    return " \\\n    ".join(lines)


def net_restrict(members: Members) -> str | None:
    """The organisations' addresses as CIDRs for geth's --netrestrict, when every host is an IP address."""
    if not all(org.host_is_ip for org in members.orgs):
        return None
    cidrs = []
    for org in members.orgs:
        ip = ipaddress.ip_address(org.host)
        cidrs.append(f"{ip}/{ip.max_prefixlen}")
    return ",".join(cidrs)


def geth_flags(members: Members, org: Org, datadir: str, config_dir: str) -> list[str]:
    """geth's flags for sealing `org`'s blocks: everything but the binary (tests run them as they are)."""
    assert org.sealer is not None
    flags = [
        f"--config {config_dir}/config.toml",
        f"--datadir {datadir}",
        f"--nodekey {config_dir}/nodekey",
        f"--keystore {config_dir}/sealer-keystore",
        f"--networkid {members.chain_id}",
        "--syncmode full",
        "--nodiscover",
        "--nat none",
        f"--port {org.ports['p2p']}",
        "--http",
        "--http.addr 127.0.0.1",
        f"--http.port {org.ports['http']}",
        "--http.api eth,net,web3",
        "--authrpc.addr 127.0.0.1",
        f"--authrpc.port {org.ports['authrpc']}",
        "--mine",
        f"--miner.etherbase {org.sealer}",
        f"--unlock {org.sealer}",
        f"--password {config_dir}/sealer.password",
        "--allow-insecure-unlock",
    ]
    restrict = net_restrict(members)
    if restrict is not None:
        flags.append(f"--netrestrict {restrict}")
    return flags


def geth_unit(members: Members, org: Org) -> str:
    d = members.deploy
    chain = f"{d.config_dir}/chain"
    datadir = f"{d.data_dir}/geth"
    body = (
        # Initialise once: the chain's database keeps its genesis; later starts must not depend on the file.
        f"ExecStartPre=/bin/sh -c 'test -d {datadir}/geth/chaindata || "
        f"exec {d.bin_dir}/geth init --datadir {datadir} {chain}/genesis.json'\n"
        "ExecStart=" + _args([f"{d.bin_dir}/geth", *geth_flags(members, org, datadir, chain)]) + "\n"
        "TimeoutStopSec=120\n"
    )
    return _unit(f"geth Clique sealer of {org.name} ({members.consortium})", [], body, members)


def besu_unit(members: Members, org: Org) -> str:
    d = members.deploy
    body = f"ExecStart={d.bin_dir}/besu --config-file={d.config_dir}/chain/besu.toml\nTimeoutStopSec=120\n"
    return _unit(f"Besu QBFT validator of {org.name} ({members.consortium})", [], body, members)


def kubo_unit(members: Members, org: Org) -> str:
    d = members.deploy
    body = (
        f"Environment=IPFS_PATH={d.data_dir}/ipfs\n"
        "Environment=LIBP2P_FORCE_PNET=1\n"
        f"ExecStart={d.bin_dir}/ipfs daemon --migrate=false\n"
    )
    return _unit(f"Kubo (private network) of {org.name} ({members.consortium})", [], body, members)


def cluster_unit(members: Members, org: Org) -> str:
    d = members.deploy
    state = f"{d.data_dir}/cluster"
    src = f"{d.config_dir}/cluster"
    body = (
        f"EnvironmentFile={src}/cluster.env\n"
        f"ExecStartPre=/usr/bin/install -d -m 0700 {state}\n"
        f"ExecStartPre=/usr/bin/install -m 0600 -t {state} {src}/service.json {src}/identity.json\n"
        f"ExecStart={d.bin_dir}/ipfs-cluster-service --config {state} daemon\n"
    )
    return _unit(f"IPFS Cluster peer of {org.name} ({members.consortium})", ["kubo.service"], body, members)


def node_unit(members: Members, org: Org) -> str:
    d = members.deploy
    chain = "geth.service" if members.chain == "clique" else "besu.service"
    body = (
        # The passphrase is in the file node.toml names (wallet.passphrase_file): never in the environment.
        "UnsetEnvironment=PROML_PASSPHRASE\n"
        f"ExecStart={d.proml} node start --config {d.config_dir}/node/node.toml\n"
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=60\n"
    )
    return _unit(
        f"ProML node of {org.name} ({members.consortium})",
        [chain, "kubo.service", "ipfs-cluster.service"],
        body,
        members,
    )
