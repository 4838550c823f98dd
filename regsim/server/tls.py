"""TLS for the server: TLS 1.2 and up only, a self-signed certificate on request, and a prompt
answer to a TLS handshake sent to the plain-HTTP port.

- :func:`server_context` builds the server's ``SSLContext`` with ``minimum_version`` TLS 1.2,
  whatever the system's OpenSSL defaults are.
- :func:`self_signed` writes a fresh EC P-256 key and a certificate for ``localhost``,
  ``127.0.0.1`` and ``::1`` (plus any names given), valid for a year, to a folder; clients trust
  it by its path (``curl --cacert cert.pem``), or the folder (``skopeo --cert-dir``, which reads
  the copy named ``ca.crt``).
- :func:`probing_protocol` wraps uvicorn's HTTP protocol so that a connection whose first byte is
  a TLS handshake record (``0x16``) -- as skopeo and podman send when probing for HTTPS -- gets
  ``400 Bad Request`` and is closed at once. Without it the HTTP parser waits for a request line
  that never comes and the client hangs until its timeout; with it a Go client reports
  "server gave HTTP response to HTTPS client" and, when allowed, falls back to plain HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TLS_HANDSHAKE = 0x16
_PLAIN_PORT_MESSAGE = b"Client sent a TLS handshake to a plain-HTTP port: use http:// here.\n"
PLAIN_PORT_REPLY = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(_PLAIN_PORT_MESSAGE), _PLAIN_PORT_MESSAGE))


def server_context(certfile: str | Path, keyfile: str | Path | None = None) -> ssl.SSLContext:
    """A server context for the given certificate chain, refusing anything older than TLS 1.2."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(certfile), None if keyfile is None else str(keyfile))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def self_signed(folder: str | Path, names: Iterable[str] = ()) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` for localhost (and ``names``) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    hosts = ["localhost", "127.0.0.1", "::1", *names]
    alt: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regsim self-signed"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "regsim")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path.write_bytes(pem)
    (folder / "ca.crt").write_bytes(pem)  # so the folder works as a containers-image --cert-dir
    return cert_path, key_path


def probing_protocol(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """A subclass of uvicorn's HTTP protocol ``base`` that turns away TLS on a plain port."""

    class TlsProbeAware(base):  # type: ignore[misc, valid-type]
        _first_data = True

        def data_received(self, data: bytes) -> None:
            if self._first_data:
                self._first_data = False
                if data[:1] == bytes([TLS_HANDSHAKE]):
                    self.transport.write(PLAIN_PORT_REPLY)
                    self.transport.close()
                    return
            super().data_received(data)

    TlsProbeAware.__name__ = TlsProbeAware.__qualname__ = f"TlsProbeAware{base.__name__}"
    return TlsProbeAware
