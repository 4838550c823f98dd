"""The server's audit log: every access decision as a JSON line, read by the detection rules.

:class:`ServerAudit` is the :class:`~regsim.registry.auth.AuditLog` the server's auth stack writes
to (``audit.enabled``, on by default). Each event -- a token service grant or denial, an
authorizer's decision or refusal, one per requested scope -- goes

1. to the ``regsim.audit`` logger as one JSON line (:meth:`AuditEvent.to_json`; refusals at
   WARNING, the rest at INFO), and to ``audit.file`` when one is configured;
2. through a :class:`~regsim.registry.auth.Detector` with the configured rules. Each alert it
   raises is one more JSON line on the same logger (and file), at WARNING or CRITICAL::

       {"alert": "denied-scope-burst", "level": "critical", "message": "...", "subject": "bob",
        "time": 1767225600.25}

   and counts in ``registry_security_alerts_total{rule}`` on ``/metrics`` (:meth:`alert_counts`).

The client's address on each event comes from the ASGI scope's ``client``, or, with
``audit.trust_forwarded_for``, from the last address of ``X-Forwarded-For`` (the one the proxy
in front of the server appended; earlier ones are the client's to forge):
:func:`client_address`. The request handlers pass it explicitly -- ``remote=`` to the
authorizer and the token service -- rather than through a context variable.

While the app is served (:func:`audit_output`, run by the app's lifespan), the logger writes
refusals and alerts to stderr, and grants too with ``regsim serve --log-level info`` (or debug),
unless the embedding program configured a handler for it. Grants are most of the lines, one per
request; a console is no place for them by default, and a stderr pipe nobody reads would fill up
and stall the server. ``audit.file`` gets every line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from ..registry.auth import AuditEvent, ConcurrentUse, DeniedBurst, Detector, NewSourceNetwork, SecurityAlert
from ..registry.auth.audit import REFUSALS
from ..registry.auth.detection import ALERT_RULES, access_of, network_of
from ..registry.errors import ConfigError
from .config import AuditSection

#: the logger the audit lines go to
AUDIT_LOGGER = "regsim.audit"
#: alerts kept by the detector for inspection (the log and the counter have all of them)
MAX_ALERTS = 1000
_ALERT_LEVELS = {"warning": logging.WARNING, "critical": logging.CRITICAL}


def client_address(scope: Mapping, *, trust_forwarded_for: bool = False) -> str | None:
    """The client's IP address for an ASGI ``scope``: the socket's peer (``scope["client"]``),
    or with ``trust_forwarded_for`` the last address of ``X-Forwarded-For`` when it is one (what
    the nearest proxy saw; a header that names no address falls back to the peer). None when
    the server does not know (a Unix socket without a peer address)."""
    if trust_forwarded_for:
        values = [value.decode("latin-1") for name, value in scope.get("headers") or ()
                  if name.lower() == b"x-forwarded-for"]
        entries = [e.strip() for e in ",".join(values).split(",") if e.strip()]
        if entries:
            last = entries[-1]
            try:
                network_of(last)
                return last.strip("[]")
            except ValueError:
                pass
    client = scope.get("client")
    return str(client[0]) if client else None


class ServerAudit:
    """The audit log of one server: logger, optional file, detector, alert counts (thread-safe:
    events come from the event loop and from worker threads)."""

    def __init__(self, section: AuditSection, *, file: Path | None = None,
                 logger: logging.Logger | str = AUDIT_LOGGER) -> None:
        self.section = section
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.detector = Detector([NewSourceNetwork(min_history=section.new_network_min_history),
                                  DeniedBurst(count=section.denied_burst.count, window=section.denied_burst.window),
                                  ConcurrentUse(window=section.concurrent_use_window)], max_alerts=MAX_ALERTS)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(ALERT_RULES, 0)
        self.path = file
        self._file: TextIO | None = _open_append(file) if file is not None else None

    @property
    def trust_forwarded_for(self) -> bool:
        return self.section.trust_forwarded_for

    def emit(self, event: AuditEvent) -> None:
        """Log ``event`` (as :class:`~regsim.registry.auth.LoggingAuditLog` does: refusals at
        WARNING), append it to the file, and run it through the detector."""
        level = logging.WARNING if event.outcome in REFUSALS else logging.INFO
        if self._file is not None or self.logger.isEnabledFor(level):
            line = event.to_json()
            self.logger.log(level, line)
            self._write(line)
        access = access_of(event)
        if access is None:
            return
        with self._lock:
            alerts = self.detector.observe(access)
            for alert in alerts:
                self._counts[alert.rule] = self._counts.get(alert.rule, 0) + 1
        for alert in alerts:
            self._alert(alert)

    def _alert(self, alert: SecurityAlert) -> None:
        line = alert_json(alert)
        self.logger.log(_ALERT_LEVELS.get(alert.level, logging.WARNING), line)
        self._write(line)

    def _write(self, line: str) -> None:
        if self._file is None:
            return
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()

    def alert_counts(self) -> dict[str, int]:
        """Alerts raised so far, by rule (every built-in rule listed, with 0 when it never fired)."""
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def alert_json(alert: SecurityAlert) -> str:
    """An alert's JSON line: ``{"alert": rule, "level", "message", "subject", "time"}``."""
    return json.dumps({"alert": alert.rule, "level": alert.level, "subject": alert.subject,
                       "message": alert.message, "time": alert.time}, sort_keys=True)


def _open_append(path: Path) -> TextIO:
    """``path`` opened for appending lines (created owner-only: it names users and addresses)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as e:
        raise ConfigError(f"cannot open {path} for appending: {e.strerror}", detail="audit.file") from None
    return os.fdopen(fd, "a", encoding="utf-8")


def build_audit(section: AuditSection, file: Path | None) -> ServerAudit | None:
    """The server's audit log as configured (``file`` resolved already); None when disabled."""
    return ServerAudit(section, file=file) if section.enabled else None


@contextlib.contextmanager
def audit_output(audit: ServerAudit | None, stream: TextIO | None = None, *,
                 level: int | None = None) -> Iterator[None]:
    """While serving: the audit logger writes its lines (the bare JSON) at ``level`` and above to
    ``stream`` (stderr), unless a handler for it is configured already (then the program
    embedding the server decides where they go). ``level`` None: INFO (every decision) when the
    server logs at INFO or below (``--log-level info``), else WARNING (refusals and alerts)."""
    logger = logging.getLogger(AUDIT_LOGGER)
    if audit is None or logger.hasHandlers():
        yield
        return
    if level is None:
        verbose = logging.getLogger("regsim.server").getEffectiveLevel() <= logging.INFO
        level = logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.setLevel(level)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)  # the file and embedding handlers get every line regardless
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


__all__ = ["AUDIT_LOGGER", "ServerAudit", "alert_json", "audit_output", "build_audit",
           "client_address"]
