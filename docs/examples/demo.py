"""ProML's end-to-end demo (`make demo`): three organisations, one model, one audit.

A commissions the model and audits what comes back (it is also the consortium's validator); B supplies the
data; C develops the model. Each acts through its own node of a local consortium (`proml devnet`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
from sklearn.linear_model import LogisticRegression
from train_digits import train, write_digits

from proml import sdk
from proml.devnet import devnet
from proml.sdk import Node

DEFAULT_DIR = Path(".proml-demo")


def say(text: str) -> None:
    print(text, flush=True)


def connect(orgs: dict[str, dict[str, Any]], name: str) -> Node:
    return sdk.connect(orgs[name]["node_url"], orgs[name]["api_key"])


def cli(org: dict[str, Any], *args: str) -> str:
    """A `proml` command as organisation `org` would run it."""
    env = {**os.environ, "PROML_NODE_URL": org["node_url"], "PROML_API_KEY": org["api_key"]}
    done = subprocess.run(
        [sys.executable, "-m", "proml.cli.main", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"`proml {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout


def run(root: Path, work: Path) -> None:
    say(f"Starting a local consortium of three organisations in {root} ...")
    devnet.up(root, 3, echo=lambda line: say(f"  {line}"))
    orgs = {org["name"]: org for org in devnet.status(root)["orgs"]}
    a, b, c = connect(orgs, "A"), connect(orgs, "B"), connect(orgs, "C")

    say("\nB (data supplier) registers the digits dataset and a derived training split, and publishes both.")
    full_file, split_file = write_digits(work / "B")
    full = b.register_dataset(full_file, name="digits")
    for activity in ("collect", "label", "preprocess", "publish"):
        full.record(activity)
    split = b.register_dataset(split_file, name="digits-train", ancestors=[full])
    split.record("collect", inputs={"source": full})
    split.record("preprocess", inputs={"source": full}, params={"test_size": 0.25})
    split.record("publish").wait()
    say(f"  dataset {full.address}, split {split.address}")

    say("\nC (model developer) registers a model and trains it, reporting each step through the SDK.")
    c_split = c.asset(split.address)
    trained = train(c, c_split, work / "C")
    model = trained.model
    say(f"  model {model.address}: test accuracy {trained.accuracy:.3f}; weights published by C")

    say("\nA (validator) validates the evaluated model; C deploys it.")
    a_model = a.asset(model.address)
    a_model.record("validate", inputs={"model": trained.weights}, notes="accepted by A's review").wait()
    deployed = model.record("deploy").wait()
    say(f"  deploy recorded: accepted={deployed.accepted}")

    say("\nA checks the model C delivered:")
    delivered = a.verify(model.address, trained.weights)
    match = delivered["matches"][0]
    say(
        f"  {trained.weights.name}: {delivered['result']} (recorded by {match['actor_name']} in "
        f"'{match['activity']}' at {match['timestamp']})"
    )
    swapped = work / "A" / "swapped.joblib"
    swapped.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(LogisticRegression(C=0.01), swapped)
    report = a.verify(model.address, swapped)
    say(f"  {swapped.name}: {report['result']}; what was recorded for this model:")
    for item in report["recorded"]:
        say(
            f"    {item['where']:<8} {item['digest'][:18]}... by {item['actor_name']} "
            f"in '{item['activity']}' at {item['timestamp']}"
        )

    say("\nLineage of the model:")
    say(cli(orgs["A"], "lineage", model.address).rstrip())
    out = work / "audit"
    cli(orgs["A"], "audit", "--all", "--out", str(out))
    audit = json.loads((out / "audit-all.json").read_text(encoding="utf-8"))
    say(
        f"\nAudit by A: {len(audit['assets'])} assets, {len(audit['gaps'])} gaps, "
        f"{len(audit['rejected'])} rejected transitions; report (Markdown and JSON) in {out}"
    )
    for node in (a, b, c):
        node.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the devnet's folder")
    parser.add_argument("--stop", action="store_true", help="stop the consortium at the end")
    args = parser.parse_args()
    root = args.dir.resolve()
    try:
        run(root / "devnet", root / "work")
    finally:
        if args.stop:
            devnet.down(root / "devnet")
            say("\nThe consortium is stopped (its data stays in the folder).")
    if not args.stop:
        say("\nThe consortium keeps running. Stop it with:")
        say(f"  .venv/bin/proml devnet down --dir {root / 'devnet'}")


if __name__ == "__main__":
    main()
