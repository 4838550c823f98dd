"""Node-local mirror rollouts (``distribution.strategy: node-mirror``): Spegel on every node.

Every targeted node runs a mirror (:class:`regsim.registry.dht.Mirror`) on one Kademlia DHT
(:class:`regsim.registry.dht.Network`, built with the run's seed and converged before the rollout
starts; records timed as Spegel's, :data:`~regsim.registry.dht.SPEGEL`, and republished while the
rollout runs). A node's control plane is the central one -- a token and the manifest through the
registry -- and then, for each layer (at most :data:`~.central.MAX_CONCURRENT_DOWNLOADS` at a
time), its mirror resolves the layer: a GET_PROVIDERS lookup in the DHT, then the providers in the
mirror's order (same rack first with ``zone_aware``): a peer answers ``ok`` (an upload slot held
for the transfer), ``busy`` (``max_uploads`` uploads in flight) or ``not_found``; a refused request
costs one round trip and the node tries the next; with none left the node falls back to the
registry (the layer authorised and read whole, as a pull-through cache's fill,
:func:`~.layer_fetch.fetch_layer`). A node advertises a layer (a provide: a FIND_NODE lookup and one
round of ADD_PROVIDER) once its whole image is in (``advertise: image``, Spegel's behaviour) or as
each layer lands (``layer``).

Pricing, stated:

- **a DHT operation** is its synchronous rounds (:meth:`~regsim.registry.dht.LookupResult.by_round`),
  each one zero-byte transfer from the node to the farthest peer asked in that round (the project's
  round-trip convention, as a registry request's); a lookup the node answers from its own records
  (0 rounds) costs nothing. The DHT answers as of the moment the lookup starts (the library call is
  instantaneous); a provide's records are visible from the moment it starts, while its rounds are
  priced in a process of its own that does not hold the pull (Spegel advertises asynchronously).
  In a cluster those are a few RTTs of well under a millisecond each against layer transfers of
  seconds.
- **a peer upload** is a flow from the serving node's NIC up to the puller's NIC down, side by side
  with a read of the layer from the serving node's disk (``cluster.node.disk.read``, a
  :class:`~regsim.sim.disk.Disk` per node made here, one read at a time, FIFO); it takes as long as
  the slower of the two (``disk_reads: false``: the network alone).
- the puller's disk writes are not priced (as in every rollout model).

KPIs: the common ones of :mod:`.kpis` (held to the Kumar-Ross bound: the registry's egress plus
every node's upload), plus the mirror's settings (``advertise``, ``max_uploads`` -- 0 for no
cap -- and ``zone_aware``), ``registry_share`` (layer fetches that went to
the registry over all), ``peer_cross_rack_share`` (peer bytes that crossed racks),
``max_uploads_per_node`` (the most uploads one node served at once: the hot spot),
``max_uploaded_bytes_per_node``, ``busy_refusals``, ``not_found_refusals``, ``dht_lookups`` with
their simulated latency (``dht_lookup_p50_s``, ``dht_lookup_p99_s``) and rounds
(``dht_lookup_rounds_mean``/``_max``), ``dht_provides`` with ``dht_provide_p50_s``, and
``dht_rpcs`` (every GET_PROVIDERS, FIND_NODE and ADD_PROVIDER of the rollout's lookups, provides
and republishes; the network's build is not counted).

With ``distribution.preheat`` (:mod:`.preheat`) the preheated nodes pull the image from the
registry before the rollout, all at once; at the rollout's start each holds it and advertises
every layer (its provides start then, as a node's that completed its image), so the DHT names them
from the first lookup on. They do not pull in the rollout (``nodes``, the bound's N and the
pull statistics count the others) but serve it: with ``to: one`` every node finds the one provider
-- the hot spot that ``max_uploads`` then caps, sending the refused to the registry. Their uploads
count in the Kumar-Ross bound's u_s.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import numpy as np
import simpy

from regsim.models.core.replay import combine
from regsim.models.core.result import VariantResult
from regsim.models.core.spec import Progress
from regsim.models.core.work import SAMPLED_NODES
from regsim.registry.dht import (
    BUSY,
    NOT_FOUND,
    SPEGEL,
    Contact,
    MemoryContent,
    Mirror,
    Network,
    ProvideResult,
    Rpc,
    random_id,
)
from regsim.sim.disk import Disk
from regsim.sim.network import LinkRecorder

from .central import MAX_CONCURRENT_DOWNLOADS
from .config import RolloutConfig
from .single_pull import SinglePullRun
from .kpis import RolloutRecord, frontend_busy_s, kumar_ross_bound, rollout_kpis, rollout_result
from .layer_fetch import fetch_layer
from .preheat import PreheatPhase

#: seconds between the republish sweeps of the mirrors (each provides again what is due)
REPUBLISH_POLL_S = 60.0


def simulate_mirror(config: RolloutConfig, seed: int, progress: Progress | None = None) -> VariantResult:
    """Simulate a rollout through node-local mirrors on a DHT."""
    run = MirrorRun(config, seed, progress)
    run.run()
    return run.result()


def build_dht(hosts: list[str], seed: int, **options: object) -> Network:
    """A converged DHT with one node per host, addressed by host name (:meth:`Network.build`'s
    join-then-converge, with the hosts' names as addresses)."""
    net = Network(**options)  # type: ignore[arg-type]
    rng = random.Random(seed)
    nodes = [net.add(Contact(random_id(rng), host), rng=random.Random(rng.getrandbits(64))) for host in hosts]
    for node in nodes[1:]:
        node.join(nodes[0].contact)
    net.converge()
    return net


class MirrorRun(SinglePullRun):
    """One node-mirror rollout: the world, the DHT with a mirror per node, and the nodes' pulls."""

    strategy = "node-mirror"

    def __init__(self, config: RolloutConfig, seed: int, progress: Progress | None = None) -> None:
        super().__init__(config, seed, progress)
        self.options = options = config.distribution.mirror
        world = self.world
        env, topo = world.env, world.topology
        self.rack = {n: topo.host(n).rack for n in self.targets}
        dht_seed = int(world.rr.stream("mirror-dht").integers(0, 2**63 - 1))
        self.dht = build_dht(self.targets, dht_seed, clock=lambda: env.now, k=options.k, alpha=options.alpha,
                             record_ttl=SPEGEL.ttl_s, republish_interval=SPEGEL.republish_s)
        self.mirrors = {n: Mirror(self.dht[n], MemoryContent(), max_uploads=options.max_uploads,
                                  advertise=options.advertise, zone_of=self.rack.__getitem__,
                                  prefer_same_zone=options.zone_aware, resolve_count=options.resolve_count)
                        for n in self.targets}
        self.disks = {n: Disk(env, topo.host(n).disk_read, topo.host(n).disk_write, name=f"{n}/disk")
                      for n in self.targets} if options.disk_reads else {}
        #: the push's preheat: its nodes hold and advertise the image at the rollout's start
        self.preheat = PreheatPhase(config.distribution.preheat, self.targets, self.rack.__getitem__)
        self.pullers = self.preheat.pullers(self.targets)
        self.starts: dict[str, float] = {}
        self.ends: dict[str, float] = {}
        self.registry_egress = 0
        self.registry_layers = self.peer_layers = 0
        self.peer_bytes = self.cross_rack_bytes = 0
        #: the most uploads each node served at once
        self.peak_uploads: dict[str, int] = {}
        #: simulated seconds and rounds of each GET_PROVIDERS lookup; seconds of each provide
        self.lookup_s: list[float] = []
        self.lookup_rounds: list[int] = []
        self.provide_s: list[float] = []
        self.rpcs = 0
        self.done = env.event()
        self.recorder: LinkRecorder | None = None

    def run(self) -> None:
        offsets = self.start_offsets()
        topo = self.world.topology
        links = [self.world.egress_link] + [topo.host(n).up for n in self.targets]
        self.recorder = LinkRecorder(self.world.net, links)
        self.launch(offsets)

    def _start_nodes(self, offsets: list[float]) -> None:
        env = self.world.env
        for i, (node, offset) in enumerate(zip(self.pullers, offsets)):
            env.process(self._node(i, node, offset))
        if self.pullers:  # the republish sweeps run until the last pull ends
            env.process(self._republish())

    def _preheat_then_start(self, offsets: list[float]):
        """The push's preheat (registry pulls, all at once); then each preheated node stores the
        image and advertises it, and the rollout starts."""
        pull = self.preheat.registry_pull(self.world, self.replay, self.work, self.work.manifest_pull)
        yield from self.preheat.run(self.world.env, pull)
        for node in self.preheat.hosts:
            mirror = self.mirrors[node]
            provides = [p for digest, size in zip(self.work.layers, self.work.sizes)
                        if (p := mirror.add_layer(digest, size)) is not None]
            self._advertise(node, provides + mirror.complete_image(self.work.layers))
        self._start_nodes(offsets)

    # -- a node's pull -----------------------------------------------------------------------
    def _node(self, i: int, node: str, offset: float):
        env, world, work = self.world.env, self.world, self.work
        yield env.timeout(offset)
        self.starts[node] = env.now
        fe = world.frontends[i % len(world.frontends)]
        creds, login = work.login(node)
        yield from self.replay.request(node, fe, login)
        yield from self.replay.request(node, fe, combine(work.authorize(creds), work.manifest_pull()))
        downloads = simpy.Resource(env, MAX_CONCURRENT_DOWNLOADS)
        verify = i < SAMPLED_NODES
        yield env.all_of([env.process(self._layer(node, fe, creds, index, downloads, verify))
                          for index in range(len(work.sizes))])
        self.ends[node] = env.now
        self._advertise(node, self.mirrors[node].complete_image(work.layers))
        if len(self.ends) == len(self.pullers):
            self.done.succeed()
        if self.progress is not None:
            self.progress(len(self.ends) / len(self.pullers))

    def _layer(self, node: str, fe: str, creds: object, index: int, downloads: simpy.Resource, verify: bool):
        env, net = self.world.env, self.world.net
        digest, size = self.work.layers[index], self.work.sizes[index]
        mirror = self.mirrors[node]
        with downloads.request() as slot:
            yield slot
            t0 = env.now
            resolution = mirror.resolve(digest)
            lookup = resolution.lookup
            if lookup is not None:
                self.rpcs += lookup.rpc_count
                self.lookup_rounds.append(lookup.rounds)
                yield from self._rounds(node, lookup.by_round())
                self.lookup_s.append(env.now - t0)
            served = False
            for peer in resolution.candidates:
                host = peer.addr
                upload = self.mirrors[host].open_upload(digest)
                if not upload.ok:  # busy or not found: the request's round trip, then the next provider
                    yield net.transfer(node, host, 0)
                    continue
                self.peak_uploads[host] = max(self.peak_uploads.get(host, 0), self.mirrors[host].uploads)
                with upload:
                    moves = [net.transfer(host, node, size, tag="peer")]
                    if self.disks:
                        moves.append(env.process(self.disks[host].read(size)))
                    yield env.all_of(moves)
                self.peer_layers += 1
                self.peer_bytes += size
                if self.rack[host] != self.rack[node]:
                    self.cross_rack_bytes += size
                served = True
                break
            if not served:
                yield from fetch_layer(self.replay, self.work, node, fe, creds, index, verify=verify)
                self.registry_egress += size  # after the read: `x += yield ...` would lose concurrent updates
                self.registry_layers += 1
        provide = mirror.add_layer(digest, size)
        if provide is not None:
            self._advertise(node, [provide])

    # -- the DHT's time ----------------------------------------------------------------------
    def _rounds(self, node: str, rounds: Iterable[list[Rpc]]):
        """Each round: one round trip to the farthest peer asked in it (all went out together)."""
        topo, net = self.world.topology, self.world.net
        for rpcs in rounds:
            if rpcs:
                far = max((r.dst.addr for r in rpcs), key=lambda host: topo.latency(node, host))
                yield net.transfer(node, far, 0)

    def _advertise(self, node: str, provides: list[ProvideResult]) -> None:
        """Price provides in a process of their own (the pull does not wait for them)."""
        if provides:
            self.rpcs += sum(p.rpc_count for p in provides)
            self.world.env.process(self._provide(node, provides))

    def _provide(self, node: str, provides: list[ProvideResult]):
        env = self.world.env
        # one mirror's provides go out together (Spegel advertises an image's layers in a loop of
        # non-blocking provides): each takes its own rounds
        t0 = env.now
        yield env.all_of([env.process(self._rounds(node, p.by_round())) for p in provides])
        self.provide_s.extend([env.now - t0] * len(provides))

    def _republish(self):
        """Every mirror provides again what is due, until the rollout is over (records live
        ``SPEGEL.ttl_s``; a rollout longer than that needs them renewed)."""
        env = self.world.env
        while not self.done.triggered:
            yield env.any_of([env.timeout(REPUBLISH_POLL_S), self.done])
            if self.done.triggered:
                break
            for mirror in self.mirrors.values():
                self.rpcs += sum(p.rpc_count for p in mirror.republish())

    # -- results -----------------------------------------------------------------------------
    def result(self) -> VariantResult:
        config, options, world = self.config, self.options, self.world
        image = sum(self.work.sizes)
        n = len(self.pullers)
        topo = world.topology
        rate = lambda host, way: topo.links[getattr(topo.host(host), way)].capacity  # noqa: E731
        d_min = min((rate(t, "down") for t in self.pullers), default=config.cluster.node.nic.down)
        server_up = config.registry.egress + sum(rate(h, "up") for h in self.preheat.hosts)
        bound = kumar_ross_bound(image, n, server_up, d_min, sum(rate(t, "up") for t in self.pullers))
        delivered = image * len(self.ends)
        record = RolloutRecord(
            strategy=config.distribution.strategy, data_plane=config.data_plane, nodes=n, image_bytes=image,
            starts=self.starts, ends=self.ends, bound_name="kumar_ross_bound_s", bound_s=bound,
            central_bound_s=n * image / config.registry.egress, registry_egress_bytes=self.registry_egress,
            delivered_bytes=delivered, peer_bytes=self.peer_bytes, registry_cpu_busy_s=frontend_busy_s(world),
            events=int(getattr(world.env, "events", 0)))
        fetches = self.registry_layers + self.peer_layers
        lookups = np.asarray(self.lookup_s, float)
        q = np.quantile(lookups, [0.5, 0.99]) if lookups.size else np.zeros(2)
        answers = [m.answers for m in self.mirrors.values()]
        kpis = rollout_kpis(
            record,
            setup={"advertise": options.advertise,
                   "max_uploads": options.max_uploads if options.max_uploads is not None else 0,
                   "zone_aware": options.zone_aware},
            sources={"registry_share": self.registry_layers / fetches if fetches else 0.0,
                     "peer_cross_rack_share": self.cross_rack_bytes / self.peer_bytes if self.peer_bytes else 0.0},
            work={"max_uploads_per_node": max(self.peak_uploads.values(), default=0),
                  "max_uploaded_bytes_per_node": max((m.bytes_served for m in self.mirrors.values()), default=0),
                  "busy_refusals": sum(a[BUSY] for a in answers),
                  "not_found_refusals": sum(a[NOT_FOUND] for a in answers),
                  "dht_lookups": len(self.lookup_s),
                  "dht_lookup_p50_s": float(q[0]), "dht_lookup_p99_s": float(q[1]),
                  "dht_lookup_rounds_mean": float(np.mean(self.lookup_rounds)) if self.lookup_rounds else 0.0,
                  "dht_lookup_rounds_max": max(self.lookup_rounds, default=0),
                  "dht_provides": len(self.provide_s),
                  "dht_provide_p50_s": float(np.median(self.provide_s)) if self.provide_s else 0.0,
                  "dht_rpcs": self.rpcs})
        kpis.update(self.preheat.kpis())
        notes = [
            f"node-mirror: {n} nodes x {image / 1e6:.0f} MB through Spegel-style mirrors on a k={options.k} "
            f"DHT (advertise {options.advertise}, max_uploads {options.max_uploads or 'none'}, "
            f"{'zone-aware' if options.zone_aware else 'zone-blind'}); {kpis['registry_share']:.1%} of the layer "
            f"fetches went to the registry, which sent {self.registry_egress / 1e9:.2f} GB; the busiest node "
            f"served {kpis['max_uploads_per_node']} uploads at once; simulated makespan "
            f"{kpis['makespan_s']:.1f} s." if n else "Empty rollout.",
        ]
        if self.preheat.active:
            notes.append(self.preheat.note())
        return rollout_result(record, kpis, self._utilisation, notes)

    def _utilisation(self, times: np.ndarray) -> dict[str, np.ndarray]:
        """Utilisation of the registry's egress (the frontends' gateway) and the nodes' mean uplink."""
        assert self.recorder is not None, "the run has not started"
        values = self.recorder.at(times)
        return {"registry_egress": values[:, 0], "node_uplink": values[:, 1:].mean(axis=1)}
