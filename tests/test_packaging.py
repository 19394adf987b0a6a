"""The distribution: the wheel carries every package and the artifacts, and runs without a compiler."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(REPO)],
        check=True,
    )
    (path,) = out.glob("proml-*.whl")
    return path


@pytest.mark.slow
def test_wheel_contains_packages_and_artifacts(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "proml/__init__.py",
        "proml/node/__init__.py",
        "proml/sdk/__init__.py",
        "proml/cli/main.py",
        "proml/contracts/artifacts/ProML.json",
        "proml/contracts/artifacts/ModelAsset.json",
        "proml/contracts/src/ProML.sol",
    ):
        assert expected in names, expected


SOURCE_ROOTS = {
    "proml": "proml",
    "contracts": "proml/contracts",
    "node": "proml/node",
    "sdk": "proml/sdk",
    "cli": "proml/cli",
}


@pytest.mark.slow
def test_wheel_contains_every_package_of_the_source_tree(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package_path in SOURCE_ROOTS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.relative_to(REPO / folder).as_posix()
            assert f"{package_path}/{relative}" in names, (
                f"{init} is missing: list its package in pyproject.toml"
            )


@pytest.mark.slow
def test_packages_import_from_the_built_wheel(wheel: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    script = (
        "import proml, proml.node, proml.sdk, proml.cli.main, proml.contracts.artifacts as a;"
        "print(proml.contracts.artifacts.__file__);"
        "print(a.load_artifact('ProML').compiler_version)"
    )
    # Run from a directory outside the checkout, with the unpacked wheel first on the path.
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    module_file, compiler = result.stdout.split()
    assert module_file.startswith(str(unpacked))
    assert compiler.startswith("0.8.")


@pytest.mark.slow
def test_the_sdk_installs_and_imports_without_the_node_stack(wheel: Path, tmp_path: Path) -> None:
    """`pip install proml` (no extras) gives the SDK and the CLI's client commands, without FastAPI,
    web3 or anything a node needs."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    script = (
        "import importlib.util, sys, proml, proml.sdk, proml.sdk.tracker;"
        "absent = [m for m in ('fastapi', 'web3', 'eth_account', 'uvicorn')"
        " if importlib.util.find_spec(m) is not None];"
        "sys.exit(f'installed: {absent}' if absent else 0)"
    )
    subprocess.run([str(python), "-c", script], cwd=tmp_path, check=True)
    help_text = subprocess.run(
        [str(venv / "bin" / "proml"), "--help"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "lineage" in help_text and "audit" in help_text
