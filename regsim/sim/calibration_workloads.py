"""Calibration workloads that exercise the whole registry: push and pull, auth, manifests.

:func:`register_registry_workloads` adds them to :data:`regsim.sim.calibrate.WORKLOADS`, so
``regsim calibrate`` prices
every receipt kind the registry emits from real calls on the machine it runs on: envelope
encryption and erasure coding on a push, a degraded pull and a repair, in two shapes (RS(4,2) and
RS(10,4), so the ec_* prices, in bytes multiplied, are fitted over more than one ``k`` and ``m``
and over decodes of one to three lost data chunks), JWT signing and verification for each
algorithm (cached and not; the receipts name the algorithm, so each one gets its own
``jwt_sign_<alg>`` and ``jwt_verify_<alg>`` price), the database token check, password hashing at the registry's
default cost, and the server's side of TLS 1.3 handshakes, full and resumed (over memory BIOs, with a self-signed
ECDSA P-256 certificate: only the server's CPU time is recorded).

:func:`register_http_workload` adds the HTTP handling of each endpoint class (``http_*``),
measured on the server application the caller builds (this engine layer may not import it).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from regsim.registry.auth import AuthSpec, BasicCredentials, BearerToken, Scope, make_auth
from regsim.registry import receipts
from regsim.registry.config import RegistryConfig
from regsim.registry.receipts import Kind
from regsim.registry.registry import Registry

from .calibrate import Workload, register_workload
from .profile import CPU_KINDS, HTTP_KINDS

#: the receipt kinds a request's own items are priced by (so not part of its HTTP handling)
_PRICED = CPU_KINDS - HTTP_KINDS

LAYER_SIZES = (64 << 10, 1 << 20, 4 << 20)
_rng = np.random.default_rng(1)
_LAYERS = [_rng.integers(0, 256, s, dtype=np.uint8).tobytes() for s in LAYER_SIZES]
_round = iter(range(1 << 62))


#: (codec, storage nodes, nodes failed before the degraded pull): the shapes the ec_* prices are
#: fitted over. The last shape has a spare node, so its repair rebuilds onto a spare as well as in
#: place; the first has none, so its repair also decodes data chunks it cannot place.
CODEC_SHAPES = (("rs(4,2)", 6, 2), ("rs(10,4)", 15, 3))


def registry_push_pull() -> None:
    """For each of :data:`CODEC_SHAPES`: push three layers into an encrypted registry, pull them
    healthy and degraded, then repair onto a replaced node."""
    for codec, nodes, failed in CODEC_SHAPES:
        _push_pull(codec, nodes, failed)


def _push_pull(codec: str, nodes: int, failed: int) -> None:
    reg = Registry(RegistryConfig(codec=codec, nodes=nodes, encryption="aes-256-gcm", segment_size=1 << 20))
    salt = next(_round).to_bytes(8, "little")
    layers = [salt + layer for layer in _LAYERS]  # new content each round: nothing deduplicates
    reg.push_image("calibrate/app", "v1", layers)
    reg.pull_image("calibrate/app", "v1")
    for i in range(failed):
        reg.fail_node(f"s{i}")
    reg.pull_image("calibrate/app", "v1")
    reg.replace_node("s0")
    reg.repair()


def _lazy(setup):
    """Run ``setup`` on first use only, so importing this module generates no keys or hashes."""
    state: list = []

    def get():
        if not state:
            state.append(setup())
        return state[0]

    return get


def _jwt_workload(algorithm: str):
    def setup():
        return make_auth(AuthSpec(mode="jwt", algorithm=algorithm, issuer="regsim-calibrate",
                                  grants={"calibrate": {"calibrate/*": "pull,push"}}))

    state = _lazy(setup)
    scope = [Scope.repository("calibrate/app", "pull")]

    def run() -> None:
        stack = state()
        verifier = stack.new_verifier()  # a cold cache each run
        for _ in range(20):
            token = stack.tokens.issue("calibrate", scope).token
            verifier.verify(token)  # uncached: PyJWT runs
            for _ in range(5):
                verifier.verify(token)  # cached

    return run


def _database_workload():
    def setup():
        stack = make_auth(AuthSpec(mode="db"))  # bcrypt at the registry's default cost
        stack.database.add_user("calibrate", "correct horse battery staple")
        stack.database.grant("calibrate", "calibrate/*", "pull,push")
        return stack.authorizer, stack.sessions.issue("calibrate", ttl=1e9).token

    state = _lazy(setup)
    scope = [Scope.repository("calibrate/app", "pull")]

    def run() -> None:
        authorizer, token = state()
        for _ in range(200):
            authorizer.authorize(BearerToken(token), scope)
        authorizer.authorize(BasicCredentials("calibrate", "correct horse battery staple"), scope)

    return run


_TLS_HOST = "registry.regsim.test"


def _tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A TLS 1.3 server with a fresh self-signed ECDSA P-256 certificate, and a client trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _TLS_HOST)])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(_TLS_HOST)]), critical=False)
            .sign(key, hashes.SHA256()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = ssl.TLSVersion.TLSv1_3
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with tempfile.TemporaryDirectory() as tmp:  # ssl loads a key pair from files only
        cert_pem, key_pem = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        server.load_cert_chain(cert_pem, key_pem)
        client.load_verify_locations(cert_pem)
    return server, client


def tls_handshake(server: ssl.SSLContext, client: ssl.SSLContext,
                  session: ssl.SSLSession | None = None) -> tuple[ssl.SSLObject, float]:
    """One TLS 1.3 handshake over memory BIOs; (the client's end, the server's CPU seconds).

    A byte of application data follows, so that the client receives the session ticket that a
    later handshake can resume with (``session=end.session``).
    """
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    end = client.wrap_bio(c_in, c_out, server_hostname=_TLS_HOST, session=session)
    peer = server.wrap_bio(s_in, s_out, server_side=True)
    server_cpu, client_done, server_done = 0.0, False, False
    for _ in range(8):  # TLS 1.3 completes in two flights each way
        if not client_done:
            try:
                end.do_handshake()
                client_done = True
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        if not server_done:
            cpu0 = time.thread_time()
            try:
                peer.do_handshake()
                server_done = True
            except ssl.SSLWantReadError:
                pass
            server_cpu += time.thread_time() - cpu0
        c_in.write(s_out.read())
        if client_done and server_done:
            break
    else:
        raise ssl.SSLError("TLS handshake over memory BIOs did not complete")
    peer.write(b"\0")
    c_in.write(s_out.read())
    end.read(1)
    return end, server_cpu


def _tls_workload():
    state = _lazy(_tls_contexts)

    def run() -> None:
        server, client = state()
        end, _ = tls_handshake(server, client)  # a session to resume, unpriced
        for _ in range(10):
            _, cpu = tls_handshake(server, client)
            receipts.record(Kind.TLS_HANDSHAKE_FULL, 1, cpu_s=cpu, detail="ECDSA P-256")
            resumed, cpu = tls_handshake(server, client, end.session)
            if resumed.session_reused:
                receipts.record(Kind.TLS_HANDSHAKE_RESUMED, 1, cpu_s=cpu, detail="session ticket")
            end = resumed

    return run


tls_handshakes = _tls_workload()


def register_registry_workloads() -> list[str]:
    """Add the registry-level workloads to the default calibration set; returns their names."""
    names = ["registry-push-pull"]
    register_workload("registry-push-pull", registry_push_pull)
    for alg in ("RS256", "ES256", "EdDSA", "HS256"):
        names.append(f"jwt-{alg.lower()}")
        register_workload(names[-1], _jwt_workload(alg))
    names.append("database-auth")
    register_workload("database-auth", _database_workload())
    names.append("tls-handshakes")
    register_workload("tls-handshakes", tls_handshakes)
    return names


# -- HTTP handling per endpoint class ------------------------------------------------------------

#: an ASGI application (the server's), built by the caller: the engine layer may not import the
#: interface layer, so ``regsim calibrate`` hands :func:`register_http_workload` a factory.
AsgiApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]
#: requests measured per endpoint class and repeat (after :data:`HTTP_WARMUP` unmeasured ones)
HTTP_REQUESTS = 40
HTTP_WARMUP = 3
_HTTP_REPO = "calibrate/app"
_HTTP_BLOB = bytes(range(256)) * 4  # 1 KiB: the bytes a blob GET streams cost next to nothing


async def _call(app: AsgiApp, method: str, target: str, body: bytes = b"",
                headers: tuple[tuple[bytes, bytes], ...] = ()) -> tuple[int, dict[bytes, bytes]]:
    """One request to ``app`` as an ASGI server hands it over: the status and response headers."""
    path, _, query = target.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "", "client": ("127.0.0.1", 40000),
             "server": ("registry.test", 80),
             "headers": [(b"host", b"registry.test"), (b"content-length", str(len(body)).encode()), *headers]}
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    reply: dict[str, Any] = {}

    async def receive() -> dict:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()  # no disconnect: the app cancels this once it has answered
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            reply["status"], reply["headers"] = message["status"], dict(message.get("headers", []))

    await app(scope, receive, send)
    return reply["status"], reply["headers"]


async def _measured(kind: str, app: AsgiApp, method: str, target: str, body: bytes = b"",
                    headers: tuple[tuple[bytes, bytes], ...] = (), *, expect: int,
                    record: bool = True) -> dict[bytes, bytes]:
    """Run one request and record its HTTP handling as one ``kind`` item.

    The CPU time is the process's (registry calls run on the server's thread pool), less the CPU
    time the request's own receipt items measured for CPU kinds a profile prices (a manifest
    PUT's sha256 and parse, a token's signature): those are priced on their own, so what is left
    is what no receipt prices -- routing, headers, the handler, the thread hand-off, the
    response, and the registry's unpriced bookkeeping. The request's own items stay off the
    calibration's receipt, so they do not skew the fits of their kinds with tiny calls.
    """
    with receipts.suspended(), receipts.collect() as own:
        cpu0 = time.process_time()
        status, reply = await _call(app, method, target, body, headers)
        cpu = time.process_time() - cpu0
    if status != expect:
        raise RuntimeError(f"calibrating {kind}: {method} {target} answered {status}, expected {expect}")
    if record:
        priced = sum(i.cpu_s for i in own if i.kind in _PRICED)
        receipts.record(kind, 1, cpu_s=max(cpu - priced, 0.0), detail=f"{method} {target.split('?')[0]}")
    return reply


def _target(location: bytes) -> str:
    """The path and query of a (possibly absolute) ``Location`` header."""
    parts = urlsplit(location.decode())
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _blob_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def _http_round(registry: AsgiApp, token_service: AsgiApp | None, state: dict) -> None:
    """Every endpoint class, :data:`HTTP_WARMUP` + :data:`HTTP_REQUESTS` times each."""
    repo = _HTTP_REPO
    base = f"/v2/{repo}"
    if not state:  # the image the reads read: a config blob, a layer, a manifest
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        for blob in (config, _HTTP_BLOB):
            await _measured(Kind.HTTP_UPLOAD_START, registry, "POST", f"{base}/blobs/uploads/?digest="
                            f"{_blob_digest(blob)}", blob, expect=201, record=False)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _blob_digest(config),
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _blob_digest(_HTTP_BLOB),
                        "size": len(_HTTP_BLOB)}]}).encode()
        state["manifest"] = manifest
        state["uploads"] = iter(range(1 << 62))
    manifest = state["manifest"]
    manifest_type = ((b"content-type", b"application/vnd.oci.image.manifest.v1+json"),)
    octets = ((b"content-type", b"application/octet-stream"),)
    for i in range(HTTP_WARMUP + HTTP_REQUESTS):
        on = i >= HTTP_WARMUP
        await _measured(Kind.HTTP_PING, registry, "GET", "/v2/", expect=200, record=on)
        await _measured(Kind.HTTP_MANIFEST_PUT, registry, "PUT", f"{base}/manifests/t{i % 4}", manifest,
                        manifest_type, expect=201, record=on)
        await _measured(Kind.HTTP_MANIFEST_GET, registry, "GET", f"{base}/manifests/t0", expect=200, record=on)
        await _measured(Kind.HTTP_MANIFEST_HEAD, registry, "HEAD", f"{base}/manifests/t0", expect=200, record=on)
        layer = f"{base}/blobs/{_blob_digest(_HTTP_BLOB)}"
        await _measured(Kind.HTTP_BLOB_HEAD, registry, "HEAD", layer, expect=200, record=on)
        await _measured(Kind.HTTP_BLOB_GET, registry, "GET", layer, expect=200, record=on)
        # a chunked upload of fresh content, in three steps
        data = next(state["uploads"]).to_bytes(8, "little") + _HTTP_BLOB
        reply = await _measured(Kind.HTTP_UPLOAD_START, registry, "POST", f"{base}/blobs/uploads/",
                                expect=202, record=on)
        location = _target(reply[b"location"])
        reply = await _measured(Kind.HTTP_UPLOAD_CHUNK, registry, "PATCH", location, data,
                                (*octets, (b"content-range", f"0-{len(data) - 1}".encode())), expect=202, record=on)
        location = _target(reply[b"location"])
        await _measured(Kind.HTTP_UPLOAD_FINISH, registry, "PUT",
                        f"{location}{'&' if '?' in location else '?'}digest={_blob_digest(data)}",
                        expect=201, record=on)
        if token_service is not None:
            await _measured(Kind.HTTP_TOKEN, token_service, "GET", f"/token?scope=repository:{repo}:pull",
                            expect=200, record=on)


def http_workload(make_registry: Callable[[], AsgiApp],
                  make_token_service: Callable[[], AsgiApp] | None = None) -> Workload:
    """A workload measuring the HTTP handling of each endpoint class on a real ASGI app, in process.

    ``make_registry`` builds the server application with auth mode ``none`` (so no request pays
    a token check) on an in-memory store; ``make_token_service`` the same application with a
    token service (``jwt`` mode, HS256, anonymous pulls: so a token request pays no password hash
    and the cheapest signature, which is subtracted as its receipt prices it). Requests go
    straight into the ASGI app as a server would hand them over, on one event loop per repeat:
    no sockets, no HTTP parser, no TLS (the server's protocol layer -- uvicorn's parsing and the
    socket system calls -- is not in these prices; TLS is priced by the handshake kinds).
    """
    apps = _lazy(lambda: (make_registry(), make_token_service() if make_token_service is not None else None))
    state: dict = {}

    def run() -> None:
        registry, token_service = apps()
        asyncio.run(_http_round(registry, token_service, state))

    run.__doc__ = "The HTTP handling of every endpoint class of the server application, in process."
    return run


def register_http_workload(make_registry: Callable[[], AsgiApp],
                           make_token_service: Callable[[], AsgiApp] | None = None) -> str:
    """Add :func:`http_workload` to the default calibration set (``regsim calibrate`` passes the
    server application's factories); returns its name."""
    register_workload("http-endpoints", http_workload(make_registry, make_token_service))
    return "http-endpoints"
