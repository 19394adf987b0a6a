"""Consortium benchmark: the three-organisation Clique devnet (geth sealers, Kubo, IPFS Cluster, nodes).

- startup_s: `devnet.up(folder, 3)` creating a new devnet (cold: keys, genesis, `geth init`, Kubo and
  cluster init, contracts, governance, nodes), then after `down` resuming it (warm);
- final_s: from sending a record (a dataset's `collect` with a digest-only output) until its outbox entry
  says `final` at the devnet's confirmations, one record at a time, spread over the organisations; with
  the time until the entry first has a block number (inclusion), so that one sees where the time goes;
- records_per_s: every organisation writing to its own asset through its own node at once (capture.py's
  measure_throughput, one per organisation), all records / time from the first request until the last
  record of every organisation is final;
- ack_ms: the durable acknowledgement (202) at a steady 50 records per second on one organisation
  (capture.py's measure_ack), while the consortium seals; with disk_sync_ms, the time the same disk took
  meanwhile to sync one overwritten 4 KiB block (disk_sync.py), which is the floor under the
  acknowledgement's own sync;
- rss_mb: the idle memory (VmRSS, MiB) of every process of the devnet after the load, per kind and
  organisation, the node counted as its API process and its background process;
- engines_cached_s: `deploy/engines/build.sh` when every engine is cached; engines_cold_s, when the lead's
  cold build log (/tmp/cold/build.log) exists, the time it printed for each engine.

Run with `make bench` or `python -m tests.bench.consortium [--json PATH] [--records N]` (N per
organisation).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from proml.devnet import devnet
from proml.devnet.devnet import Ports
from proml.node import background
from tests.bench.capture import (
    DIGEST,
    PACED_PER_SECOND,
    children,
    cpu_seconds,
    measure_ack,
    measure_throughput,
    percentile,
    stolen_seconds,
    summary,
    wait_drained,
    wait_final,
)
from tests.bench.disk_sync import SyncProbe

# node_rss_mb is in MB (10**6 bytes), as DESIGN's target; rss_mb holds MiB, as /proc gives them.
TARGETS = {"final_p50_s": 3.0, "records_per_s": 300.0, "ack_p99_ms": 10.0, "node_rss_mb": 200.0}
MIB = 1 << 20
ORGS = 3
FINAL_SAMPLES = 60
FINAL_POLL = 0.025  # within the 20-50 ms the figures are read at
FINAL_TIMEOUT = 300.0
RECORDS_PER_ORG = 2000
ACK_SAMPLES = 500
IDLE_WAIT = 20.0
ANY_PORT = Ports(chain=0, node=0, ipfs_api=0, ipfs_swarm=0, cluster=0)
ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "deploy" / "engines" / "build.sh"
COLD_LOG = Path("/tmp/cold/build.log")
BUILT = re.compile(r"^engines: built (\S+) (\S+) in (\d+) s")
OUTPUT = {"name": "raw", "kind": "dataset", **DIGEST}


def progress(line: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def client(org: dict[str, Any]) -> httpx.Client:
    return httpx.Client(
        base_url=org["node_url"], headers={"Authorization": f"Bearer {org['api_key']}"}, timeout=60
    )


def follow(http: httpx.Client, asset: str) -> dict[str, float]:
    """One record from request to `final`: seconds to the 202, to a block number, to final."""
    started = time.perf_counter()
    body = {"activity": "collect", "outputs": [OUTPUT]}
    entry_id = http.post(f"/v1/assets/{asset}/records", json=body).raise_for_status().json()["id"]
    times = {"ack": time.perf_counter() - started}
    while True:
        entry = http.get(f"/v1/outbox/{entry_id}").raise_for_status().json()
        now = time.perf_counter() - started
        if entry["block_number"] is not None and "included" not in times:
            times["included"] = now
        if entry["status"] == "final":
            times.setdefault("included", now)
            times["final"] = now
            return times
        if entry["status"] == "failed" or now > FINAL_TIMEOUT:
            raise RuntimeError(f"entry {entry_id}: {entry['status']} {entry['error']}")
        time.sleep(FINAL_POLL)


def seconds_summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(values),
        "p99": percentile(values, 0.99),
        "max": max(values),
        "samples": len(values),
    }


def measure_final(orgs: list[dict[str, Any]], assets: list[str], samples: int) -> dict[str, Any]:
    clients = [client(org) for org in orgs]
    try:
        runs = [follow(clients[i % len(orgs)], assets[i % len(orgs)]) for i in range(samples)]
    finally:
        for http in clients:
            http.close()
    return {
        "final": seconds_summary([r["final"] for r in runs]),
        "included": seconds_summary([r["included"] for r in runs]),
        "included_to_final": seconds_summary([r["final"] - r["included"] for r in runs]),
        "ack": seconds_summary([r["ack"] for r in runs]),
        "poll_s": FINAL_POLL,
    }


def measure_all_at_once(orgs: list[dict[str, Any]], assets: list[str], records: int) -> dict[str, Any]:
    """Every organisation's load at once; each measure_throughput returns when its own outbox is empty."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(orgs)) as pool:
        rates = list(
            pool.map(
                lambda pair: measure_throughput(pair[0]["node_url"], pair[0]["api_key"], pair[1], records),
                zip(orgs, assets, strict=True),
            )
        )
    elapsed = time.perf_counter() - started
    return {
        "total": records * len(orgs) / elapsed,
        "seconds": elapsed,
        "per_org": {org["name"]: rate for org, rate in zip(orgs, rates, strict=True)},
    }


