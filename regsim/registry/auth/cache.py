"""Memory for the token check: a cache of verified tokens and a ledger of used token IDs.

:class:`TokenCache` lets a token that was verified once skip PyJWT on its next uses: it is a
bounded LRU map keyed by the token string itself (exact match, so a tampered token never hits),
and each entry expires when its token does. Rejections are never cached: a rejected token costs
a full check every time, so the cache cannot be used to pin a bad answer.

:class:`JtiLedger` makes tokens single-use: it remembers each ``jti`` until its token expires,
which bounds its size by the issue rate times the token lifetime.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..errors import ConfigError

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    evictions: int
    expirations: int
    size: int
    maxsize: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class TokenCache(Generic[V]):
    """Bounded LRU of verified tokens; an entry is dropped once ``now`` passes its expiry."""

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 1:
            raise ConfigError(f"token cache size must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._expirations = 0

    def get(self, token: str, now: float) -> V | None:
        """The value cached for ``token`` if present and unexpired at ``now``, else None."""
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                self._misses += 1
                return None
            if now > entry[0]:
                del self._entries[token]
                self._expirations += 1
                self._misses += 1
                return None
            self._entries.move_to_end(token)
            self._hits += 1
            return entry[1]

    def put(self, token: str, value: V, expires_at: float) -> None:
        with self._lock:
            self._entries[token] = (expires_at, value)
            self._entries.move_to_end(token)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
                self._evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token: object) -> bool:
        return token in self._entries

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, self._expirations,
                              len(self._entries), self.maxsize)


class JtiLedger:
    """The token IDs already used, each kept until its token's expiry."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def consume(self, jti: str, expires_at: float, now: float) -> bool:
        """Mark ``jti`` used; False if it had been used already (a replay)."""
        with self._lock:
            self._forget_expired(now)
            if jti in self._seen:
                return False
            self._seen[jti] = expires_at
            heapq.heappush(self._expiry, (expires_at, jti))
            return True

    def _forget_expired(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] < now:
            _, jti = heapq.heappop(self._expiry)
            self._seen.pop(jti, None)

    def __len__(self) -> int:
        return len(self._seen)
