"""Blob caches at the registry or a rack: LRU and LFU by bytes, and prefetching on manifest GETs.

    from regsim.registry.cache import LRU, PrefetchOnManifest
    cache = PrefetchOnManifest(LRU(10 * 2**30))
    cache.manifest_get("client-1", "team/app", "v2")     # admits the image's known layers
    cache.blob_get("client-1", "team/app", digest, size)  # True: a hit
    cache.cache.stats.hit_ratio

Policy and accounting only, free of any transport: the caller holds the bytes. Replaying a
recorded or synthetic trace through a cache offline: :func:`regsim.traces.evaluate`.
"""

from .policies import LFU, LRU, POLICIES, CachePolicy, CacheStats, make_policy
from .prefetch import ImageIndex, PrefetchOnManifest, PrefetchStats

__all__ = ["LFU", "LRU", "POLICIES", "CachePolicy", "CacheStats", "ImageIndex", "PrefetchOnManifest", "PrefetchStats",
           "make_policy"]
