"""Peer-to-peer rollouts: ``p2p-swarm`` (tracker, rarest-first) and ``p2p-scheduler`` (assigned parents).

The control plane runs for real, as in the central model: every node logs in (a token per node),
GETs the manifest and has each layer's blob authorised by the registry, each request priced on a
frontend. Then the node joins one swarm per layer and downloads it in pieces from other nodes and
from the origins, decided by the real agents, tracker or scheduler of :mod:`regsim.registry.p2p`
and moved by a data plane of :mod:`.planes` (see :mod:`.swarm` for the connections).

- **Origins** are hosts beside the registry with the nodes' NIC. They are *preheated*: each pulls
  every layer from the registry when the image is pushed (Kraken's origins receive the push,
  Dragonfly preheats its seed peers), a real registry read priced on the simulated platform
  before the rollout starts; ``origin_preheat_s`` says how long it took, and the rollout's clock
  starts after it.
- **Push-triggered preheat** (``distribution.preheat``, :mod:`.preheat`): the preheated nodes pull
  the image from the registry at the same time as the origins (the push triggers both); the
  rollout starts when both have finished. A preheated node is a seeder from the rollout's start
  (as ``distribution.p2p.seeders``, whose bytes the preheat fetched: counted in ``preheat_bytes``,
  not in the rollout's ``registry_egress_bytes``, which keep the origins' preheat as before), does
  not pull in the rollout, and its upload counts in the Kumar-Ross bound's u_s. Not with seeders,
  nor on the ``real`` data plane (a seeder holds no real bytes).
- **Upload slots** (``distribution.p2p.upload_slots``) are per swarm, as Kraken limits connections
  per torrent: a host uploads each layer to at most that many peers at once; its NIC is shared by
  all. A tracker-driven peer downloads from at most as many sources per layer, each connection
  pipelining :data:`PIPELINE` pieces (Kraken's default); a scheduler-driven one from its
  ``parents``, a piece at a time from each (Dragonfly requests pieces one by one), so that the
  scheduler's count of a parent's children and its upload slots are the same thing. The
  scheduler applies Dragonfly's parent filter (``streaming``: a parent that is itself still
  downloading qualifies, and its children take its pieces as they land) and keeps the parent
  graph acyclic, as Dragonfly's DAG does; a peer left without parents asks again every
  :data:`RETRY_INTERVAL` (Dragonfly's ``retryInterval``).
- **Pieces** of ``distribution.p2p.piece_size`` are scheduled one by one while the run needs at
  most ``max_arrivals`` piece arrivals (nodes x pieces of every layer); a larger run has its
  pieces grouped into runs of consecutive pieces, as few as keep it within that budget
  (``sim_piece_bytes`` says the unit used; docs/p2p.md states what grouping changes). Cost thus
  grows with nodes x pieces up to the budget and no further.
- **Data plane** (``data_plane``): ``modelled`` moves no bytes; ``real`` moves and verifies every
  piece's bytes, read from the serving agent or origin; ``sampled`` moves none in the swarm but
  replays the first :data:`SAMPLED_NODES` nodes' layers for real when they complete -- real bytes
  read from the registry by an origin, handed piece by piece to an agent that verifies each piece
  and the assembled blob.

Bounds in the KPIs: ``central_bound_s`` = N*F/u_registry; ``kumar_ross_bound_s`` =
max(F/u_s, F/d_min, N*F/(u_s + sum u_i)) with u_s the origins' (and seeders') upload. KPIs: the
common ones of :mod:`.kpis`, plus the pieces (``piece_size``, ``sim_piece_bytes``), the data plane
(``flow_model``), ``origin_preheat_s``, ``origin_bytes_share`` and the work done
(``verified_bytes``, ``piece_arrivals``, ``connections``, ``reshares``, ``decisions``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from regsim.models.core.replay import Replay, combine
from regsim.models.core.result import VariantResult
from regsim.models.core.spec import ModelError, Progress
from regsim.models.core.work import SAMPLED_NODES, RegistryWork
from regsim.models.core.world import REGISTRY_RACK, build_world
from regsim.registry import receipts
from regsim.registry.p2p import Agent, MetaInfo, Origin, Scheduler, Swarm, Tracker

from .config import RolloutConfig
from .kpis import RolloutRecord, frontend_busy_s, kumar_ross_bound, rollout_kpis, rollout_result
from .layer_fetch import fetch_layer, range_work
from .peers import Layer, Peer
from .plane_exact import ExactPlane
from .planes import ROUNDS, FluidPlane
from .preheat import PreheatPhase
from .swarm import SwarmDriver

#: most piece arrivals (nodes x pieces) a run simulates; beyond it pieces are grouped into runs.
MAX_ARRIVALS = 700_000
#: pieces a connection asks for per agent decision (Kraken's default pipeline limit).
PIPELINE = 3
#: seconds between a parentless peer's requests to the scheduler (Dragonfly's retryInterval).
RETRY_INTERVAL = 0.05
#: the fluid plane's window as a fraction of the time one piece takes at a node's full download rate.
WINDOW_FRACTION = 0.05
#: the data planes a run can use: the fluid approximation, or the exact flow model as reference
PLANES = ("fluid", "exact")


#: bytes of TCP payload per segment (1,500-byte MTU less IPv4, TCP and timestamp headers)
MSS = 1448


def connection_setup_s(config: RolloutConfig) -> float:
    """Seconds before a new peer connection moves piece bytes at its fair rate: ``connect_rtts``
    round trips of handshakes, then slow start from ``initial_window`` segments, doubling every
    round trip until the window covers a node's rate times the round trip (the rounds counted as
    lost time: a conservative reading of the bytes slow start does send). The round trip is that
    of two nodes in different racks (in one rack when there is one), at the scenario's latencies."""
    p2p, cluster = config.distribution.p2p, config.cluster
    one_way = 2 * cluster.latency.host + (2 * cluster.latency.core if cluster.racks > 1 else 0.0)
    rtt = 2 * one_way
    if rtt <= 0:
        return 0.0
    rate = min(cluster.node.nic.up, cluster.node.nic.down)
    window = rate * rtt / (p2p.initial_window * MSS)
    rounds = math.ceil(math.log2(window)) if window > 1 else 0
    return (p2p.connect_rtts + rounds) * rtt


