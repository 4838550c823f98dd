"""Run the server on uvicorn: bind, announce, serve until interrupted.

The listening socket is bound before anything else and its real address is announced on stdout
(``regsim serve: listening on http://127.0.0.1:43121``) before uvicorn starts; a connection made
after the announcement queues in the backlog and is served as soon as the app is up, so a caller
that asked for port 0 learns the port from that line and needs no retry loop. Over TLS the
context refuses anything older than TLS 1.2 (:func:`.tls.server_context`); on plain HTTP a TLS
handshake is answered at once (:func:`.tls.probing_protocol`).

A self-signed certificate made for one run (:func:`self_signed_listen` without a folder) lives in
a temporary folder that :func:`serve` removes, private key included, when the server stops: the
next run makes a new key, so nothing in it is worth keeping. Give a folder (``--tls-dir``) to
keep the pair, e.g. to install the certificate as a trusted CA once.

Over TLS the server's one ``SSLContext`` belongs to a :class:`.tls_reload.CertificateReloader`:
SIGHUP, or a change to the certificate or key file, loads the pair into it again without dropping
a connection (see :mod:`.tls_reload`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from ..registry.errors import ConfigError
from .app import create_app
from .config import ServerConfig
from .services import build_services
from .tls import probing_protocol, self_signed, server_context
from .tls_reload import CertificateReloader


@dataclass(frozen=True)
class Listen:
    """Where and how to listen: address, and the certificate pair when serving TLS."""

    host: str = "127.0.0.1"
    port: int = 5000
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: a folder made for this run only (a throw-away self-signed pair): removed when serving stops
    temporary_dir: Path | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 if ``host`` is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the proto
    # says TCP, and without it every small response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def self_signed_listen(listen: Listen, folder: Path | None = None) -> Listen:
    """``listen`` with a fresh self-signed certificate written to ``folder``, which is kept; or,
    without one, to a new temporary folder that :func:`serve` removes when it stops."""
    names = [] if listen.host in ("0.0.0.0", "::", "") else [listen.host]
    temporary = None
    if folder is None:
        folder = temporary = Path(tempfile.mkdtemp(prefix="regsim-tls-"))
    try:
        cert, key = self_signed(folder, names)
    except BaseException:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    return Listen(listen.host, listen.port, cert, key, temporary)


def uvicorn_config(app, listen: Listen, *, log_level: str = "warning", access_log: bool = False,
                   context: ssl.SSLContext | None = None) -> uvicorn.Config:
    """The uvicorn configuration regsim serves with (also used by the benchmark's reference app,
    so both run the same HTTP stack); over TLS, with ``context`` when given (the reloadable one),
    else a context made from ``listen``'s pair."""
    options: dict = dict(log_level=log_level, access_log=access_log, lifespan="on", server_header=False,
                         date_header=True, timeout_keep_alive=30)
    if listen.tls:
        cert, key = listen.tls_cert, listen.tls_key
        return uvicorn.Config(app, http=AutoHTTPProtocol, ssl_certfile=str(cert),
                              ssl_context_factory=lambda config, default: context or server_context(cert, key),
                              **options)
    return uvicorn.Config(app, http=probing_protocol(AutoHTTPProtocol), **options)


def serve(config: ServerConfig, listen: Listen, *, out: TextIO = sys.stdout, log_level: str = "warning") -> None:
    """Build the registry from ``config`` and serve it until interrupted (blocks); a temporary
    certificate folder of ``listen`` is removed on the way out, however serving ends."""
    if listen.temporary_dir is None:
        _serve(config, listen, out, log_level)
        return
    with _sigterm_raises():
        try:
            _serve(config, listen, out, log_level)
        finally:
            shutil.rmtree(listen.temporary_dir, ignore_errors=True)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM raises SystemExit meanwhile, so ``finally`` blocks run: uvicorn stops gracefully
    on SIGTERM and then delivers it again, which by default ends the process on the spot."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def sweep_at_start(services, out: TextIO) -> None:
    """Remove what a server killed mid-upload left: upload sessions, temporary parts and extents of
    unfinished pushes untouched for longer than ``registry.upload_grace``; one line says what went
    (nothing when nothing did)."""
    swept = services.registry.sweep_uploads(grace_s=services.config.registry.upload_grace)
    if swept.removed_anything:
        out.write(f"regsim serve: {swept.summary()}\n")


def _serve(config: ServerConfig, listen: Listen, out: TextIO, log_level: str) -> None:
    services = build_services(config)
    sweep_at_start(services, out)
    sock = bind(listen.host, listen.port)
    host, port = sock.getsockname()[:2]
    reloader = CertificateReloader(listen.tls_cert, listen.tls_key) if listen.tls else None
    app = create_app(services, tls=listen.tls, certificate=reloader)
    scheme = "https" if listen.tls else "http"
    shown = f"[{host}]" if ":" in host else host
    out.write(f"regsim serve: listening on {scheme}://{shown}:{port} (auth: {config.auth.mode}, "
              f"storage: {_storage(config)} {config.registry.codec}, "
              f"encryption: {config.registry.encryption})\n")
    if listen.tls:
        out.write(f"regsim serve: certificate {listen.tls_cert}\n")
        if listen.temporary_dir is not None:
            out.write(f"regsim serve: {listen.temporary_dir} is removed when the server stops (--tls-dir keeps "
                      "the certificate)\n")
    out.flush()
    logging.getLogger("regsim.server").setLevel(log_level.upper())
    server = ReloadingServer(uvicorn_config(app, listen, log_level=log_level,
                                            context=reloader.context if reloader else None), reloader)
    try:
        with sighup_reloads(reloader):
            server.run(sockets=[sock])
    finally:
        sock.close()


def _storage(config: ServerConfig) -> str:
    """The backend as the start line shows it: its kind, and for s3 the bucket and prefix."""
    s3 = config.registry.s3
    if config.registry.backend != "s3" or s3 is None:
        return config.registry.backend
    return f"s3 (s3://{s3.bucket}/{s3.prefix + '/' if s3.prefix else ''})"


class ReloadingServer(uvicorn.Server):
    """uvicorn's server, with the certificate watcher running while it serves (TLS only)."""

    def __init__(self, config: uvicorn.Config, reloader: CertificateReloader | None = None) -> None:
        super().__init__(config)
        self.reloader = reloader

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        if self.reloader is None:
            await super().serve(sockets)
            return
        self.reloader.start(asyncio.get_running_loop())
        try:
            await super().serve(sockets)
        finally:
            await asyncio.to_thread(self.reloader.stop)


@contextlib.contextmanager
def sighup_reloads(reloader: CertificateReloader | None) -> Iterator[None]:
    """Meanwhile SIGHUP asks ``reloader`` for a reload (main thread only, where signals arrive)."""
    if (reloader is None or not hasattr(signal, "SIGHUP")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: reloader.request())
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)
