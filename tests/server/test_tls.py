"""TLS on real sockets: TLS 1.2+ only, HSTS, a self-signed certificate, and a TLS handshake sent to
the plain-HTTP port answered at once (as skopeo and podman probe)."""

import socket
import ssl
import sys
import threading

import httpx
import pytest

from regsim.server.tls import self_signed

from .conftest import running_server

pytestmark = pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")


def client_hello() -> bytes:
    """The bytes a TLS client sends first."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    return outgoing.read()


def tls11_client() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def handshake(ctx: ssl.SSLContext, host: str, port: int, name: str = "localhost") -> str:
    with socket.create_connection((host, port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=name) as tls:
        return tls.version()


def tls11_testable(tmp_path) -> bool:
    """True if this OpenSSL build can negotiate TLS 1.1 at all (checked against a permissive
    local server), so that a refusal by regsim means something."""
    cert, key = self_signed(tmp_path / "probe")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        server_ctx.minimum_version = ssl.TLSVersion.TLSv1
        server_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        server_ctx.load_cert_chain(cert, key)
        client_ctx = tls11_client()
    except (ssl.SSLError, ValueError):
        return False
    listener = socket.create_server(("127.0.0.1", 0))
    result = {}

    def serve_once():
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                result["version"] = tls.version()
        except (ssl.SSLError, OSError):
            pass

    t = threading.Thread(target=serve_once, daemon=True)
    t.start()
    try:
        return handshake(client_ctx, "127.0.0.1", listener.getsockname()[1]) == "TLSv1.1"
    except (ssl.SSLError, OSError):
        return False
    finally:
        t.join(timeout=10)
        listener.close()


def test_tls_server_with_self_signed_certificate(tmp_path):
    with running_server(tmp_path, None, "--self-signed", "--tls-dir", str(tmp_path / "tls")) as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.certificate == tmp_path / "tls" / "cert.pem"
        verify = ssl.create_default_context(cafile=str(server.certificate))
        with httpx.Client(verify=verify, timeout=30) as http:
            r = http.get(f"{server.url}/v2/")
        assert r.status_code == 200
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
        host, port = server.address.rsplit(":", 1)
        assert handshake(verify, host, int(port)) in ("TLSv1.2", "TLSv1.3")
        testable = tls11_testable(tmp_path)
        if testable:
            with pytest.raises((ssl.SSLError, ConnectionError)):  # an alert, or the connection dropped
                handshake(tls11_client(), host, int(port))
    assert (tmp_path / "tls" / "key.pem").is_file()  # a folder given with --tls-dir is kept
    if not testable:
        pytest.skip("this OpenSSL build cannot negotiate TLS 1.1 even with a permissive peer")


#: serve() with a self-signed pair in a temporary folder (what --self-signed without --tls-dir asks for)
THROWAWAY_CERT = [sys.executable, "-c", "from regsim.server import Listen, parse_config, serve\n"
                  "from regsim.server.serve import self_signed_listen\n"
                  "serve(parse_config({}), self_signed_listen(Listen(port=0)))"]


def test_a_temporary_self_signed_pair_is_removed_when_the_server_stops(tmp_path):
    with running_server(tmp_path, command=THROWAWAY_CERT) as server:
        folder = server.certificate.parent
        assert folder.name.startswith("regsim-tls-")
        assert sorted(p.name for p in folder.iterdir()) == ["ca.crt", "cert.pem", "key.pem"]
        verify = ssl.create_default_context(cafile=str(server.certificate))
        with httpx.Client(verify=verify, timeout=30) as http:
            assert http.get(f"{server.url}/v2/").status_code == 200
    assert server.process.returncode is not None and not folder.exists()  # stopped by SIGTERM


def test_self_signed_listen_keeps_a_given_folder(tmp_path):
    from regsim.server import Listen
    from regsim.server.serve import self_signed_listen
    listen = self_signed_listen(Listen(port=0), tmp_path / "tls")
    assert listen.temporary_dir is None and listen.tls_cert == tmp_path / "tls" / "cert.pem"


def test_plain_port_answers_a_tls_client_hello_at_once(tmp_path):
    with running_server(tmp_path) as server:
        host, port = server.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(client_hello())
            sock.settimeout(10)  # a hang would end here; the reply comes in milliseconds
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert b"TLS handshake to a plain-HTTP port" in reply
        # and the port still serves HTTP
        assert httpx.get(f"{server.url}/v2/", timeout=30).status_code == 200


def test_plain_https_client_gets_a_prompt_error(tmp_path):
    with running_server(tmp_path) as server:
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"https://{server.address}/v2/", verify=False, timeout=10)