def simulate_p2p(config: RolloutConfig, seed: int, progress: Progress | None = None, *, plane: str = "fluid",
                 max_arrivals: int = MAX_ARRIVALS, window_fraction: float = WINDOW_FRACTION,
                 rounds: int = ROUNDS) -> VariantResult:
    """Simulate a P2P rollout; ``plane`` picks the data plane (``fluid``, or the ``exact`` reference)."""
    run = P2PRun(config, seed, progress, plane=plane, max_arrivals=max_arrivals, window_fraction=window_fraction,
                 rounds=rounds)
    run.run()
    return run.result()


class P2PRun:
    """One P2P rollout: the world, the real registry, origins, swarms, and the nodes' pulls."""

    def __init__(self, config: RolloutConfig, seed: int, progress: Progress | None = None, *, plane: str = "fluid",
                 max_arrivals: int = MAX_ARRIVALS, window_fraction: float = WINDOW_FRACTION,
                 rounds: int = ROUNDS) -> None:
        rollout, dist = config.workload, config.distribution
        if plane not in PLANES:
            raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
        if dist.strategy not in ("p2p-swarm", "p2p-scheduler"):
            raise ModelError(f"the P2P model simulates p2p-swarm and p2p-scheduler, not {dist.strategy!r}")
        if getattr(rollout, "repeat", 1) != 1:
            raise ModelError(f"{dist.strategy}: a node pulls the image once in this model; "
                             f"workload.repeat must be 1, got {rollout.repeat}")
        self.config, self.progress, self.p2p = config, progress, dist.p2p
        self.mode = "tracker" if dist.strategy == "p2p-swarm" else "scheduler"
        self.world = world = build_world(config, seed)
        self.replay = Replay(world)
        self.work = RegistryWork(config, seed)
        nodes = world.nodes[: rollout.nodes or len(world.nodes)]
        if self.p2p.seeders >= len(nodes):
            raise ModelError(f"distribution.p2p.seeders: {self.p2p.seeders} seeders leave no node of the "
                             f"{len(nodes)} to pull the image")
        self.seeders, self.targets = nodes[: self.p2p.seeders], nodes[self.p2p.seeders:]
        #: the push's preheat: its nodes seed from the rollout's start and do not pull in it
        self.pushed = PreheatPhase(dist.preheat, self.targets, world.node_rack.__getitem__)
        if self.pushed.active and self.seeders:
            raise ModelError("distribution.preheat: preheated nodes are seeders; set distribution.p2p.seeders "
                             "or distribution.preheat, not both")
        if self.pushed.hosts and config.data_plane == "real":
            raise ModelError("distribution.preheat needs the modelled or sampled data plane: preheated nodes "
                             "seed as seeders do, and seeders hold no real bytes")
        self.targets = self.pushed.pullers(self.targets)
        self.real = config.data_plane == "real"
        if self.real:
            self.work.check_real_budget(len(nodes))
            if self.seeders:
                raise ModelError("distribution.p2p.seeders needs the modelled or sampled data plane: "
                                 "seeders hold no real bytes")
        topo, nic = world.topology, config.cluster.node.nic
        self.origin_nic = self.p2p.origin_nic or nic
        self.origins = [f"origin{i}" for i in range(self.p2p.origins)]
        for host in self.origins:
            topo.add_host(host, rack=REGISTRY_RACK, nic_up=self.origin_nic.up, nic_down=self.origin_nic.down)
        self.piece_size = int(self.p2p.piece_size)
        #: origins super-seed under a tracker unless told otherwise; a scheduler's seed peers do not
        self.super_seeding = (self.mode == "tracker" if self.p2p.super_seeding is None
                              else bool(self.p2p.super_seeding))
        pieces = sum(math.ceil(s / self.piece_size) for s in self.work.sizes)
        self.group = 1 if self.real else max(1, math.ceil(len(self.targets) * pieces / max_arrivals))
        self.unit = self.piece_size * self.group
        self.downloads = self.p2p.upload_slots if self.mode == "tracker" else self.p2p.parents
        self.pipeline = PIPELINE if self.mode == "tracker" else 1
        self.setup_s = connection_setup_s(config)
        self.rng = world.rr.stream("p2p/agents")
        self.tracker = Tracker(world.rr.stream("p2p/tracker"), self.p2p.handout) if self.mode == "tracker" else None
        self.driver = SwarmDriver(mode=self.mode, tracker=self.tracker, handout=self.p2p.peers,
                                  connections=self.downloads, pipeline=self.pipeline, on_done=self._layer_done,
                                  on_source=self._source, rng=world.rr.stream("p2p/driver"), real=self.real,
                                  retry_s=RETRY_INTERVAL, setup_s=self.setup_s,
                                  announce_s=float(self.p2p.announce_interval))
        if plane == "fluid":
            self.plane = FluidPlane(world.env, topo, self.driver.on_arrival, rounds=rounds,
                                    groups=self._groups(), window_s=window_fraction * self.unit / nic.down,
                                    model=world.net.model)
        else:
            self.plane = ExactPlane(world.env, world.net, self.driver.on_arrival, groups=self._groups())
        self.driver.attach(self.plane)
        self.registry_egress = 0
        self.preheat_s = 0.0
        self.starts: dict[str, float] = {}
        self.ends: dict[str, float] = {}
        self._left: dict[str, int] = {}
        self.layers: list[Layer] = []
        self.verified_bytes = 0
        self._shadow: list[tuple[Swarm, Origin]] = []
        #: per origin host, its seeds of every layer (a super-seeding origin looks at all of them)
        self._host_seeds: dict[str, list] = {}

    def _groups(self) -> dict[str, list[int]]:
        """Links whose mean utilisation the series report, by name.

        The registry's egress is the frontends' shared gateway link, which both planes route
        through."""
        topo = self.world.topology
        egress = [self.world.egress_link]
        groups = {
            "registry_egress": egress,
            "origin_upload": [topo.host(o).up for o in self.origins],
            "node_upload": [topo.host(n).up for n in self.pushed.hosts + self.targets],
            "node_download": [topo.host(n).down for n in self.targets],
        }
        racks = sorted({topo.host(n).rack for n in self.targets})
        if len(racks) > 1:
            groups["rack_uplink"] = [topo.racks[r].uplink for r in racks if topo.racks[r].uplink is not None]
        return groups

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> None:
        env = self.world.env
        env.process(self._rollout())
        env.run()
        missing = [n for n in self.targets if n not in self.ends]
        if missing:
            raise RuntimeError(f"{self.config.distribution.strategy}: {len(missing)} of {len(self.targets)} nodes "
                               f"never completed the image (e.g. {missing[:3]}); {self.driver.waiting} peers were "
                               "still waiting for a source")

    def _rollout(self):
        env = self.world.env
        origins = env.process(self._preheat())
        if self.pushed.hosts:  # the push preheats the origins and the preheated nodes at once
            pull = self.pushed.registry_pull(self.world, self.replay, self.work)
            yield env.all_of([origins, env.process(self.pushed.run(env, pull))])
        else:
            yield origins
        self._build_layers()
        for node in self.seeders + self.pushed.hosts:
            self._join_complete(node)
        spread = float(self.config.workload.start)
        offsets = np.zeros(len(self.targets))
        if spread > 0:
            offsets = self.world.rr.stream("rollout-starts").uniform(0.0, spread, len(self.targets))
        for i, (node, offset) in enumerate(zip(self.targets, offsets.tolist())):
            env.process(self._node(i, node, offset))

    def _preheat(self):
        """Every origin reads every layer from the registry: real reads, priced, before the rollout."""
        env = self.world.env
        yield env.all_of([env.process(self._preheat_origin(i, host)) for i, host in enumerate(self.origins)])
        self.preheat_s = env.now

    def _preheat_origin(self, i: int, host: str):
        world = self.world
        fe = world.frontends[i % len(world.frontends)]
        creds, login = self.work.login(host)
        yield from self.replay.request(host, fe, login)
        for index in range(len(self.work.sizes)):
            size = yield from fetch_layer(self.replay, self.work, host, fe, creds, index)
            self.registry_egress += size  # after the read: `x += yield ...` would lose concurrent updates

    def _build_layers(self) -> None:
        """One swarm per layer, seeded by every origin, with a scheduler when the strategy has one."""
        work = self.work
        for index, (digest, size) in enumerate(zip(work.layers, work.sizes)):
            slots = self.p2p.upload_slots * self.pipeline
            seeds = [Origin(host, work.registry, upload_slots=slots, super_seeding=self.super_seeding,
                            host_seeds=self._host_seeds.setdefault(host, [])) for host in self.origins]
            read = None
            if self.real:
                with receipts.suspended():  # the preheat priced these reads already
                    info = [seed.pull(work.repo, digest, self.unit, mode="whole") for seed in seeds][0]
                read = self._source_reader(index, info)
            else:
                info = MetaInfo.modelled(digest, size, self.unit)
                for seed in seeds:
                    seed.seed(info)
            swarm = Swarm(info)
            for seed in seeds:
                seed.join(swarm)
                if self.tracker is not None:
                    self.tracker.announce(seed.peer_id, digest, origin=True)
            scheduler = None
            if self.mode == "scheduler":
                scheduler = Scheduler(swarm, self.world.rr.stream(f"p2p/scheduler/{index}"), parents=self.p2p.parents,
                                      streaming=True)
            layer = Layer(index, info, swarm, scheduler, read)
            self.layers.append(layer)
            self.driver.add_layer(layer)
        if self.config.data_plane == "sampled":
            self._build_shadow()

    def _source_reader(self, index: int, info: MetaInfo) -> Callable[[int], bytes]:
        registry, repo, digest = self.work.registry, self.work.repo, self.work.layers[index]

        def read(piece: int) -> bytes:
            offset, length = info.piece_range(piece)
            return registry.read_blob(repo, digest, offset, length)
        return read

    def _agent(self, node: str, layer: Layer, have: np.ndarray | None = None) -> Agent:
        return Agent(node, layer.swarm, rng=self.rng, selector=self.p2p.selection,
                     upload_slots=self.p2p.upload_slots * self.pipeline, max_downloads=self.downloads * self.pipeline,
                     auto_back_to_source=self.mode == "tracker", have=have, node=node)

    def _join_complete(self, node: str) -> None:
        """A seeder: holds every layer when the run starts."""
        for layer in self.layers:
            peer = Peer(node, layer, self._agent(node, layer, np.ones(layer.info.num_pieces, dtype=bool)),
                        self.world.frontends[0])
            peer.done = self.world.env.now
            self.driver.join(peer)

    def _node(self, i: int, node: str, offset: float):
        """One node's pull: log in, GET the manifest, have each layer authorised, join its swarm."""
        env, world, work = self.world.env, self.world, self.work
        yield env.timeout(offset)
        self.starts[node] = env.now
        self._left[node] = len(self.layers)
        fe = world.frontends[i % len(world.frontends)]
        creds, login = work.login(node)
        yield from self.replay.request(node, fe, login)
        yield from self.replay.request(node, fe, combine(work.authorize(creds), work.manifest_get()))
        for layer in self.layers:
            env.process(self._join(node, fe, creds, layer))

    def _join(self, node: str, fe: str, creds: object, layer: Layer):
        yield from self.replay.request(node, fe, self.work.authorize(creds))
        self.driver.join(Peer(node, layer, self._agent(node, layer), fe))

    def _layer_done(self, peer: Peer, t: float) -> None:
        left = self._left[peer.node] = self._left[peer.node] - 1
        if left == 0:
            self.ends[peer.node] = t
            if self.config.data_plane == "sampled" and len(self.ends) <= SAMPLED_NODES:
                self._verify(peer.node)
            if self.progress is not None:
                self.progress(len(self.ends) / len(self.targets))

    def _source(self, peer: Peer, nbytes: int) -> None:
        """A back-to-source request: the registry's real work for the range, priced on the frontend."""
        self.registry_egress += nbytes
        self.world.executor.process(range_work(self.work, peer.layer.index, nbytes, peer.frontend))

    # -- sampled data plane -------------------------------------------------------------------
    def _build_shadow(self) -> None:
        """An origin holding the registry's real bytes of every layer, for the sampled nodes."""
        for index, digest in enumerate(self.work.layers):
            origin = Origin(f"shadow{index}", self.work.registry, upload_slots=1 << 30)
            with receipts.suspended():
                info = origin.pull(self.work.repo, digest, self.piece_size, mode="whole")
            swarm = Swarm(info)
            origin.join(swarm)
            self._shadow.append((swarm, origin))

    def _verify(self, node: str) -> None:
        """Replay ``node``'s pull with real bytes: every piece verified by an agent, then the blob."""
        for swarm, origin in self._shadow:
            seed = origin.seed_of(swarm.metainfo.digest)
            agent = Agent(node, swarm, rng=self.rng, upload_slots=1, max_downloads=max(1, swarm.num_pieces),
                          node=node)
            for piece, source in agent.next_requests([seed]):
                agent.on_piece(piece, source.read_piece(piece))
            agent.verify_blob()
            self.verified_bytes += swarm.metainfo.size
            agent.leave()

    # -- results -----------------------------------------------------------------------------
    def result(self) -> VariantResult:
        """The common rollout KPIs (held to the Kumar-Ross bound), plus the pieces, the origins and
        what the data plane and the driver did."""
        config, nic = self.config, self.config.cluster.node.nic
        image = sum(self.work.sizes)
        n = len(self.targets)
        peers = [p for p in self.driver.peers if p.node in self.ends]
        from_peers = sum(p.from_peers for p in peers)
        from_origins = sum(p.from_origins for p in peers)
        delivered = from_peers + from_origins + sum(p.from_source for p in peers)
        # the hosts' own rates: nominal unless cluster.node.variation makes some slower
        topo = self.world.topology
        rate = lambda host, way: topo.links[getattr(topo.host(host), way)].capacity  # noqa: E731
        server_up = len(self.origins) * self.origin_nic.up + sum(rate(s, "up")
                                                                  for s in self.seeders + self.pushed.hosts)
        d_min = min((rate(t, "down") for t in self.targets), default=nic.down)
        bound = kumar_ross_bound(image, n, server_up, d_min, sum(rate(t, "up") for t in self.targets))
        central = n * image / config.registry.egress
        stats = self.plane.stats
        record = RolloutRecord(
            strategy=config.distribution.strategy, data_plane=config.data_plane, nodes=n, image_bytes=image,
            starts=self.starts, ends=self.ends, bound_name="kumar_ross_bound_s", bound_s=bound,
            central_bound_s=central, registry_egress_bytes=self.registry_egress, delivered_bytes=delivered,
            peer_bytes=from_peers, registry_cpu_busy_s=frontend_busy_s(self.world),
            events=int(getattr(self.world.env, "events", 0)))
        kpis = rollout_kpis(
            record,
            setup={"piece_size": self.piece_size, "sim_piece_bytes": self.unit},
            model={"flow_model": self.plane.name},
            before_egress={"origin_preheat_s": self.preheat_s},
            sources={"origin_bytes_share": from_origins / delivered if delivered else 0.0},
            work={"verified_bytes": self.verified_bytes, "piece_arrivals": stats.arrivals,
                  "connections": stats.opened, "reshares": stats.reshares, "decisions": self.driver.decisions})
        kpis.update(self.pushed.kpis())
        makespan = kpis["makespan_s"]
        notes = [
            f"{config.distribution.strategy}: {n} nodes x {image / 1e6:.0f} MB in pieces of "
            f"{self.piece_size / 2**20:g} MiB (scheduled as runs of {self.group}: {self.unit / 2**20:g} MiB), "
            f"{len(self.origins)} preheated origin(s) at {self.origin_nic.up * 8 / 1e9:.3g} Gbit/s; node NICs "
            f"{nic.up * 8 / 1e9:.3g} up / {nic.down * 8 / 1e9:.3g} down Gbit/s. Kumar-Ross bound {bound:.1f} s; "
            f"simulated makespan {makespan:.1f} s ({makespan / bound:.3f}x the bound) on the {self.plane.name} "
            f"data plane; central pulls would need at least {central:.1f} s." if bound else "Empty rollout.",
            f"Pulls: p50 {kpis['pull_p50_s']:.2f} s, p99 {kpis['pull_p99_s']:.2f} s, "
            f"p99.9 {kpis['pull_p999_s']:.2f} s, "
            f"max {kpis['pull_max_s']:.2f} s; {kpis['peer_bytes_share']:.1%} of the bytes came from other nodes, "
            f"origins preheated in {self.preheat_s:.1f} s.",
        ]
        if self.pushed.active:
            notes.append(self.pushed.note())
        return rollout_result(record, kpis, self._utilisation, notes)

    def _utilisation(self, times: np.ndarray) -> dict[str, np.ndarray]:
        """The plane's group utilisations at ``times`` (the registry's egress: its gateway's)."""
        return self.plane.utilisation(times)
