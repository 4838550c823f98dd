"""Injected time: every DHT object reads "now" from a callable, never from the wall clock.

Record expiry, republish schedules and bucket refresh all depend on time. The simulator owns time
(SimPy's ``env.now``), so the DHT takes a :data:`Clock` -- any callable returning seconds -- and
never calls :func:`time.time` itself. Tests use :class:`ManualClock`, which moves only when told to,
so an expiry can be checked at exactly its boundary.
"""

from __future__ import annotations

from collections.abc import Callable

#: a source of the current time in seconds (``env.now`` in the simulator, a ManualClock in tests).
Clock = Callable[[], float]


class ManualClock:
    """A clock that stands still until advanced: ``clock()`` is the current time."""

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards ({seconds} s)")
        self.now += seconds
        return self.now

    def set(self, when: float) -> float:
        """Jump to ``when`` (not earlier than now) and return it."""
        return self.advance(when - self.now)

    def __repr__(self) -> str:
        return f"ManualClock({self.now})"
