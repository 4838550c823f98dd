"""Failure and repair of hosts and disks, as SimPy processes driven by a seeded random stream.

A target (a disk, a host: any name) either fails at random or follows a given script:

- at random: time to failure is exponential with rate ``lambda``, given directly as an MTTF
  (``lambda = 1 / MTTF``) or as an annual failure rate. An AFR is the probability of failing within
  a year, ``AFR = 1 - exp(-lambda * year)``, hence ``lambda = -ln(1 - AFR) / year`` with
  ``year = 365.25 days`` (for small AFRs, ``lambda ~= AFR / year``: 2 % a year ~ 6.4e-10 /s).
  After a failure the target is repaired after a fixed or an exponential time (or never), then
  runs again with a fresh exponential lifetime -- the memoryless model behind Markov-chain MTTDL.
- scripted: an explicit list of ``(time, target, "fail" | "repair")`` events.

Every transition calls ``on_fail(target, t)`` / ``on_repair(target, t)`` (wire these to
``Disk.fail`` and friends) and is appended to :attr:`FailureInjector.log`. Each random target
draws from its own stream ``"<stream>/<target>"`` of the run's :class:`~regsim.sim.rng.RunRandom`,
so adding a target leaves every other target's failure times unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass

import numpy as np
import simpy

from .rng import RunRandom

YEAR_S = 365.25 * 86400.0
FAIL, REPAIR = "fail", "repair"
Callback = Callable[[str, float], None]


def afr_to_rate(afr: float) -> float:
    """Failure rate (per second) of an annual failure rate (a probability in (0, 1))."""
    if not 0.0 < afr < 1.0:
        raise ValueError(f"an annual failure rate is a probability in (0, 1), got {afr!r}")
    return -math.log1p(-afr) / YEAR_S


def rate_to_afr(rate: float) -> float:
    """The annual failure rate of a failure rate per second."""
    if rate < 0:
        raise ValueError(f"a failure rate must be non-negative, got {rate!r}")
    return -math.expm1(-rate * YEAR_S)


@dataclass(frozen=True, slots=True)
class FailureEvent:
    time: float
    target: str
    event: str


@dataclass(frozen=True, slots=True)
class Repair:
    """How long a failed target stays down: ``fixed`` seconds, or ``exponential`` with that mean."""

    seconds: float
    distribution: str = "fixed"

    def __post_init__(self) -> None:
        if self.distribution not in ("fixed", "exponential"):
            raise ValueError(f"repair distribution must be 'fixed' or 'exponential', got {self.distribution!r}")
        if not self.seconds >= 0:
            raise ValueError(f"repair time must be non-negative, got {self.seconds!r}")

    def draw(self, rng: np.random.Generator) -> float:
        if self.distribution == "fixed" or self.seconds == 0:
            return self.seconds
        return float(rng.exponential(self.seconds))


class FailureInjector:
    """Fails and repairs named targets over simulated time, and keeps the log."""

    def __init__(self, env: simpy.Environment, rr: RunRandom, *, on_fail: Callback | None = None,
                 on_repair: Callback | None = None, stream: str = "failures") -> None:
        self.env, self.rr, self.stream = env, rr, stream
        self.on_fail, self.on_repair = on_fail, on_repair
        self.log: list[FailureEvent] = []
        self.rates: dict[str, float] = {}
        self._failed_since: dict[str, float] = {}
        self._downtime: dict[str, float] = {}
        self._targets: dict[str, str] = {}  # target -> "random" | "scripted"

    # -- set-up --------------------------------------------------------------------------------

    def _claim(self, target: str, how: str) -> None:
        if not isinstance(target, str) or not target:
            raise ValueError(f"a failure target must be a non-empty name, got {target!r}")
        owner = self._targets.setdefault(target, how)
        if owner != how or (how == "random" and target in self.rates):
            raise ValueError(f"target {target!r} is already driven by {owner} failures; "
                             "give each target one failure model")

    def add(self, target: str, *, afr: float | None = None, mttf_s: float | None = None,
            repair: Repair | float | None = None) -> simpy.Process:
        """Fail ``target`` at random, at an AFR or an MTTF (exactly one); ``repair`` is a
        :class:`Repair`, a fixed number of seconds, or None for a permanent failure."""
        if (afr is None) == (mttf_s is None):
            raise ValueError(f"target {target!r}: give exactly one of afr= or mttf_s=")
        if mttf_s is not None and not mttf_s > 0:
            raise ValueError(f"target {target!r}: mttf_s must be positive, got {mttf_s!r}")
        rate = afr_to_rate(afr) if afr is not None else 1.0 / mttf_s  # type: ignore[operator]
        if repair is not None and not isinstance(repair, Repair):
            repair = Repair(float(repair))
        self._claim(target, "random")
        self.rates[target] = rate
        rng = self.rr.stream(f"{self.stream}/{target}")
        return self.env.process(self._lifetime(target, rate, repair, rng))

    def schedule(self, events: Iterable[tuple[float, str, str]]) -> simpy.Process:
        """Apply scripted ``(time, target, "fail" | "repair")`` events at their absolute times."""
        script = []
        for entry in events:
            try:
                t, target, event = entry
            except (TypeError, ValueError):
                raise ValueError(f"a scripted failure event is (time, target, 'fail'|'repair'), "
                                 f"got {entry!r}") from None
            if event not in (FAIL, REPAIR):
                raise ValueError(f"scripted event for {target!r} must be 'fail' or 'repair', got {event!r}")
            if not t >= self.env.now:
                raise ValueError(f"scripted {event} of {target!r} at t={t!r} is in the past (now {self.env.now:g})")
            script.append((float(t), target, event))
        for target in {target for _, target, _ in script}:
            self._claim(target, "scripted")
        script.sort(key=lambda e: e[0])  # stable: same-time events keep their given order
        return self.env.process(self._play(script))

    # -- processes ---------------------------------------------------------------------------------

    def _lifetime(self, target: str, rate: float, repair: Repair | None,
                  rng: np.random.Generator) -> Generator[simpy.Event, object, None]:
        while True:
            yield self.env.timeout(float(rng.exponential(1.0 / rate)))
            self._fail(target)
            if repair is None:
                return
            yield self.env.timeout(repair.draw(rng))
            self._repair(target)

    def _play(self, script: list[tuple[float, str, str]]) -> Generator[simpy.Event, object, None]:
        for t, target, event in script:
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            if event == FAIL:
                self._fail(target)
            else:
                self._repair(target)

    def _fail(self, target: str) -> None:
        if target in self._failed_since:
            return  # already down: a second failure changes nothing
        now = self.env.now
        self._failed_since[target] = now
        self.log.append(FailureEvent(now, target, FAIL))
        if self.on_fail is not None:
            self.on_fail(target, now)

    def _repair(self, target: str) -> None:
        since = self._failed_since.pop(target, None)
        if since is None:
            return  # not down: nothing to repair
        now = self.env.now
        self._downtime[target] = self._downtime.get(target, 0.0) + now - since
        self.log.append(FailureEvent(now, target, REPAIR))
        if self.on_repair is not None:
            self.on_repair(target, now)

    # -- queries ---------------------------------------------------------------------------------

    def is_failed(self, target: str) -> bool:
        return target in self._failed_since

    def failed(self) -> list[str]:
        """Targets down right now, sorted."""
        return sorted(self._failed_since)

    def failures(self, target: str | None = None) -> int:
        """Failures so far, of one target or of all."""
        return sum(1 for e in self.log if e.event == FAIL and (target is None or e.target == target))

    def downtime(self, target: str) -> float:
        """Seconds ``target`` has spent failed so far (including a failure still ongoing)."""
        ongoing = self.env.now - self._failed_since[target] if target in self._failed_since else 0.0
        return self._downtime.get(target, 0.0) + ongoing
