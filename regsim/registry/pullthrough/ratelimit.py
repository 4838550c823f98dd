"""Pull rate limits per client: at most ``pulls`` pulls in any ``window_s`` seconds.

Docker Hub limits image pulls per client -- 100 per 6 hours for an unauthenticated client (per IPv4
address or IPv6 /64), 200 for an authenticated Personal account -- and reports the budget on
manifest responses as ``ratelimit-limit: 100;w=21600`` and ``ratelimit-remaining: 76;w=21600``
(docs.docker.com/docker-hub/usage/pulls/). Docker describes the window as a *rolling* six hours
(Docker blog, "Checking Your Current Docker Pull Rate Limits and Status", 2020), so the default
here is a sliding window: a pull at time ``t`` occupies one slot of its client's budget until
``t + window_s``; the pull that would be the ``pulls + 1``-th inside any window is refused, and
the seconds until the oldest slot frees are what ``Retry-After`` says. A fixed window (budgets
reset at multiples of ``window_s`` on the clock) is available for comparison: it lets a client
pull up to twice the budget across a window boundary.

The limiter only counts; what counts as a pull (a manifest GET, not a HEAD, not a blob) is the
upstream's decision (:mod:`.upstream`). Time comes from an injected clock, so a simulation drives
it; memory is one timestamp per counted pull still in its window, per client.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

WindowKind = Literal["sliding", "fixed"]

#: Docker Hub's documented window, in seconds (``w=21600``)
SIX_HOURS = 6 * 3600.0
#: a slot counts as free this close to its release time, so that a clock advanced by exactly a
#: ``Retry-After`` lands on a free slot despite floating-point rounding (now + (t - now) < t can
#: happen); a microsecond is nothing against a window of hours
TOLERANCE_S = 1e-6


@dataclass(frozen=True)
class RateLimit:
    """A budget of ``pulls`` per ``window_s`` seconds per client; ``kind`` ``sliding`` (default,
    Docker Hub's rolling window) or ``fixed``."""

    pulls: int
    window_s: float = SIX_HOURS
    kind: WindowKind = "sliding"

    def __post_init__(self) -> None:
        if isinstance(self.pulls, bool) or not isinstance(self.pulls, int) or self.pulls < 1:
            raise ValueError(f"rate limit pulls must be a positive whole number, got {self.pulls!r}")
        if not (isinstance(self.window_s, (int, float)) and math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError(f"rate limit window must be a positive finite number of seconds, got {self.window_s!r}")
        if self.kind not in ("sliding", "fixed"):
            raise ValueError(f"rate limit window kind must be 'sliding' or 'fixed', got {self.kind!r}")


#: Docker Hub, unauthenticated: 100 pulls per 6 hours per IPv4 address or IPv6 /64
DOCKER_HUB_ANONYMOUS = RateLimit(100, SIX_HOURS)
#: Docker Hub, authenticated Personal (free) account: 200 pulls per 6 hours
DOCKER_HUB_PERSONAL = RateLimit(200, SIX_HOURS)


class Decision(NamedTuple):
    """The limiter's answer for one client at one instant.

    ``allowed``: a pull may be served now. ``remaining``: pulls left in the window (after the one
    taken, for :meth:`RateLimiter.take`). ``retry_after``: seconds until a slot frees (0.0 when
    allowed).
    """

    allowed: bool
    remaining: int
    retry_after: float


class RateLimiter:
    """Applies one :class:`RateLimit` to any number of clients, on ``clock``."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        #: client -> times of its counted pulls still in the window (sliding), oldest first
        self._log: dict[str, deque[float]] = {}
        #: client -> (window index, pulls counted in it) (fixed)
        self._fixed: dict[str, tuple[int, int]] = {}

    def __repr__(self) -> str:
        return f"RateLimiter({self.limit!r})"

    # -- sliding ---------------------------------------------------------------------------

    def _slots(self, client: str, now: float) -> deque[float]:
        log = self._log.get(client)
        if log is None:
            return deque()
        window = self.limit.window_s
        while log and log[0] + window <= now + TOLERANCE_S:  # a pull at t holds a slot over [t, t + window)
            log.popleft()
        if not log:
            del self._log[client]
        return log

    # -- fixed -----------------------------------------------------------------------------

    def _window(self, now: float) -> int:
        """The index of the fixed window ``now`` falls in (windows start at multiples of its length)."""
        return math.floor((now + TOLERANCE_S) / self.limit.window_s)

    # -- both ------------------------------------------------------------------------------

    def check(self, client: str) -> Decision:
        """Whether ``client`` may pull now, without taking anything."""
        now = self.clock()
        limit = self.limit
        if limit.kind == "sliding":
            log = self._slots(client, now)
            if len(log) < limit.pulls:
                return Decision(True, limit.pulls - len(log), 0.0)
            # full: the oldest pull's slot frees first (a log never holds more than ``pulls``)
            return Decision(False, 0, max(0.0, log[0] + limit.window_s - now))
        window = self._window(now)
        index, used = self._fixed.get(client, (window, 0))
        if index != window:
            used = 0
        if used < limit.pulls:
            return Decision(True, limit.pulls - used, 0.0)
        return Decision(False, 0, max(0.0, (window + 1) * limit.window_s - now))

    def take(self, client: str) -> Decision:
        """Count one pull by ``client`` now if the budget allows; the decision either way."""
        decision = self.check(client)
        if not decision.allowed:
            return decision
        now = self.clock()
        if self.limit.kind == "sliding":
            self._log.setdefault(client, deque()).append(now)
        else:
            window = self._window(now)
            index, used = self._fixed.get(client, (window, 0))
            self._fixed[client] = (window, (used if index == window else 0) + 1)
        return Decision(True, decision.remaining - 1, 0.0)

    def remaining(self, client: str) -> int:
        return self.check(client).remaining

    def headers(self, client: str) -> dict[str, str]:
        """Docker Hub's rate-limit headers for ``client``: ``ratelimit-limit``,
        ``ratelimit-remaining`` (both with ``;w=<window seconds>``) and ``docker-ratelimit-source``."""
        w = f";w={self.limit.window_s:g}"
        return {"ratelimit-limit": f"{self.limit.pulls}{w}",
                "ratelimit-remaining": f"{self.remaining(client)}{w}",
                "docker-ratelimit-source": client}
