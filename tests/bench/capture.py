"""Capture benchmark: one node of a devnet, writing into anvil.

- ack_ms: time from sending a record request until the node answers that it is durably stored (its outbox,
  SQLite WAL with synchronous=FULL), measured by the client, as a training script would send them: one at
  a time, at a steady 50 records per second, while the node sends them on to the chain;
- ack_ms_unpaced: the same, one request right after the other (the node's flood of work then competes for
  the same two cores as anvil, IPFS and the client);
- records_per_s: records sent by several clients at once (the standard library's HTTP client, a lighter
  load generator than httpx), from the first request until the last record is final on chain (the
  submitter batches with recordBatch);
- reindex_s: time to rebuild an index of the whole chain from scratch;
- cpu_s: CPU seconds each process spent during the records-per-second run (where the time goes), and
  the CPU time the hypervisor gave to other machines meanwhile (steal: how noisy the machine was);
- outbox_sync_ms: the same outbox acknowledging alone, with nothing else running (what the disk allows);
- floor_ack_ms: a bare ASGI app that stores each request in SQLite, asked like the node at 50 per second
  (what this machine allows an acknowledgement over HTTP, without ProML; see http_floor.py).

Run with `make bench` or `python -m tests.bench.capture [--json PATH] [--records N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from proml.devnet import devnet
from proml.node import background
from proml.node.clients.chain import ChainClient
from proml.node.providers.blockchain import BlockchainProvider
from proml.node.services.index import Index
from proml.node.services.outbox import Outbox
from tests.bench import http_floor

TARGETS = {"ack_p99_ms": 10.0, "records_per_s": 300.0}
ACK_SAMPLES = 500
PACED_PER_SECOND = 50.0
THROUGHPUT_RECORDS = 3000
CLIENTS = 8
FINAL_TIMEOUT = 600.0
# Polling the health report costs the node, anvil and IPFS a call each: not too often.
DRAIN_POLL = 0.1
DIGEST = {"digest": "sha256:" + "ab" * 32}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def wait_final(http: httpx.Client, entry_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + FINAL_TIMEOUT
    while True:
        entry: dict[str, Any] = http.get(f"/v1/outbox/{entry_id}").raise_for_status().json()
        if entry["status"] == "final":
            return entry
        if entry["status"] == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"entry {entry_id}: {entry['status']} {entry['error']}")
        time.sleep(0.05)


def wait_drained(http: httpx.Client) -> None:
    deadline = time.monotonic() + FINAL_TIMEOUT
    while http.get("/v1/health").json()["outbox"]["depth"] > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the outbox did not drain")
        time.sleep(DRAIN_POLL)


def record(http: httpx.Client, asset: str) -> float:
    started = time.perf_counter()
    http.post(f"/v1/assets/{asset}/records", json={"activity": "collect"}).raise_for_status()
    return time.perf_counter() - started


def measure_ack(http: httpx.Client, asset: str, samples: int, per_second: float | None) -> list[float]:
    """Latencies in ms; with `per_second`, requests start on a fixed schedule (never in a burst)."""
    latencies = []
    start = time.perf_counter()
    for i in range(samples):
        if per_second is not None:
            time.sleep(max(0.0, start + i / per_second - time.perf_counter()))
        latencies.append(record(http, asset) * 1000)
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    return {"p50": p50, "p99": p99, "samples": len(latencies)}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stolen_seconds() -> float:
    """CPU time the hypervisor gave to other machines so far, all CPUs together (Linux's `steal`)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def _name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def children(pid: int) -> list[int]:
    """The processes `pid` started (the node's background process), from /proc (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def measure_outbox_alone(folder: Path, samples: int) -> list[float]:
    """Enqueue latencies (ms) of an outbox on the same disk, one every 20 ms, nothing else running."""
    outbox = Outbox(folder / "alone" / "outbox.db")
    latencies = []
    try:
        for i in range(samples):
            started = time.perf_counter()
            outbox.enqueue("record", {"i": i, "document": "x" * 800})
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    finally:
        outbox.close()
    return latencies


def measure_throughput(url: str, key: str, asset: str, records: int) -> float:
    """Records per second from `CLIENTS` connections at once until all are final.

    The load comes from the standard library's HTTP client rather than httpx: what is measured is the node,
    and a lighter load generator leaves more of the machine's two cores to it (its CPU is printed all the
    same, as `client`)."""
    address = urlsplit(url)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = json.dumps({"activity": "collect"})

    def send(count: int) -> None:
        connection = HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=60)
        try:
            for _ in range(count):
                connection.request("POST", f"/v1/assets/{asset}/records", body, headers)
                response = connection.getresponse()
                answer = response.read()
                if response.status != 202:
                    raise RuntimeError(f"the node answered {response.status}: {answer!r}")
        finally:
            connection.close()

    share = [records // CLIENTS + (1 if i < records % CLIENTS else 0) for i in range(CLIENTS)]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(send, share))
        wait_drained(http)
        return records / (time.perf_counter() - started)


def measure_reindex(chain_url: str, registry: str, folder: Path) -> tuple[float, int]:
    client = ChainClient(chain_url)
    reader = BlockchainProvider.reader(client, client.chain_id(), registry)
    index = Index(folder / "index.db", reader, registry)
    try:
        started = time.perf_counter()
        events = index.reindex()
        return time.perf_counter() - started, events
    finally:
        index.close()


def run(folder: Path, ack_samples: int, records: int) -> dict[str, Any]:
    devnet.up(folder / "devnet", 1, chain="anvil")
    try:
        status = devnet.status(folder / "devnet")
        org = status["orgs"][0]
        headers = {"Authorization": f"Bearer {org['api_key']}"}
        with httpx.Client(base_url=org["node_url"], headers=headers, timeout=60) as http:
            registered = http.post("/v1/datasets", json={"name": "bench", "content": DIGEST}).json()
            asset = wait_final(http, registered["id"])["asset"]
            ack = measure_ack(http, asset, ack_samples, PACED_PER_SECOND)
            wait_drained(http)
            unpaced = measure_ack(http, asset, ack_samples, None)
            wait_drained(http)
        pids = {name.split(":")[0]: p["pid"] for name, p in status["processes"].items()}
        (pids["node background"],) = [
            child for child in children(pids["node"]) if _name(child) == background.PROCESS_NAME
        ]
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        client_before, stolen_before = time.process_time(), stolen_seconds()
        per_second = measure_throughput(org["node_url"], org["api_key"], asset, records)
        cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        cpu["client"] = time.process_time() - client_before
        cpu["stolen by the hypervisor"] = stolen_seconds() - stolen_before
        reindex_s, events = measure_reindex(status["chain_url"], status["registry"], folder)
    finally:
        devnet.down(folder / "devnet")
    alone = measure_outbox_alone(folder, ack_samples)
    floor = http_floor.measure(folder / "floor", ack_samples, PACED_PER_SECOND)
    return {
        "ack_ms": {**summary(ack), "per_second": PACED_PER_SECOND},
        "ack_ms_unpaced": summary(unpaced),
        "records_per_s": per_second,
        "reindex_s": reindex_s,
        "reindex_events": events,
        "records": records,
        "clients": CLIENTS,
        "cpu_s": cpu,
        "outbox_sync_ms": summary(alone),
        "floor_ack_ms": summary(floor),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--records", type=int, default=THROUGHPUT_RECORDS)
    parser.add_argument("--ack-samples", type=int, default=ACK_SAMPLES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proml-bench-") as folder:
        figures = run(Path(folder), args.ack_samples, args.records)
    figures["targets"] = TARGETS
    ack, unpaced = figures["ack_ms"], figures["ack_ms_unpaced"]
    print(f"ack at {PACED_PER_SECOND:.0f}/s (request to durable acknowledgement): ", end="")
    print(f"p50 {ack['p50']:.2f} ms, p99 {ack['p99']:.2f} ms")
    print(f"ack back to back: p50 {unpaced['p50']:.2f} ms, p99 {unpaced['p99']:.2f} ms")
    print(f"records per second into anvil ({CLIENTS} clients): {figures['records_per_s']:.0f}")
    print(f"index rebuilt from the chain: {figures['reindex_s']:.2f} s ({figures['reindex_events']} events)")
    cpu = ", ".join(f"{name} {seconds:.1f}" for name, seconds in figures["cpu_s"].items())
    print(f"CPU seconds during the records-per-second run: {cpu}")
    alone = figures["outbox_sync_ms"]
    print(f"the outbox alone (nothing else running): p50 {alone['p50']:.2f} ms, p99 {alone['p99']:.2f} ms")
    floor = figures["floor_ack_ms"]
    print(f"a bare ASGI app + SQLite at {PACED_PER_SECOND:.0f}/s: ", end="")
    print(f"p50 {floor['p50']:.2f} ms, p99 {floor['p99']:.2f} ms")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
