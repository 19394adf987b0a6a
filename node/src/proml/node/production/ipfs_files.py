"""The consortium's IPFS: Kubo in one private network (one swarm key) peered with the other
organisations, and an IPFS Cluster peer (CRDT consensus, one cluster secret) that trusts the other
organisations' cluster peers only.
"""

from __future__ import annotations

import json
from typing import Any

from .members import Members, Org


def kubo_peering(org: Org, peer_id: str) -> dict[str, Any]:
    """`org`'s Kubo as an entry of the others' `Peering.Peers`: kept connected, reconnected when dropped."""
    return {"ID": peer_id, "Addrs": [f"{org.multiaddr_host()}/tcp/{org.ports['ipfs_swarm']}"]}


def kubo_init_script(members: Members, org: Org, peering: list[dict[str, Any]]) -> str:
    """A script run once, as the service user, that makes `org`'s Kubo repository for production: the
    `server` profile, the generated identity, loopback RPC and gateway, TCP swarm only (a private network
    has no QUIC), no public bootstrap, no AutoConf, DHT routing within the swarm (no announcements), the
    others as peers."""
    d = members.deploy
    swarm = f"/ip4/0.0.0.0/tcp/{org.ports['ipfs_swarm']}"
    announce = f"{org.multiaddr_host()}/tcp/{org.ports['ipfs_swarm']}"
    settings: list[tuple[str, Any]] = [
        ("AutoConf.Enabled", False),  # with a swarm key and AutoConf on, Kubo refuses to start
        ("AutoTLS.Enabled", False),
        ("Bootstrap", []),  # no public bootstrap peers: the consortium's are in Peering.Peers
        ("DNS.Resolvers", {}),
        ("Routing.DelegatedRouters", []),
        ("Ipns.DelegatedPublishers", []),
        ("Routing.Type", "dht"),
        # Every organisation's daemon is in every other's Peering.Peers, and bitswap asks connected peers
        # first: announcing each block on the DHT tells them nothing and costs each daemon CPU per block.
        ("Provide.Enabled", False),
        ("Addresses.API", f"/ip4/127.0.0.1/tcp/{org.ports['ipfs_api']}"),
        ("Addresses.Gateway", f"/ip4/127.0.0.1/tcp/{org.ports['ipfs_gateway']}"),
        ("Addresses.Swarm", [swarm]),
        ("Addresses.Announce", [announce]),
        # The server profile filters private address ranges, where consortium hosts often are; the swarm
        # key keeps everyone else out.
        ("Addresses.NoAnnounce", []),
        ("Swarm.AddrFilters", []),
        ("Swarm.Transports.Network.QUIC", False),
        ("Swarm.Transports.Network.WebTransport", False),
        ("Swarm.Transports.Network.WebRTCDirect", False),
        ("Peering.Peers", peering),
    ]
    lines = [
        "#!/bin/sh",
        f"# Make {org.name}'s Kubo repository for {members.consortium}. Run once, as {d.user}, before the",
        "# first start of kubo.service. Refuses a repository that exists. The variables can be overridden.",
        "set -eu",
        f'IPFS="${{IPFS:-{d.bin_dir}/ipfs}}"',
        f'export IPFS_PATH="${{IPFS_PATH:-{d.data_dir}/ipfs}}"',
        'HERE="$(cd "$(dirname "$0")" && pwd)"',
        "umask 077",
        'if [ -e "$IPFS_PATH/config" ]; then echo "$IPFS_PATH has a repository already" >&2; exit 2; fi',
        'mkdir -p "$(dirname "$IPFS_PATH")"',
        '"$IPFS" init --profile server --empty-repo >/dev/null',
        "# The generated identity, so that the other organisations' peering lists name this peer.",
        'python3 - "$HERE/kubo-identity.json" "$IPFS_PATH/config" <<\'PY\'',
        "import json, os, sys",
        "identity = json.load(open(sys.argv[1]))",
        "config = json.load(open(sys.argv[2]))",
        'config["Identity"] = {"PeerID": identity["PeerID"], "PrivKey": identity["PrivKey"]}',
        'tmp = sys.argv[2] + ".tmp"',
        'with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:',
        "    json.dump(config, out, indent=2)",
        "os.replace(tmp, sys.argv[2])",
        "PY",
    ]
    for key, value in settings:
        lines.append(f"\"$IPFS\" config --json {key} '{json.dumps(value)}'")
    lines += [
        'install -m 0600 "$HERE/swarm.key" "$IPFS_PATH/swarm.key"',
        'echo "Kubo repository in $IPFS_PATH, peer $("$IPFS" config Identity.PeerID)"',
        "",
    ]
    return "\n".join(lines)


