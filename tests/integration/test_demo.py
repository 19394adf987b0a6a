"""`make demo` runs end to end: three organisations, a model trained for real, verified, audited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_runs_from_start_to_audit(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "docs" / "examples" / "demo.py"), "--dir", str(tmp_path), "--stop"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "digits-classifier.joblib: OK (recorded by C in 'train'" in out
    assert "swapped.joblib: MISMATCH" in out
    assert "deploy recorded: accepted=True" in out
    assert "[ancestor]" in out  # the lineage tree: model <- split <- dataset
    assert "Audit by A: 3 assets, 0 gaps, 0 rejected transitions" in out
    reports = list((tmp_path / "work" / "audit").iterdir())
    assert {p.suffix for p in reports} == {".md", ".json"}
    assert "The consortium is stopped" in out
