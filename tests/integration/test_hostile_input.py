"""Hostile and careless clients against real nodes (`proml node start` in processes of their own): what a
request must pass before its body is read, slow and vanishing clients, idempotency keys of two clients,
and what the node's process and files let another user of the machine see.

Two nodes: a one-organisation devnet's (`devnet_org`), and one started here on the same chain and IPFS
daemon with short limits and its passphrase in its environment, as an operator may start it.
"""

from __future__ import annotations

import os
import secrets
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from proml.devnet.processes import free_port, stop_process
from proml.node.clients.keystore import create_keystore
from proml.node.config import NodeConfig, load_config, render_config
from proml.node.paths import Paths
from proml.node.services.api_keys import ApiKeyStore, Scope
from tests.integration.polling import eventually

REQUEST_TIMEOUT = 2  # the own node's api.request_timeout, seconds


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=5.0).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def pins(ipfs_api: str) -> set[str]:
    answer = httpx.post(f"{ipfs_api}/api/v0/pin/ls", params={"type": "recursive"}, timeout=10.0)
    answer.raise_for_status()
    return set(answer.json().get("Keys") or {})


def outbox_empty(url: str) -> bool | None:
    return True if httpx.get(f"{url}/v1/health", timeout=5.0).json()["outbox"]["depth"] == 0 else None


@dataclass
class OwnNode:
    url: str
    api_key: str
    passphrase: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    ipfs_api: str


@pytest.fixture(scope="module")
def devnet_node(devnet_org: dict[str, Any]) -> dict[str, Any]:
    config = load_config(Path(devnet_org["config"]))
    return {**devnet_org, "node_config": config, "org_dir": Path(devnet_org["config"]).parent}


@pytest.fixture(scope="module")
def own_node(devnet_node: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnNode]:
    """A node (not a member: it only serves) with its passphrase in its environment, not in a file."""
    base = tmp_path_factory.mktemp("own-node")
    passphrase = "hostile-" + secrets.token_urlsafe(16)
    create_keystore(base / "keystore.json", passphrase)
    chain = devnet_node["node_config"]
    port = free_port()
    config = NodeConfig(
        org="Own",
        data_dir=Path("data"),
        keystore=Path("keystore.json"),
        chain_url=chain.chain_url,
        registry=chain.registry,
        chain_id=chain.chain_id,
        confirmations=1,
        ipfs_api=chain.ipfs_api,
        api_port=port,
        request_timeout=REQUEST_TIMEOUT,
    )
    (base / "node.toml").write_text(render_config(config), encoding="utf-8")
    _, api_key = ApiKeyStore(Paths.of(base / "data").api_keys).create("tests", (Scope.ADMIN,))
    log = base / "node.log"
    environment = {**os.environ, "PROML_PASSPHRASE": passphrase}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "proml.cli.main", "node", "start", "--config", "node.toml"],
            cwd=base,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: True if answers(url) else None, "the own node answers", timeout=90, interval=0.2)
        yield OwnNode(url, api_key, passphrase, process, base / "data", log, chain.ipfs_api)
    finally:
        stop_process(process)


# -- before the body is read --------------------------------------------------------------------------


