"""Rollout: every node pulls the image from the registry (``distribution.strategy: central``).

Each node's pull is what a container runtime does: authenticate, GET the manifest, then fetch the
layers, at most three at a time (Docker's default). Every request runs the real auth path and the
real registry; the registry's receipt is replayed on the simulated platform: fragment reads run
in parallel on the storage nodes' disks and NICs, decryption and decoding on a frontend's cores,
and the response streams to the node through the flow-level network while the registry reads
(a layer takes as long as the slowest of those: the per-extent work of a layer is priced as
its sum per resource, see :func:`regsim.models.core.work.merged`). Frontends take requests round-robin.

The closed form this must meet: N nodes pulling F bytes through an egress of u_s finish at
N*F/u_s when the egress is the bottleneck (tested within 1 %); that bound is ``central_bound_s``.
KPIs: the common ones of :mod:`.kpis`, plus the registry's ``codec``, ``encryption`` and
``auth_mode`` and the storage nodes' ``storage_read_bytes``.

With ``distribution.preheat`` (:mod:`.preheat`) the preheated nodes pull the image from the
registry before the rollout, all at once, by the same requests; in the rollout they skip their
pulls (with ``to: all`` the rollout is empty: makespan 0), and the rollout's KPIs and bound count
the other nodes only.
"""

from __future__ import annotations

import numpy as np
import simpy

from regsim.models.core.collection import fewer_collections
from regsim.models.core.replay import Replay, combine
from regsim.models.core.result import VariantResult
from regsim.models.core.storage_tier import tier_kpis, tier_usage
from regsim.models.core.upstream import upstream_gate
from regsim.models.core.spec import Progress
from regsim.models.core.work import SAMPLED_NODES, RegistryWork, on_frontend
from regsim.models.core.world import World, build_world
from regsim.registry.receipts import Receipt
from regsim.sim.joins import all_done
from regsim.sim.network import LinkRecorder

from .config import RolloutConfig
from .kpis import RolloutRecord, frontend_busy_s, rollout_kpis, rollout_result
from .preheat import PreheatPhase

#: layers a node downloads at once (Docker's default ``max-concurrent-downloads``)
MAX_CONCURRENT_DOWNLOADS = 3


def simulate_central(config: RolloutConfig, seed: int, progress: Progress | None = None) -> VariantResult:
    """Simulate a rollout in which every node pulls every layer from the registry."""
    world = build_world(config, seed)
    work = RegistryWork(config, seed)
    rollout = config.workload
    targets = world.nodes[: rollout.nodes or len(world.nodes)]
    work.check_real_budget(len(targets) * rollout.repeat)
    preheat = PreheatPhase(config.distribution.preheat, targets, world.node_rack.__getitem__)
    run = _Rollout(world, work, config, preheat.pullers(targets), progress, preheat)
    with fewer_collections():
        run.start()
        world.env.run()
    return run.result()


