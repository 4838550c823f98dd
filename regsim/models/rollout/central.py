"""Rollout: every node pulls the image from the registry (``distribution.strategy: central``).

Each node's pull is what a container runtime does: authenticate, GET the manifest, then fetch the
layers, at most three at a time (Docker's default). Every request runs the real auth path and the
real registry; the registry's receipt is replayed on the simulated platform: fragment reads run
in parallel on the storage nodes' disks and NICs, decryption and decoding on a frontend's cores,
and the response streams to the node through the flow-level network while the registry reads
(a layer takes as long as the slowest of those: the per-extent work of a layer is priced as
its sum per resource, see ``registry_work.merged``). Frontends take requests round-robin.

The closed form this must meet: N nodes pulling F bytes through an egress of u_s finish at
N*F/u_s when the egress is the bottleneck (tested within 1 %).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import simpy

from regsim.sim.network import LinkRecorder

from .config import RolloutConfig
from .kpis import series
from regsim.models.core.work import SAMPLED_NODES, RegistryWork, on_frontend
from regsim.models.core.replay import Replay, combine
from regsim.models.core.result import VariantResult
from regsim.models.core.world import World, build_world

MAX_CONCURRENT_DOWNLOADS = 3


def simulate_central(scenario: RolloutConfig, seed: int, progress: Callable[[float], None] | None = None) -> VariantResult:
    world = build_world(scenario, seed)
    work = RegistryWork(scenario, seed)
    rollout = scenario.workload
    targets = world.nodes[: rollout.nodes or len(world.nodes)]
    work.check_real_budget(len(targets) * rollout.repeat)
    run = _Rollout(world, work, scenario, targets, progress)
    run.start()
    world.env.run()
    return run.result()


class _Rollout:
    def __init__(self, world: World, work: RegistryWork, scenario: RolloutConfig, targets: list[str],
                 progress: Callable[[float], None] | None) -> None:
        self.world, self.work, self.scenario, self.targets = world, work, scenario, targets
        self.progress = progress
        self.rollout = scenario.workload
        self.pulls: list[tuple[str, int, float, float]] = []  # node, repeat, start, end
        self.egress_bytes = 0
        self.total = len(targets) * self.rollout.repeat
        self.recorder = LinkRecorder(world.net, [world.topology.host(fe).up for fe in world.frontends])
        self.replay = Replay(world)

    def start(self) -> None:
        spread = float(self.rollout.start)
        starts = np.zeros(len(self.targets))
        if spread > 0:
            starts = self.world.rr.stream("rollout-starts").uniform(0.0, spread, len(self.targets))
        for i, (node, t0) in enumerate(zip(self.targets, starts)):
            self.world.env.process(self._node(i, node, float(t0)))

    def _node(self, index: int, node: str, start: float):
        env, world = self.world.env, self.world
        yield env.timeout(start)
        downloads = simpy.Resource(env, MAX_CONCURRENT_DOWNLOADS)
        for repeat in range(self.rollout.repeat):
            t0 = env.now
            fe = world.frontends[(index + repeat) % len(world.frontends)]
            creds, login = self.work.login(node)
            yield from self.replay.request(node, fe, login)
            manifest = self.work.manifest_get()
            yield from self.replay.request(node, fe, combine(self.work.authorize(creds), manifest))
            layers = [env.process(self._layer(node, fe, creds, i, downloads, verify=index < SAMPLED_NODES))
                      for i in range(len(self.work.sizes))]
            yield env.all_of(layers)
            self.pulls.append((node, repeat, t0, env.now))
            if self.progress is not None:
                self.progress(len(self.pulls) / self.total)
            if repeat + 1 < self.rollout.repeat and self.rollout.pause > 0:
                yield env.timeout(self.rollout.pause)

    def _layer(self, node: str, fe: str, creds: object, index: int, downloads: simpy.Resource, verify: bool):
        with downloads.request() as slot:
            yield slot
            yield from self.replay.request(node, fe, self.work.authorize(creds))
            receipt = on_frontend(self.work.layer_get(index, verify_bytes=verify), fe)
            size = self.work.sizes[index]
            self.egress_bytes += size
            # the registry streams: storage reads and transfers and the frontend's decryption run
            # side by side with the response (a layer takes as long as its slowest stage)
            yield from self.replay.stream(receipt, fe, node, size, tag="egress")

    # -- results -----------------------------------------------------------------------------

    def result(self) -> VariantResult:
        sc, world = self.scenario, self.world
        pulls = np.array([end - start for _, _, start, end in self.pulls])
        starts = np.array([p[2] for p in self.pulls])
        ends = np.array([p[3] for p in self.pulls])
        makespan = float(ends.max() - starts.min()) if len(pulls) else 0.0
        image = sum(self.work.sizes)
        ideal = len(self.targets) * self.rollout.repeat * image / sc.registry.egress
        q = np.quantile(pulls, [0.5, 0.9, 0.99]) if len(pulls) else [0.0, 0.0, 0.0]
        kpis: dict[str, float | int | str] = {
            "strategy": sc.distribution.strategy,
            "nodes": len(self.targets),
            "image_bytes": image,
            "codec": sc.registry.storage.codec,
            "encryption": sc.registry.encryption,
            "auth_mode": sc.registry.auth.mode,
            "data_plane": sc.data_plane,
            "pull_p50_s": float(q[0]),
            "pull_p90_s": float(q[1]),
            "pull_p99_s": float(q[2]),
            "pull_max_s": float(pulls.max()) if len(pulls) else 0.0,
            "makespan_s": makespan,
            "central_bound_s": ideal,
            "makespan_over_bound": makespan / ideal if ideal else 0.0,
            "registry_egress_bytes": self.egress_bytes,
            "back_to_source_share": 1.0,
            "peer_bytes_share": 0.0,
            "registry_cpu_busy_s": sum(world.cpus[fe].busy_s for fe in world.frontends),
            "storage_read_bytes": sum(d.bytes_read for d in world.disks.values()),
        }
        notes = [
            f"Central distribution: {len(self.targets)} nodes x {image / 1e6:.0f} MB through "
            f"{sc.registry.egress * 8 / 1e9:.3g} Gbit/s of registry egress; the client-server bound "
            f"N*F/u_s is {ideal:.1f} s and the simulated makespan {makespan:.1f} s "
            f"({makespan / ideal:.3f}x the bound)." if ideal else "Empty rollout."
        ]
        t0 = float(starts.min()) if len(pulls) else 0.0
        return VariantResult(kpis=kpis, series=self._series(t0, makespan), samples={"pull_time_s": pulls},
                             notes=notes, events=int(getattr(world.env, "events", 0)))

    def _series(self, t0: float, makespan: float) -> pd.DataFrame:
        """Registry egress utilisation and completed pulls over the rollout, from its first start (``t0``)
        to its last end, on the time axis of the P2P and proxy-cache strategies (0 = the first start)."""
        def egress(at: np.ndarray) -> dict[str, np.ndarray]:
            busy = self.recorder.at(at).mean(axis=1) if self.recorder.links.size else np.zeros_like(at)
            return {"registry_egress": busy}
        return series(t0, makespan, egress, {i: pull[3] for i, pull in enumerate(self.pulls)})

