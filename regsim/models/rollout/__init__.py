"""The rollout family: a fleet pulls an image, centrally, through pull-through caches, or from peers.

``workload.kind: rollout``; ``distribution.strategy`` picks the model: ``central``
(:mod:`.central`), ``proxy-cache`` (:mod:`.proxy`), ``p2p-swarm`` and ``p2p-scheduler``
(:mod:`.p2p`, driving the real P2P agents over the data planes of :mod:`.planes`) and ``node-mirror``
(:mod:`.mirror`, Spegel-style mirrors on a real DHT). Every strategy
reports the KPIs of :mod:`.kpis`.
"""

from __future__ import annotations

from regsim.models import register
from regsim.models.core.result import VariantResult
from regsim.models.core.spec import ModelSpec, Progress

from .central import simulate_central
from .checks import IGNORES, rollout_checks
from .config import Rollout, RolloutConfig
from .mirror import simulate_mirror
from .p2p import simulate_p2p
from .proxy import simulate_proxy

#: the model of each distribution strategy
STRATEGIES = {
    "central": simulate_central,
    "proxy-cache": simulate_proxy,
    "p2p-swarm": simulate_p2p,
    "p2p-scheduler": simulate_p2p,
    "node-mirror": simulate_mirror,
}


def simulate_rollout(config: RolloutConfig, seed: int, progress: Progress | None = None) -> VariantResult:
    """One rollout variant, by the model of its distribution strategy."""
    return STRATEGIES[config.distribution.strategy](config, seed, progress)


SPEC = register(ModelSpec(
    family="rollout",
    workloads={"rollout": Rollout},
    strategies=tuple(STRATEGIES),
    config=RolloutConfig,
    order=10,
    simulate=simulate_rollout,
    ignores=IGNORES,
    checks=rollout_checks,
))