class _Rollout:
    """One central rollout: the nodes' pulls through the frontends, and what they took."""

    def __init__(self, world: World, work: RegistryWork, config: RolloutConfig, targets: list[str],
                 progress: Progress | None, preheat: PreheatPhase | None = None) -> None:
        self.world, self.work, self.config, self.targets = world, work, config, targets
        self.preheat = preheat
        self.progress = progress
        self.rollout = config.workload
        self.pulls: list[tuple[str, int, float, float]] = []  # node, repeat, start, end
        self.egress_bytes = 0
        self.total = len(targets) * self.rollout.repeat
        # the frontends' shared gateway: each frontend's NIC runs at the full egress, so a mean over
        # them would read 1 / frontends of the egress's utilisation
        self.recorder = LinkRecorder(world.net, [world.egress_link])
        self.replay = Replay(world)
        #: a public upstream's pull limit: a refused node's pull fails (``registry.upstream_limit``)
        self.gate = upstream_gate(config.registry.upstream_limit, lambda: world.env.now)
        self.failed: set[str] = set()
        #: what a layer's item cut short by a failing disk does (the run counts it): one for all
        self.on_failure = self.replay.on_failure()

    def start(self) -> None:
        if self.preheat is not None and self.preheat.hosts:
            self.world.env.process(self._preheat_then_start())
        else:
            self._start_nodes()

    def _preheat_then_start(self):
        """The push's preheat (the preheated nodes' pulls, all at once), then the rollout."""
        assert self.preheat is not None
        pull = self.preheat.registry_pull(self.world, self.replay, self.work, self.work.manifest_pull)
        yield from self.preheat.run(self.world.env, pull)
        self._start_nodes()

    def _start_nodes(self) -> None:
        spread = float(self.rollout.start)
        starts = np.zeros(len(self.targets))
        if spread > 0:
            starts = self.world.rr.stream("rollout-starts").uniform(0.0, spread, len(self.targets))
        for i, (node, t0) in enumerate(zip(self.targets, starts)):
            self.world.env.process(self._node(i, node, float(t0)))

    def _node(self, index: int, node: str, start: float):
        env, world = self.world.env, self.world
        if self.rollout.start:
            yield env.timeout(start)
        layers, verify = len(self.work.sizes), index < SAMPLED_NODES
        # an image of at most three layers fetches them all at once: no window to queue for
        at_once = layers <= MAX_CONCURRENT_DOWNLOADS
        downloads = None if at_once else simpy.Resource(env, MAX_CONCURRENT_DOWNLOADS)
        for repeat in range(self.rollout.repeat):
            t0 = env.now
            fe = world.frontends[(index + repeat) % len(world.frontends)]
            creds, login = self.work.login(node)
            yield from self._request(node, fe, login)
            manifest = self.work.manifest_pull()
            if self.gate is not None and not self.gate.admit(node):
                yield self.world.net.transfer(node, fe, 0)  # the manifest GET's round trip, answered 429
                self.failed.add(node)
                return
            yield from self._request(node, fe, combine(self.work.authorize(creds), manifest))
            if at_once:
                yield all_done(env, [self._layer_at_once(node, fe, creds, i, verify) for i in range(layers)])
            else:
                yield env.all_of([env.process(self._layer(node, fe, creds, i, downloads, verify))
                                  for i in range(layers)])
            self.pulls.append((node, repeat, t0, env.now))
            if self.progress is not None:
                self.progress(len(self.pulls) / self.total)
            if repeat + 1 < self.rollout.repeat and self.rollout.pause > 0:
                yield env.timeout(self.rollout.pause)

    def _request(self, node: str, fe: str, receipt: Receipt):
        """:meth:`Replay.request <regsim.models.core.replay.Replay.request>` run inside the node's
        own process: the round trip, then the registry's work, with no process of its own."""
        yield self.world.net.transfer(node, fe, 0)
        items = on_frontend(receipt, fe)
        if items:
            yield from self.world.executor.execute(items)

    def _layer_at_once(self, node: str, fe: str, creds: object, index: int, verify: bool) -> simpy.Event:
        """Layer ``index`` fetched without a process: an event that succeeds when it has arrived
        (:class:`_LayerFetch`)."""
        return _LayerFetch(self, node, fe, self.work.authorize(creds), index, verify).fetched

    def _layer(self, node: str, fe: str, creds: object, index: int, downloads: simpy.Resource, verify: bool):
        with downloads.request() as slot:
            yield slot
            yield from self._fetch(node, fe, creds, index, verify)

    def _fetch(self, node: str, fe: str, creds: object, index: int, verify: bool):
        yield from self.replay.request(node, fe, self.work.authorize(creds))
        receipt = self.work.layer_items(index, fe, verify_bytes=verify)
        size = self.work.sizes[index]
        self.egress_bytes += size
        # the registry streams: storage reads and transfers and the frontend's decryption run
        # side by side with the response (a layer takes as long as its slowest stage)
        yield from self.replay.stream(receipt, fe, node, size, tag="egress")

    # -- results -----------------------------------------------------------------------------

    def result(self) -> VariantResult:
        """The common rollout KPIs (held to the client-server bound N*F/u_s) and what the registry did."""
        config, world = self.config, self.world
        image = sum(self.work.sizes)
        ideal = len(self.targets) * self.rollout.repeat * image / config.registry.egress
        record = RolloutRecord(
            strategy=config.distribution.strategy, data_plane=config.data_plane, nodes=len(self.targets),
            image_bytes=image,
            starts={(node, repeat): start for node, repeat, start, _ in self.pulls},
            ends={(node, repeat): end for node, repeat, _, end in self.pulls},
            bound_name="central_bound_s", bound_s=ideal, central_bound_s=ideal,
            # every byte a node receives comes from the registry
            registry_egress_bytes=self.egress_bytes, delivered_bytes=self.egress_bytes, peer_bytes=0,
            registry_cpu_busy_s=frontend_busy_s(world), events=int(getattr(world.env, "events", 0)))
        kpis = rollout_kpis(
            record,
            setup={"codec": config.registry.storage.codec, "encryption": config.registry.encryption,
                   "auth_mode": config.registry.auth.mode},
            work={"storage_read_bytes": sum(d.bytes_read for d in world.disks.values())})
        makespan = kpis["makespan_s"]
        k, n = config.registry.storage.codec_kn()
        kpis.update(tier_kpis(config, tier_usage(world, config), span_s=makespan, stored_bytes=image * n / k,
                              pulled_bytes=self.egress_bytes))
        if self.gate is not None:
            kpis.update(self.gate.kpis())
            kpis["nodes_failed"] = len(self.failed)
        if self.preheat is not None:
            kpis.update(self.preheat.kpis())
        notes = [
            f"Central distribution: {len(self.targets)} nodes x {image / 1e6:.0f} MB through "
            f"{config.registry.egress * 8 / 1e9:.3g} Gbit/s of registry egress; the client-server bound "
            f"N*F/u_s is {ideal:.1f} s and the simulated makespan {makespan:.1f} s "
            f"({makespan / ideal:.3f}x the bound)." if ideal else "Empty rollout."
        ]
        if self.preheat is not None and self.preheat.active:
            notes.append(self.preheat.note())
        return rollout_result(record, kpis, self._utilisation, notes)

    def _utilisation(self, at: np.ndarray) -> dict[str, np.ndarray]:
        """Registry egress utilisation at the times ``at``: of the site's egress, the gateway link
        the frontends share (:attr:`~regsim.models.core.world.World.egress_link`)."""
        return {"registry_egress": self.recorder.at(at)[:, 0]}


