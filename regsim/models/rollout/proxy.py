"""Proxy-cache rollouts (``distribution.strategy: proxy-cache``): pull-through caches between nodes and registry.

One cache per rack (``distribution.proxy.placement: rack``), in the rack beside its nodes, or one
for the whole cluster (``cluster``) in a rack of its own on the core switch; each has the proxy's
egress as its NIC. A node's control plane is the central one -- a token, the manifest and every
layer's authorisation through the registry -- but its layers come from its cache. The first
request for a layer at a cache makes the cache fetch it from the registry (a real registry read,
priced like any other, with the cache's own token); requests arriving meanwhile wait for that
fill (single flight; ``distribution.proxy.coalesce: false``: each goes to the registry itself, as
CNCF distribution's proxy does), and every request is then served from the cache. A layer that does not fit
in the cache's remaining ``capacity`` is not kept: each request for it passes through to the
registry. Approximation, stated: a fill completes before the cache serves the layer (a real
pull-through cache streams to the first client while it stores).

The bound beside the KPIs: ``proxy_bound_s`` = max(caches*F/u_registry, max over caches of
N_cache*F/u_cache): the fills share the registry's egress, and each cache's egress carries its
nodes' pulls. KPIs: the common ones of :mod:`.kpis`, plus ``caches`` (how many), ``cache_fills``
(layers read into a cache) and ``cache_pass_through`` (requests passed to the registry uncached).

With ``registry.upstream_limit`` the registry is a public upstream counting pulls per address
(:mod:`regsim.models.core.upstream`): a node's manifest request goes to its cache, which
revalidates a manifest it holds with a free HEAD and GETs a missing one upstream, counted against
the cache's address (all caches share one with ``per: site``); a 429 with nothing cached fails the
node's pull (``nodes_failed``). The node's manifest request is still priced at the registry's
frontend, as without the limit (stated approximation).

With ``distribution.preheat`` (:mod:`.preheat`) the preheated nodes pull the image through their
caches before the rollout, all at once, as a rollout's node does (a cache fill per layer at each
cache with a preheated node, then the cache's copy to the node); the rollout starts when they have
it, with those caches holding the image, so their other nodes hit. The preheat's fills are
``preheat_cache_fills`` and its registry egress ``preheat_bytes``; ``cache_fills``,
``cache_pass_through`` and ``registry_egress_bytes`` are the rollout's own, and the preheated
nodes do not pull in the rollout (``nodes`` and ``proxy_bound_s`` count the others). With an
upstream limit a preheat's manifest fetch counts against it as a node's would.
"""

from __future__ import annotations

import numpy as np
import simpy

from regsim.models.core.replay import combine
from regsim.models.core.result import VariantResult
from regsim.models.core.spec import Progress
from regsim.models.core.upstream import upstream_gate
from regsim.models.core.work import SAMPLED_NODES
from regsim.sim.network import LinkRecorder

from .central import MAX_CONCURRENT_DOWNLOADS
from .config import RolloutConfig
from .single_pull import SinglePullRun
from .kpis import RolloutRecord, frontend_busy_s, rollout_kpis, rollout_result
from .layer_fetch import fetch_layer
from .preheat import PreheatPhase

#: the rack a cluster-wide cache sits in, on the core switch
CACHE_RACK = "caches"


def simulate_proxy(config: RolloutConfig, seed: int, progress: Progress | None = None) -> VariantResult:
    """Simulate a rollout through pull-through caches."""
    run = ProxyRun(config, seed, progress)
    run.run()
    return run.result()


class _Cache:
    """One pull-through cache: its host, what it holds, and the fills in flight."""

    def __init__(self, host: str, capacity: int) -> None:
        self.host, self.capacity = host, capacity
        self.used = 0
        self.held: set[int] = set()
        self.filling: dict[int, simpy.Event] = {}
        self.creds: object | None = None
        self.nodes = 0
        self.fills = self.passes = self.served = 0
        #: with an upstream limit: whether the cache holds the image's manifest, and its fetch in flight
        self.manifest = False
        self.manifest_fetch: simpy.Event | None = None


