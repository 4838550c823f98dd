"""What a rollout refuses before it runs, checked when the scenario is loaded (``regsim validate``)."""

from __future__ import annotations

from ..core.spec import Finding
from ..core.work import REAL_LIMIT_BYTES
from .config import RolloutConfig

#: scenario keys no rollout simulates: a rollout logs each node in once per pull and prices it on
#: a frontend (no refreshes, no token service, no access layer, no caches), nothing fails during
#: it, and it runs until every pull completes, whatever the scenario's duration
IGNORES = ("failures", "scan", "monitoring", "registry.storage.capacity", "registry.tls", "registry.rate_limit",
           "registry.cache", "registry.auth.service_cores", "registry.auth.db.hash", "registry.auth.db.credentials",
           "registry.auth.token_ttl", "registry.auth.issuer", "duration")


def rollout_checks(config: RolloutConfig) -> list[Finding]:
    """Repeats, seeders, preheats and real-data budgets a rollout strategy cannot honour."""
    rollout, strategy, p2p = config.workload, config.distribution.strategy, config.distribution.p2p
    nodes = rollout.nodes or config.cluster.nodes
    found: list[Finding] = []
    if strategy != "central" and rollout.repeat != 1:
        found.append(Finding("workload.repeat", f"{strategy}: a node pulls the image once in this model; "
                                                f"workload.repeat must be 1, got {rollout.repeat}",
                             ("workload.repeat",)))
    if strategy.startswith("p2p-") and config.registry.upstream_limit is not None:
        found.append(Finding("registry.upstream_limit", f"{strategy}: the P2P models do not count pulls against "
                                                        "an upstream's limit; use central or proxy-cache",
                             ("registry.upstream_limit", "distribution.strategy")))
    if strategy == "node-mirror" and config.registry.upstream_limit is not None:
        found.append(Finding("registry.upstream_limit", f"{strategy}: the node-mirror model does not count pulls "
                                                        "against an upstream's limit; use central or proxy-cache",
                             ("registry.upstream_limit", "distribution.strategy")))
    if strategy.startswith("p2p-") and p2p.seeders >= nodes:
        found.append(Finding("distribution.p2p.seeders", f"{p2p.seeders} seeders leave no node of the "
                                                         f"{nodes} to pull the image",
                             ("workload.nodes", "cluster.nodes", "distribution.p2p.seeders")))
    if strategy.startswith("p2p-") and p2p.seeders and config.data_plane == "real":
        found.append(Finding("distribution.p2p.seeders", "seeders need the modelled or sampled data "
                                                         "plane: seeders hold no real bytes",
                             ("distribution.p2p.seeders", "data_plane")))
    preheat = config.distribution.preheat
    if preheat.to == "seed-peers" and preheat.seed_peers >= nodes:
        found.append(Finding("distribution.preheat.seed_peers",
                             f"preheating {preheat.seed_peers} seed peers leaves no node of the {nodes} to roll "
                             "out to; use fewer seed peers, or `to: all`",
                             ("distribution.preheat.seed_peers", "distribution.preheat.to", "workload.nodes",
                              "cluster.nodes")))
    if strategy.startswith("p2p-") and preheat.to != "none" and p2p.seeders:
        found.append(Finding("distribution.preheat", f"{strategy}: preheated nodes are seeders; set "
                                                     "distribution.p2p.seeders or distribution.preheat, not both",
                             ("distribution.preheat.to", "distribution.p2p.seeders", "distribution.strategy")))
    if strategy.startswith("p2p-") and preheat.to != "none" and config.data_plane == "real":
        found.append(Finding("distribution.preheat", f"{strategy}: preheat needs the modelled or sampled data "
                                                     "plane: preheated nodes seed as seeders do, with no real bytes",
                             ("distribution.preheat.to", "data_plane", "distribution.strategy")))
    pulls, image = nodes * rollout.repeat, config.image.total_size()
    if config.data_plane == "real" and pulls * image > REAL_LIMIT_BYTES:
        found.append(Finding("data_plane", f"real would read {pulls * image / 1e9:.1f} GB of real bytes "
                                           f"({pulls} pulls of {image / 1e6:.0f} MB); use 'modelled' or "
                                           "'sampled' for runs this large",
                             ("workload.nodes", "workload.repeat", "cluster.nodes", "data_plane", "image")))
    return found
