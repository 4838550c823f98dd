"""Blob caches on the simulated platform: where they sit, what they hold, and the fetches filling them.

The policies are the real ones of :mod:`regsim.registry.cache` (LRU, LFU, prefetch-on-manifest);
this module places them (``registry.cache``):

- ``placement: registry`` -- one cache at the registry, held in its frontends' memory: a hit is
  the response transfer from the frontend that took the request, with no storage reads and no
  decryption;
- ``placement: rack`` -- one cache per rack of the cluster, on a cache host added to that rack
  (it has a cluster node's NIC): a hit never leaves the rack, a miss is fetched from the registry
  through the cache host.

A policy decides at once (a miss admits the layer, a manifest GET admits the layers to prefetch),
but the bytes arrive when the read that fills the cache ends. Until then the layer is *in
flight*: a request that hits it waits for that read (counted in ``waited``) and is then served
from memory, as a pull-through cache coalescing concurrent misses does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from regsim.registry.cache import CachePolicy, CacheStats, ImageIndex, PrefetchOnManifest, PrefetchStats, make_policy
from regsim.spec.infra import Cache

from regsim.models.core.world import World

__all__ = ["CacheLayer", "CacheSite", "ManifestLayers"]


class ManifestLayers(ImageIndex):
    """An image index that knows an image's layers from the manifest being served, not from learning.

    The registry reads the manifest for the GET anyway; the layers it lists are what the
    prefetcher admits (:meth:`~regsim.registry.cache.PrefetchOnManifest.manifest_get`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.serving: dict[str, int] = {}

    def layers(self, repository: str, reference: str) -> dict[str, int]:
        return dict(self.serving)


@dataclass
class CacheSite:
    """One cache: its policy (with prefetching or not), the host serving hits, and layers in flight.

    ``host`` is None for the registry's cache: hits are served by whichever frontend took the
    request.
    """

    name: str
    host: str | None
    policy: CachePolicy
    prefetcher: PrefetchOnManifest | None = None
    inflight: dict[str, simpy.Event] = field(default_factory=dict)
    #: hits that waited for the read filling the cache
    waited: int = 0

    def lookup(self, client: str, repo: str, digest: str, size: int, now: float) -> bool:
        """A client asks for a layer: True on a hit; a miss admits it (if it fits)."""
        if self.prefetcher is not None:
            return self.prefetcher.blob_get(client, repo, digest, size, now)
        return self.policy.request(digest, size)

    def prefetch(self, client: str, repo: str, reference: str, layers: dict[str, int], now: float) -> list[str]:
        """A manifest was served: the layers to prefetch (already admitted), none without prefetching."""
        if self.prefetcher is None:
            return []
        index = self.prefetcher.index
        assert isinstance(index, ManifestLayers)
        index.serving = layers
        try:
            return self.prefetcher.manifest_get(client, repo, reference, now)
        finally:
            index.serving = {}

    def pending(self, digest: str) -> simpy.Event | None:
        """The read still filling ``digest``, if any."""
        event = self.inflight.get(digest)
        return event if event is not None and not event.triggered else None

    def filling(self, env: simpy.Environment, digest: str) -> simpy.Event | None:
        """Mark ``digest`` in flight when the policy holds it; the event to succeed once it is filled."""
        if digest not in self.policy:
            return None
        event = self.inflight[digest] = env.event()
        return event

    def filled(self, digest: str, event: simpy.Event | None) -> None:
        """The read behind ``event`` ended: the layer is in memory, and waiting hits go on."""
        if event is None:
            return
        if self.inflight.get(digest) is event:
            del self.inflight[digest]
        event.succeed()


class CacheLayer:
    """The caches of one run, placed as ``spec`` says; empty when the policy is ``none``."""

    def __init__(self, spec: Cache, world: World) -> None:
        self.spec, self.world = spec, world
        self.sites: list[CacheSite] = []
        self._by_rack: dict[int, CacheSite] = {}
        if not spec.enabled:
            return
        if spec.placement == "registry":
            self.sites.append(self._site("registry", None))
            return
        nic = world.topology.host(world.nodes[0])
        for rack in sorted(set(world.node_rack.values())):
            host = f"cache-rack{rack}"
            world.topology.add_host(host, rack=f"rack{rack}", nic_up=nic.nic_up, nic_down=nic.nic_down)
            self._by_rack[rack] = site = self._site(f"rack{rack}", host)
            self.sites.append(site)

    def _site(self, name: str, host: str | None) -> CacheSite:
        policy = make_policy(self.spec.policy, self.spec.capacity)
        prefetcher = PrefetchOnManifest(policy, index=ManifestLayers()) if self.spec.prefetch else None
        return CacheSite(name, host, policy, prefetcher)

    @property
    def enabled(self) -> bool:
        return bool(self.sites)

    def site_for(self, node: str) -> CacheSite | None:
        """The cache serving cluster node ``node``: the registry's, its rack's, or None."""
        if not self.sites:
            return None
        if self.spec.placement == "registry":
            return self.sites[0]
        return self._by_rack[self.world.node_rack[node]]

    def stats(self) -> CacheStats:
        """Hits, misses and churn over every site."""
        total = CacheStats()
        for site in self.sites:
            for name, value in vars(site.policy.stats).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def prefetch_stats(self) -> PrefetchStats:
        total = PrefetchStats()
        for site in self.sites:
            if site.prefetcher is not None:
                for name, value in vars(site.prefetcher.stats).items():
                    setattr(total, name, getattr(total, name) + value)
        return total

    def waited(self) -> int:
        return sum(site.waited for site in self.sites)
