"""Per-client request rate limits: ``TOOMANYREQUESTS`` (429) with ``Retry-After``.

Each client address has a token bucket of ``burst`` requests refilled at ``rate`` per second
(``http.rate_limit`` in the configuration; off by default). A request to the API or the token
endpoint takes one token; without one it is answered 429 with the spec's error body and the
seconds until a token is back. ``/metrics`` is never limited, so scrapes keep working under load.
Buckets of clients idle long enough to be full again are dropped, which bounds the memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from ..registry.errors import TooManyRequests
from .errors import error_response


class TokenBuckets:
    """Token buckets by key, refilled continuously; thread-unsafe by design (one event loop)."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate limit needs rate > 0 and burst >= 1, got {rate} and {burst}")
        self.rate, self.burst, self.clock, self.max_keys = rate, burst, clock, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0.0 if a token was taken for ``key``, else the seconds until one is available."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:
                self._forget_full(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        refill = self.burst / self.rate
        for key in [k for k, (_, at) in self._buckets.items() if now - at >= refill]:
            del self._buckets[key]


class RateLimit:
    """ASGI middleware applying :class:`TokenBuckets` by client address."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app, self.buckets = app, buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("unknown", 0)
        wait = self.buckets.take(client[0])
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        scope["regsim.handler"] = "rate_limited"
        err = TooManyRequests(f"more than {self.buckets.burst} requests in a burst from {client[0]}; "
                              f"the limit is {self.buckets.rate:g} per second")
        await error_response(err, headers={"Retry-After": str(max(1, math.ceil(wait)))})(scope, receive, send)
