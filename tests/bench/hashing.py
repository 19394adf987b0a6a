"""Hashing speed: ProML's digest of a 1 GiB file against `b3sum`, `sha256sum` and OpenSSF's model-signing.

The file (pseudo-random bytes) is read once before the runs, so that every run reads it from the page
cache, and each figure is the best of `--runs` runs:

- ProML: `proml.core.content.digest.digest_file(path, "blake3" | "sha256")`, in this process;
- `b3sum` (the BLAKE3 team's tool: the file mapped, hashed on every core) and coreutils' `sha256sum`, as
  processes of their own; `b3sum` from PATH, else built once, pinned, with
  `cargo install b3sum --version B3SUM --locked --root ~/.cache/proml/tools`;
- model-signing, from the package index, installed for this benchmark only into a venv of its own under
  `~/.cache/proml/tools`: `hashing.Config().use_file_serialization(hashing_algorithm=...).hash(folder)` on
  a folder that holds the file, timed inside its own process.

A ratio is the other tool's time over ProML's: above 1, ProML is faster. Targets: BLAKE3 at least 0.9 of
`b3sum`'s speed, SHA-256 at least `sha256sum`'s. Run with `make bench` or
`python -m tests.bench.hashing [--json PATH] [--gib N] [--runs N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proml.core.content.digest import digest_file
from tests.payloads import write_prng_file

GIB = 1 << 30
RUNS = 3
TOOLS = Path(os.environ.get("PROML_TOOLS", Path.home() / ".cache" / "proml" / "tools"))
B3SUM = "1.8.7"
MODEL_SIGNING = ("model-signing==1.1.1", "pyopenssl==26.4.0")  # its certificate signing imports OpenSSL
TARGETS = {"blake3_vs_b3sum": 0.9, "sha256_vs_sha256sum": 1.0}
MODEL_SIGNING_TIMER = """
import sys, time
from model_signing import hashing
config = hashing.Config().use_file_serialization(hashing_algorithm=sys.argv[2])
started = time.perf_counter()
config.hash(sys.argv[1])
print(time.perf_counter() - started)
"""


def best(run: Callable[[], float], runs: int) -> float:
    return min(run() for _ in range(runs))


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def b3sum() -> str:
    found = shutil.which("b3sum") or str(TOOLS / "bin" / "b3sum")
    if not Path(found).exists():
        cargo = ["cargo", "install", "b3sum", "--version", B3SUM, "--locked", "--root", str(TOOLS)]
        subprocess.run(cargo, check=True)
    return found


def model_signing_python() -> Path:
    venv = TOOLS / "model-signing"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *MODEL_SIGNING], check=True)
    return python


def run_tool(command: list[str]) -> float:
    return timed(lambda: subprocess.run(command, check=True, stdout=subprocess.DEVNULL))


def run_model_signing(python: Path, folder: Path, algorithm: str) -> float:
    script = [str(python), "-c", MODEL_SIGNING_TIMER, str(folder), algorithm]
    return float(subprocess.run(script, check=True, capture_output=True, text=True).stdout)


def measure(folder: Path, size: int, runs: int) -> dict[str, Any]:
    (folder / "model").mkdir()
    path = write_prng_file(folder / "model" / "weights.bin", size, seed=1)
    with path.open("rb") as stream:  # into the page cache
        while stream.read(1 << 24):
            pass
    b3, python = b3sum(), model_signing_python()
    seconds = {
        "proml_blake3": best(lambda: timed(lambda: digest_file(path, "blake3")), runs),
        "proml_sha256": best(lambda: timed(lambda: digest_file(path, "sha256")), runs),
        "b3sum": best(lambda: run_tool([b3, "--no-names", str(path)]), runs),
        "sha256sum": best(lambda: run_tool(["sha256sum", str(path)]), runs),
        "model_signing_blake3": best(lambda: run_model_signing(python, path.parent, "blake3"), runs),
        "model_signing_sha256": best(lambda: run_model_signing(python, path.parent, "sha256"), runs),
    }
    ratios = {
        "blake3_vs_b3sum": seconds["b3sum"] / seconds["proml_blake3"],
        "sha256_vs_sha256sum": seconds["sha256sum"] / seconds["proml_sha256"],
        "blake3_vs_model_signing": seconds["model_signing_blake3"] / seconds["proml_blake3"],
        "sha256_vs_model_signing": seconds["model_signing_sha256"] / seconds["proml_sha256"],
    }
    return {"bytes": size, "runs": runs, "cpus": os.cpu_count(), "seconds": seconds, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--gib", type=float, default=1.0, help="size of the file, GiB")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proml-bench-") as folder:
        result = measure(Path(folder), int(args.gib * GIB), args.runs)
    result["targets"] = TARGETS
    size = result["bytes"] / 1e6
    for name, seconds in result["seconds"].items():
        print(f"{name}: {seconds:.3f} s ({size / seconds:.0f} MB/s)")
    for name, ratio in result["ratios"].items():
        target = TARGETS.get(name)
        print(f"{name}: {ratio:.2f}" + (f" (target >= {target})" if target is not None else ""))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
