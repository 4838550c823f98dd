"""Fixtures for the server tests: an in-process httpx client on the ASGI app, image helpers,
and a real ``regsim serve`` subprocess for the tests that need sockets."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio.from_thread
import httpx
import pytest
import yaml

from regsim.registry.descriptors import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST
from regsim.server import build_services, create_app, parse_config

#: the storage the client tests run with: erasure coding and encryption on, as in CI.
RS_ENCRYPTED = {"codec": "rs(4,2)", "nodes": 6, "encryption": "aes-256-gcm", "segment_size": 4096}
FAST_HASH = {"scheme": "bcrypt", "rounds": 4}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Client:
    """httpx against the ASGI app in-process (no sockets), driven synchronously via a portal."""

    def __init__(self, app, portal, base_url: str = "http://registry.test") -> None:
        self.portal = portal
        self.http = portal.call(lambda: _make_client(app, base_url))

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        return self.portal.call(lambda: self.http.request(method, url, **kwargs))

    def get(self, url: str, **kw) -> httpx.Response:
        return self.request("GET", url, **kw)

    def head(self, url: str, **kw) -> httpx.Response:
        return self.request("HEAD", url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw) -> httpx.Response:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    # -- conveniences --------------------------------------------------------------------

    def push_blob(self, repo: str, data: bytes, **kw) -> str:
        d = digest_of(data)
        r = self.post(f"/v2/{repo}/blobs/uploads/?digest={d}", content=data, **kw)
        assert r.status_code == 201, r.text
        return d

    def push_image(self, repo: str, tag: str, layers: list[bytes], **extra) -> tuple[str, bytes]:
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        for blob in [config, *layers]:
            self.push_blob(repo, blob)
        manifest = image_manifest(config, layers, **extra)
        r = self.put(f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text
        return r.headers["Docker-Content-Digest"], manifest


async def _make_client(app, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def image_manifest(config: bytes, layers: list[bytes], **extra) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
           "layers": [{"mediaType": OCI_LAYER, "digest": digest_of(b), "size": len(b)} for b in layers], **extra}
    return json.dumps(doc).encode()


def error_codes(response: httpx.Response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


@pytest.fixture(scope="module")
def portal():
    with anyio.from_thread.start_blocking_portal() as p:
        yield p


@pytest.fixture
def make_client(portal):
    """``make_client(config_dict)`` -> (Client, Services) on a fresh in-memory registry."""
    made = []

    def make(config: dict | None = None) -> tuple[Client, object]:
        services = build_services(parse_config(config or {"registry": RS_ENCRYPTED}))
        client = Client(create_app(services), portal)
        made.append((client, services))
        return client, services

    yield make
    for client, services in made:
        portal.call(client.http.aclose)
        services.close()


@pytest.fixture
def client(make_client) -> Client:
    return make_client()[0]


# -- a real server in a subprocess ---------------------------------------------------------

@dataclass
class Server:
    url: str
    process: subprocess.Popen
    certificate: Path | None

    @property
    def address(self) -> str:
        return self.url.split("://", 1)[1]


_LISTENING = re.compile(r"listening on (https?://\S+)")


#: how :func:`running_server` starts a server: ``regsim serve`` on a free port.
CLI_SERVE = [sys.executable, "-c", "import sys; from regsim.cli import main; sys.exit(main())", "serve", "--port", "0"]


@contextlib.contextmanager
def running_server(tmp_path: Path, config: dict | None = None, *args: str, startup_s: float = 60.0,
                   command: list[str] = CLI_SERVE) -> Iterator[Server]:
    """``regsim serve`` on a free port (or another ``command`` that announces itself the same
    way); yields once it announced its address (its socket is listening then, so the first
    request waits in the backlog rather than failing). On exit it is stopped with SIGTERM."""
    cmd = list(command)
    if config is not None:
        path = tmp_path / "server.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd += ["--config", str(path)]
    log = (tmp_path / "server.log").open("w+")  # a file, not a pipe: a chatty server never blocks on it
    proc = subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        url, cert = _await_announcement(proc, startup_s, log)
        yield Server(url, proc, cert)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        log.close()


def _pump(stream, lines: queue.Queue) -> None:
    try:
        for line in iter(stream.readline, ""):
            lines.put(line)
    except (ValueError, OSError):  # the stream was closed at teardown
        pass
    lines.put(None)  # end of output: the process exited


def _await_announcement(proc: subprocess.Popen, timeout_s: float, log) -> tuple[str, Path | None]:
    """The URL (and certificate) ``regsim serve`` prints, read by a helper thread so that lines
    already buffered are never waited for again."""
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    url, cert = None, None
    while url is None or (url.startswith("https") and cert is None):
        try:
            line = lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"regsim serve did not announce its address within {timeout_s} s") from None
        if line is None:
            log.seek(0)
            raise AssertionError(f"regsim serve exited ({proc.wait()}): {log.read()}")
        if m := _LISTENING.search(line):
            url = m.group(1)
        elif line.startswith("regsim serve: certificate "):
            cert = Path(line.split("certificate ", 1)[1].strip())
    return url, cert