def background_of(node: int) -> list[int]:
    """The node's background process (by its process name, among the node's children)."""
    return [
        child
        for child in children(node)
        if Path(f"/proc/{child}/comm").read_text().strip() == background.PROCESS_NAME
    ]


def devnet_pids(processes: dict[str, Any]) -> dict[str, int]:
    """The devnet's processes by name ("geth:A", ...), with each node's background process ("node
    background:A"; the node's only child)."""
    pids = {name: process["pid"] for name, process in processes.items()}
    for name, pid in list(pids.items()):
        if name.startswith("node:"):
            (pids[f"node background:{name.split(':', 1)[1]}"],) = background_of(pid)
    return pids


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"process {pid} has no VmRSS (a zombie?)")


def measure_memory(processes: dict[str, Any]) -> dict[str, dict[str, float]]:
    """{kind: {org: MiB}}; the node as "node api", "node background" and their sum "node"."""
    memory: dict[str, dict[str, float]] = {}
    for name, process in processes.items():
        kind, _, org = name.partition(":")
        pid = process["pid"]
        if kind == "node":
            api, worker = rss_mb(pid), sum(rss_mb(child) for child in children(pid))
            memory.setdefault("node api", {})[org] = api
            memory.setdefault("node background", {})[org] = worker
            memory.setdefault("node", {})[org] = api + worker
        else:
            memory.setdefault(kind, {})[org] = rss_mb(pid)
    return memory


def measure_engines() -> dict[str, Any]:
    """`build.sh` with everything cached, and the lead's cold build times if its log is there."""
    started = time.perf_counter()
    done = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    lines = done.stdout.splitlines()
    if not lines or any("building" in line for line in lines):
        raise RuntimeError(f"build.sh built something, the figure is not of a cached run:\n{done.stdout}")
    figures: dict[str, Any] = {"engines_cached_s": elapsed}
    if COLD_LOG.exists():
        cold = {
            f"{m[1]} {m[2]}": int(m[3])
            for line in COLD_LOG.read_text().splitlines()
            if (m := BUILT.match(line))
        }
        if cold:
            figures["engines_cold_s"] = cold
    return figures


def timed_up(path: Path) -> tuple[float, list[tuple[float, str]]]:
    """`devnet.up`'s seconds, and each step it reported with the seconds since it began (where it goes)."""
    steps: list[tuple[float, str]] = []
    started = time.perf_counter()

    def echo(line: str) -> None:
        steps.append((round(time.perf_counter() - started, 2), line))
        progress(line)

    devnet.up(path, ORGS, ports=ANY_PORT, echo=echo)
    return time.perf_counter() - started, steps


