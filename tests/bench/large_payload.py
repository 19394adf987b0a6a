"""Large payload benchmark: a file of several GiB stored, fetched and verified through one node on Kubo.

A one-organisation devnet (`--chain anvil`; consensus does not matter here) with its Kubo daemon; a file of
`--gib` GiB (default 5) of pseudo-random bytes (so that no block deduplicates). Through the SDK:

- upload: `POST /v1/payloads` streams the file into Kubo; the node recomputes its CID and digest as it goes
  and refuses a CID that differs from Kubo's (payloads of 2 to 4 GiB could not be stored before Kubo: the
  embedded daemon wrote the UnixFS block sizes of 2^31 and more wrongly);
- the CID of the same file computed by `proml.core.content` alone, compared;
- register a dataset with it, and `verify` the file against the asset (streamed upload, hashed);
- download: `GET /v1/payloads/{cid}` into a file, which the node checks against the CID and the digest
  before it sends the first byte; the copy compared byte for byte with the original;
- peak RSS of the node's API process and its background process, sampled every 0.2 s during each step,
  against their RSS before: "memory flat" means the peak does not grow with the file.

Run with `python -m tests.bench.large_payload [--gib N] [--json PATH]`; it needs `--gib` x 2 of free disk
in the temporary folder (`TMPDIR`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from proml import sdk
from proml.core.content import CID, cid_of_file
from proml.devnet import devnet
from tests.bench.capture import children

T = TypeVar("T")
CHUNK = 8 << 20
RSS_LIMIT_MB = 200.0  # a node (API + background) at rest, DESIGN's target; here under a load of GiB


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_random(path: Path, size: int) -> str:
    """`size` bytes that never repeat (SHAKE-128 of a counter: no two blocks alike); their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        written, counter = 0, 0
        while written < size:
            block = hashlib.shake_128(counter.to_bytes(8, "big")).digest(min(CHUNK, size - written))
            out.write(block)
            digest.update(block)
            written += len(block)
            counter += 1
    return "sha256:" + digest.hexdigest()


@contextmanager
def peak_rss(pids: list[int]) -> Iterator[dict[str, float]]:
    """The peak RSS (MB) of each process while the block runs."""
    peaks = {str(pid): rss_mb(pid) for pid in pids}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            for pid in pids:
                peaks[str(pid)] = max(peaks[str(pid)], rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        done.set()
        sampler.join()


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def same_file(a: Path, b: Path) -> bool:
    with a.open("rb") as left, b.open("rb") as right:
        while True:
            x, y = left.read(CHUNK), right.read(CHUNK)
            if x != y:
                return False
            if not x:
                return True


def run(folder: Path, gib: float) -> dict[str, Any]:
    size = int(gib * (1 << 30))
    original, copy = folder / "payload.bin", folder / "payload.copy"
    digest, write_s = timed(lambda: write_random(original, size))
    root = folder / "devnet"
    devnet.up(root, 1, chain="anvil")
    try:
        org = devnet.status(root)["orgs"][0]
        api_pid = devnet.status(root)["processes"]["node:A"]["pid"]
        pids = [api_pid, *children(api_pid)]
        before = {str(pid): rss_mb(pid) for pid in pids}
        names = {str(api_pid): "api", **{str(pid): "background" for pid in pids[1:]}}
        with sdk.connect(org["node_url"], org["api_key"], timeout=3600) as node:
            with peak_rss(pids) as upload_peak:
                stored, upload_s = timed(lambda: node.upload(original))
            version = CID.parse(stored["cid"]).version  # the node's setting: compare like with like
            local, local_s = timed(lambda: cid_of_file(original, cid_version=version))
            dataset = node.register("dataset", name="large", content=stored).wait(timeout=300)
            with peak_rss(pids) as verify_peak:
                verified, verify_s = timed(lambda: node.verify(dataset, original))
            with peak_rss(pids) as download_peak:
                _, download_s = timed(lambda: node.download(stored["cid"], copy, digest=stored["digest"]))
        identical = same_file(original, copy)
    finally:
        devnet.down(root)

    def by_process(peaks: dict[str, float]) -> dict[str, float]:
        return {names[pid]: round(mb, 1) for pid, mb in peaks.items()}

    return {
        "gib": gib,
        "bytes": size,
        "cid": stored["cid"],
        "cid_matches_local": str(local.cid) == stored["cid"],
        "digest_matches": stored["digest"] == digest,
        "verify_result": verified["result"],
        "copy_identical": identical,
        "write_file_s": round(write_s, 1),
        "upload_s": round(upload_s, 1),
        "upload_mb_s": round(size / upload_s / 1e6, 1),
        "local_cid_s": round(local_s, 1),
        "verify_s": round(verify_s, 1),
        "download_s": round(download_s, 1),
        "download_mb_s": round(size / download_s / 1e6, 1),
        "rss_before_mb": by_process(before),
        "rss_peak_upload_mb": by_process(upload_peak),
        "rss_peak_verify_mb": by_process(verify_peak),
        "rss_peak_download_mb": by_process(download_peak),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proml-large-") as folder:
        results = run(Path(folder), args.gib)
    for key, value in results.items():
        print(f"{key:24} {value}")
    peak = max(sum(results[key].values()) for key in results if key.startswith("rss_peak"))
    print(f"{'node peak (api+bg)':24} {peak:.1f} MB (limit at rest {RSS_LIMIT_MB:.0f} MB)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    ok = results["cid_matches_local"] and results["digest_matches"] and results["copy_identical"]
    raise SystemExit(0 if ok and results["verify_result"] == "OK" else 1)


if __name__ == "__main__":
    main()