def cluster_service_json(
    members: Members, org: Org, trusted: list[str], peer_addresses: list[str]
) -> dict[str, Any]:
    """IPFS Cluster's service.json for `org`. Its secret is not in it: the service reads CLUSTER_SECRET
    from cluster.env (mode 0600), so that this file can be shown and committed. Only the REST API is
    served (on loopback); the IPFS proxy and the pinning-service API are left out."""
    return {
        "cluster": {
            "peername": org.slug,
            "secret": "",
            "leave_on_shutdown": False,
            "listen_multiaddress": [f"/ip4/0.0.0.0/tcp/{org.ports['cluster']}"],
            "announce_multiaddress": [f"{org.multiaddr_host()}/tcp/{org.ports['cluster']}"],
            "enable_relay_hop": False,
            "replication_factor_min": -1,
            "replication_factor_max": -1,
            "disable_repinning": True,
            "mdns_interval": "0s",
            "pin_only_on_trusted_peers": True,
            "peer_addresses": peer_addresses,
        },
        "consensus": {
            "crdt": {
                "cluster_name": members.consortium,
                "trusted_peers": trusted,
                "batching": {"max_batch_size": 0, "max_batch_age": "0s"},
                "repair_interval": "1h0m0s",
            }
        },
        # Each section is whole: a component read from this file starts from zero values, not from its
        # defaults (these are IPFS Cluster 1.1.6's defaults unless a comment says otherwise).
        "api": {
            "restapi": {
                "http_listen_multiaddress": [f"/ip4/127.0.0.1/tcp/{org.ports['cluster_api']}"],
                "read_timeout": "0s",
                "read_header_timeout": "5s",
                "write_timeout": "0s",
                "idle_timeout": "2m0s",
                "max_header_bytes": 4096,
                "basic_auth_credentials": None,
                "http_log_file": "",
                "headers": {},
                "cors_allowed_origins": [],  # no browser origin: the node is its only client
                "cors_allowed_methods": ["GET"],
                "cors_allowed_headers": [],
                "cors_exposed_headers": [],
                "cors_allow_credentials": False,
                "cors_max_age": "0s",
            }
        },
        "ipfs_connector": {
            "ipfshttp": {
                "node_multiaddress": f"/ip4/127.0.0.1/tcp/{org.ports['ipfs_api']}",
                "connect_swarms_delay": "30s",
                "ipfs_request_timeout": "5m0s",
                "pin_timeout": "2m0s",
                "unpin_timeout": "3h0m0s",
                "repogc_timeout": "24h0m0s",
                "informer_trigger_interval": 0,
            },
        },
        "pin_tracker": {
            "stateless": {
                "concurrent_pins": 10,
                "priority_pin_max_age": "24h0m0s",
                "priority_pin_max_retries": 5,
            }
        },
        "monitor": {"pubsubmon": {"check_interval": "15s"}},
        "allocator": {"balanced": {"allocate_by": ["freespace"]}},
        "informer": {"disk": {"metric_ttl": "30s", "metric_type": "freespace"}},
        "datastore": {"pebble": {}},
    }


def cluster_peer_address(org: Org, peer_id: str) -> str:
    return f"{org.multiaddr_host()}/tcp/{org.ports['cluster']}/p2p/{peer_id}"
