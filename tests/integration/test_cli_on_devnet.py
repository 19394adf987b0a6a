"""The `proml` verbs over a node's HTTP API, against a real three-organisation devnet (A has every role,
B and C every role but VALIDATOR)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from proml.cli.main import cli
from proml.devnet import devnet
from tests.integration.polling import eventually


@pytest.fixture(scope="module")
def devnet_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("cli") / "devnet"
    try:
        devnet.up(root, 3, chain="anvil")
        yield root
    finally:
        devnet.down(root)


@pytest.fixture(scope="module")
def orgs(devnet_root: Path) -> list[dict[str, Any]]:
    orgs: list[dict[str, Any]] = devnet.status(devnet_root)["orgs"]
    return orgs


def run(org: dict[str, Any], *args: str) -> Result:
    env = {"PROML_NODE_URL": org["node_url"], "PROML_API_KEY": org["api_key"]}
    return CliRunner().invoke(cli, list(args), env=env)


def run_json(org: dict[str, Any], *args: str) -> Any:
    result = run(org, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(path: Path, size: int = 3000) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_a_model_lifecycle_validated_by_another_org(orgs: list[dict[str, Any]], tmp_path: Path) -> None:
    a, b = orgs[0], orgs[1]
    data = run_json(b, "dataset", "register", str(write(tmp_path / "d.csv")), "--name", "train", "--wait")
    model = run_json(b, "model", "register", "--name", "clf", "--ancestor", data["asset"], "--wait")
    address = model["asset"]
    for activity in ("select_data", "preprocess", "engineer_features"):
        run_json(b, "model", "record", address, activity, "--input", f"train={data['asset']}")
    weights = write(tmp_path / "w.bin")
    trained = run_json(
        b, "model", "record", address, "train", "--output", f"weights={weights}",
        "--param", "C=1.0", "--metric", "acc=0.97", "--wait",
    )  # fmt: skip
    assert (trained["seq"], trained["accepted"]) == (4, True)
    run_json(b, "model", "record", address, "evaluate", "--metric", "f1=0.9", "--wait")
    run_json(a, "model", "record", address, "validate", "--wait")  # only A is a validator
    run_json(b, "model", "record", address, "deploy", "--wait")

    # Read from B, whose index has its own writes; A's index may be a block behind.
    shown = run_json(b, "model", "show", address)
    assert shown["state"] == "deployed"
    history = run(b, "history", address)
    assert history.exit_code == 0 and "validate" in history.output and "A (" in history.output

    assert run(b, "verify", address, str(weights)).exit_code == 0
    mismatch = run(b, "verify", address, str(write(tmp_path / "other.bin")))
    assert mismatch.exit_code == 1 and "MISMATCH" in mismatch.output

    dot, graph_file = tmp_path / "g.dot", tmp_path / "g.json"
    lineage = run(b, "lineage", address, "--dot", str(dot), "--json-file", str(graph_file))
    assert lineage.exit_code == 0, lineage.output
    assert "derived from:" in lineage.output and data["asset"] in lineage.output
    assert f'"{data["asset"]}" -> "{address}"' in dot.read_text()
    assert json.loads(graph_file.read_text())["root"] == address
    printed = run(b, "lineage", address, "--json")
    assert printed.exit_code == 0 and json.loads(printed.output) == json.loads(graph_file.read_text())

    audit = run(b, "audit", address, "--out", str(tmp_path / "audit"))
    assert audit.exit_code == 0, audit.output
    report = json.loads((tmp_path / "audit" / f"audit-{address}.json").read_text())
    assert report["ok"] and not report["gaps"]
    assert {p["where"] for a in report["assets"] for p in a["payloads"]} == {"content", "output"}
    assert all(p["available"] for a in report["assets"] for p in a["payloads"])
    assert "# ProML audit" in (tmp_path / "audit" / f"audit-{address}.md").read_text()


def test_a_rejected_transition_exits_1_and_an_unpublished_dataset_is_a_gap(
    orgs: list[dict[str, Any]], tmp_path: Path
) -> None:
    c = orgs[2]
    data = run_json(
        c, "dataset", "register", str(write(tmp_path / "d.csv")), "--name", "d", "--digest-only", "--wait"
    )
    child = run_json(
        c, "dataset", "derive", data["asset"], str(write(tmp_path / "e.csv")), "--name", "e", "--wait"
    )
    refused = run(c, "dataset", "record", child["asset"], "publish", "--wait")
    assert refused.exit_code == 1 and "refused publish" in refused.output

    audit = run(c, "audit", data["asset"], "--out", str(tmp_path), "--json")
    assert audit.exit_code == 1
    report = json.loads(audit.stdout)
    assert [g["gap"] for g in report["gaps"]] == ["dataset_payload_unpublished"]
    assert [(r["asset"], r["activity"]) for r in report["rejected"]] == [(child["asset"], "publish")]
    assert (tmp_path / f"audit-{data['asset']}.md").exists()


def test_rollback_and_governance(orgs: list[dict[str, Any]]) -> None:
    a = orgs[0]
    model = run_json(a, "model", "register", "--name", "rb", "--wait")["asset"]
    run_json(a, "model", "record", model, "select_data", "--wait")
    run_json(a, "model", "record", model, "preprocess", "--wait")
    rollback = run_json(a, "model", "rollback", model, "--to", "1", "--reason", "bad features", "--wait")
    assert rollback["accepted"] is True
    assert run_json(a, "model", "show", model)["state"] == "data_selected"

    members = run_json(a, "member", "list")
    assert [m["name"] for m in members] == ["A", "B", "C"]
    newcomer = "0x" + "ab" * 20
    proposed = run_json(a, "member", "propose", "--add", newcomer, "--name", "D", "--roles", "auditor")
    assert proposed["status"] in ("queued", "submitted", "included", "final")
    info = run_json(a, "consortium", "info")
    assert (info["threshold_bps"], info["active_members"], info["approvals_needed"]) == (5000, 3, 2)
    assert run(a, "node", "status").exit_code == 0

    # B approves A's proposal: two of three is more than half, and D becomes a member.
    b = orgs[1]
    proposal = eventually(lambda: _proposal_for(b, newcomer), "B's node indexes the proposal")
    approval = run_json(b, "member", "approve", str(proposal["id"]))
    assert approval["function"] == "approve"
    eventually(
        lambda: newcomer in [m["address"].lower() for m in run_json(b, "member", "list")] or None,
        "D is a member",
    )


def _proposal_for(org: dict[str, Any], target: str) -> dict[str, Any] | None:
    proposals = run_json(org, "consortium", "info")["proposals"]
    return next((p for p in proposals if (p["target"] or "").lower() == target), None)


def test_an_api_key_made_offline_works_at_once(orgs: list[dict[str, Any]]) -> None:
    a = orgs[0]
    made = CliRunner().invoke(
        cli, ["node", "key", "--config", a["config"], "--name", "ci", "--scopes", "read", "--json"]
    )
    assert made.exit_code == 0, made.output
    reader = {**a, "api_key": json.loads(made.output)["key"]}
    assert run(reader, "member", "list").exit_code == 0
    refused = run(reader, "model", "register", "--name", "x")
    assert refused.exit_code == 2 and "scope" in refused.output


def test_usage_and_connection_errors_exit_2(orgs: list[dict[str, Any]], tmp_path: Path) -> None:
    a = orgs[0]
    assert run(a, "history", "0xdead").exit_code == 2
    assert run(a, "audit").exit_code == 2
    unknown = run(a, "model", "show", "0x" + "12" * 20)
    assert unknown.exit_code == 2 and "not an asset" in unknown.output
    down = CliRunner().invoke(cli, ["member", "list", "--node-url", "http://127.0.0.1:1", "--api-key", "k"])
    assert down.exit_code == 2 and "does not answer" in down.output
    no_key = CliRunner().invoke(
        cli, ["member", "list", "--node-url", a["node_url"]], env={"PROML_API_KEY": ""}
    )
    assert no_key.exit_code == 2 and "no API key" in no_key.output
    key_file = tmp_path / "key"
    key_file.write_text(a["api_key"] + "\n")
    by_config = CliRunner().invoke(
        cli,
        ["member", "list", "--config", a["config"], "--api-key-file", str(key_file)],
        env={"PROML_NODE_URL": "", "PROML_API_KEY": ""},
    )
    assert by_config.exit_code == 0, by_config.output


def test_list_and_show(orgs: list[dict[str, Any]], tmp_path: Path) -> None:
    c = orgs[2]
    data = run_json(c, "dataset", "register", str(write(tmp_path / "l.csv")), "--name", "listed", "--wait")
    listed = run_json(c, "dataset", "list", "--owner", c["address"])
    assert data["asset"] in [a["address"] for a in listed]
    assert all(a["kind"] == "dataset" for a in listed)
    assert data["asset"] not in [a["address"] for a in run_json(c, "model", "list")]
    table = run(c, "dataset", "list", "--state", "registered")
    assert table.exit_code == 0 and data["asset"] in table.output
    shown = run(c, "dataset", "show", data["asset"])
    assert shown.exit_code == 0 and "registered" in shown.output and "register" in shown.output
    bad = run(c, "dataset", "list", "--state", "sleeping")
    assert bad.exit_code == 2


def test_a_record_by_neither_owner_nor_contributor_points_at_the_owner_and_contributors(
    orgs: list[dict[str, Any]],
) -> None:
    b, c = orgs[1], orgs[2]
    model = run_json(c, "model", "register", "--name", "cs-only", "--wait")["asset"]
    eventually(lambda: run(b, "model", "show", model).exit_code == 0 or None, "B's node indexes C's model")
    refused = run(b, "model", "record", model, "select_data", "--wait")
    assert refused.exit_code == 2, refused.output
    assert "NotOwnerOrContributor" in refused.stderr
    assert f"Only the owner of {model} and its contributors may record select_data on it" in refused.stderr
    assert (
        f"the owner, C ({c['address']}), can make it a contributor with addContributor({b['address']})"
        in (refused.stderr)
    )
    assert "addContributor" in refused.stderr and "member list" not in refused.stderr


def proml(org: dict[str, Any], *args: str) -> subprocess.Popen[str]:
    """`proml ARGS` as its own process, as a user runs it, talking to `org`'s node."""
    env = {**os.environ, "PROML_NODE_URL": org["node_url"], "PROML_API_KEY": org["api_key"]}
    command = [sys.executable, "-m", "proml.cli.main", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt_when(process: subprocess.Popen[str], marker: str, timeout: float = 120.0) -> tuple[int, str]:
    """Ctrl-C (SIGINT) once the process's stderr shows `marker`: its exit code and its whole stderr."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stderr or ():
            lines.put(line)
        lines.put(None)  # the end of stderr

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen = ""
    try:
        while marker not in seen:
            line = lines.get(timeout=timeout)
            assert line is not None, f"proml ended before {marker!r} on stderr: {seen!r}"
            seen += line
        process.send_signal(signal.SIGINT)
        process.wait(timeout=timeout)
        reader.join(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    while (line := lines.get_nowait() if not lines.empty() else None) is not None:
        seen += line
    return process.returncode, seen


def test_ctrl_c_during_an_upload_exits_130_and_says_nothing_was_registered(
    orgs: list[dict[str, Any]], tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as stream:
        stream.truncate(400 << 20)  # sparse: 400 MiB to send, none of it on disk
    process = proml(orgs[0], "dataset", "register", str(big), "--name", "big", "--wait")
    code, stderr = interrupt_when(process, "uploading big.bin")
    assert code == 130, stderr
    assert f"interrupted while uploading {big}: nothing was registered" in stderr
    assert "Aborted" not in stderr and "Traceback" not in stderr


def test_ctrl_c_after_the_acknowledgement_names_the_outbox_entry_that_will_be_sent(
    devnet_root: Path, orgs: list[dict[str, Any]], tmp_path: Path
) -> None:
    a = orgs[0]
    # The chain is paused, so the registration stays in the outbox while the command waits for it.
    chain = devnet.status(devnet_root)["processes"]["anvil"]["pid"]
    os.kill(chain, signal.SIGSTOP)
    try:
        process = proml(
            a, "dataset", "register", str(write(tmp_path / "d.csv")), "--name", "paused", "--wait"
        )
        code, stderr = interrupt_when(process, "waiting for outbox:")
    finally:
        os.kill(chain, signal.SIGCONT)
    assert code == 130, stderr
    ref = stderr.split("waiting for ", 1)[1].split()[0]
    assert "interrupted: the payload was uploaded (cid " in stderr
    assert (
        f"; the registration is stored in the node's outbox as {ref} and will be sent; follow it with "
        f"`proml outbox show {ref} --wait`"
    ) in stderr
    # And it is sent, as the message says: following it as told finds it final.
    followed = run_json(a, "outbox", "show", ref, "--wait")
    assert (followed["ref"], followed["status"], followed["kind"]) == (ref, "final", "register")
