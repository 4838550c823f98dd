"""Offline cache evaluation: replay a trace's layer requests through a cache policy.

    from regsim.traces import evaluate, read_trace
    r = evaluate(read_trace("tests/data/traces/synthetic-small.json"), "lru", 200 * 2**20, prefetch=True)
    r.hit_ratio, r.bytes_saved

Only layers are cached (blobs, keyed by digest: content addressing makes a layer shared by two
repositories one object). Successful layer GETs are the requests; manifest GETs, layer HEADs and
uploads feed the prefetcher's knowledge of which layers make up which image. A blob's size is
the largest ``http.response.written`` seen for it, so a partial or redirected response does not
shrink it. No time is simulated: latency comes with the model that prices the hits and misses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import pandas as pd

from ..registry.cache import CachePolicy, PrefetchOnManifest, make_policy
from ..units import parse_size
from .ibm import Request, Trace

__all__ = ["Evaluation", "compare_policies", "evaluate"]

PolicySpec = str | Callable[[int], CachePolicy]


@dataclass(frozen=True)
class Evaluation:
    """What a cache policy achieved on a trace.

    ``bytes_saved`` is the backend reads the cache avoided: bytes served from the cache less
    the bytes prefetched into it (prefetching reads layers nobody has asked for yet, so it can
    be negative when prefetches go unused).
    """

    policy: str
    capacity: int
    requests: int
    hits: int
    misses: int
    hit_ratio: float
    byte_hit_ratio: float
    requested_bytes: int
    hit_bytes: int
    bytes_saved: int
    backend_bytes: int
    evictions: int
    prefetched: int = 0
    prefetched_bytes: int = 0
    prefetch_used: int = 0
    prefetch_wasted: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _ok(request: Request) -> bool:
    return 200 <= request.status < 400


def blob_sizes(requests: Iterable[Request]) -> dict[str, int]:
    """Each blob's size: the largest byte count a successful GET or upload of it reported."""
    sizes: dict[str, int] = {}
    for r in requests:
        carries_blob = r.kind == "blob" and r.method == "GET" or r.kind == "upload" and r.method == "PUT"
        if _ok(r) and r.reference and carries_blob:
            sizes[r.reference] = max(sizes.get(r.reference, 0), r.size)
    return sizes


class _Plain:
    """The driver for a cache without prefetching: layer GETs, and optionally pushed layers."""

    def __init__(self, cache: CachePolicy, admit_pushed: bool) -> None:
        self.cache, self.admit_pushed, self.name = cache, admit_pushed, cache.name

    def manifest_get(self, client: str, repository: str, reference: str, time: float) -> None:
        pass

    def manifest_put(self, client: str, repository: str, reference: str) -> None:
        pass

    def blob_head(self, client: str, repository: str, digest: str) -> None:
        pass

    def blob_get(self, client: str, repository: str, digest: str, size: int, time: float) -> bool:
        return self.cache.request(digest, size)

    def blob_put(self, client: str, repository: str, digest: str, size: int) -> None:
        if self.admit_pushed:
            self.cache.admit(digest, size)


def _make(policy: PolicySpec, capacity: int) -> CachePolicy:
    if isinstance(policy, str):
        return make_policy(policy, capacity)
    cache = policy(capacity)
    if not isinstance(cache, CachePolicy):
        raise TypeError(f"the policy factory returned {type(cache).__name__}, expected a CachePolicy")
    return cache


def evaluate(trace: Trace | Iterable[Request], policy: PolicySpec, capacity: int | str, *, prefetch: bool = False,
             admit_pushed: bool = False, skip_client_layers: bool = False) -> Evaluation:
    """Replay ``trace`` through ``policy`` (``"lru"``, ``"lfu"`` or a factory taking the capacity).

    ``capacity`` is bytes or a size such as ``"10GB"``. ``prefetch`` wraps the policy in
    :class:`~regsim.registry.cache.PrefetchOnManifest`; ``admit_pushed`` caches uploaded layers;
    ``skip_client_layers`` makes the prefetcher leave out layers the client fetched before.
    """
    requests = sorted(trace, key=lambda r: r.time)
    size = parse_size(capacity) if isinstance(capacity, str) else capacity
    cache = _make(policy, size)
    driver: _Plain | PrefetchOnManifest
    if prefetch:
        driver = PrefetchOnManifest(cache, admit_pushed=admit_pushed, skip_client_layers=skip_client_layers)
    else:
        driver = _Plain(cache, admit_pushed)
    sizes = blob_sizes(requests)
    for r in requests:
        if not _ok(r):
            continue
        if r.kind == "manifest":
            if r.method == "GET":
                driver.manifest_get(r.client, r.repository, r.reference, r.time)
            elif r.method == "PUT":
                driver.manifest_put(r.client, r.repository, r.reference)
        elif r.kind == "blob":
            if r.method == "GET":
                driver.blob_get(r.client, r.repository, r.reference, sizes.get(r.reference, r.size), r.time)
            elif r.method == "HEAD":
                driver.blob_head(r.client, r.repository, r.reference)
        elif r.kind == "upload" and r.method == "PUT" and r.reference:
            driver.blob_put(r.client, r.repository, r.reference, sizes.get(r.reference, r.size))
    s = cache.stats
    p = driver.stats if isinstance(driver, PrefetchOnManifest) else None
    prefetched_bytes = p.prefetched_bytes if p else 0
    return Evaluation(
        policy=driver.name, capacity=size, requests=s.requests, hits=s.hits, misses=s.misses,
        hit_ratio=s.hit_ratio, byte_hit_ratio=s.byte_hit_ratio, requested_bytes=s.requested_bytes,
        hit_bytes=s.hit_bytes, bytes_saved=s.hit_bytes - prefetched_bytes,
        backend_bytes=s.miss_bytes + prefetched_bytes,
        evictions=s.evictions, prefetched=p.prefetched if p else 0, prefetched_bytes=prefetched_bytes,
        prefetch_used=p.used if p else 0, prefetch_wasted=p.wasted if p else 0)


def compare_policies(trace: Trace | Iterable[Request], policies: Iterable[str], capacities: Iterable[int | str], *,
                     prefetch: Iterable[bool] = (False, True)) -> pd.DataFrame:
    """One row per policy, capacity and prefetch setting: every field of :class:`Evaluation`."""
    requests = list(trace)
    options = list(prefetch)
    rows = [evaluate(requests, name, capacity, prefetch=p).as_dict()
            for name in policies for capacity in capacities for p in options]
    return pd.DataFrame(rows)