def run(folder: Path, samples: int, records: int, figures: dict[str, Any]) -> None:
    """Fill `figures` as they are measured (what was measured stays there if a later step fails)."""
    path = folder / "devnet"
    load = {"start": os.getloadavg()}
    figures["machine"] = {"cpus": os.cpu_count(), "load_average": load}
    try:
        progress("creating a three-organisation Clique devnet")
        cold, cold_steps = timed_up(path)
        devnet.down(path)
        progress("resuming it")
        warm, warm_steps = timed_up(path)
        figures["startup_s"] = {"cold": cold, "warm": warm}
        figures["startup_steps"] = {"cold": cold_steps, "warm": warm_steps}
        status = devnet.status(path)
        orgs = status["orgs"]
        figures["confirmations"] = status["confirmations"]
        assets = []
        for org in orgs:
            with client(org) as http:
                registered = http.post("/v1/datasets", json={"name": "bench", "content": DIGEST})
                assets.append(wait_final(http, registered.raise_for_status().json()["id"])["asset"])
        progress(f"{samples} records to final, one at a time")
        figures["final_s"] = measure_final(orgs, assets, samples)
        progress(f"ack at {PACED_PER_SECOND:.0f}/s on {orgs[0]['name']}")
        with client(orgs[0]) as http, SyncProbe(folder) as disk:
            ack = measure_ack(http, assets[0], ACK_SAMPLES, PACED_PER_SECOND)
        with client(orgs[0]) as http:
            wait_drained(http)
        figures["ack_ms"] = {**summary(ack), "per_second": PACED_PER_SECOND, "org": orgs[0]["name"]}
        figures["disk_sync_ms"] = summary(disk.latencies_ms)
        progress(f"{records} records per organisation, all at once")
        load["before throughput"] = os.getloadavg()
        pids = devnet_pids(devnet.status(path)["processes"])
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        client_before, stolen_before = time.process_time(), stolen_seconds()
        figures["records_per_s"] = measure_all_at_once(orgs, assets, records)
        cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        cpu["client"] = time.process_time() - client_before
        cpu["stolen by the hypervisor"] = stolen_seconds() - stolen_before
        figures["cpu_s"] = cpu
        figures["records_per_org"] = records
        load["after throughput"] = os.getloadavg()
        progress(f"idle {IDLE_WAIT:.0f} s, then memory")
        time.sleep(IDLE_WAIT)
        figures["rss_mb"] = measure_memory(devnet.status(path)["processes"])
    finally:
        if (path / "devnet.json").exists():
            devnet.down(path)
    progress("engines build.sh, cached")
    figures.update(measure_engines())
    load["end"] = os.getloadavg()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--records", type=int, default=RECORDS_PER_ORG, help="records per organisation")
    parser.add_argument("--final-samples", type=int, default=FINAL_SAMPLES)
    args = parser.parse_args()
    figures: dict[str, Any] = {"targets": TARGETS}
    try:
        with tempfile.TemporaryDirectory(prefix="proml-bench-") as folder:
            run(Path(folder), args.final_samples, args.records, figures)
    except Exception as exc:
        figures["error"] = f"{type(exc).__name__}: {exc}"
        write(args.json, figures)
        raise
    startup = figures["startup_s"]
    print(f"devnet up, {ORGS} organisations: cold {startup['cold']:.1f} s, warm {startup['warm']:.1f} s")
    final = figures["final_s"]
    print(
        f"write to final ({figures['confirmations']} confirmations, polled every {FINAL_POLL * 1000:.0f} ms):"
    )
    for name in ("final", "included", "included_to_final"):
        f = final[name]
        print(f"  {name}: p50 {f['p50']:.2f} s, p99 {f['p99']:.2f} s, max {f['max']:.2f} s")
    ack = figures["ack_ms"]
    print(
        f"ack at {PACED_PER_SECOND:.0f}/s on {ack['org']}: p50 {ack['p50']:.2f} ms, p99 {ack['p99']:.2f} ms"
    )
    sync = figures["disk_sync_ms"]
    print(f"  the disk's sync of 4 KiB meanwhile: p50 {sync['p50']:.2f} ms, p99 {sync['p99']:.2f} ms")
    rate = figures["records_per_s"]
    each = ", ".join(f"{name} {value:.0f}" for name, value in rate["per_org"].items())
    print(f"records per second, {ORGS} organisations at once, until final: {rate['total']:.0f} ({each})")
    for kind, per_org in figures["rss_mb"].items():
        print(f"idle RSS {kind}: " + ", ".join(f"{org} {mb:.0f} MiB" for org, mb in per_org.items()))
    node_mb = {org: mib * MIB / 1e6 for org, mib in figures["rss_mb"]["node"].items()}
    print(
        "idle RSS node in MB (the target's unit): "
        + ", ".join(f"{o} {mb:.0f} MB" for o, mb in node_mb.items())
    )
    cpu = ", ".join(f"{name} {seconds:.1f}" for name, seconds in figures["cpu_s"].items())
    print(f"CPU seconds during the records-per-second run: {cpu}")
    print(f"engines build.sh, cached: {figures['engines_cached_s']:.2f} s")
    for engine, seconds in figures.get("engines_cold_s", {}).items():
        print(f"engines cold (lead's /tmp/cold/build.log): {engine} {seconds} s")
    averages = figures["machine"]["load_average"]
    print(
        "load average (1, 5, 15 min): "
        + "; ".join(f"{k} {v[0]:.1f} {v[1]:.1f} {v[2]:.1f}" for k, v in averages.items())
    )
    write(args.json, figures)


def write(path: Path | None, figures: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
