"""Compile the Solidity sources into the committed artifacts, or check that they are current.

A developer tool that needs a checkout (the sources, `node_modules`): `python contracts/build.py [--check]`
(`make contracts`, `make contracts-check`). The runtime ABI helpers that read the artifacts are the
`proml.contracts` package under contracts/src, which installs without this file.

The compiler is solc at `SOLC_VERSION`: a native `solc` of that version when one is on PATH,
otherwise the npm package `solc` (WebAssembly) behind the solc-compatible front end in
`contracts/solc/solc`. Both produce the same bytecode and metadata for the same input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOLC_VERSION = "0.8.37"
EVM_VERSION = "london"
OPTIMIZER_RUNS = 100000

CONTRACTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = CONTRACTS_DIR.parent
SOURCE_DIR = CONTRACTS_DIR / "solidity"
ARTIFACT_DIR = CONTRACTS_DIR / "src" / "proml" / "contracts" / "artifacts"
SOLCJS_FRONT_END = CONTRACTS_DIR / "solc" / "solc"
NODE_MODULES = REPO_ROOT / "node_modules"
REMAPPINGS = ["@openzeppelin/=node_modules/@openzeppelin/"]


class BuildError(Exception):
    """The contracts could not be compiled; the message says what to do."""


@dataclass(frozen=True)
class CompilerMessage:
    """One error reported by solc, with the place it points at."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class CompilationFailed(BuildError):
    """solc reported errors in the sources."""

    def __init__(self, messages: list[CompilerMessage]) -> None:
        self.messages = messages
        super().__init__("Solidity compilation failed:\n" + "\n".join(f"  {m}" for m in messages))


def find_solc() -> Path:
    """A solc executable of the pinned version: native if on PATH, else the solcjs front end."""
    native = shutil.which("solc")
    if native and _reported_version(Path(native)).startswith(SOLC_VERSION + "+"):
        return Path(native)
    if not (NODE_MODULES / "solc").is_dir():
        raise BuildError(
            f"no solc {SOLC_VERSION} found: install the npm packages with `npm ci` (or `make setup`) "
            "in the repository root, or put a native solc of that version on PATH"
        )
    return SOLCJS_FRONT_END


def _reported_version(solc: Path) -> str:
    try:
        out = subprocess.run([str(solc), "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    for line in out.splitlines():
        if line.startswith("Version: "):
            return line.removeprefix("Version: ").strip()
    return ""


def source_files() -> list[Path]:
    """Every Solidity source of the project, in a stable order."""
    return sorted(SOURCE_DIR.rglob("*.sol"))


def _source_key(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def project_sources() -> dict[str, str]:
    """The project's sources by their key in the compiler input (a path relative to the repository)."""
    return {_source_key(p): p.read_text(encoding="utf-8") for p in source_files()}


def standard_input(sources: Mapping[str, str]) -> dict[str, Any]:
    """The solc standard-JSON input for `sources`."""
    return {
        "language": "Solidity",
        "sources": {key: {"content": content} for key, content in sources.items()},
        "settings": {
            "evmVersion": EVM_VERSION,
            "viaIR": True,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "remappings": REMAPPINGS,
            "metadata": {"bytecodeHash": "ipfs"},
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]}
            },
        },
    }


def compile_sources(sources: Mapping[str, str]) -> dict[str, Any]:
    """Run solc on `sources` and return its output; raise `CompilationFailed` on errors."""
    import solcx  # a development dependency: installing and running ProML needs no compiler

    solc = find_solc()
    try:
        output: dict[str, Any] = solcx.compile_standard(
            standard_input(sources),
            solc_binary=solc,
            base_path=str(REPO_ROOT),
            allow_paths=[str(REPO_ROOT)],
        )
    except solcx.exceptions.SolcError as exc:
        if exc.stdout_data:
            _raise_on_errors(json.loads(exc.stdout_data), sources)
        raise BuildError(f"solc failed: {exc}") from exc
    _raise_on_errors(output, sources)
    return output


def _raise_on_errors(output: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompilationFailed([_locate(e, sources) for e in errors])


def _locate(error: Mapping[str, Any], sources: Mapping[str, str]) -> CompilerMessage:
    location = error.get("sourceLocation") or {}
    file = location.get("file", "<solc>")
    line, column = 0, 0
    start = location.get("start", -1)
    content = sources.get(file)
    if content is None and (REPO_ROOT / file).is_file():
        content = (REPO_ROOT / file).read_text(encoding="utf-8")
    if start >= 0 and content is not None:
        before = content.encode()[:start]
        line = before.count(b"\n") + 1
        column = start - (before.rfind(b"\n") + 1) + 1
    return CompilerMessage(file, line, column, f"{error.get('type', 'Error')}: {error.get('message', '')}")


def artifacts_from(output: Mapping[str, Any], sources: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """One artifact per project contract (dependencies excluded), keyed by file name."""
    digests = {key: hashlib.sha256(content.encode()).hexdigest() for key, content in sources.items()}
    artifacts: dict[str, dict[str, Any]] = {}
    for source_name, contracts in sorted(output["contracts"].items()):
        if not source_name.startswith(_source_key(SOURCE_DIR)):
            continue
        for name, compiled in sorted(contracts.items()):
            metadata = json.loads(compiled["metadata"])
            artifacts[f"{name}.json"] = {
                "contractName": name,
                "sourceName": source_name,
                "abi": compiled["abi"],
                "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
                "metadata": compiled["metadata"],
                "compiler": {
                    "version": metadata["compiler"]["version"],
                    "evmVersion": EVM_VERSION,
                    "viaIR": True,
                    "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
                },
                "sourceDigests": {k: {"sha256": v} for k, v in digests.items() if k in metadata["sources"]},
            }
    return artifacts


def render(artifact: Mapping[str, Any]) -> str:
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def build(artifact_dir: Path = ARTIFACT_DIR) -> list[Path]:
    """Compile and write the artifacts; remove artifacts of contracts that no longer exist."""
    sources = project_sources()
    artifacts = artifacts_from(compile_sources(sources), sources)
    artifact_dir.mkdir(parents=True, exist_ok=True)
    for stale in set(p.name for p in artifact_dir.glob("*.json")) - set(artifacts):
        (artifact_dir / stale).unlink()
    written = []
    for file_name, artifact in artifacts.items():
        path = artifact_dir / file_name
        path.write_text(render(artifact), encoding="utf-8")
        written.append(path)
    return written


def stale_artifacts(artifact_dir: Path = ARTIFACT_DIR) -> list[str]:
    """Names of the artifacts that differ from a fresh compile (missing and extra ones included)."""
    sources = project_sources()
    fresh = {name: render(a) for name, a in artifacts_from(compile_sources(sources), sources).items()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in artifact_dir.glob("*.json")}
    return sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))


EXIT_STALE = 1
EXIT_UNUSABLE = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compile contracts/solidity into the committed artifacts.")
    parser.add_argument(
        "--check",
        action="store_true",
        help="compile in memory and fail if the committed artifacts differ, instead of writing them",
    )
    check = parser.parse_args(argv).check
    try:
        if check:
            stale = stale_artifacts()
            if stale:
                print(
                    "These artifacts differ from a fresh compile: " + ", ".join(stale) + "\n"
                    f"Run `python contracts/build.py` and commit {ARTIFACT_DIR.relative_to(REPO_ROOT)}.",
                    file=sys.stderr,
                )
                return EXIT_STALE
            print("Artifacts are up to date.")
            return 0
        for path in build():
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    except CompilationFailed as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_STALE
    except BuildError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
