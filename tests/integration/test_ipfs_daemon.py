"""Kubo (the engines' `ipfs`): real daemons in a real private swarm, through the node's Python client.

- CIDs: Kubo's equal proml.core.content's for every size class around the chunk and DAG-width boundaries,
  CIDv0 and CIDv1 with raw leaves, with the add parameters the node sends (chunker, CID version, leaves);
- three daemons on one swarm key: content added on B is fetched by A and C over bitswap, byte for byte;
- a daemon with another swarm key can neither connect nor fetch;
- persistence across a restart: same peer id, pins and blocks still there; one daemon per repo;
- the RPC conventions the client relies on, and every call of the client.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from proml.core.content.cid import CHUNK_SIZE, CID, MAX_LINKS, cid_of_bytes, cid_of_file
from proml.core.content.digest import digest_file
from proml.devnet.engines import KUBO_VERSION
from proml.devnet.kubo import init_repo, kubo_env
from proml.node.clients.ipfs import AddResult, IpfsClient, IpfsError, IpfsUnavailable
from tests.integration.ipfs_daemons import (
    DaemonSet,
    KuboDaemon,
    KuboFailed,
    daemon_set,
    kubo_binary,
    write_swarm_key,
)
from tests.payloads import MIB, prng_chunks, write_prng_file

T = TypeVar("T")

SIZES = {
    "0B": 0,
    "1B": 1,
    "256KiB-1": CHUNK_SIZE - 1,
    "256KiB": CHUNK_SIZE,  # one chunk: its own root
    "256KiB+1": CHUNK_SIZE + 1,  # two chunks: the first parent
    "5MiB": 5 * MIB + 7,
    "173chunks": (MAX_LINKS - 1) * CHUNK_SIZE,
    "174chunks-1": MAX_LINKS * CHUNK_SIZE - 1,
    "174chunks": MAX_LINKS * CHUNK_SIZE,  # one parent, full: the DAG's width
    "174chunks+1": MAX_LINKS * CHUNK_SIZE + 1,  # a second parent of one leaf, under a new root
    "175chunks": MAX_LINKS * CHUNK_SIZE + 12_345,
}
# A fresh Kubo repo pins the empty UnixFS directory (`ipfs init` does).
EMPTY_DIR = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


async def with_client(daemon: KuboDaemon, fn: Callable[[IpfsClient], Awaitable[T]]) -> T:
    async with daemon.client() as client:
        return await fn(client)


def call(daemon: KuboDaemon, fn: Callable[[IpfsClient], Awaitable[T]]) -> T:
    return run(with_client(daemon, fn))


async def sha256_of_cat(client: IpfsClient, cid: CID | str, timeout: float | None = None) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    async with aclosing(client.cat(cid, timeout=timeout)) as stream:
        async for chunk in stream:
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def rpc(daemon: KuboDaemon, path: str, method: str = "POST", **kwargs: object) -> httpx.Response:
    with httpx.Client(base_url=daemon.api, timeout=30, trust_env=False) as http:
        return http.request(method, path, **kwargs)  # type: ignore[arg-type]


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonSet]:
    """A, B, C on one swarm key; B and C peer with A and B connects to C."""
    kubo_binary()
    with daemon_set(tmp_path_factory.mktemp("swarm")) as daemons:
        a = daemons.start("a")
        b = daemons.start("b", bootstrap=[a.swarm_addr])
        c = daemons.start("c", bootstrap=[a.swarm_addr])
        call(b, lambda ipfs: ipfs.swarm_connect(c.swarm_addr, timeout=20))
        _wait_for_peers(a, {b.peer_id, c.peer_id})
        yield daemons


def _wait_for_peers(daemon: KuboDaemon, expected: set[str], attempts: int = 200) -> None:
    async def wait() -> None:
        async with daemon.client() as ipfs:
            for _ in range(attempts):
                peers = {p.peer for p in await ipfs.swarm_peers()}
                if expected <= peers:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"{daemon.name} sees {peers}, expected {expected}")

    run(wait())


def node(swarm: DaemonSet, name: str) -> KuboDaemon:
    return next(d for d in swarm.daemons if d.name == name)


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("payloads")
    return {label: write_prng_file(base / label, size, seed=size) for label, size in SIZES.items()}


# --- CIDs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("label", list(SIZES))
def test_daemon_cids_equal_python_cids(
    swarm: DaemonSet, payloads: dict[str, Path], label: str, version: int
) -> None:
    path = payloads[label]
    expected = cid_of_file(path, cid_version=version)
    added = call(node(swarm, "b"), lambda ipfs: ipfs.add(path, cid_version=version))
    assert added.cid == expected.cid, f"{label} CIDv{version}"
    assert str(added.cid) == str(expected.cid)
    assert added.size == expected.dag_size
    assert added.name == label


def test_daemon_cid_of_hello_is_kubos(swarm: DaemonSet) -> None:
    a = node(swarm, "a")
    assert (
        str(call(a, lambda ipfs: ipfs.add(b"hello\n")).cid)
        == "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
    )
    assert str(call(a, lambda ipfs: ipfs.add(b"")).cid) == "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"


def test_raw_leaves_option_alone(swarm: DaemonSet) -> None:
    data = bytes(range(256)) * 2049  # two chunks
    for version, raw in [(0, True), (1, False)]:

        async def add(ipfs: IpfsClient, version: int = version, raw: bool = raw) -> AddResult:
            return await ipfs.add(data, cid_version=version, raw_leaves=raw, pin=False)

        added = call(node(swarm, "a"), add)
        assert added.cid == cid_of_bytes(data, cid_version=version, raw_leaves=raw)


def test_kubos_defaults_give_the_nodes_cids(swarm: DaemonSet, payloads: dict[str, Path]) -> None:
    """The client names the chunker and the CID version; Kubo's own defaults (`Import.*`) give the same
    CIDs, so that a file added by hand (`ipfs add`, `ipfs add --cid-version=1`) has the CID the node
    computes."""
    a = node(swarm, "a")
    for label in ("256KiB+1", "5MiB"):
        data = payloads[label].read_bytes()
        for params, version in (({}, 0), ({"cid-version": "1"}, 1)):
            added = rpc(a, "/api/v0/add", params={"pin": "false", **params}, files={"file": (label, data)})
            assert added.status_code == 200, added.text
            assert added.json()["Hash"] == str(cid_of_bytes(data, cid_version=version)), (label, version)


# --- the private swarm -----------------------------------------------------------------------------------


def test_content_added_on_b_is_fetched_through_a_and_c(swarm: DaemonSet, payloads: dict[str, Path]) -> None:
    # The large payload (> 174 chunks, ~44 MiB) travels B -> A and B -> C at the same time: bulk transfer
    # over the private network's stream cipher.
    b, a, c = node(swarm, "b"), node(swarm, "a"), node(swarm, "c")
    path = payloads["175chunks"]
    cid = call(b, lambda ipfs: ipfs.add(path)).cid
    expected = digest_file(path).hex

    async def fetch_both() -> list[tuple[str, int]]:
        async with a.client() as on_a, c.client() as on_c:
            return list(await asyncio.gather(sha256_of_cat(on_a, cid, 90), sha256_of_cat(on_c, cid, 90)))

    for digest, size in run(fetch_both()):
        assert digest == expected
        assert size == path.stat().st_size


def test_the_daemons_announce_nothing_on_the_dht(swarm: DaemonSet) -> None:
    """Their peers ask them directly (the test above fetches across them all the same): docs/ipfs.md."""
    for daemon in swarm.daemons:
        answer = rpc(daemon, "/api/v0/config", params={"arg": "Provide.Enabled"}).raise_for_status().json()
        assert answer["Value"] is False, daemon.name


def test_fetched_bytes_hash_to_the_cid(swarm: DaemonSet) -> None:
    data = b"".join(prng_chunks(3 * CHUNK_SIZE + 17, seed=99))
    cid = call(node(swarm, "b"), lambda ipfs: ipfs.add(data, cid_version=1)).cid
    fetched = call(node(swarm, "a"), lambda ipfs: ipfs.cat_bytes(cid, timeout=30))
    assert fetched == data
    assert cid_of_bytes(fetched, cid_version=1) == cid


def test_pin_add_on_c_fetches_content_it_does_not_have(swarm: DaemonSet) -> None:
    data = b"".join(prng_chunks(2 * CHUNK_SIZE + 5, seed=5))
    cid = call(node(swarm, "b"), lambda ipfs: ipfs.add(data)).cid
    c = node(swarm, "c")
    assert call(c, lambda ipfs: ipfs.pin_add(cid, timeout=30)) == [str(cid)]
    assert call(c, lambda ipfs: ipfs.pin_ls(cid)) == {str(cid): "recursive"}
    assert call(c, lambda ipfs: ipfs.cat_bytes(cid)) == data


def test_a_daemon_with_another_swarm_key_is_kept_out(swarm: DaemonSet, tmp_path: Path) -> None:
    a, b = node(swarm, "a"), node(swarm, "b")
    cid = call(b, lambda ipfs: ipfs.add(b"members only\n")).cid
    with daemon_set(tmp_path) as others:
        outsider = others.start("outsider", swarm_key=write_swarm_key(tmp_path / "other.key"))
        secret = call(outsider, lambda ipfs: ipfs.add(b"outside\n")).cid

        async def attempts() -> list[BaseException | object]:
            async with outsider.client() as out, a.client() as inside:
                return list(
                    await asyncio.gather(
                        out.swarm_connect(a.swarm_addr, timeout=4),  # in, from outside
                        inside.swarm_connect(outsider.swarm_addr, timeout=4),  # out, from inside
                        out.cat_bytes(cid, timeout=3),  # the swarm's content, from outside
                        inside.cat_bytes(secret, timeout=3),  # the outsider's content, from inside
                        return_exceptions=True,
                    )
                )

        connect_in, connect_out, fetch_in, fetch_out = run(attempts())
        assert isinstance(connect_in, IpfsError) and f"connect {a.peer_id} failure" in connect_in.message
        assert (
            isinstance(connect_out, IpfsError)
            and f"connect {outsider.peer_id} failure" in connect_out.message
        )
        assert isinstance(fetch_in, IpfsError) and "deadline" in fetch_in.message
        assert isinstance(fetch_out, IpfsError) and "deadline" in fetch_out.message
        assert outsider.peer_id not in {p.peer for p in call(a, lambda ipfs: ipfs.swarm_peers())}
        assert call(outsider, lambda ipfs: ipfs.swarm_peers()) == []


# --- persistence -----------------------------------------------------------------------------------------


def test_restart_keeps_peer_id_pins_and_blocks(tmp_path: Path) -> None:
    data = b"".join(prng_chunks(CHUNK_SIZE * 3, seed=42))
    with daemon_set(tmp_path) as daemons:
        first = daemons.start("p")
        cid = call(first, lambda ipfs: ipfs.add(data)).cid
        unpinned = call(first, lambda ipfs: ipfs.add(b"not pinned\n", pin=False)).cid
        assert (first.repo / "api").is_file()
        # one daemon per repo
        with pytest.raises(KuboFailed, match="in use by another ipfs process"):
            daemons.start("p-again", repo=first.repo)
        assert first.stop() == 0, first.log()
        assert not (first.repo / "api").exists()
        assert not (first.repo / "repo.lock").exists()

        second = daemons.start("p", repo=first.repo)
        assert second.peer_id == first.peer_id
        assert second.pid != first.pid
        pins = call(second, lambda ipfs: ipfs.pin_ls())
        assert pins == {str(cid): "recursive", EMPTY_DIR: "recursive"}
        assert str(unpinned) not in pins
        assert call(second, lambda ipfs: ipfs.cat_bytes(cid)) == data
        assert call(second, lambda ipfs: ipfs.id()).id == first.peer_id
        assert second.stop() == 0


def test_stale_lock_of_a_killed_daemon_is_taken_over(tmp_path: Path) -> None:
    with daemon_set(tmp_path) as daemons:
        first = daemons.start("k")
        first.process.kill()
        first.process.wait(10)
        assert (first.repo / "repo.lock").exists()
        second = daemons.start("k", repo=first.repo)
        assert second.peer_id == first.peer_id


def test_daemon_refuses_to_start_without_a_valid_swarm_key(tmp_path: Path) -> None:
    """With LIBP2P_FORCE_PNET=1 (always set by proml.devnet.kubo), a daemon without a usable swarm key
    does not start, rather than join the public network."""
    repo = tmp_path / "r"
    init_repo(repo, write_swarm_key(tmp_path / "good.key"), 0, None, 0)
    for key in ("/key/swarm/psk/1.0.0/\n/base16/\nnothex\n", None):
        if key is None:
            (repo / "swarm.key").unlink()
        else:
            (repo / "swarm.key").write_text(key)
        result = subprocess.run(
            [str(kubo_binary()), "daemon"],
            env=kubo_env(repo),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert "Daemon is ready" not in result.stdout
        assert "private network" in result.stderr, result.stderr


def test_write_swarm_key_writes_the_standard_format(tmp_path: Path) -> None:
    path = write_swarm_key(tmp_path / "swarm.key")
    lines = path.read_text().split("\n")
    assert lines[:2] == ["/key/swarm/psk/1.0.0/", "/base16/"]
    assert len(lines[2]) == 64 and int(lines[2], 16) >= 0
    assert path.stat().st_mode & 0o777 == 0o600


# --- Kubo conventions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_only_post_is_allowed(swarm: DaemonSet, method: str) -> None:
    response = rpc(node(swarm, "a"), "/api/v0/id", method)
    assert response.status_code == 405


def test_unknown_endpoint_is_404(swarm: DaemonSet) -> None:
    assert rpc(node(swarm, "a"), "/api/v0/no/such/command").status_code == 404


def test_cross_origin_requests_are_refused(swarm: DaemonSet) -> None:
    response = rpc(node(swarm, "a"), "/api/v0/id", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


def test_errors_have_kubos_shape(swarm: DaemonSet) -> None:
    """What IpfsClient reads: a command that fails answers 500 with {Message, Code, Type}; a request the
    RPC layer refuses (an argument or the multipart body missing) answers 400 in plain text."""
    a = node(swarm, "a")
    bad_cid = rpc(a, "/api/v0/cat", params={"arg": "not-a-cid"})
    assert bad_cid.status_code == 500
    body = bad_cid.json()
    assert set(body) == {"Message", "Code", "Type"}
    assert body["Type"] == "error" and body["Code"] == 0
    assert "invalid path" in body["Message"]

    missing = rpc(a, "/api/v0/cat")
    assert missing.status_code == 400
    assert missing.text.strip() == 'argument "ipfs-path" is required'

    not_multipart = rpc(a, "/api/v0/add", content=b"x")
    assert not_multipart.status_code == 400 and "file argument" in not_multipart.text

    for params in ({"cid-version": "2"}, {"chunker": "bogus"}, {"hash": "nope"}):
        response = rpc(a, "/api/v0/add", params=params, files={"file": ("x", b"x")})
        assert response.status_code == 500, params
        assert response.json()["Type"] == "error"


def test_client_errors_carry_kubos_message(swarm: DaemonSet) -> None:
    async def scenario(ipfs: IpfsClient) -> None:
        with pytest.raises(IpfsError) as err:
            await ipfs.pin_rm(cid_of_bytes(b"never added here\n"))
        assert err.value.status == 500 and err.value.code == 0
        assert "not pinned" in err.value.message

    call(node(swarm, "a"), scenario)


# Kubo's command library reads booleans case-insensitively ("tRUE" too); "" is a bare flag: ?pin
GO_TRUE = ["true", "1", "t", "T", "TRUE", "True", "tRUE", ""]
GO_FALSE = ["false", "0", "f", "F", "FALSE", "False"]


@pytest.mark.parametrize(("value", "pinned"), [(v, True) for v in GO_TRUE] + [(v, False) for v in GO_FALSE])
def test_boolean_options_parse_like_go(swarm: DaemonSet, value: str, pinned: bool) -> None:
    a = node(swarm, "a")
    content = f"boolean {value!r}\n".encode()
    response = rpc(a, "/api/v0/add", params={"pin": value}, files={"file": ("b.txt", content)})
    assert response.status_code == 200, response.text
    cid = response.json()["Hash"]
    listed = rpc(a, "/api/v0/pin/ls", params={"arg": cid, "type": "recursive"})
    assert (listed.status_code == 200) is pinned, listed.text
    if pinned:
        assert listed.json()["Keys"][cid]["Type"] == "recursive"
        rpc(a, "/api/v0/pin/rm", params={"arg": cid})


@pytest.mark.parametrize("value", ["yes", "no", "2", "on"])
def test_booleans_that_go_rejects_are_400(swarm: DaemonSet, value: str) -> None:
    response = rpc(node(swarm, "a"), "/api/v0/add", params={"pin": value}, files={"file": ("x", b"x")})
    assert response.status_code == 400
    assert f'could not convert value "{value}" to type "bool"' in response.text


def test_add_answers_ndjson_one_line_per_file(swarm: DaemonSet) -> None:
    files = [("file", ("one.txt", b"one\n")), ("file", ("two%20words.txt", b"two\n"))]
    response = rpc(node(swarm, "a"), "/api/v0/add", params={"pin": "false"}, files=files)
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == [
        {"Name": "one.txt", "Hash": str(cid_of_bytes(b"one\n")), "Size": "12"},
        {"Name": "two words.txt", "Hash": str(cid_of_bytes(b"two\n")), "Size": "12"},
    ]


def test_pin_ls_default_type_all_lists_indirect_blocks_like_kubo(swarm: DaemonSet) -> None:
    a = node(swarm, "a")
    data = bytes(2 * CHUNK_SIZE)
    response = rpc(a, "/api/v0/add", files={"file": ("zeros", data)})
    root = response.json()["Hash"]
    keys = rpc(a, "/api/v0/pin/ls").json()["Keys"]
    assert keys[root]["Type"] == "recursive"
    # two identical zero chunks: one leaf block, pinned indirectly
    leaf = str(cid_of_bytes(bytes(CHUNK_SIZE)))
    assert keys[leaf]["Type"] == "indirect"
    one = rpc(a, "/api/v0/pin/ls", params={"arg": leaf}).json()["Keys"]
    assert list(one) == [leaf] and one[leaf]["Type"].startswith("indirect")
    rpc(a, "/api/v0/pin/rm", params={"arg": root})


# --- the Python client, every call -----------------------------------------------------------------------


def test_client_add_from_path_bytes_and_async_iterator(swarm: DaemonSet, tmp_path: Path) -> None:
    data = b"".join(prng_chunks(CHUNK_SIZE + 100, seed=1))
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    expected = cid_of_bytes(data)

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 10_000):
            yield data[i : i + 10_000]

    async def scenario(ipfs: IpfsClient) -> None:
        from_path = await ipfs.add(path)
        from_bytes = await ipfs.add(data, name="given name")
        from_iter = await ipfs.add(pieces(), cid_version=1)
        assert from_path.cid == from_bytes.cid == expected
        assert from_path.name == "payload.bin" and from_bytes.name == "given name"
        assert from_iter.cid == cid_of_bytes(data, cid_version=1)

    call(node(swarm, "a"), scenario)


def test_client_only_hash_stores_nothing(swarm: DaemonSet) -> None:
    data = b"only the hash, please\n"

    async def scenario(ipfs: IpfsClient) -> None:
        result = await ipfs.add(data, only_hash=True)
        assert result.cid == cid_of_bytes(data)
        assert not await ipfs.is_pinned(result.cid)
        with pytest.raises(IpfsError):
            await ipfs.cat_bytes(result.cid, timeout=1)

    call(node(swarm, "a"), scenario)


def test_client_cat_streams_and_slices(swarm: DaemonSet) -> None:
    data = b"".join(prng_chunks(3 * CHUNK_SIZE, seed=77))

    async def scenario(ipfs: IpfsClient) -> None:
        cid = (await ipfs.add(data)).cid
        chunks = [chunk async for chunk in ipfs.cat(cid)]
        assert b"".join(chunks) == data
        assert len(chunks) > 1
        parts = [chunk async for chunk in ipfs.cat(cid, offset=CHUNK_SIZE - 10, length=100)]
        assert b"".join(parts) == data[CHUNK_SIZE - 10 : CHUNK_SIZE + 90]
        with pytest.raises(IpfsError, match="larger than"):
            await ipfs.cat_bytes(cid, max_size=1000)
        # stopping early closes the stream
        async with aclosing(ipfs.cat(cid)) as stream:
            async for _ in stream:
                break
        assert await ipfs.cat_bytes(cid, timeout=10) == data

    call(node(swarm, "a"), scenario)


def test_client_pins(swarm: DaemonSet) -> None:
    async def scenario(ipfs: IpfsClient) -> None:
        cid = (await ipfs.add(b"pin me\n", pin=False)).cid
        assert not await ipfs.is_pinned(cid)
        assert await ipfs.pin_add(cid) == [str(cid)]
        assert await ipfs.pin_add(cid) == [str(cid)]  # idempotent, like Kubo
        assert (await ipfs.pin_ls())[str(cid)] == "recursive"
        assert await ipfs.pin_ls(cid) == {str(cid): "recursive"}
        assert await ipfs.is_pinned(cid)
        assert await ipfs.pin_rm(cid) == [str(cid)]
        assert str(cid) not in await ipfs.pin_ls()
        with pytest.raises(IpfsError, match="not pinned"):
            await ipfs.pin_rm(cid)
        direct = (await ipfs.add(b"direct\n", pin=False)).cid
        await ipfs.pin_add(direct, recursive=False)
        assert await ipfs.pin_ls(type="direct") == {str(direct): "direct"}
        await ipfs.pin_rm(direct)

    call(node(swarm, "a"), scenario)


def test_client_id_version_and_swarm(swarm: DaemonSet) -> None:
    a, b = node(swarm, "a"), node(swarm, "b")

    async def scenario(ipfs: IpfsClient) -> None:
        me = await ipfs.id()
        assert me.id == a.peer_id
        assert a.swarm_addr in me.addresses
        assert "/ipfs/bitswap/1.2.0" in me.protocols
        assert me.public_key
        version = await ipfs.version()
        assert version.version and version.system
        assert version.version == KUBO_VERSION.removeprefix("v")
        peers = await ipfs.swarm_peers()
        assert b.peer_id in {p.peer for p in peers}
        assert all(p.addr.startswith("/ip4/127.0.0.1/tcp/") for p in peers)
        # connecting to a peer already connected is fine
        assert await ipfs.swarm_connect(b.swarm_addr, timeout=10) == [f"connect {b.peer_id} success"]
        with pytest.raises(IpfsError, match="no ipfs peers"):  # no /p2p/<peer id>
            await ipfs.swarm_connect("/ip4/127.0.0.1/tcp/1")

    call(a, scenario)


def test_client_errors(swarm: DaemonSet, tmp_path: Path) -> None:
    async def scenario(ipfs: IpfsClient) -> None:
        with pytest.raises(IpfsError) as err:
            await ipfs.cat_bytes("not-a-cid")
        assert err.value.status == 500 and err.value.code == 0 and "invalid path" in err.value.message

    call(node(swarm, "a"), scenario)

    # a port where nothing listens
    with daemon_set(tmp_path) as daemons:
        gone = daemons.start("gone")
        api = gone.api
        assert gone.stop() == 0

    async def unavailable() -> None:
        async with IpfsClient(api, timeout=5) as ipfs:
            with pytest.raises(IpfsUnavailable):
                await ipfs.id()
            with pytest.raises(IpfsUnavailable):
                await ipfs.cat_bytes("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN")
            with pytest.raises(IpfsUnavailable):
                await ipfs.add(b"x")

    run(unavailable())
