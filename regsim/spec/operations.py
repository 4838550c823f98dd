"""Scenario sections for how the registry is run and watched: its access layer, monitoring, scans.

- ``registry.tls``: TLS on client connections, session resumption and keep-alive;
- ``registry.rate_limit``: a token bucket per client at the load balancer;
- ``monitoring``: the alert thresholds, the working hours and the mass-pull anomaly rule;
- ``scan``: vulnerability scans of the image -- modelled compute tasks -- and what they find.

The documentation of every key, its unit and its default is ``docs/scenarios.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from .base import Section
from .quantities import ByteRate, Duration, Fraction, PerSecond, PositiveCount, format_duration

DAY = 86400.0
SEVERITIES = ("low", "medium", "high", "critical")


def cross_field(key: str, message: str) -> PydanticCustomError:
    """As :func:`.infra.cross_field` (which imports this module, so it cannot be imported here)."""
    return PydanticCustomError("cross_field", "{key}: {message}", {"key": key, "message": message})


class Rotation(Section):
    """Certificate rotation: the certificate and the TLS session-ticket keys are replaced together
    every ``every``, so no client can resume its session afterwards: each one's next connection is
    a full handshake. ``at`` places the first rotation within the run (null: none falls in it);
    with ``drop_connections`` the servers restart to load the new certificate and every open
    connection is closed at once (a reload without dropping them, as ``regsim serve`` does, keeps
    them)."""

    every: Duration = Field(default="90d", gt=0)  # type: ignore[assignment]
    at: Duration | None = Field(default=None, ge=0)
    drop_connections: bool = False


class Tls(Section):
    """TLS on client connections: what a new connection costs, and how long one is kept."""

    enabled: bool = False
    resumption: Fraction = 0.0
    keep_alive: PositiveCount = 100
    idle_timeout: Duration = Field(default="75s", gt=0)  # type: ignore[assignment]
    rotation: Rotation = Field(default_factory=Rotation)

    @model_validator(mode="after")
    def _rotation_needs_tls(self) -> Tls:
        if self.rotation.at is not None and not self.enabled:
            raise cross_field("rotation.at", "a certificate rotation needs TLS: set registry.tls.enabled: true")
        return self


class RateLimit(Section):
    """A token bucket per client: ``burst`` requests at once, refilled at ``rate`` (null: no limit)."""

    rate: PerSecond | None = None
    burst: PositiveCount = 20


class WorkingHours(Section):
    """Times of day (from midnight) when work is expected; ``start`` after ``end`` spans midnight."""

    start: Duration = "8h"  # type: ignore[assignment]
    end: Duration = "18h"  # type: ignore[assignment]

    @model_validator(mode="after")
    def _within_a_day(self) -> WorkingHours:
        for key in ("start", "end"):
            if getattr(self, key) > DAY:
                raise cross_field(key, f"a time of day lies within 24h, got {format_duration(getattr(self, key))}")
        return self

    def contains(self, time_of_day: float) -> bool:
        """True if ``time_of_day`` (seconds since midnight) falls within working hours."""
        t = time_of_day % DAY
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class MassPull(Section):
    """The anomaly rule: more than ``pulls`` pulls within ``window`` outside working hours."""

    pulls: PositiveCount = 200
    window: Duration = Field(default="1m", gt=0)  # type: ignore[assignment]


class DeniedBurstSpec(Section):
    """More than ``count`` refused scopes from one subject within ``window``."""

    count: PositiveCount = 20
    window: Duration = Field(default="60s", gt=0)  # type: ignore[assignment]


class Detection(Section):
    """The audit-driven rules (``regsim.registry.auth.detection``): a credential used from a
    network it was never seen on, a burst of denied scopes, a credential used from two networks at
    once. Clients sit in their rack's network (``10.<rack>.0/24`` style); a stolen credential is
    used from outside the cluster."""

    new_network_min_history: PositiveCount = 10
    denied_burst: DeniedBurstSpec = Field(default_factory=DeniedBurstSpec)
    concurrent_use_window: Duration = Field(default="5m", gt=0)  # type: ignore[assignment]


class Monitoring(Section):
    """Time series of the run and the alert rules watching them (``docs/auth-comparison.md``)."""

    interval: Duration | None = Field(default=None, gt=0)
    storage_warning: Fraction = 0.75
    auth_failures: PositiveCount = 5
    time_of_day: Duration = "9h"  # type: ignore[assignment]
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    mass_pull: MassPull = Field(default_factory=MassPull)
    detection: Detection = Field(default_factory=Detection)

    @model_validator(mode="after")
    def _time_of_day(self) -> Monitoring:
        if self.time_of_day >= DAY:
            raise cross_field("time_of_day", f"a time of day lies within 24h, got {format_duration(self.time_of_day)}")
        return self


class Finding(Section):
    """One vulnerability a scan reports."""

    id: str = Field(min_length=1)
    severity: Literal["low", "medium", "high", "critical"]
    package: str = ""


class Scan(Section):
    """Vulnerability scans of the image: each reads every layer from the registry and analyses it on
    ``cores`` cores at ``rate`` per core; when it ends it reports ``findings``, and any of at least
    ``alert_severity`` raises the emergency alert."""

    at: list[Duration] = []
    rate: ByteRate = "100MB/s"  # type: ignore[assignment]
    cores: PositiveCount = 4
    findings: list[Finding] = []
    alert_severity: Literal["low", "medium", "high", "critical"] = "high"

    def alerting(self) -> list[Finding]:
        """The findings severe enough to raise the emergency alert."""
        floor = SEVERITIES.index(self.alert_severity)
        return [f for f in self.findings if SEVERITIES.index(f.severity) >= floor]
