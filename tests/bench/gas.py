"""Gas benchmark: the ProML paper's ten-operation workload, plus recordBatch of 50 records.

Run with `make bench` or `python -m tests.bench.gas [--json PATH]`. Gas is deterministic, so the
contracts run in process on eth-tester (py-evm); anvil reports the same figures.

D1 register a dataset, D2 register a dataset derived from it, ML1 register a model from it,
ML2-1..7 the seven model activities (validate is sent by a validator organisation), each with its
inputs and outputs as a training script would report them, and a record-document CID (CIDv1, 36 bytes).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from proml.contracts.artifacts import load_artifact
from proml.core.workflow import Activity, AssetKind
from tests.contracts.consortium import Consortium, cid_for, random_digest
from tests.contracts.tester import tester_web3

TARGETS = {"ml2_median": 50_000, "registration": 220_000, "batch50_per_record": 25_000}
BATCH_SIZE = 50
BATCH_ASSETS = 5

# (label, function, sender, number of input digests, number of output digests)
MODEL_ACTIVITIES = [
    ("ML2-1", "selectData", "C", 1, 0),
    ("ML2-2", "preprocess", "C", 1, 1),
    ("ML2-3", "engineerFeatures", "C", 1, 1),
    ("ML2-4", "train", "C", 1, 1),
    ("ML2-5", "evaluate", "C", 2, 1),
    ("ML2-6", "validate", "V", 1, 0),
    ("ML2-7", "deploy", "C", 1, 0),
]


def as_bytes32(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address.removeprefix("0x"))


def run_workload(consortium: Consortium) -> dict[str, int]:
    gas: dict[str, int] = {}

    def register(
        label: str, kind: AssetKind, sender: str, ancestors: list[str], content: bytes | None
    ) -> Any:
        asset, receipt = consortium.register_with_receipt(kind, sender, ancestors, content)
        gas[label] = int(receipt["gasUsed"])
        return asset

    dataset = register("D1", AssetKind.DATASET, "B", [], None)
    split = register("D2", AssetKind.DATASET, "B", [dataset.address], None)
    model = register("ML1", AssetKind.MODEL, "C", [split.address], bytes(32))

    for label, function, sender, n_in, n_out in MODEL_ACTIVITIES:
        inputs = (
            [as_bytes32(split.address)]
            if function == "selectData"
            else [random_digest() for _ in range(n_in)]
        )
        outputs = [random_digest() for _ in range(n_out)]
        record = random_digest()
        call = getattr(model.functions, function)(record, cid_for(record), inputs, outputs)
        gas[label] = consortium.tx(call, sender)["gasUsed"]
    return gas


def run_batch(consortium: Consortium) -> int:
    """Gas per record of one recordBatch of 50 evaluations spread over five trained models."""
    models = [consortium.model("C") for _ in range(BATCH_ASSETS)]
    for model in models:
        for function in ("selectData", "preprocess", "engineerFeatures", "train"):
            consortium.record(model, function, "C")
    records = []
    for i in range(BATCH_SIZE):
        record = random_digest()
        asset = models[i % BATCH_ASSETS].address
        records.append(
            (asset, int(Activity.EVALUATE), record, cid_for(record), [random_digest()], [random_digest()])
        )
    receipt = consortium.tx(consortium.registry.functions.recordBatch(records), "C", gas=10_000_000)
    return int(receipt["gasUsed"]) // BATCH_SIZE


def full_deployment_gas(consortium: Consortium) -> int:
    """For comparison: deploying a whole ModelAsset contract per asset, as the paper's prototype did."""
    artifact = load_artifact("ModelAsset")
    factory = consortium.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = factory.constructor(consortium.registry.address).transact({"from": consortium.accounts["C"]})
    return int(consortium.w3.eth.wait_for_transaction_receipt(tx_hash)["gasUsed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()

    consortium = Consortium.create(tester_web3())
    operations = run_workload(consortium)
    per_record = run_batch(consortium)
    full = full_deployment_gas(consortium)

    ml2 = [operations[label] for label, *_ in MODEL_ACTIVITIES]
    median_ml2 = int(statistics.median(ml2))
    registrations = [operations[k] for k in ("D1", "D2", "ML1")]
    checks = [
        ("median ML2 activity", median_ml2, TARGETS["ml2_median"]),
        ("largest registration", max(registrations), TARGETS["registration"]),
        (f"per record in recordBatch of {BATCH_SIZE}", per_record, TARGETS["batch50_per_record"]),
    ]

    print(f"{'operation':<12}{'gas':>10}")
    for label, used in operations.items():
        print(f"{label:<12}{used:>10,}")
    print(f"{'batch50/rec':<12}{per_record:>10,}")
    print()
    for name, value, target in checks:
        verdict = "OK" if value <= target else f"MISSED by {value - target:,}"
        print(f"{name:<36}{value:>10,}  target <= {target:,}  {verdict}")
    print(f"{'for comparison, one full ModelAsset deployment':<36}{full:>10,}")
    print("paper (ProML prototype on Ropsten): about 280,000 gas per ML2 activity")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "operations": operations,
            "batch50_per_record": per_record,
            "ml2_median": median_ml2,
            "full_deployment": full,
            "targets": TARGETS,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