def test_a_deep_body_without_a_key_is_refused_and_the_node_lives_on(devnet_node: dict[str, Any]) -> None:
    url = devnet_node["node_url"]
    body = nested(90_000)  # 180 KB: it used to overflow the parser's stack and kill the node
    answer = httpx.post(
        f"{url}/v1/datasets", content=body, headers={"Content-Type": "application/json"}, timeout=30.0
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"
    assert httpx.get(f"{url}/v1/health", timeout=10.0).status_code == 200


@pytest.mark.parametrize("depth", [65, 10_000, 50_000])
def test_a_deep_body_with_a_key_is_refused_naming_the_limit(devnet_node: dict[str, Any], depth: int) -> None:
    answer = httpx.post(
        f"{devnet_node['node_url']}/v1/models",
        content=b'{"name": "deep", "notes": ' + nested(depth) + b"}",
        headers={**auth(devnet_node["api_key"]), "Content-Type": "application/json"},
        timeout=30.0,
    )
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["code"] == "too_deep"
    assert "64 levels" in problem["detail"] and "api.max_json_depth" in problem["detail"]


def test_a_body_over_the_size_limit_is_refused(devnet_node: dict[str, Any]) -> None:
    limit = devnet_node["node_config"].max_body_bytes
    body = b'{"name": "big", "notes": "' + b"x" * limit + b'"}'
    answer = httpx.post(
        f"{devnet_node['node_url']}/v1/models",
        content=body,
        headers={**auth(devnet_node["api_key"]), "Content-Type": "application/json"},
        timeout=30.0,
    )
    assert answer.status_code == 413
    assert "api.max_body_bytes" in answer.json()["detail"]
    assert httpx.get(f"{devnet_node['node_url']}/v1/health", timeout=10.0).status_code == 200


# -- slow and vanishing clients -----------------------------------------------------------------------


def test_a_body_that_never_arrives_is_cut_off(own_node: OwnNode) -> None:
    host, port = own_node.url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10 * REQUEST_TIMEOUT) as client:
        client.sendall(
            b"POST /v1/models HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {own_node.api_key}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"name": '
        )
        answer = b""
        while chunk := client.recv(65536):  # until the node closes the connection
            answer += chunk
    waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"api.request_timeout" in answer
    assert waited < 10 * REQUEST_TIMEOUT  # not held open for minutes (generous: a loaded machine)


@pytest.mark.parametrize(
    "head", [b"", b"GET /v1/health HTTP/1.1\r\nHost: node\r\nX-Slow: "], ids=["nothing", "half a head"]
)
def test_a_connection_whose_request_head_never_completes_is_closed(own_node: OwnNode, head: bytes) -> None:
    host, port = own_node.url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10 * REQUEST_TIMEOUT) as client:
        client.sendall(head)
        assert client.recv(65536) == b""  # closed by the node, nothing answered
    assert time.monotonic() - started < 10 * REQUEST_TIMEOUT  # generous: a loaded machine


def test_a_request_head_over_64_kib_is_refused(own_node: OwnNode) -> None:
    host, port = own_node.url.removeprefix("http://").split(":")
    headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(100))  # 100 KiB
    with socket.create_connection((host, int(port)), timeout=10 * REQUEST_TIMEOUT) as client:
        client.sendall(b"GET /v1/health HTTP/1.1\r\nHost: node\r\n" + headers + b"\r\n")
        answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert answers(own_node.url)


def test_an_upload_cut_off_by_its_client_leaves_no_pin_and_one_log_line(devnet_node: dict[str, Any]) -> None:
    url, ipfs_api = devnet_node["node_url"], devnet_node["ipfs_api"]
    log = devnet_node["org_dir"] / "node.log"
    eventually(lambda: outbox_empty(url), "the node's outbox is empty (its document pins are done)")
    before = pins(ipfs_api)
    log_start = log.stat().st_size
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30.0) as client:
        client.sendall(
            b"POST /v1/payloads HTTP/1.1\r\nHost: node\r\nContent-Type: application/octet-stream\r\n"
            + f"Authorization: Bearer {devnet_node['api_key']}\r\nContent-Length: {64 << 20}\r\n\r\n".encode()
        )
        for _ in range(16):  # 4 MiB of the 64 announced: several chunks reach the IPFS daemon
            client.sendall(os.urandom(256 << 10))
        time.sleep(0.5)
    eventually(
        lambda: True if "went away" in log.read_text()[log_start:] else None,
        "the node logs the client that went away",
        timeout=30,
    )
    time.sleep(1.0)  # whatever the daemon would pin after the add, it has by now
    assert pins(ipfs_api) == before
    logged = log.read_text()[log_start:]
    assert "Traceback" not in logged, logged
    assert len([line for line in logged.splitlines() if "POST /v1/payloads" in line]) == 1, logged
    assert httpx.get(f"{url}/v1/health", timeout=10.0).status_code == 200


