"""Certificate rotation without dropping connections.

The server keeps one ``ssl.SSLContext`` (:class:`CertificateReloader.context`, handed to uvicorn)
and loads a new certificate chain into it with ``load_cert_chain()``: new handshakes get the new
certificate, established connections keep theirs. A reload happens on SIGHUP and when the
certificate or key file changes (a watcher thread compares their mtime, size and inode every
:data:`POLL_S` seconds, and reloads once a changed pair has stayed the same for one poll, so a pair
written one file after the other is read once, complete).

A reload reads both files once, checks them on a scratch context first, and only then loads the
same bytes into the live one, so an invalid pair (unreadable, malformed, key not matching, key
encrypted) leaves the old certificate in place: one line is logged and
``regsim_tls_certificate_reloads_total{result="failed"}`` counts it. The live context is changed on
the event loop's thread (where uvicorn creates each connection's TLS object), never concurrently
with a handshake starting.

Each certificate loaded (at start or by a reload) is checked for expiry: a warning is logged when
it expires within 30, 7 or 1 days, each threshold once per certificate.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization

from .tls import server_context

log = logging.getLogger("regsim.server.tls")

#: seconds between two looks at the certificate and key files
POLL_S = 5.0
#: days before expiry at which a warning is logged (each once per certificate)
EXPIRY_WARNING_DAYS = (30, 7, 1)


def expiry_warnings(not_after: float, now: float, already: set[int]) -> list[int]:
    """The thresholds of :data:`EXPIRY_WARNING_DAYS` that a certificate expiring at ``not_after``
    (Unix time) is within at ``now`` and that are not in ``already``; they are added to it."""
    left = not_after - now
    due = [days for days in EXPIRY_WARNING_DAYS if left <= days * 86400 and days not in already]
    already.update(due)
    return due


def _no_passphrase() -> bytes:
    raise ValueError("the key is encrypted (a passphrase-protected key cannot be reloaded)")


def _explain(cert_pem: bytes, key_pem: bytes) -> str | None:
    """What is wrong with a pair OpenSSL refused, in words (None when it cannot be told)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return "the certificate file holds no PEM certificate"
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        return "the key is encrypted (a passphrase-protected key cannot be reloaded)"
    except (ValueError, UnsupportedAlgorithm):
        return "the key file holds no PEM private key"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.DER, public)
            != cert.public_key().public_bytes(serialization.Encoding.DER, public)):
        return "the key does not match the certificate"
    return None


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class CertificateReloader:
    """One server context for ``cert``/``key`` that :meth:`reload` refreshes in place."""

    def __init__(self, cert: str | Path, key: str | Path, *, poll_s: float = POLL_S) -> None:
        self.cert, self.key, self.poll_s = Path(cert), Path(key), poll_s
        self._files = self._read_signatures()
        self.context = server_context(self.cert, self.key)
        self.ok = self.failed = 0
        self.not_after = 0.0
        self.serial = 0
        self._warned: dict[str, set[int]] = {}
        self._note_certificate(self.cert.read_bytes())
        self._lock = threading.Lock()  # one reload at a time
        self._changed = threading.Condition()  # notified after each reload attempt
        self.attempts = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._seen = self._files  # what the last poll saw
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- reloading ---------------------------------------------------------------------------

    def _read_signatures(self) -> tuple:
        return _signature(self.cert), _signature(self.key)

    def reload(self, reason: str = "requested") -> bool:
        """Load the files again; True if the new pair is in use, False if the old one was kept."""
        with self._lock:
            files = self._read_signatures()
            try:
                cert_pem, key_pem = self.cert.read_bytes(), self.key.read_bytes()
                with tempfile.TemporaryDirectory(prefix="regsim-tls-reload-") as folder:  # mode 0700
                    cert_copy, key_copy = Path(folder) / "cert.pem", Path(folder) / "key.pem"
                    key_copy.touch(mode=0o600)
                    key_copy.write_bytes(key_pem)
                    cert_copy.write_bytes(cert_pem)
                    scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    scratch.load_cert_chain(cert_copy, key_copy, password=_no_passphrase)
                    self._on_loop(lambda: self.context.load_cert_chain(cert_copy, key_copy, password=_no_passphrase))
                ok = True
            except (OSError, ssl.SSLError, ValueError) as e:
                ok = False
                self.failed += 1
                why = (_explain(cert_pem, key_pem) or e) if isinstance(e, ssl.SSLError) else e
                log.error("TLS certificate reload (%s) failed, keeping the current certificate (serial %x): "
                          "%s / %s: %s", reason, self.serial, self.cert, self.key, why)
            self._files = files
            if ok:
                self.ok += 1
                self._note_certificate(cert_pem)
                log.warning("TLS certificate reloaded (%s): serial %x, expires %s", reason, self.serial,
                            dt.datetime.fromtimestamp(self.not_after, dt.timezone.utc).isoformat())
        with self._changed:
            self.attempts += 1
            self._changed.notify_all()
        return ok

    def wait_for_attempts(self, count: int, timeout: float) -> bool:
        """Block until :attr:`attempts` reaches ``count`` (or ``timeout`` seconds pass)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.attempts >= count, timeout)

    def _on_loop(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the event loop's thread when serving (and here otherwise)."""
        loop = self._loop
        if loop is None or not loop.is_running() or _running_loop() is loop:
            fn()
            return
        done: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - handed back to the caller
                done.set_exception(e)
            else:
                done.set_result(None)

        loop.call_soon_threadsafe(run)
        done.result(timeout=30)

    def _note_certificate(self, pem: bytes) -> None:
        cert = x509.load_pem_x509_certificate(pem)
        self.not_after = cert.not_valid_after_utc.timestamp()
        self.serial = cert.serial_number
        self.check_expiry()

    def check_expiry(self, now: float | None = None) -> list[int]:
        """Log a warning for each expiry threshold the current certificate is newly within."""
        key = f"{self.serial:x}/{self.not_after}"
        due = expiry_warnings(self.not_after, time.time() if now is None else now, self._warned.setdefault(key, set()))
        for days in due:
            expires = dt.datetime.fromtimestamp(self.not_after, dt.timezone.utc).isoformat()
            log.warning("TLS certificate %s (serial %x) expires within %d day%s, at %s", self.cert, self.serial,
                        days, "" if days == 1 else "s", expires)
        return due

    # -- watching ----------------------------------------------------------------------------

    def request(self) -> None:
        """Ask the watcher thread for a reload (safe from a signal handler)."""
        self._wake.set()

    def poll(self) -> bool | None:
        """One look at the files: reload if they changed and have stayed the same since the last
        look; the reload's result, or None when there was nothing to do."""
        seen = self._read_signatures()
        settled, self._seen = seen == self._seen, seen
        if settled and seen != self._files:
            return self.reload("files changed")
        return None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the watcher thread; the live context is then changed on ``loop``'s thread."""
        self._loop = loop
        self._stop.clear()
        self._wake.clear()
        self._thread = threading.Thread(target=self._watch, name="regsim-tls-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._loop = None

    def _watch(self) -> None:
        while not self._stop.is_set():
            requested = self._wake.wait(self.poll_s)
            if self._stop.is_set():
                return
            try:
                if requested:
                    self._wake.clear()
                    self.reload("SIGHUP")
                else:
                    self.poll()
                self.check_expiry()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one mistake
                log.exception("TLS certificate watcher")

    def collect(self) -> Iterator[object]:
        """Prometheus families: the certificate's expiry and the reload counts."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        expiry = GaugeMetricFamily("regsim_tls_certificate_expiry_timestamp_seconds",
                                   "not-after time of the certificate being served (Unix time)")
        expiry.add_metric([], self.not_after)
        reloads = CounterMetricFamily("regsim_tls_certificate_reloads",
                                      "certificate reloads (SIGHUP or file change) by result", labels=["result"])
        reloads.add_metric(["ok"], self.ok)
        reloads.add_metric(["failed"], self.failed)
        yield from (expiry, reloads)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def fingerprint(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate (as ``getpeercert(binary_form=True)`` gives it)."""
    return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA256()).hex()