class ProxyRun(SinglePullRun):
    """One proxy-cache rollout: the world with its caches, the real registry, and the nodes' pulls."""

    strategy = "proxy-cache"

    def __init__(self, config: RolloutConfig, seed: int, progress: Progress | None = None) -> None:
        super().__init__(config, seed, progress)
        self.proxy = proxy = config.distribution.proxy
        world = self.world
        topo = world.topology
        if proxy.placement == "rack":
            racks = sorted({topo.host(n).rack for n in self.targets}, key=lambda r: int(r[4:]))
            self.caches = {rack: _Cache(f"cache{rack[4:]}", int(proxy.capacity)) for rack in racks}
            for rack, cache in self.caches.items():
                topo.add_host(cache.host, rack=rack, nic=proxy.egress, cores=proxy.cores)
            self.cache_of = {n: self.caches[topo.host(n).rack] for n in self.targets}
        else:
            topo.add_rack(CACHE_RACK, uplink=proxy.egress, latency=config.cluster.latency.core)
            cache = _Cache("cache", int(proxy.capacity))
            topo.add_host(cache.host, rack=CACHE_RACK, nic=proxy.egress, cores=proxy.cores)
            self.caches = {CACHE_RACK: cache}
            self.cache_of = {n: cache for n in self.targets}
        #: the push's preheat, through the caches; the rollout's pulls are the other nodes'
        self.preheat = PreheatPhase(config.distribution.preheat, self.targets, lambda n: topo.host(n).rack)
        self.pullers = self.preheat.pullers(self.targets)
        self.preheat_fills = 0
        for node in self.pullers:
            self.cache_of[node].nodes += 1
        self.starts: dict[str, float] = {}
        self.ends: dict[str, float] = {}
        self.registry_egress = 0
        self.recorder: LinkRecorder | None = None
        #: a public upstream's pull limit, met by the caches' manifest fetches (``registry.upstream_limit``)
        self.gate = upstream_gate(config.registry.upstream_limit, lambda: world.env.now)
        self.failed: set[str] = set()

    def run(self) -> None:
        offsets = self.start_offsets()
        topo = self.world.topology
        # the registry's egress is the frontends' shared gateway (a mean over their NICs, each at the
        # full egress, would read 1 / frontends of it); then each cache's uplink
        links = [self.world.egress_link] + [topo.host(c.host).up for c in self.caches.values()]
        # the network adopts links the topology gained (the caches') on its next transfer: a local no-op one
        self.world.net.transfer(self.world.frontends[0], self.world.frontends[0], 0)
        self.recorder = LinkRecorder(self.world.net, links)
        self.launch(offsets)

    def _start_nodes(self, offsets: list[float]) -> None:
        for i, (node, offset) in enumerate(zip(self.pullers, offsets)):
            self.world.env.process(self._node(i, node, offset))

    def _preheat_then_start(self, offsets: list[float]):
        """The push's preheat: the preheated nodes pull through their caches, all at once; then
        the rollout, its counters (registry egress, fills) starting from zero."""
        yield from self.preheat.run(self.world.env, self._pull)
        self.preheat.bytes, self.registry_egress = self.registry_egress, 0
        for cache in self.caches.values():
            self.preheat_fills += cache.fills
            cache.fills = cache.passes = cache.served = 0
        self._start_nodes(offsets)

    def _node(self, i: int, node: str, offset: float):
        env = self.world.env
        yield env.timeout(offset)
        self.starts[node] = env.now
        pulled = yield from self._pull(i, node)
        if not pulled:
            return
        self.ends[node] = env.now
        if self.progress is not None:
            self.progress(len(self.ends) / len(self.pullers))

    def _pull(self, i: int, node: str):
        """A node's pull through its cache; False if the upstream limit refused it."""
        env, world, work = self.world.env, self.world, self.work
        fe = world.frontends[i % len(world.frontends)]
        creds, login = work.login(node)
        yield from self.replay.request(node, fe, login)
        cache = self.cache_of[node]
        if self.gate is not None:
            held = yield from self._cache_manifest(node, cache, fe)
            if not held:
                self.failed.add(node)
                return False
        yield from self.replay.request(node, fe, combine(work.authorize(creds), work.manifest_get()))
        downloads = simpy.Resource(env, MAX_CONCURRENT_DOWNLOADS)
        verify = i < SAMPLED_NODES
        yield env.all_of([env.process(self._layer(node, fe, creds, cache, index, downloads, verify))
                          for index in range(len(work.sizes))])
        return True

    def _cache_manifest(self, node: str, cache: _Cache, fe: str):
        """With an upstream limit, a node's manifest request goes to its cache: one that holds the
        manifest revalidates it with a HEAD (free); the first miss GETs it upstream, counted against
        the cache's address, and concurrent misses wait for that fetch. Returns whether the cache
        could answer (a 429 with nothing cached fails the node's pull)."""
        env = self.world.env
        yield self.world.net.transfer(node, cache.host, 0)
        if cache.manifest:
            return True
        if cache.manifest_fetch is not None and self.proxy.coalesce:
            yield cache.manifest_fetch
            return cache.manifest
        fetch = cache.manifest_fetch = env.event()
        yield self.world.net.transfer(cache.host, fe, 0)  # the upstream GET's round trip
        admitted = self.gate.admit(cache.host)  # type: ignore[union-attr]
        cache.manifest = cache.manifest or admitted
        if cache.manifest_fetch is fetch:
            cache.manifest_fetch = None
        fetch.succeed()
        return admitted

    def _layer(self, node: str, fe: str, creds: object, cache: _Cache, index: int, downloads: simpy.Resource,
               verify: bool):
        with downloads.request() as slot:
            yield slot
            yield from self.replay.request(node, fe, self.work.authorize(creds))
            if index not in cache.held:
                yield from self._fill(cache, fe, index, verify)
            cache.served += 1
            yield self.world.net.transfer(cache.host, node, self.work.sizes[index], tag="cache")

    def _fill(self, cache: _Cache, fe: str, index: int, verify: bool):
        """The cache reads the layer from the registry once (requests meanwhile wait for it)."""
        env, size = self.world.env, self.work.sizes[index]
        pending = cache.filling.get(index)
        if pending is not None and not self.proxy.coalesce:  # every concurrent miss goes upstream itself
            cache.passes += 1
            yield from self._read(cache, fe, index, verify)
            return
        if pending is not None:
            yield pending
            if index in cache.held:
                return
        if cache.used + size > cache.capacity:  # it does not fit: this request passes through
            cache.passes += 1
            yield from self._read(cache, fe, index, verify)
            return
        done = cache.filling[index] = env.event()
        cache.fills += 1
        cache.used += size  # reserved now, so that concurrent fills cannot overrun the capacity
        yield from self._read(cache, fe, index, verify)
        cache.held.add(index)
        del cache.filling[index]
        done.succeed()

    def _read(self, cache: _Cache, fe: str, index: int, verify: bool):
        if cache.creds is None:
            cache.creds, login = self.work.login(cache.host)
            yield from self.replay.request(cache.host, fe, login)
        size = yield from fetch_layer(self.replay, self.work, cache.host, fe, cache.creds, index, verify=verify)
        self.registry_egress += size  # added after the read: `x += yield ...` would lose concurrent updates

    # -- results -----------------------------------------------------------------------------
    def result(self) -> VariantResult:
        """The common rollout KPIs (held to ``proxy_bound_s``), plus the caches and what they did."""
        config, world, proxy = self.config, self.world, self.proxy
        image = sum(self.work.sizes)
        n = len(self.pullers)
        caches = list(self.caches.values())
        bound = max(len(caches) * image / config.registry.egress,
                    max((c.nodes * image / proxy.egress for c in caches), default=0.0))
        record = RolloutRecord(
            strategy=config.distribution.strategy, data_plane=config.data_plane, nodes=n, image_bytes=image,
            starts=self.starts, ends=self.ends, bound_name="proxy_bound_s", bound_s=bound,
            central_bound_s=n * image / config.registry.egress, registry_egress_bytes=self.registry_egress,
            delivered_bytes=n * image, peer_bytes=0, registry_cpu_busy_s=frontend_busy_s(world),
            events=int(getattr(world.env, "events", 0)))
        kpis = rollout_kpis(record, model={"caches": len(caches)},
                            sources={"cache_fills": sum(c.fills for c in caches),
                                     "cache_pass_through": sum(c.passes for c in caches)})
        if self.gate is not None:
            kpis.update(self.gate.kpis())
            kpis["nodes_failed"] = len(self.failed)
        if self.preheat.active:
            kpis.update(self.preheat.kpis())
            kpis["preheat_cache_fills"] = self.preheat_fills
        notes = [
            f"proxy-cache: {n} nodes x {image / 1e6:.0f} MB through {len(caches)} pull-through cache(s) "
            f"({proxy.placement} placement, {proxy.egress * 8 / 1e9:.3g} Gbit/s egress each) in front of "
            f"{config.registry.egress * 8 / 1e9:.3g} Gbit/s of registry egress; bound {bound:.1f} s, simulated "
            f"makespan {kpis['makespan_s']:.1f} s; the registry sent {self.registry_egress / 1e9:.2f} GB "
            f"({kpis['back_to_source_share']:.2%} of the bytes delivered)." if n else "Empty rollout.",
        ]
        if self.preheat.active:
            notes.append(self.preheat.note())
        return rollout_result(record, kpis, self._utilisation, notes)

    def _utilisation(self, times: np.ndarray) -> dict[str, np.ndarray]:
        """Utilisation of the registry's egress (the frontends' gateway) and the caches' mean
        uplink utilisation at ``times``."""
        assert self.recorder is not None, "the run has not started"
        values = self.recorder.at(times)
        return {"registry_egress": values[:, 0], "cache_egress": values[:, 1:].mean(axis=1)}
