"""Benchmarks of ``regsim serve`` over loopback, against a minimal static ASGI app on the same
uvicorn stack serving the same bytes (measured in the same run), with the load generator in a
second process:

- blob pull MB/s of a 64 MiB blob (target: 0.3x the static app; the registry reads, checks and
  decodes each extent in a thread-pool hop before sending it; measured 0.48-0.75x);
- manifest GET requests/s on one keep-alive connection (target: 0.2x the static app, which does
  no routing, auth, metadata look-up, thread-pool hop, receipts or metrics).

The reference is timed before and after the regsim rounds and its best time is used, so a burst
of load from other processes on the machine does not flatter regsim.

Run with ``make bench`` or ``.venv/bin/python -m pytest -m benchmark tests/server -q -s``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import multiprocessing
import os
import time
from urllib.parse import urlsplit

import pytest

from regsim.registry.descriptors import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST
from regsim.server.serve import bind

from .conftest import running_server

pytestmark = pytest.mark.benchmark

BLOB_SIZE = 64 << 20
BLOB_TARGET = 0.3
MANIFEST_TARGET = 0.2
MANIFEST_REQUESTS = 1000


# -- the reference: a static ASGI app on the same uvicorn configuration ------------------------

def static_app(blob: bytes, manifest: bytes):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"].endswith("/manifest"):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", OCI_MANIFEST.encode()),
                                    (b"content-length", str(len(manifest)).encode())]})
            await send({"type": "http.response.body", "body": manifest})
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"),
                                (b"content-length", str(len(blob)).encode())]})
        view = memoryview(blob)
        for start in range(0, len(blob), 1 << 20):
            await send({"type": "http.response.body", "body": bytes(view[start:start + (1 << 20)]),
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    return app


def serve_static(sock, blob: bytes, manifest: bytes) -> None:
    import uvicorn

    from regsim.server.serve import Listen, uvicorn_config
    uvicorn.Server(uvicorn_config(static_app(blob, manifest), Listen())).run(sockets=[sock])


# -- the load generator (a second process) -----------------------------------------------------

def load_worker(conn) -> None:
    """Runs commands from the pipe: ("blob", url, times) or ("manifest", url, times)."""
    buffer = bytearray(1 << 20)
    while (command := conn.recv()) is not None:
        kind, url, times = command
        parts = urlsplit(url)
        client = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        received, start = 0, time.perf_counter()
        for _ in range(times):
            client.request("GET", parts.path, headers={"Accept": OCI_MANIFEST})
            response = client.getresponse()
            assert response.status == 200, response.status
            if kind == "blob":
                while n := response.readinto(buffer):
                    received += n
            else:
                received += len(response.read())
        conn.send((time.perf_counter() - start, received))
        client.close()


class LoadGenerator:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=load_worker, args=(child,), daemon=True)
        self.process.start()

    def run(self, kind: str, url: str, times: int) -> tuple[float, int]:
        self.conn.send((kind, url, times))
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(None)
        self.process.join(timeout=30)


# -- fixtures ----------------------------------------------------------------------------------

def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import httpx

    blob = os.urandom(BLOB_SIZE)
    config = b'{"architecture": "amd64", "os": "linux"}'
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": _digest(config), "size": len(config)},
                           "layers": [{"mediaType": OCI_LAYER, "digest": _digest(blob), "size": len(blob)}]}).encode()
    tmp = tmp_path_factory.mktemp("bench")
    sock = bind("127.0.0.1", 0)
    static = multiprocessing.get_context("spawn").Process(target=serve_static, args=(sock, blob, manifest), daemon=True)
    static.start()
    static_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    load = LoadGenerator()
    with running_server(tmp, {"registry": {"codec": "replicate(1)"}}) as server:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            for data in (blob, config):
                assert http.post(f"/v2/bench/app/blobs/uploads/?digest={_digest(data)}", content=data).status_code == 201
            assert http.put("/v2/bench/app/manifests/v1", content=manifest,
                            headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        yield {"load": load, "regsim": server.url, "static": static_url, "digest": _digest(blob)}
    load.close()
    static.terminate()
    static.join(timeout=10)
    sock.close()


def best_reference(load, url: str, times: int, rounds: int = 3) -> tuple[float, int]:
    runs = [load.run("blob" if url.endswith("/blob") else "manifest", url, times) for _ in range(rounds)]
    return min(runs)


def test_blob_pull_throughput(benchmark, setup):
    load, times = setup["load"], 3
    static = [best_reference(load, f"{setup['static']}/blob", times)]
    result = benchmark.pedantic(load.run, args=("blob", f"{setup['regsim']}/v2/bench/app/blobs/{setup['digest']}",
                                                times), rounds=3, iterations=1)
    static.append(best_reference(load, f"{setup['static']}/blob", times))
    assert result[1] == static[0][1] == times * BLOB_SIZE
    static_mbs = times * BLOB_SIZE / min(static)[0] / 1e6
    regsim_mbs = times * BLOB_SIZE / benchmark.stats.stats.min / 1e6
    ratio = regsim_mbs / static_mbs
    print(f"\nblob pull (64 MiB): regsim {regsim_mbs:.0f} MB/s, static app {static_mbs:.0f} MB/s, "
          f"ratio {ratio:.2f} (target {BLOB_TARGET})")
    assert ratio >= BLOB_TARGET * 0.8


def test_manifest_get_rate(benchmark, setup):
    load = setup["load"]
    static = [best_reference(load, f"{setup['static']}/manifest", MANIFEST_REQUESTS)]
    benchmark.pedantic(load.run, args=("manifest", f"{setup['regsim']}/v2/bench/app/manifests/v1", MANIFEST_REQUESTS),
                       rounds=3, iterations=1)
    static.append(best_reference(load, f"{setup['static']}/manifest", MANIFEST_REQUESTS))
    static_rps = MANIFEST_REQUESTS / min(static)[0]
    regsim_rps = MANIFEST_REQUESTS / benchmark.stats.stats.min
    ratio = regsim_rps / static_rps
    print(f"\nmanifest GET: regsim {regsim_rps:.0f} req/s, static app {static_rps:.0f} req/s, "
          f"ratio {ratio:.2f} (target {MANIFEST_TARGET})")
    assert ratio >= MANIFEST_TARGET * 0.8
