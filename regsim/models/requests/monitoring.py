"""Alert rules watching a simulated run: small declarative rules, and the monitor that applies them.

A model reports what it sees as :class:`Observation` s -- a gauge's new value ("storage
utilisation is 0.76"), or an event ("client7's authentication failed", "client3 pulled", "a scan
found CVE-2024-3094") -- at the simulated time it happens. The :class:`Monitor` hands each one to
the rules that watch its metric; a rule that fires returns an :class:`Alert`, stamped with the
observation's time, so an alert's time is the exact simulated moment its condition became true.

The rules, one small frozen dataclass each, with the state they need kept by the monitor:

- :class:`Above` -- a gauge rises above a threshold (fires once; re-arms when it falls back);
- :class:`Consecutive` -- ``count`` failures in a row from one subject (a success resets it);
- :class:`AtLeast` -- an event whose value reaches a floor (every such event fires);
- :class:`OffHoursBurst` -- more than ``count`` events within ``window`` outside working hours;
- :class:`AuditRule` -- one of the registry library's audit-driven rules (a credential from a new
  network, a burst of denied scopes, a credential in two places at once) on ``access`` events.

:func:`standard_rules` builds the article's set from a variant's ``monitoring`` and ``scan``. A
finished run hands its report the alerts alone (:func:`alert_frame`, :func:`alert_counts`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import pandas as pd

from regsim.registry.auth.audit import DENIED, GRANTED, UNAUTHORIZED
from regsim.registry.auth.detection import Access, ConcurrentUse, DeniedBurst, NewSourceNetwork
from regsim.spec.operations import SEVERITIES, WorkingHours

from regsim.models.core.result import ALERT_COLUMNS

from .config import RequestsConfig

#: alert levels from least to most severe; the series record an alert as its level's rank.
LEVELS = ("warning", "critical", "emergency")


class Observation(NamedTuple):
    """What a model saw at ``time`` (simulated seconds): ``metric`` of ``subject`` was ``value``.
    A named tuple: the models make one per request, and a frozen dataclass costs several times more."""

    time: float
    metric: str
    subject: str
    value: float = 1.0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    time: float
    level: str
    rule: str
    subject: str
    message: str


class Rule(Protocol):
    name: str
    level: str
    metric: str

    def check(self, state: dict[str, Any], obs: Observation) -> Alert | None:
        """The alert ``obs`` fires, if any; ``state`` is this rule's own, kept between calls."""
        ...


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"alert level must be one of {', '.join(LEVELS)}, got {level!r}")


@dataclass(frozen=True, slots=True)
class Above:
    """Fires when ``metric`` of a subject rises above ``threshold``; re-arms when it is back at or below."""

    name: str
    level: str
    metric: str
    threshold: float
    what: str = ""

    def __post_init__(self) -> None:
        _check_level(self.level)

    def check(self, state: dict[str, Any], obs: Observation) -> Alert | None:
        above = obs.value > self.threshold
        was = state.get(obs.subject, False)
        state[obs.subject] = above
        if above and not was:
            return Alert(obs.time, self.level, self.name, obs.subject,
                         f"{self.what or self.metric} of {obs.subject} is {obs.value:.1%}, "
                         f"above {self.threshold:.0%}")
        return None


@dataclass(frozen=True, slots=True)
class Consecutive:
    """Fires when a subject's ``metric`` reports ``count`` failures (value 1) in a row; a success
    (value 0) resets the run. Fires once per run of failures, at the ``count``-th."""

    name: str
    level: str
    metric: str
    count: int
    what: str = "failures"

    def __post_init__(self) -> None:
        _check_level(self.level)
        if self.count < 1:
            raise ValueError(f"rule {self.name!r}: count must be at least 1, got {self.count}")

    def check(self, state: dict[str, Any], obs: Observation) -> Alert | None:
        run = state.get(obs.subject, 0) + 1 if obs.value else 0
        state[obs.subject] = run
        if run == self.count:
            cause = f" (last: {obs.detail})" if obs.detail else ""
            return Alert(obs.time, self.level, self.name, obs.subject,
                         f"{self.count} consecutive {self.what} from {obs.subject}{cause}")
        return None


@dataclass(frozen=True, slots=True)
class AtLeast:
    """Fires on every ``metric`` event whose value is at least ``floor`` (a severity rank, say)."""

    name: str
    level: str
    metric: str
    floor: float
    what: str = ""

    def __post_init__(self) -> None:
        _check_level(self.level)

    def check(self, state: dict[str, Any], obs: Observation) -> Alert | None:
        if obs.value >= self.floor:
            return Alert(obs.time, self.level, self.name, obs.subject,
                         f"{self.what or self.metric} in {obs.subject}: {obs.detail}".rstrip(": "))
        return None


@dataclass(frozen=True, slots=True)
class OffHoursBurst:
    """Fires when more than ``count`` ``metric`` events fall within ``window`` seconds outside
    working hours; re-arms when the window holds ``count`` or fewer again. ``start_of_day`` is the
    time of day (seconds since midnight) at simulated time 0."""

    name: str
    level: str
    metric: str
    count: int
    window: float
    hours: WorkingHours = field(default_factory=WorkingHours)
    start_of_day: float = 0.0

    def __post_init__(self) -> None:
        _check_level(self.level)

    def check(self, state: dict[str, Any], obs: Observation) -> Alert | None:
        times: deque[float] = state.setdefault("times", deque())
        if self.hours.contains(self.start_of_day + obs.time):
            return None
        times.append(obs.time)
        while times and times[0] <= obs.time - self.window:
            times.popleft()
        burst = len(times) > self.count
        was = state.get("firing", False)
        state["firing"] = burst
        if burst and not was:
            clock = (self.start_of_day + obs.time) % 86400.0
            return Alert(obs.time, self.level, self.name, "registry",
                         f"{len(times)} {self.metric}s within {self.window:g} s at "
                         f"{int(clock // 3600):02d}:{int(clock % 3600 // 60):02d}, outside working hours "
                         f"(more than {self.count} is an anomaly)")
        return None


