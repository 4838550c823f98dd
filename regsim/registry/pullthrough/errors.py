"""Pull-through errors: an upstream that refuses (429) or fails, and a driver that misuses a fill.

The two upstream errors are what an upstream raises (:mod:`.upstream`) and also what the cache
raises when no upstream could answer and it holds no copy to fall back on, so a server (or a
model) maps them to a status without a table of its own: :class:`UpstreamRateLimited` is a
:class:`~regsim.registry.errors.TooManyRequests` (429, ``TOOMANYREQUESTS``, with the seconds to
wait for ``Retry-After``); :class:`UpstreamUnavailable` is 502 (the cache is a gateway whose
upstream failed). An upstream's "not found" is the registry's own
:class:`~regsim.registry.errors.ManifestUnknown` / :class:`~regsim.registry.errors.BlobUnknown` /
:class:`~regsim.registry.errors.NameUnknown`, passed through unchanged.
"""

from __future__ import annotations

import math

from ..errors import RegistryError, TooManyRequests


class UpstreamError(RegistryError):
    """Base of the errors about an upstream registry."""

    code, status = "UNKNOWN", 502

    def __init__(self, message: str, *, upstream: str | None = None, detail: object | None = None) -> None:
        super().__init__(message, detail=detail)
        #: the name of the upstream that answered (None when several did, or none)
        self.upstream = upstream


class UpstreamRateLimited(UpstreamError, TooManyRequests):
    """The upstream refused a pull: the client's pull budget for the window is spent (HTTP 429).

    ``retry_after`` is the exact number of seconds until the window frees a slot (a float, so a
    simulated clock can be advanced by exactly that much); :attr:`retry_after_header` is the
    whole seconds an HTTP ``Retry-After`` header would carry (rounded up, at least 1). ``limit``
    and ``window_s`` describe the budget, as Docker Hub's ``ratelimit-limit: 100;w=21600`` does.
    """

    code, status = TooManyRequests.code, TooManyRequests.status

    def __init__(self, message: str, *, retry_after: float, upstream: str | None = None,
                 limit: int | None = None, window_s: float | None = None, detail: object | None = None) -> None:
        super().__init__(message, upstream=upstream, detail=detail)
        if not retry_after >= 0:
            raise ValueError(f"retry_after must be a non-negative number of seconds, got {retry_after!r}")
        self.retry_after = float(retry_after)
        self.limit = limit
        self.window_s = window_s

    @property
    def retry_after_header(self) -> str:
        """The ``Retry-After`` header value: whole seconds, rounded up, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached, answered 5xx, or sent content that does not match its
    digest; the cache had no copy to serve instead (502, a gateway's upstream failed)."""

    code, status = "UNKNOWN", 502


class PullThroughError(RegistryError):
    """A fill or a coalesced wait was driven against its state: completing a fill twice or before
    fetching it, reading a follower's result before its leader completed, a synchronous call while
    another request's fill of the same content is in flight. Bugs in the driver, not events."""

    code, status = "UNKNOWN", 500
