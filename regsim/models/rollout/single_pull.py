"""What the rollouts in which every node pulls the image once share: the world, the real
registry behind it, and the nodes that pull.

The proxy-cache and node-mirror runs start the same way -- refuse ``workload.repeat`` other
than 1 (their caches and mirrors hold what a first pull brought, so a second pull would measure
nothing), build the platform and the registry, pick the targeted nodes and check the real-data
budget -- and differ only in what stands between the nodes and the registry.
"""

from __future__ import annotations

from typing import ClassVar

from regsim.models.core.replay import Replay
from regsim.models.core.spec import ModelError, Progress
from regsim.models.core.work import RegistryWork
from regsim.models.core.world import build_world

from .config import RolloutConfig


class SinglePullRun:
    """The common start of a rollout whose nodes pull once; subclasses name their ``strategy``."""

    strategy: ClassVar[str]

    def __init__(self, config: RolloutConfig, seed: int, progress: Progress | None = None) -> None:
        rollout = config.workload
        if getattr(rollout, "repeat", 1) != 1:
            raise ModelError(f"{self.strategy}: a node pulls the image once in this model; workload.repeat must "
                             f"be 1, got {rollout.repeat}")
        self.config, self.progress = config, progress
        self.world = build_world(config, seed)
        self.replay = Replay(self.world)
        self.work = RegistryWork(config, seed)
        self.targets = self.world.nodes[: rollout.nodes or len(self.world.nodes)]
        self.work.check_real_budget(len(self.targets))

    # subclasses set ``pullers`` (the nodes that pull in the rollout) and ``preheat``, and define
    # ``_start_nodes(offsets)`` and ``_preheat_then_start(offsets)``

    def start_offsets(self) -> list[float]:
        """Each puller's start: all at 0, or drawn uniformly over ``workload.start``."""
        spread = float(self.config.workload.start)
        if spread > 0:
            return self.world.rr.stream("rollout-starts").uniform(0.0, spread, len(self.pullers)).tolist()
        return [0.0] * len(self.pullers)

    def launch(self, offsets: list[float]) -> None:
        """Start the rollout (after the push's preheat, if any) and run it to its end."""
        if self.preheat.hosts:
            self.world.env.process(self._preheat_then_start(offsets))
        else:
            self._start_nodes(offsets)
        self.world.env.run()
