"""The compile pipeline: the pinned compiler, error locations, and artifacts that match the sources."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from contracts import build
from proml.contracts.artifacts import CONTRACT_NAMES, ArtifactNotFound, load_artifact


def test_compiler_is_the_pinned_version() -> None:
    version = build._reported_version(build.find_solc())
    assert version.startswith(build.SOLC_VERSION + "+commit.")


def test_solidity_error_names_file_line_and_message() -> None:
    key = "contracts/solidity/Broken.sol"
    source = (
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\ncontract Broken {\n    uint x = ;\n}\n"
    )
    with pytest.raises(build.CompilationFailed) as info:
        build.compile_sources({key: source})
    first = info.value.messages[0]
    assert (first.file, first.line) == (key, 4)
    assert "Expected" in first.message
    assert f"{key}:4:" in str(info.value)


def test_committed_artifacts_carry_settings_and_source_digests() -> None:
    for name in ("ProML", "DatasetAsset", "ModelAsset"):
        raw = json.loads((build.ARTIFACT_DIR / f"{name}.json").read_text())
        assert raw["compiler"]["version"].startswith(build.SOLC_VERSION)
        assert raw["compiler"]["evmVersion"] == build.EVM_VERSION
        assert json.loads(raw["metadata"])["settings"]["evmVersion"] == build.EVM_VERSION
        for key, digest in raw["sourceDigests"].items():
            assert digest["sha256"] == hashlib.sha256((build.REPO_ROOT / key).read_bytes()).hexdigest()
        assert len(raw["deployedBytecode"]) > 2


def test_bytecode_uses_no_opcode_newer_than_the_target() -> None:
    # PUSH0 (Shanghai), MCOPY/TLOAD/TSTORE (Cancun) would break London and Paris chains.
    for name in ("ProML", "DatasetAsset", "ModelAsset"):
        for forbidden in _opcodes(load_artifact(name).deployed_bytecode) & {0x5F, 0x5E, 0x5C, 0x5D}:
            raise AssertionError(f"{name} uses opcode 0x{forbidden:02x}")


def _opcodes(bytecode_hex: str) -> set[int]:
    code = bytes.fromhex(bytecode_hex.removeprefix("0x"))
    # Stop at the metadata trailer: its length is in the last two bytes.
    code = code[: len(code) - 2 - int.from_bytes(code[-2:], "big")]
    seen, i = set(), 0
    while i < len(code):
        op = code[i]
        seen.add(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return seen


def test_unknown_artifact_is_refused_with_the_known_names() -> None:
    with pytest.raises(ArtifactNotFound, match="ProML"):
        load_artifact("Nope")
    assert {load_artifact(n).name for n in CONTRACT_NAMES} == set(CONTRACT_NAMES)


@pytest.mark.slow
def test_committed_artifacts_equal_a_fresh_compile(capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = build.main(["--check"])
    output = capsys.readouterr()
    assert exit_code == 0, output.err
    assert "up to date" in output.out


@pytest.mark.slow
def test_drift_check_names_the_artifacts_that_differ(tmp_path: Path) -> None:
    for path in build.ARTIFACT_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    stale = tmp_path / "ModelAsset.json"
    stale.write_text(stale.read_text().replace('"evmVersion": "london"', '"evmVersion": "cancun"', 1))
    (tmp_path / "Gone.json").write_text("{}")
    assert build.stale_artifacts(tmp_path) == ["Gone.json", "ModelAsset.json"]
