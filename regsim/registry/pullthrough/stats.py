"""Counters of what a pull-through cache did, over all its requests.

Each request to the cache ends in exactly one of five outcomes, so

    requests == hits + misses + stale_serves + coalesced_waits + errors

- ``hits``: served from the cache (fresh, or confirmed by a HEAD upstream: ``revalidations``);
- ``misses``: the content was fetched upstream by this request and served;
- ``stale_serves``: a cached copy served because the upstreams refused (429) or failed;
- ``coalesced_waits``: the request waited for another request's fetch of the same content
  (whatever that fetch's outcome; ``coalesced_errors`` of them ended in its error);
- ``errors``: the request's own fetch failed and there was no copy to serve.

The upstream side: ``upstream_requests`` by kind (``manifest_get``, ``manifest_head``,
``blob_get``) and by upstream, how many were answered 429, unavailable (5xx or bad content) and
404, and the body bytes received. ``pass_through`` counts fetched content that did not fit in the
cache's capacity (served, not kept). ``evictions`` and ``evicted_bytes`` are the capacity's churn.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class PullThroughStats:
    requests: int = 0
    hits: int = 0
    misses: int = 0
    stale_serves: int = 0
    coalesced_waits: int = 0
    errors: int = 0
    coalesced_errors: int = 0
    revalidations: int = 0
    revalidations_changed: int = 0
    upstream_requests: Counter[str] = field(default_factory=Counter)
    upstream_requests_by_upstream: Counter[str] = field(default_factory=Counter)
    upstream_429s: int = 0
    upstream_unavailable: int = 0
    upstream_not_found: int = 0
    bytes_from_upstream: int = 0
    bytes_served: int = 0
    pass_through: int = 0
    evictions: int = 0
    evicted_bytes: int = 0

    @property
    def upstream_total(self) -> int:
        """Requests sent upstream, of every kind."""
        return sum(self.upstream_requests.values())

    @property
    def hit_ratio(self) -> float:
        """Requests answered without fetching content upstream (hits, stale serves and waits on
        another request's fetch) over all requests; 0 when there were none."""
        served_locally = self.hits + self.stale_serves + self.coalesced_waits - self.coalesced_errors
        return served_locally / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, int | float | dict[str, int]]:
        out: dict[str, int | float | dict[str, int]] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = dict(value) if isinstance(value, Counter) else value
        out["upstream_total"] = self.upstream_total
        out["hit_ratio"] = self.hit_ratio
        return out
