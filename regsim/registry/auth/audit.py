"""Audit events: one record per access decision -- who, which scope, outcome, reason.

Every grant, partial grant, denial and authentication failure of the token service and of the
authorizers becomes an :class:`AuditEvent` on an :class:`AuditLog`, as do credential issue,
rotation and revocation. Logs are pluggable: :class:`MemoryAuditLog` keeps a bounded window for
tests and reports, :class:`LoggingAuditLog` writes JSON lines to a standard logger for operators.
Components take ``audit=None`` to mean "no log", which keeps the hot path free of the cost.
A caller that knows the client's address passes it as ``remote=`` (the authorizers' and the token
service's), and it is recorded on the event; :mod:`.detection` reads events for signs of abuse.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from .scopes import Scope

GRANTED = "granted"
PARTIAL = "partial"
DENIED = "denied"
UNAUTHORIZED = "unauthorized"
ISSUED = "issued"
ROTATED = "rotated"
REVOKED = "revoked"

#: the subject recorded for requests without credentials (a username no user may take)
ANONYMOUS_NAME = "anonymous"

#: outcomes that refuse access; logged at WARNING by :class:`LoggingAuditLog`
REFUSALS = frozenset({DENIED, UNAUTHORIZED})


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One decision. ``scope`` is the requested scope (None for decisions about no resource,
    such as a credential being revoked); ``granted`` the actions actually given, comma-joined;
    ``remote`` the client's address when the caller knew it (the server does), else None."""

    time: float
    source: str
    subject: str
    outcome: str
    reason: str
    scope: str | None = None
    granted: str | None = None
    remote: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@runtime_checkable
class AuditLog(Protocol):
    def emit(self, event: AuditEvent) -> None: ...


class MemoryAuditLog:
    """The last ``maxlen`` events in memory, with simple queries."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._events: deque[AuditEvent] = deque(maxlen=maxlen)

    def emit(self, event: AuditEvent) -> None:
        self._events.append(event)

    def __iter__(self) -> Iterator[AuditEvent]:
        return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def clear(self) -> None:
        self._events.clear()

    def where(self, *, outcome: str | None = None, subject: str | None = None,
              source: str | None = None) -> list[AuditEvent]:
        """Events matching every given field."""
        return [
            e for e in self._events
            if (outcome is None or e.outcome == outcome)
            and (subject is None or e.subject == subject)
            and (source is None or e.source == source)
        ]

    def outcomes(self) -> dict[str, int]:
        """How many events of each outcome."""
        return dict(Counter(e.outcome for e in self._events))


class LoggingAuditLog:
    """Writes each event as one JSON line to a :mod:`logging` logger (refusals at WARNING)."""

    def __init__(self, logger: logging.Logger | str = "regsim.audit") -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger

    def emit(self, event: AuditEvent) -> None:
        level = logging.WARNING if event.outcome in REFUSALS else logging.INFO
        self.logger.log(level, event.to_json())


def scope_outcome(requested: frozenset[str], granted: frozenset[str]) -> str:
    """GRANTED when every requested action was given, PARTIAL for some, DENIED for none."""
    if granted >= requested:
        return GRANTED
    return PARTIAL if granted else DENIED


class Auditor:
    """Emits the events of one component (``source``) on a log, stamped by the component's clock."""

    __slots__ = ("log", "source", "clock")

    def __init__(self, log: AuditLog | None, source: str, clock: Callable[[], float]) -> None:
        self.log, self.source, self.clock = log, source, clock

    def __bool__(self) -> bool:
        return self.log is not None

    def event(self, subject: str, outcome: str, reason: str, *, scope: str | None = None,
              granted: str | None = None, remote: str | None = None) -> None:
        if self.log is not None:
            self.log.emit(AuditEvent(self.clock(), self.source, subject or ANONYMOUS_NAME, outcome, reason,
                                     scope, granted, remote))

    def decisions(self, subject: str, requested: Iterable[Scope], granted: Mapping[tuple, frozenset[str]],
                  reason: str, *, remote: str | None = None) -> None:
        """One event per requested scope, its outcome computed from what was granted on it."""
        if self.log is None:
            return
        for scope in requested:
            got = granted.get(scope.resource, frozenset())
            self.event(subject, scope_outcome(scope.actions, got), reason, scope=str(scope),
                       granted=",".join(sorted(got)), remote=remote)

    def refused(self, subject: str, outcome: str, reason: str, requested: Iterable[Scope], *,
                remote: str | None = None) -> None:
        """One refusal event per requested scope, or one without a scope when none was asked."""
        if self.log is None:
            return
        scopes = list(requested)
        if not scopes:
            self.event(subject, outcome, reason, remote=remote)
        for scope in scopes:
            self.event(subject, outcome, reason, scope=str(scope), granted="", remote=remote)
