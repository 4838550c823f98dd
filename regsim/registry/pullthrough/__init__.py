"""Pull-through caching against rate-limited upstream registries, free of transport and of time.

A pull-through cache (a "registry mirror") answers pulls from its own store and fetches what it
lacks from upstream registries -- Docker Hub, GHCR, a mirror of either -- whose pull limits and
outages it must live with. Everything here is real code run on injected time; a model drives it
and prices the work each call reports.

- :mod:`.ratelimit` -- :class:`RateLimit` (``pulls`` per ``window_s``, sliding or fixed) and its
  :class:`RateLimiter`, per client identity; Docker Hub's budgets as constants.
- :mod:`.upstream` -- the :class:`Upstream` protocol the cache fetches through, and
  :class:`RegistryUpstream`, an upstream in memory: a real registry, Docker Hub's definition of a
  pull (manifest GETs count, HEADs and blobs do not), 429 with ``Retry-After``, outages.
- :mod:`.routes` -- which upstreams (in fallback order) serve which repository prefix.
- :mod:`.coalesce` -- one fetch for concurrent misses of the same content (leader / followers).
- :mod:`.cache` -- :class:`PullThroughCache`: hits, misses, tag revalidation by HEAD after a
  TTL, stale-if-error, capacity with LRU/LFU eviction, steps for a discrete-event driver.
- :mod:`.results` and :mod:`.stats` -- what one request did (:class:`Fetched`, its
  :class:`UpstreamRequest` s) and counters over all of them (:class:`PullThroughStats`).
- :mod:`.errors` -- :class:`UpstreamRateLimited` (429), :class:`UpstreamUnavailable` (502).

Quick use::

    hub = RegistryUpstream(hub_registry, name="docker.io", limit=DOCKER_HUB_ANONYMOUS, clock=clock)
    cache = PullThroughCache(Registry(clock=clock), {"docker.io": hub.client("10.0.0.7")},
                             capacity=50 * 2**30, manifest_ttl_s=300, clock=clock)
    answers = cache.pull("docker.io/library/alpine", "3.20")   # manifest, config, layers
    cache.stats.as_dict()

See docs/pull-through.md for the defaults, their sources, and what differs from the real thing.
"""

from .cache import Fill, PullThroughCache, Step
from .coalesce import Coalescer, Follower, Leader
from .errors import PullThroughError, UpstreamError, UpstreamRateLimited, UpstreamUnavailable
from .ratelimit import DOCKER_HUB_ANONYMOUS, DOCKER_HUB_PERSONAL, SIX_HOURS, Decision, RateLimit, RateLimiter
from .results import BLOB_GET, MANIFEST_GET, MANIFEST_HEAD, Fetched, UpstreamRequest
from .routes import Route, Router
from .stats import PullThroughStats
from .upstream import ANONYMOUS, LogEntry, Outage, RegistryUpstream, Upstream, UpstreamClient, UpstreamManifest

__all__ = [
    "ANONYMOUS",
    "BLOB_GET",
    "DOCKER_HUB_ANONYMOUS",
    "DOCKER_HUB_PERSONAL",
    "MANIFEST_GET",
    "MANIFEST_HEAD",
    "SIX_HOURS",
    "Coalescer",
    "Decision",
    "Fetched",
    "Fill",
    "Follower",
    "Leader",
    "LogEntry",
    "Outage",
    "PullThroughCache",
    "PullThroughError",
    "PullThroughStats",
    "RateLimit",
    "RateLimiter",
    "RegistryUpstream",
    "Route",
    "Router",
    "Step",
    "Upstream",
    "UpstreamClient",
    "UpstreamError",
    "UpstreamManifest",
    "UpstreamRateLimited",
    "UpstreamRequest",
    "UpstreamUnavailable",
]