def test_a_failed_download_leaves_no_file(devnet_node: dict[str, Any]) -> None:
    url, headers = devnet_node["node_url"], auth(devnet_node["api_key"])
    stored = httpx.post(f"{url}/v1/payloads", content=os.urandom(10_000), headers=headers, timeout=30.0)
    assert stored.status_code == 201, stored.text
    downloads = devnet_node["node_config"].data_dir / "downloads"
    answer = httpx.get(
        f"{url}/v1/payloads/{stored.json()['cid']}",
        params={"digest": "sha256:" + "00" * 32},  # not the payload's: refused after the fetch
        headers=headers,
        timeout=60.0,
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "digest_mismatch"
    assert sorted(p.name for p in downloads.iterdir()) == []


def test_a_download_its_client_abandons_leaves_no_file(devnet_node: dict[str, Any]) -> None:
    url, headers = devnet_node["node_url"], auth(devnet_node["api_key"])
    stored = httpx.post(f"{url}/v1/payloads", content=os.urandom(8 << 20), headers=headers, timeout=60.0)
    assert stored.status_code == 201, stored.text
    downloads = devnet_node["node_config"].data_dir / "downloads"
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60.0) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the node cannot send it all at once
        client.sendall(
            f"GET /v1/payloads/{stored.json()['cid']} HTTP/1.1\r\nHost: node\r\n".encode()
            + f"Authorization: Bearer {devnet_node['api_key']}\r\n\r\n".encode()
        )
        assert client.recv(4096).startswith(b"HTTP/1.1 200 ")
    eventually(
        lambda: True if not any(downloads.iterdir()) else None, "the abandoned download's file is gone", 30
    )


# -- two clients of one node --------------------------------------------------------------------------


def test_idempotency_keys_are_the_api_keys_own(devnet_node: dict[str, Any]) -> None:
    url = devnet_node["node_url"]
    created = httpx.post(
        f"{url}/v1/keys",
        json={"name": "second client", "scopes": ["write"]},
        headers=auth(devnet_node["api_key"]),
        timeout=10.0,
    )
    assert created.status_code == 201, created.text
    first, second = devnet_node["api_key"], created.json()["key"]
    idempotency = {"Idempotency-Key": "nightly-" + secrets.token_hex(4)}

    def register(key: str, name: str) -> httpx.Response:
        return httpx.post(
            f"{url}/v1/models", json={"name": name}, headers={**auth(key), **idempotency}, timeout=10.0
        )

    one, other = register(first, "first client's model"), register(second, "second client's model")
    assert (one.status_code, other.status_code) == (202, 202), (one.text, other.text)
    assert one.json()["id"] != other.json()["id"]
    again = register(first, "first client's model")
    assert (again.status_code, again.json()["id"]) == (200, one.json()["id"])


# -- what the machine's other users see ---------------------------------------------------------------


def environ_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def test_the_passphrase_is_not_in_the_environment_of_the_nodes_processes(own_node: OwnNode) -> None:
    health = httpx.get(f"{own_node.url}/v1/health", timeout=10.0).json()
    assert health["background"]["running"], health  # it opened the keystore: the passphrase reached it
    processes = {"API": own_node.process.pid, "background": health["background"]["pid"]}
    for name, pid in processes.items():
        environment = environ_of(pid)
        assert own_node.passphrase.encode() not in environment, name
        assert b"PROML_PASSPHRASE=" not in environment, name
        assert own_node.passphrase.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes(), name


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_nodes_files_are_private(own_node: OwnNode) -> None:
    assert mode(own_node.data_dir) == 0o700  # made so at start: the key store had made it 0755
    paths = Paths.of(own_node.data_dir)
    for path in (paths.outbox, paths.index, paths.api_keys):
        assert mode(path) == 0o600, path.name


def test_the_devnets_folders_and_logs_are_private(devnet_node: dict[str, Any]) -> None:
    org_dir = devnet_node["org_dir"]
    assert mode(org_dir) == 0o700
    assert mode(org_dir.parent.parent) == 0o700  # the devnet's folder
    assert mode(org_dir / "node.log") == 0o600
    assert mode(devnet_node["node_config"].data_dir) == 0o700
    assert mode(devnet_node["node_config"].data_dir / "outbox.db") == 0o600
