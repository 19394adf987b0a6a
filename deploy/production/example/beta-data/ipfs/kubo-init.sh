#!/bin/sh
# Make Beta Data's Kubo repository for example-consortium. Run once, as proml, before the
# first start of kubo.service. Refuses a repository that exists. The variables can be overridden.
set -eu
IPFS="${IPFS:-/usr/local/bin/ipfs}"
export IPFS_PATH="${IPFS_PATH:-/var/lib/proml/ipfs}"
HERE="$(cd "$(dirname "$0")" && pwd)"
umask 077
if [ -e "$IPFS_PATH/config" ]; then echo "$IPFS_PATH has a repository already" >&2; exit 2; fi
mkdir -p "$(dirname "$IPFS_PATH")"
"$IPFS" init --profile server --empty-repo >/dev/null
# The generated identity, so that the other organisations' peering lists name this peer.
python3 - "$HERE/kubo-identity.json" "$IPFS_PATH/config" <<'PY'
import json, os, sys
identity = json.load(open(sys.argv[1]))
config = json.load(open(sys.argv[2]))
config["Identity"] = {"PeerID": identity["PeerID"], "PrivKey": identity["PrivKey"]}
tmp = sys.argv[2] + ".tmp"
with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
    json.dump(config, out, indent=2)
os.replace(tmp, sys.argv[2])
PY
"$IPFS" config --json AutoConf.Enabled 'false'
"$IPFS" config --json AutoTLS.Enabled 'false'
"$IPFS" config --json Bootstrap '[]'
"$IPFS" config --json DNS.Resolvers '{}'
"$IPFS" config --json Routing.DelegatedRouters '[]'
"$IPFS" config --json Ipns.DelegatedPublishers '[]'
"$IPFS" config --json Routing.Type '"dht"'
"$IPFS" config --json Provide.Enabled 'false'
"$IPFS" config --json Addresses.API '"/ip4/127.0.0.1/tcp/5001"'
"$IPFS" config --json Addresses.Gateway '"/ip4/127.0.0.1/tcp/8080"'
"$IPFS" config --json Addresses.Swarm '["/ip4/0.0.0.0/tcp/4001"]'
"$IPFS" config --json Addresses.Announce '["/ip4/192.0.2.20/tcp/4001"]'
"$IPFS" config --json Addresses.NoAnnounce '[]'
"$IPFS" config --json Swarm.AddrFilters '[]'
"$IPFS" config --json Swarm.Transports.Network.QUIC 'false'
"$IPFS" config --json Swarm.Transports.Network.WebTransport 'false'
"$IPFS" config --json Swarm.Transports.Network.WebRTCDirect 'false'
"$IPFS" config --json Peering.Peers '[{"ID": "12D3KooWL6791uJcjZdB4Y5mxNiPNvDVUwiKLm6vc8ZacD2c28q2", "Addrs": ["/ip4/192.0.2.10/tcp/4001"]}, {"ID": "12D3KooWCKV7YPv85SCZNcbUSv4uNMzFjBh14jSjsSNM25TWxWia", "Addrs": ["/ip4/192.0.2.30/tcp/4001"]}]'
install -m 0600 "$HERE/swarm.key" "$IPFS_PATH/swarm.key"
echo "Kubo repository in $IPFS_PATH, peer $("$IPFS" config Identity.PeerID)"
