"""Byte-bounded caches of blobs: least recently used (LRU) and least frequently used (LFU).

A cache here is policy and accounting, not storage: it decides which keys (blob digests) stay
within ``capacity`` bytes, and counts what happened -- hits, misses, bytes served from the cache,
admissions, evictions. The same object can sit in front of a real backend (the caller keeps the
bytes), at a rack cache in a model, or replay a trace offline (:func:`regsim.traces.evaluate`).
Nothing here knows about HTTP, time or the simulator.

Two ways in:

- :meth:`CachePolicy.request` -- a client asked for ``key``: a hit or a miss is counted, and on a
  miss the object is admitted (evicting others as the policy says);
- :meth:`CachePolicy.admit` -- put ``key`` in without a request (a prefetch, a freshly pushed
  layer): no hit or miss is counted, so a hit ratio measures what clients saw.

An object larger than the whole cache is never admitted (counted as ``rejected``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import asdict, dataclass

__all__ = ["LFU", "LRU", "POLICIES", "CachePolicy", "CacheStats", "make_policy"]


@dataclass
class CacheStats:
    """What a cache did: requests split into hits and misses (in objects and in bytes), and its churn."""

    hits: int = 0
    misses: int = 0
    hit_bytes: int = 0
    miss_bytes: int = 0
    admitted: int = 0
    admitted_bytes: int = 0
    evictions: int = 0
    evicted_bytes: int = 0
    rejected: int = 0

    @property
    def requests(self) -> int:
        return self.hits + self.misses

    @property
    def requested_bytes(self) -> int:
        return self.hit_bytes + self.miss_bytes

    @property
    def hit_ratio(self) -> float:
        """Hits over requests (0 when nothing was requested)."""
        return self.hits / self.requests if self.requests else 0.0

    @property
    def byte_hit_ratio(self) -> float:
        """Bytes served from the cache over bytes requested (0 when nothing was requested)."""
        return self.hit_bytes / self.requested_bytes if self.requested_bytes else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "requests": self.requests, "hit_ratio": self.hit_ratio,
                "byte_hit_ratio": self.byte_hit_ratio}


def _check_size(size: object, what: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"{what} must be a non-negative whole number of bytes, got {size!r}")
    return size


class CachePolicy(ABC):
    """A cache of at most ``capacity`` bytes; subclasses choose the victim when room is needed.

    Subclasses implement four hooks on their own bookkeeping: :meth:`_inserted` (a key came in,
    ``requested`` tells whether a client asked for it), :meth:`_used` (a hit), :meth:`_removed`
    and :meth:`_victim`. ``on_evict(key, size)``, when set, hears of every eviction (a prefetcher
    uses it to count prefetched layers that left unused).
    """

    name = "cache"

    def __init__(self, capacity: int) -> None:
        self.capacity = _check_size(capacity, "cache capacity")
        self.used = 0
        self.stats = CacheStats()
        self.on_evict: Callable[[Hashable, int], None] | None = None
        self._sizes: dict[Hashable, int] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(capacity={self.capacity}, used={self.used}, objects={len(self)})"

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._sizes)

    def size_of(self, key: Hashable) -> int | None:
        """Bytes held for ``key``; None when it is not cached."""
        return self._sizes.get(key)

    def request(self, key: Hashable, size: int) -> bool:
        """A client asks for ``key`` of ``size`` bytes: True on a hit; a miss admits it.

        A cached copy of another size is not what was asked for (a blob re-pushed under a
        reused key): that counts as a miss and the new size replaces it.
        """
        _check_size(size, "object size")
        held = self._sizes.get(key)
        if held == size:
            self.stats.hits += 1
            self.stats.hit_bytes += size
            self._used(key)
            return True
        self.stats.misses += 1
        self.stats.miss_bytes += size
        if held is not None:
            self._drop(key)
        self._insert(key, size, requested=True)
        return False

    def admit(self, key: Hashable, size: int) -> bool:
        """Put ``key`` in without a client asking (prefetch, write-allocate); True if it is cached after.

        An already cached key is left as it is: being offered again is not a use.
        """
        _check_size(size, "object size")
        held = self._sizes.get(key)
        if held == size:
            return True
        if held is not None:
            self._drop(key)
        return self._insert(key, size, requested=False)

    def discard(self, key: Hashable) -> bool:
        """Forget ``key`` (a deleted blob); True if it was cached. Not counted as an eviction."""
        if key not in self._sizes:
            return False
        self._drop(key)
        return True

    def _insert(self, key: Hashable, size: int, *, requested: bool) -> bool:
        if size > self.capacity:
            self.stats.rejected += 1
            return False
        while self.used + size > self.capacity:
            victim = self._victim()
            victim_size = self._sizes[victim]
            self._drop(victim)
            self.stats.evictions += 1
            self.stats.evicted_bytes += victim_size
            if self.on_evict is not None:
                self.on_evict(victim, victim_size)
        self._sizes[key] = size
        self.used += size
        self.stats.admitted += 1
        self.stats.admitted_bytes += size
        self._inserted(key, requested)
        return True

    def _drop(self, key: Hashable) -> None:
        self.used -= self._sizes.pop(key)
        self._removed(key)

    @abstractmethod
    def _inserted(self, key: Hashable, requested: bool) -> None: ...

    @abstractmethod
    def _used(self, key: Hashable) -> None: ...

    @abstractmethod
    def _removed(self, key: Hashable) -> None: ...

    @abstractmethod
    def _victim(self) -> Hashable:
        """The key to evict next; only called while the cache holds something."""


class LRU(CachePolicy):
    """Evicts the key used least recently; an admitted (not yet requested) key counts as just used."""

    name = "lru"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._order: OrderedDict[Hashable, None] = OrderedDict()

    def _inserted(self, key: Hashable, requested: bool) -> None:
        self._order[key] = None

    def _used(self, key: Hashable) -> None:
        self._order.move_to_end(key)

    def _removed(self, key: Hashable) -> None:
        del self._order[key]

    def _victim(self) -> Hashable:
        return next(iter(self._order))


class LFU(CachePolicy):
    """Evicts the key with the fewest requests while cached; ties go to the least recently used.

    A key admitted on a miss starts at one request, a prefetched one at zero, so a prefetch that
    no client has asked for yet is the first to go. Counts are forgotten on eviction (in-cache
    LFU), so an old favourite cannot squat the cache forever.
    """

    name = "lfu"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._count: dict[Hashable, int] = {}
        #: keys by request count, each bucket in recency order; only non-empty buckets are kept.
        self._buckets: dict[int, OrderedDict[Hashable, None]] = {}

    def frequency(self, key: Hashable) -> int | None:
        """Requests of ``key`` since it was admitted; None when it is not cached."""
        return self._count.get(key)

    def _put(self, key: Hashable, count: int) -> None:
        self._count[key] = count
        self._buckets.setdefault(count, OrderedDict())[key] = None

    def _take(self, key: Hashable) -> int:
        count = self._count.pop(key)
        bucket = self._buckets[count]
        del bucket[key]
        if not bucket:
            del self._buckets[count]
        return count

    def _inserted(self, key: Hashable, requested: bool) -> None:
        self._put(key, 1 if requested else 0)

    def _used(self, key: Hashable) -> None:
        self._put(key, self._take(key) + 1)

    def _removed(self, key: Hashable) -> None:
        self._take(key)

    def _victim(self) -> Hashable:
        return next(iter(self._buckets[min(self._buckets)]))


#: the policies by name.
POLICIES: dict[str, type[CachePolicy]] = {"lru": LRU, "lfu": LFU}


def make_policy(name: str, capacity: int) -> CachePolicy:
    """The policy called ``name`` (``lru``, ``lfu``) with ``capacity`` bytes."""
    try:
        cls = POLICIES[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown cache policy {name!r}; expected one of: {', '.join(POLICIES)}") from None
    return cls(capacity)
