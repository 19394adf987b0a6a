#!/usr/bin/env bash
# Build the consortium's engines from their upstream Go modules, pinned, into a cache outside the work
# tree: go-ethereum (Clique sealer), Kubo (IPFS daemon) and IPFS Cluster. Idempotent: an engine whose
# binaries are in the cache is not built again. Prints what it builds and how long it took.
#
#   deploy/engines/build.sh            build what is missing
#   deploy/engines/build.sh --print    print the folder each engine's binaries are in
#
# The cache is $PROML_ENGINES, by default ~/.cache/proml/engines; Go's own module and build caches make
# a rebuild after `rm -rf` of that folder fast.
set -euo pipefail

GETH_VERSION=v1.13.15
KUBO_VERSION=v0.43.1
CLUSTER_VERSION=v1.1.6
CACHE="${PROML_ENGINES:-${XDG_CACHE_HOME:-$HOME/.cache}/proml/engines}"

folder() { echo "$CACHE/$1-$2/bin"; }

if [[ "${1:-}" == "--print" ]]; then
    echo "geth $(folder geth "$GETH_VERSION")"
    echo "kubo $(folder kubo "$KUBO_VERSION")"
    echo "ipfs-cluster $(folder ipfs-cluster "$CLUSTER_VERSION")"
    exit 0
fi

command -v go >/dev/null || { echo "Go is needed to build the engines (Go >= 1.23)" >&2; exit 2; }
mkdir -p "$CACHE"

# build NAME VERSION BINARY... -- COMMAND: runs COMMAND with $OUT set to a fresh folder, then moves it into
# the cache in one rename, so that an interrupted or failed build leaves nothing that looks finished.
build() {
    local name=$1 version=$2; shift 2
    local binaries=()
    while [[ $1 != -- ]]; do binaries+=("$1"); shift; done
    shift
    local target; target=$(folder "$name" "$version")
    local missing=0
    for binary in "${binaries[@]}"; do [[ -x "$target/$binary" ]] || missing=1; done
    if (( missing == 0 )); then
        echo "engines: $name $version cached in $target"
        return
    fi
    echo "engines: building $name $version (${binaries[*]}) ..."
    local started=$SECONDS work status=0
    work=$(mktemp -d "$CACHE/.build-$name.XXXXXX")
    # In the background and then waited for: a subshell whose status is tested would run without -e.
    (OUT="$work/bin" WORK="$work" "$@") &
    wait $! || status=$?
    for binary in "${binaries[@]}"; do [[ -x "$work/bin/$binary" ]] || missing=2; done
    if (( status != 0 || missing == 2 )); then
        rm -rf "$work"
        echo "engines: building $name $version failed (the lines above say why)" >&2
        exit 1
    fi
    rm -rf "${target%/bin}"
    mv "$work" "${target%/bin}"
    echo "engines: built $name $version in $((SECONDS - started)) s -> $target"
}

# wrapper_module PACKAGE@VERSION...: a throwaway main module in $WORK/module that requires the commands as
# tools. Upstream's own go.mod is then a dependency's: its `replace` and `exclude` lines do not apply (so
# each caller restates the ones it needs), and `go install pkg@version`, which refuses a go.mod with such
# lines and asks the module proxy for a version list that it may not serve, is not needed.
wrapper_module() {
    mkdir -p "$WORK/module" && cd "$WORK/module"
    go mod init proml.local/engines >/dev/null 2>&1
    go get -tool "$@"
}

build_geth() {
    # fjl/memsize links against runtime internals that Go 1.23+ hides unless the check is off.
    GOBIN="$OUT" go install -ldflags=-checklinkname=0 "github.com/ethereum/go-ethereum/cmd/geth@$GETH_VERSION"
}

build_kubo() {
    wrapper_module "github.com/ipfs/kubo/cmd/ipfs@$KUBO_VERSION"
    # Kubo's go.mod excludes these, and replaces go-libp2p v0.49.0 with a fork that moves it to quic-go
    # v0.62 and webtransport-go v0.13, which the module proxy here does not serve. We build go-libp2p
    # v0.49.0 as released, with the quic-go and webtransport-go it was released with; ProML's Kubo
    # listens on TCP only, so neither transport runs (docs/ipfs.md).
    go mod edit \
        -exclude=github.com/ipfs/go-ipfs-cmds@v2.0.1+incompatible \
        -exclude=github.com/libp2p/go-libp2p@v6.0.23+incompatible \
        -replace=github.com/quic-go/quic-go=github.com/quic-go/quic-go@v0.60.0 \
        -replace=github.com/quic-go/webtransport-go=github.com/quic-go/webtransport-go@v0.11.1
    go mod tidy
    go build -o "$OUT/ipfs" github.com/ipfs/kubo/cmd/ipfs
}

build_cluster() {
    wrapper_module "github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service@$CLUSTER_VERSION" \
        "github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl@$CLUSTER_VERSION"
    go build -o "$OUT/ipfs-cluster-service" github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service
    go build -o "$OUT/ipfs-cluster-ctl" github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl
}

started=$SECONDS
build geth "$GETH_VERSION" geth -- build_geth
build kubo "$KUBO_VERSION" ipfs -- build_kubo
build ipfs-cluster "$CLUSTER_VERSION" ipfs-cluster-service ipfs-cluster-ctl -- build_cluster
echo "engines: ready in $((SECONDS - started)) s"
