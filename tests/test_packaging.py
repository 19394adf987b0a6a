"""The distributions: each wheel carries its packages (and the contracts wheel its artifacts), each installs
into a fresh venv (after the ProML distributions it needs) and imports, and the SDK and the CLI install
without the node stack."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Distribution name -> its folder in the repository.
DISTRIBUTIONS = {
    "proml-core": "core",
    "proml-contracts": "contracts",
    "proml-sdk": "sdk",
    "proml-cli": "cli",
    "proml-node": "node",
    "proml-devnet": "deploy/devnet",
}
NODE_STACK = ("fastapi", "web3", "eth_account", "eth_abi", "uvicorn", "pydantic")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    folders = [str(REPO / folder) for folder in DISTRIBUTIONS.values()]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), *folders],
        check=True,
    )
    return out


def _wheel(wheels: Path, distribution: str) -> Path:
    (path,) = wheels.glob(distribution.replace("-", "_") + "-*.whl")
    return path


def _venv(tmp_path: Path, wheels: Path, *distributions: str) -> Path:
    """A fresh venv with `distributions` installed from the built wheels (their other dependencies from the
    package index); returns its bin folder."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    _install(bin_dir, wheels, *distributions)
    return bin_dir


def _install(bin_dir: Path, wheels: Path, *distributions: str) -> None:
    """Installs `distributions` and the ProML distributions they need from the built wheels, by file: the
    public package index has unrelated projects named `proml` and `proml-cli`, which a name would find."""
    files = [str(_wheel(wheels, name)) for name in sorted(_with_workspace_dependencies(distributions))]
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *files], check=True)


def _with_workspace_dependencies(distributions: tuple[str, ...]) -> set[str]:
    needed, todo = set(), list(distributions)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            project = tomllib.loads((REPO / DISTRIBUTIONS[name] / "pyproject.toml").read_text())["project"]
            requirements = (dep.split("==")[0] for dep in project["dependencies"])
            todo += [requirement for requirement in requirements if requirement in DISTRIBUTIONS]
    return needed


def _run(bin_dir: Path, script: str, cwd: Path) -> str:
    # Run outside the checkout, so that nothing can come from the source tree.
    result = subprocess.run(
        [str(bin_dir / "python"), "-c", script], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_each_wheel_holds_every_package_of_its_folder_and_no_namespace_init(
    wheels: Path, distribution: str
) -> None:
    names = set(zipfile.ZipFile(_wheel(wheels, distribution)).namelist())
    source = REPO / DISTRIBUTIONS[distribution] / "src"
    inits = [init.relative_to(source).as_posix() for init in source.rglob("__init__.py")]
    assert inits, f"{source} holds no package"
    for init in inits:
        assert init in names, f"{init} is missing from the {distribution} wheel"
    assert "proml/__init__.py" not in names, "proml is a namespace package that every distribution shares"
    assert any(name.endswith("/py.typed") for name in names), "the wheel must declare its types (py.typed)"


@pytest.mark.slow
def test_the_contracts_wheel_carries_the_artifacts_but_not_the_build_tool(wheels: Path) -> None:
    names = set(zipfile.ZipFile(_wheel(wheels, "proml-contracts")).namelist())
    assert {"proml/contracts/artifacts/ProML.json", "proml/contracts/artifacts/ModelAsset.json"} <= names
    assert not any(name.endswith("build.py") or name.endswith(".sol") for name in names)


def _absent(modules: tuple[str, ...]) -> str:
    """A script that fails naming whichever of `modules` is installed."""
    return (
        "import importlib.util, sys;"
        f"present = [m for m in {modules!r} if importlib.util.find_spec(m) is not None];"
        "sys.exit(f'installed: {present}' if present else 0)"
    )


@pytest.mark.slow
def test_the_sdk_and_the_cli_install_without_the_node_stack(wheels: Path, tmp_path: Path) -> None:
    """The core alone, then a training script's `pip install proml-sdk`, then a data administrator's
    `pip install proml-cli`, each into the venv of the one before."""
    bin_dir = _venv(tmp_path, wheels, "proml-core")
    _run(bin_dir, "import proml.core.records, proml.core.workflow, proml.core.content.cid", tmp_path)
    _run(bin_dir, _absent(("proml.sdk", "proml.contracts", "httpx", *NODE_STACK)), tmp_path)

    _install(bin_dir, wheels, "proml-sdk")
    _run(bin_dir, "import proml.sdk, proml.sdk.tracker, proml.sdk.audit", tmp_path)
    _run(bin_dir, _absent(NODE_STACK), tmp_path)

    _install(bin_dir, wheels, "proml-cli")
    _run(bin_dir, _absent(NODE_STACK), tmp_path)
    help_text = subprocess.run(
        [str(bin_dir / "proml"), "--help"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "lineage" in help_text and "audit" in help_text


@pytest.mark.slow
def test_the_contracts_then_the_node_then_the_devnet_install_and_import(wheels: Path, tmp_path: Path) -> None:
    """The contracts' Python side alone, then an operator's `pip install proml-node` (the devnet not with
    it), then the devnet for development, each into the venv of the one before."""
    bin_dir = _venv(tmp_path, wheels, "proml-contracts")
    out = _run(
        bin_dir,
        "from proml.contracts import artifacts, calls, events;"
        "print(artifacts.__file__);"
        "print(artifacts.load_artifact('ProML').compiler_version)",
        tmp_path,
    )
    module_file, compiler = out.split()
    assert module_file.startswith(str(tmp_path / "venv")), module_file
    assert compiler.startswith("0.8.")
    _run(bin_dir, _absent(("proml.node", "fastapi", "uvicorn")), tmp_path)

    _install(bin_dir, wheels, "proml-node")
    node_modules = "proml.node.api.app, proml.node.background, proml.node.production.generate"
    _run(bin_dir, f"import {node_modules}", tmp_path)
    _run(bin_dir, _absent(("proml.devnet", "web3")), tmp_path)
    node_help = subprocess.run(
        [str(bin_dir / "proml"), "node", "--help"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "start" in node_help

    _install(bin_dir, wheels, "proml-devnet")
    _run(bin_dir, "import proml.devnet.devnet", tmp_path)
    version = subprocess.run(
        [str(bin_dir / "proml"), "--version"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "0.1.0" in version
