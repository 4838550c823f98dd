"""Calibration workloads that exercise the whole registry: push and pull, auth, manifests.

:func:`register_registry_workloads` adds them to :data:`regsim.sim.calibrate.WORKLOADS`, so
``regsim calibrate`` prices
every receipt kind the registry emits from real calls on the machine it runs on: envelope
encryption and erasure coding on a push, a degraded pull and a repair, in two shapes (RS(4,2) and
RS(10,4), so the ec_* prices, in bytes multiplied, are fitted over more than one ``k`` and ``m``
and over decodes of one to three lost data chunks), JWT signing and verification for each
algorithm (cached and not), the database token check, password hashing at the registry's
default cost, and the server's side of TLS 1.3 handshakes, full and resumed (over memory BIOs, with a self-signed
ECDSA P-256 certificate: only the server's CPU time is recorded).
"""

from __future__ import annotations

import datetime
import ssl
import tempfile
import time
from pathlib import Path

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

from .calibrate import register_workload

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
