"""Whole-history verification benchmark: one asset with 10,000 records, verified through a node's API.

A one-organisation devnet (anvil, the organisation's IPFS daemon, one `proml node start`) is started as
tests/bench/capture.py starts it; a dataset is registered and 10,000 records are written to it through the
SDK (several clients at once), until every one is final and indexed. Then `GET /v1/assets/{a}/verification`
(the whole history: every record document against its on-chain digest and fields, the hash chain against
the head) is timed from a client:

- cold_api_s: the node's first verification of the asset, right after the last record is indexed: its
  documents are read from the node's store of verified documents where the node's replicator, which
  checks every new document, has put them already, and fetched from IPFS otherwise;
- warm_api_s: the calls after it (each document read from that store and hashed again);
- cold_service_s: the verify service in this process, over an index rebuilt from the chain and the same
  IPFS daemon, with an empty document store each run (several cold samples without restarting the node).

Each verification must answer OK with every record checked. Run with `make bench` or
`python -m tests.bench.verify_history [--json PATH] [--records N] [--runs N] [--cold-runs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from proml import sdk
from proml.devnet import devnet
from proml.node.clients.chain import ChainClient
from proml.node.clients.ipfs import IpfsClient
from proml.node.providers.blockchain import BlockchainProvider
from proml.node.providers.storage import StorageProvider
from proml.node.services.document_cache import DocumentCache
from proml.node.services.index import Index
from proml.node.services.query import Query
from proml.node.services.verify import VerifyService

TARGET_S = 2.0
RECORDS = 10_000
RUNS = 5
COLD_RUNS = 2
CLIENTS = 8
INDEXED_TIMEOUT = 900.0
VERIFY_TIMEOUT = 600.0


def figures(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"p50": None, "max": None, "runs": []}
    return {"p50": statistics.median(seconds), "max": max(seconds), "runs": seconds}


def write_records(url: str, key: str, asset: str, records: int) -> None:
    """`records` records on `asset` through the SDK, from `CLIENTS` connections at once."""

    def send(count: int) -> None:
        with sdk.connect(url, key) as node:
            for _ in range(count):
                node.record(asset, "collect")

    share = [records // CLIENTS + (1 if i < records % CLIENTS else 0) for i in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, share))


def wait_indexed(http: httpx.Client, asset: str, seq: int) -> None:
    """Until the node's index holds the asset's record `seq` (and so every record before it)."""
    deadline = time.monotonic() + INDEXED_TIMEOUT
    while not http.get(f"/v1/assets/{asset}/history", params={"since": seq}).raise_for_status().json():
        if time.monotonic() > deadline:
            raise RuntimeError(f"record {seq} of {asset} was not indexed in {INDEXED_TIMEOUT:.0f} s")
        time.sleep(0.5)


FAILURES: list[str] = []  # verifications that were not OK: printed and written with the figures


def checked(report: dict[str, Any], records: int) -> None:
    """Every record must have been checked; a verification that is not OK (a document IPFS did not serve
    in time, on a loaded machine) is noted beside the figures, which then do not count as met."""
    if report["records"] != records or len(report["documents"]) != records:
        raise RuntimeError(f"{report['records']} records verified, not {records}")
    if not report["ok"]:
        FAILURES.append(f"{len(report['problems'])} problems, first: {report['problems'][:1]}")


def timed(call: Callable[[], dict[str, Any]], records: int) -> float:
    started = time.perf_counter()
    report = call()
    elapsed = time.perf_counter() - started
    checked(report, records)
    return elapsed


def measure_service(status: dict[str, Any], asset: str, folder: Path, runs: int, records: int) -> list[float]:
    """Cold verifications by a VerifyService in this process: an index rebuilt from the chain, the org's
    IPFS daemon, and an empty document store for each run."""
    client = ChainClient(status["chain_url"])
    reader = BlockchainProvider.reader(client, client.chain_id(), status["registry"])
    index = Index(folder / "index.db", reader, status["registry"])
    try:
        index.reindex()

        async def run(store: Path) -> float:
            async with IpfsClient(status["orgs"][0]["ipfs_api"]) as ipfs:
                cache = DocumentCache(store)
                try:
                    service = VerifyService(
                        Query(index), StorageProvider(ipfs), reader, status["registry"], cache
                    )
                    started = time.perf_counter()
                    report = await service.verify_history(asset)
                    elapsed = time.perf_counter() - started
                finally:
                    cache.close()
            checked(report, records)
            return elapsed

        return [asyncio.run(run(folder / f"documents-{i}.db")) for i in range(runs)]
    finally:
        index.close()


def run(folder: Path, records: int, runs: int, cold_runs: int) -> dict[str, Any]:
    devnet.up(folder / "devnet", 1, chain="anvil")
    try:
        status = devnet.status(folder / "devnet")
        org = status["orgs"][0]
        with sdk.connect(org["node_url"], org["api_key"]) as node:
            dataset = node.register("dataset", name="verify-bench", content={"digest": "sha256:" + "ab" * 32})
            asset = dataset.wait().address
        started = time.perf_counter()
        write_records(org["node_url"], org["api_key"], asset, records)
        headers = {"Authorization": f"Bearer {org['api_key']}"}
        with httpx.Client(base_url=org["node_url"], headers=headers, timeout=VERIFY_TIMEOUT) as http:
            wait_indexed(http, asset, records)  # the registration is seq 0
            written_s = time.perf_counter() - started

            def verify() -> dict[str, Any]:
                report: dict[str, Any] = (
                    http.get(f"/v1/assets/{asset}/verification").raise_for_status().json()
                )
                return report

            cold = timed(verify, records + 1)
            warm = [timed(verify, records + 1) for _ in range(runs)]
        service = measure_service(status, asset, folder, cold_runs, records + 1) if cold_runs else []
    finally:
        devnet.down(folder / "devnet")
    return {
        "records": records + 1,
        "written_and_indexed_s": written_s,
        "cold_api_s": cold,
        "warm_api_s": figures(warm),
        "cold_service_s": figures(service),
        "target_s": TARGET_S,
        "not_ok": FAILURES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--runs", type=int, default=RUNS, help="warm calls through the API")
    parser.add_argument("--cold-runs", type=int, default=COLD_RUNS, help="cold runs of the service")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proml-bench-") as folder:
        result = run(Path(folder), args.records, args.runs, args.cold_runs)
    warm, service = result["warm_api_s"], result["cold_service_s"]
    print(f"{result['records']} records written and indexed in {result['written_and_indexed_s']:.1f} s")
    print(f"whole-history verification through the API, cold (first call): {result['cold_api_s']:.2f} s")
    print(f"  warm ({args.runs} calls): p50 {warm['p50']:.2f} s, max {warm['max']:.2f} s")
    if service["runs"]:
        print(f"the verify service in process, cold ({args.cold_runs} runs, empty store each): ", end="")
        print(f"p50 {service['p50']:.2f} s, max {service['max']:.2f} s")
    for failure in result["not_ok"]:
        print(f"a verification was not OK: {failure}")
    print(f"target: {TARGET_S:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