#: outcomes of an ``access`` observation, by its value
ACCESS_OUTCOMES = (GRANTED, DENIED, UNAUTHORIZED)


@dataclass(frozen=True, slots=True)
class AuditRule:
    """One of the registry library's audit-driven rules (:mod:`regsim.registry.auth.detection`)
    watching ``access`` observations: subject = the credential's user, detail = its source
    network, value = the index of the outcome in :data:`ACCESS_OUTCOMES`. The same code watches
    ``regsim serve``'s audit log."""

    rule: Any
    metric: str = "access"

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def level(self) -> str:
        return self.rule.level

    def check(self, state: dict[str, Any], obs: Observation) -> Alert | None:
        access = Access(obs.time, obs.subject, obs.detail, ACCESS_OUTCOMES[int(obs.value)])
        alert = self.rule.check(state, access)
        if alert is None:
            return None
        return Alert(alert.time, alert.level, alert.rule, alert.subject, alert.message)


class Monitor:
    """Applies rules to observations as they arrive and keeps the alerts they fire, in time order."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"alert rule names must be unique, got {names}")
        self._by_metric: dict[str, list[Rule]] = {}
        for rule in self.rules:
            self._by_metric.setdefault(rule.metric, []).append(rule)
        self._state: dict[str, dict[str, Any]] = {rule.name: {} for rule in self.rules}
        self.alerts: list[Alert] = []

    def watches(self, metric: str) -> bool:
        return metric in self._by_metric

    def observe(self, time: float, metric: str, subject: str, value: float = 1.0, detail: str = "") -> list[Alert]:
        """Report one observation; returns the alerts it fired (also kept in :attr:`alerts`)."""
        rules = self._by_metric.get(metric)
        if not rules:
            return []
        obs = Observation(time, metric, subject, float(value), detail)
        fired = []
        for rule in rules:
            alert = rule.check(self._state[rule.name], obs)
            if alert is not None:
                fired.append(alert)
                self.alerts.append(alert)
        return fired

    def frame(self) -> pd.DataFrame:
        """The alerts as the ``alerts`` table of a :class:`~regsim.models.core.result.VariantResult`."""
        return alert_frame(self.alerts)

    def counts(self) -> dict[str, int]:
        """Alerts fired per level."""
        return alert_counts(self.alerts)


def alert_frame(alerts: Iterable[Alert]) -> pd.DataFrame:
    """``alerts`` as the ``alerts`` table of a :class:`~regsim.models.core.result.VariantResult`."""
    rows = [(a.time, a.level, a.rule, a.subject, a.message) for a in alerts]
    return pd.DataFrame(rows, columns=list(ALERT_COLUMNS)).astype({"time_s": float})


def alert_counts(alerts: Iterable[Alert]) -> dict[str, int]:
    """``alerts`` per level."""
    alerts = list(alerts)
    return {level: sum(a.level == level for a in alerts) for level in LEVELS}


#: metrics the standard rules watch
STORAGE, AUTH, PULL, FINDING, ACCESS = "storage_utilisation", "auth_failure", "pull", "scan_finding", "access"
#: a credential renewal at the issuer (1: refused), and the share of clients whose credential expired
RENEWAL, EXPIRED = "credential_renewal", "credentials_expired"


def standard_rules(config: RequestsConfig) -> list[Rule]:
    """The article's alert rules with the variant's thresholds (``monitoring`` and ``scan``)."""
    mon = config.monitoring
    return [
        Above("storage-above-threshold", "warning", STORAGE, mon.storage_warning, what="storage utilisation"),
        Consecutive("consecutive-auth-failures", "critical", AUTH, mon.auth_failures,
                    what="authentication failures"),
        AtLeast("high-severity-vulnerability", "emergency", FINDING,
                float(SEVERITIES.index(config.scan.alert_severity)), what="vulnerability"),
        OffHoursBurst("mass-pull-off-hours", "critical", PULL, mon.mass_pull.pulls, mon.mass_pull.window,
                      mon.working_hours, mon.time_of_day),
        *audit_rules(config),
        *credential_rules(config),
    ]


def credential_rules(config: RequestsConfig) -> list[Rule]:
    """With short-lived credentials: renewals failing at the issuer, and credentials running out."""
    if not config.registry.auth.issuer.enabled:
        return []
    return [Consecutive("credential-renewal-failing", "warning", RENEWAL, 3, what="credential renewals refused"),
            Above("credentials-expired", "critical", EXPIRED, 0.0, what="the share of clients whose credential expired")]


def audit_rules(config: RequestsConfig) -> list[AuditRule]:
    """The audit-driven rules with the variant's ``monitoring.detection`` parameters (none without
    authentication: every request is anonymous, so no credential can be watched)."""
    if config.registry.auth.mode == "none":
        return []
    d = config.monitoring.detection
    return [AuditRule(NewSourceNetwork(min_history=d.new_network_min_history)),
            AuditRule(DeniedBurst(count=d.denied_burst.count, window=d.denied_burst.window)),
            AuditRule(ConcurrentUse(window=d.concurrent_use_window))]