class _LayerFetch:
    """One layer of a node's pull fetched without a process (:meth:`_Rollout._fetch`'s steps).

    The steps -- the auth check's round trip, its work, then the stream -- each start from the
    callback of the step before, at the moment the process would have resumed, so the simulated
    times are :meth:`_Rollout._fetch`'s; a rollout of 10,000 nodes saves 30,000 processes. One
    object with slots rather than three closures and their cells: with 30,000 fetches in flight
    at once, those were objects the garbage collector kept walking (with the disk's and the
    executor's closures made objects too, the collector's time in the start=all rollout went from
    0.9 s to 0.4 s and the peak memory from 352 MB to 289 MB).
    """

    __slots__ = ("run", "node", "fe", "auth", "index", "verify", "fetched")

    def __init__(self, run: _Rollout, node: str, fe: str, auth: Receipt, index: int, verify: bool) -> None:
        self.run, self.node, self.fe, self.auth, self.index, self.verify = run, node, fe, auth, index, verify
        world = run.world
        self.fetched = simpy.Event(world.env)
        world.net.transfer(node, fe, 0).callbacks.append(self.checked)

    def checked(self, _: simpy.Event) -> None:
        items = on_frontend(self.auth, self.fe)
        if items:
            self.run.world.executor.process(items).callbacks.append(self.stream)
        else:
            self.stream()

    def stream(self, _: simpy.Event | None = None) -> None:
        run, fe = self.run, self.fe
        world, work = run.world, run.work
        size = work.sizes[self.index]
        run.egress_bytes += size
        branches = [world.net.transfer(fe, self.node, size, tag="egress")]
        start, on_failure = world.executor.start, run.on_failure
        branches += [start(item, on_failure) for item in work.layer_items(self.index, fe, verify_bytes=self.verify)]
        all_done(world.env, branches).callbacks.append(self.streamed)

    def streamed(self, _: simpy.Event) -> None:
        self.fetched.succeed()
