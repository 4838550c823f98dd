"""Certificate rotation: a reload (SIGHUP, a file change, or a direct call) puts a new certificate
in the server's one SSLContext; new connections get it, open ones carry on; an invalid pair keeps
the old one. Expiry and reload counts show on /metrics; expiry warnings at 30, 7 and 1 days."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import logging
import os
import re
import signal
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from regsim.server import Listen, build_services, create_app, parse_config
from regsim.server.serve import ReloadingServer, bind, sighup_reloads, uvicorn_config
from regsim.server.tls_reload import CertificateReloader, expiry_warnings, fingerprint

DAY = 86400


def make_pair(folder: Path, *, days: float = 365, key=None) -> tuple[x509.Certificate, object]:
    """A self-signed certificate for localhost valid ``days`` more days, written to
    ``folder``/cert.pem and key.pem (with ``key``'s private key when given: a mismatched pair)."""
    folder.mkdir(parents=True, exist_ok=True)
    signing = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(signing.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(signing, hashes.SHA256()))
    written = key if key is not None else signing
    (folder / "key.pem").write_bytes(written.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, signing


def fp(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the test compares fingerprints itself
    return ctx


def connect(port: int) -> http.client.HTTPSConnection:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=client_context(), timeout=30)
    conn.connect()
    return conn


def peer(conn: http.client.HTTPSConnection) -> str:
    return fingerprint(conn.sock.getpeercert(binary_form=True))


def get(conn: http.client.HTTPSConnection, path: str) -> tuple[int, str]:
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read().decode()


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


@contextlib.contextmanager
def serving(folder: Path):
    """The real server (uvicorn, TLS, the reloadable context) on a free loopback port, in a thread
    of this process; yields (port, reloader)."""
    reloader = CertificateReloader(folder / "cert.pem", folder / "key.pem", poll_s=3600)
    services = build_services(parse_config({}))
    app = create_app(services, tls=True, certificate=reloader)
    sock = bind("127.0.0.1", 0)  # listening now: connections wait in the backlog until uvicorn is up
    listen = Listen("127.0.0.1", 0, folder / "cert.pem", folder / "key.pem")
    server = ReloadingServer(uvicorn_config(app, listen, context=reloader.context), reloader)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], reloader
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert not thread.is_alive()


def test_rotation_keeps_open_connections_and_shows_on_metrics(tmp_path):
    folder = tmp_path / "tls"
    first, _ = make_pair(folder)
    with serving(folder) as (port, reloader):
        old = connect(port)
        assert get(old, "/v2/")[0] == 200 and peer(old) == fp(first)
        old_socket = old.sock

        second, _ = make_pair(folder, days=90)
        assert reloader.reload() is True

        new = connect(port)
        assert peer(new) == fp(second)
        status, text = get(new, "/metrics")
        assert status == 200
        assert metric(text, "regsim_tls_certificate_expiry_timestamp_seconds") == \
            second.not_valid_after_utc.timestamp()
        assert metric(text, 'regsim_tls_certificate_reloads_total{result="ok"}') == 1
        assert metric(text, 'regsim_tls_certificate_reloads_total{result="failed"}') == 0
        # the connection opened before the reload still serves requests, on the first certificate
        assert get(old, "/v2/")[0] == 200 and old.sock is old_socket and peer(old) == fp(first)
        old.close()
        new.close()


def test_an_invalid_new_pair_keeps_the_old_certificate(tmp_path, caplog):
    folder = tmp_path / "tls"
    first, _ = make_pair(folder)
    with serving(folder) as (port, reloader):
        make_pair(folder, key=ec.generate_private_key(ec.SECP256R1()))  # key does not match the certificate
        with caplog.at_level(logging.ERROR, logger="regsim.server.tls"):
            assert reloader.reload() is False
        failures = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(failures) == 1 and "keeping the current certificate" in failures[0].getMessage()
        assert "the key does not match the certificate" in failures[0].getMessage()
        conn = connect(port)
        assert peer(conn) == fp(first)
        status, text = get(conn, "/metrics")
        assert metric(text, 'regsim_tls_certificate_reloads_total{result="failed"}') == 1
        assert metric(text, 'regsim_tls_certificate_reloads_total{result="ok"}') == 0
        assert metric(text, "regsim_tls_certificate_expiry_timestamp_seconds") == first.not_valid_after_utc.timestamp()
        conn.close()
        (folder / "key.pem").write_text("not a key")  # unreadable too
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="regsim.server.tls"):
            assert reloader.reload() is False and reloader.failed == 2
        assert "the key file holds no PEM private key" in caplog.records[-1].getMessage()
        (folder / "key.pem").unlink()
        assert reloader.reload() is False and reloader.failed == 3
        conn = connect(port)
        assert peer(conn) == fp(first)
        conn.close()


def test_a_file_change_reloads_once_the_files_settle(tmp_path):
    folder = tmp_path / "tls"
    make_pair(folder)
    reloader = CertificateReloader(folder / "cert.pem", folder / "key.pem")
    assert reloader.poll() is None  # nothing changed
    second, _ = make_pair(folder, days=30.5)
    assert reloader.poll() is None  # changed since the last look: wait for it to settle
    assert reloader.poll() is True and reloader.serial == second.serial_number
    assert reloader.poll() is None and reloader.ok == 1


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP here")
def test_sighup_asks_the_watcher_for_a_reload(tmp_path):
    folder = tmp_path / "tls"
    make_pair(folder)
    reloader = CertificateReloader(folder / "cert.pem", folder / "key.pem", poll_s=3600)
    second, _ = make_pair(folder)
    reloader.start()
    try:
        with sighup_reloads(reloader):
            os.kill(os.getpid(), signal.SIGHUP)
            assert reloader.wait_for_attempts(1, timeout=30)
    finally:
        reloader.stop()
    assert reloader.ok == 1 and reloader.serial == second.serial_number


def test_expiry_warnings_at_30_7_and_1_days(tmp_path, caplog):
    folder = tmp_path / "tls"
    make_pair(folder, days=5)
    with caplog.at_level(logging.WARNING, logger="regsim.server.tls"):
        reloader = CertificateReloader(folder / "cert.pem", folder / "key.pem")
        assert reloader.check_expiry() == []  # each threshold once per certificate
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "within 30 days" in lines[0] and "within 7 days" in lines[1]
    assert not any("within 1 day" in line for line in lines)
    # and the 1-day one once the time comes
    assert reloader.check_expiry(now=reloader.not_after - 0.5 * DAY) == [1]
    assert reloader.check_expiry(now=reloader.not_after - 0.4 * DAY) == []


def test_expiry_warning_thresholds():
    now = time.time()
    warned: set[int] = set()
    assert expiry_warnings(now + 5 * DAY, now, warned) == [30, 7]
    assert expiry_warnings(now + 5 * DAY, now, warned) == []
    assert expiry_warnings(now + 40 * DAY, now, set()) == []
    assert expiry_warnings(now + 12 * 3600, now, set()) == [30, 7, 1]
