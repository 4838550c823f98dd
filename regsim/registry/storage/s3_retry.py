"""Retries for the S3 backend: exponential backoff with full jitter, on throttling and server errors.

S3 asks clients to slow down with ``503 SlowDown`` and has occasional ``500 InternalError`` s;
both are meant to be retried after a pause that grows with each failure. The pause before retry
``n`` (0 for the first retry) is drawn uniformly from ``[0, min(max_delay_s, base_delay_s * 2**n))``:
"full jitter" (Brooker, *Exponential Backoff and Jitter*, AWS Architecture Blog, 2015), which
spreads clients that failed together so they do not retry together.

This is regsim's own loop rather than botocore's ``standard`` retry mode: botocore's mode cannot
be given a clock or a random source, so tests could only check it by sleeping, and its retry
count is not exposed per backend. The backend therefore builds its client with
``total_max_attempts=1`` (botocore never retries) and calls it through :meth:`RetryPolicy.run`.
``sleep`` and ``random`` are injectable so that tests are deterministic and never wait.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError

T = TypeVar("T")

#: S3 (and S3-compatible stores') error codes that mean "try again later".
RETRYABLE_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestLimitExceeded", "TooManyRequests", "TooManyRequestsException", "InternalError",
    "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException",
})
#: HTTP statuses retried whatever the code says.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def error_code(exc: BaseException) -> tuple[str, int | None]:
    """(S3 error code, HTTP status) of a botocore error; ('', None) when it carries none."""
    if isinstance(exc, ClientError):
        response = exc.response or {}
        return str(response.get("Error", {}).get("Code", "")), response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return "", None


def is_retryable(exc: BaseException) -> bool:
    """Throttling, a server error, or a transport failure (a connection refused or cut, a timeout)."""
    if isinstance(exc, ClientError):
        code, status = error_code(exc)
        return code in RETRYABLE_CODES or status in RETRYABLE_STATUS
    return isinstance(exc, (ConnectionError, HTTPClientError, IncompleteReadError))


@dataclass
class RetryPolicy:
    """How often and how patiently to retry one S3 request.

    ``max_attempts`` counts the first try (1: never retry). ``sleep`` and ``random`` (a float in
    [0, 1)) are the clock and the jitter source; tests pass fakes.
    """

    max_attempts: int = 5
    base_delay_s: float = 0.05
    max_delay_s: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=_random.random, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be a whole number >= 1, got {self.max_attempts!r}")
        if not self.base_delay_s >= 0 or not self.max_delay_s >= 0:
            raise ValueError("retry delays must be non-negative")

    def ceiling(self, retry: int) -> float:
        """The largest pause before retry ``retry`` (0-based): ``min(max_delay_s, base * 2**retry)``."""
        return min(self.max_delay_s, self.base_delay_s * (2 ** min(retry, 62)))

    def delay(self, retry: int) -> float:
        """The pause before retry ``retry``: uniform in ``[0, ceiling(retry))`` (full jitter)."""
        return self.random() * self.ceiling(retry)

    def run(self, fn: Callable[[], T], *, on_retry: Callable[[int, BaseException, float], None] | None = None) -> T:
        """``fn()``, retried while it raises a retryable error and attempts remain; the last error
        is raised unchanged (the caller tells exhaustion by :func:`is_retryable`). ``on_retry``
        hears (retry number, the error, the pause) before each pause."""
        retry = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                if retry + 1 >= self.max_attempts or not is_retryable(exc):
                    raise
                pause = self.delay(retry)
                if on_retry is not None:
                    on_retry(retry, exc, pause)
                self.sleep(pause)
                retry += 1
