"""Replication: blobs copied from a source registry site to remote sites over WAN links, and pulled there.

``workload.kind: replication``. At time 0 the blobs are in the source registry. Depending on
``mode``:

- ``push`` (:mod:`.push`): ``workers`` jobs at the source copy the blobs to each remote site, each
  blob chunk by chunk (a ranged GET piped into a PATCH), one chunk after another;
- ``pull`` (:mod:`.pull`): ``workers`` jobs at each remote site fetch whole blobs from the source;
- ``proxy-cache`` (:mod:`.proxy`): nothing is copied; the remote registry is a pull-through cache
  and the first client pull of a blob fills it over the WAN.

Remote ``clients`` pull the image (:mod:`.clients`). Every request and byte is priced on the flow
network of :mod:`.sites` under the scenario's ``network`` model; the run ends when every copy and
pull is done. The registry's own work (hashing the uploaded bytes, storage writes) is not priced:
at the rates a WAN allows it is a small fraction of the transfer (a 3 GB SHA-256 takes a few
seconds of one core against minutes on the WAN).
"""

from __future__ import annotations

import simpy

from regsim.models.core.result import VariantResult
from regsim.models.core.spec import ModelError, Progress

from .clients import ClientPull, client_pull
from .closed_form import predicted_replication_s
from .config import Replication, ReplicationConfig
from .http import Connection, Counters
from .proxy import ProxyCache
from .pull import pull_worker
from .push import push_worker
from .report import ReplicationOutcome, replication_result
from .sites import Sites, build_sites

__all__ = ["simulate_replication"]


def simulate_replication(config: ReplicationConfig, seed: int, progress: Progress | None = None) -> VariantResult:
    """Simulate ``config``'s replication and remote pulls; its KPIs are :mod:`.report`'s.

    The run has no randomness: ``seed`` changes nothing (the same config gives the same row).
    """
    w = config.workload
    if not isinstance(w, Replication):
        raise ModelError(f"the replication model simulates workload kind 'replication', got {w.kind!r}")
    sites = build_sites(config)
    env, counters = sites.env, Counters()
    total = float(sum(w.blobs) * len(sites.remotes)) or 1.0
    moved = [0.0]

    def advance(nbytes: float) -> None:
        moved[0] += nbytes
        if progress is not None:
            progress(min(1.0, moved[0] / total))

    replicated: dict[tuple[str, int], simpy.Event] = {}
    caches: dict[str, ProxyCache] = {}
    processes = []
    for remote in sites.remotes:
        if w.mode == "proxy-cache":
            upstream = Connection(Sites.registry(remote), Sites.registry(sites.source), w.keep_alive, w.connect_rtts)
            caches[remote.name] = ProxyCache(remote.name, upstream)
            continue
        queue = list(enumerate(w.blobs))
        for i in range(len(w.blobs)):
            replicated[(remote.name, i)] = env.event()
        for _ in range(min(w.workers, len(w.blobs))):
            if w.mode == "push":
                proc = push_worker(sites, counters, remote.name, queue, replicated, w.chunk_size, w.keep_alive,
                                   w.connect_rtts, advance)
            else:
                proc = pull_worker(sites, counters, remote.name, queue, replicated, w.keep_alive, w.connect_rtts,
                                   advance)
            processes.append(env.process(proc))
    pulls: list[ClientPull] = []
    for remote in sites.remotes:
        for c in range(w.clients):
            delay = float(w.clients_start) + c * float(w.clients_interval)
            processes.append(env.process(client_pull(
                sites, counters, remote.name, c, delay, list(w.blobs), replicated if w.mode != "proxy-cache" else None,
                caches.get(remote.name), w.keep_alive, w.connect_rtts, w.client_downloads, pulls)))
    ends: dict[tuple[str, int], float] = {}
    for key, event in replicated.items():
        event.callbacks.append(lambda _e, key=key: ends.__setitem__(key, env.now))
    if processes:
        env.run(until=env.all_of(processes))
    outcome = _outcome(config, sites, counters, ends, caches, pulls)
    return replication_result(outcome)


def _outcome(config: ReplicationConfig, sites: Sites, counters: Counters, ends: dict[tuple[str, int], float],
             caches: dict[str, ProxyCache], pulls: list[ClientPull]) -> ReplicationOutcome:
    link_bytes = sites.net.link_bytes()
    down = sum(float(link_bytes[d]) for d, _ in sites.wan_links.values())
    both = sum(float(link_bytes[d]) + float(link_bytes[u]) for d, u in sites.wan_links.values())
    capacity = sum(r.wan.bandwidth for r in sites.remotes if r.wan is not None)
    replicated_at = max(ends.values()) if ends else float("nan")
    if config.workload.mode == "proxy-cache":
        fills = [f for cache in caches.values() for f in cache.fills]
        span = (min(s for s, _ in fills), max(e for _, e in fills)) if fills else None
    else:
        span = (0.0, replicated_at) if ends else None
    return ReplicationOutcome(config=config, counters=counters, replicated_at=replicated_at, wan_span=span,
                              wan_down_bytes=down, wan_bytes=both, wan_capacity=capacity,
                              pulls=sorted(pulls, key=lambda p: (p.site, p.client)),
                              closed_form_s=predicted_replication_s(config, sites), end_s=float(sites.env.now),
                              events=int(sites.net.stats.completed))
