"""What a replayed trace reports: one summary.csv row comparing a cache's hit ratio, latency and traffic.

The row holds the cache (``cache_policy`` such as ``lru+prefetch``, ``cache_capacity``,
``cache_placement``) and what it did over the trace's layer GETs:

- **hits**: ``hit_ratio`` (hits over layer GETs) and ``byte_hit_ratio`` (bytes served from a
  cache over bytes requested), ``hits_waited`` (hits on a layer still being read), and
  ``offline_hit_ratio``: the same trace through the same policy offline
  (:func:`regsim.traces.evaluate`), as a cross-check -- with the cache at the registry and no
  prefetching the two are equal, since the policy sees the same requests in the same order;
- **latency**: blob GET ``latency_p50_s``/``p90``/``p99`` (and of hits and misses apart),
  ``manifest_latency_p50_s``/``p99``, ``push_latency_p50_s`` (layer uploads);
- **traffic**: ``registry_egress_bytes`` (bytes leaving the registry's site, measured on its
  uplink: responses to clients, and fills of rack caches), ``storage_read_bytes`` (disk reads of
  the storage nodes at modelled sizes, prefetches included), ``prefetch_read_bytes``, and the
  prefetcher's ``prefetched``/``prefetch_used``/``prefetch_wasted`` layers.

Figures that were not measured (no hit, no cache for the offline check) are NaN.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from regsim.models.core.result import VariantResult
from regsim.registry.cache import CacheStats, PrefetchStats
from regsim.registry.receipts import Kind
from regsim.traces import Request, evaluate

from .config import TraceConfig
from .replayed import BLOB_GET, BLOB_PUT, MANIFEST_GET, Replayed

#: bins of the series over the replay
SERIES_BINS = 50
NAN = float("nan")


def _quantiles(values: list[float], qs: tuple[float, ...] = (0.5, 0.9, 0.99)) -> list[float]:
    if not values:
        return [NAN] * len(qs)
    return [float(q) for q in np.quantile(np.asarray(values), qs)]


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _fmt_s(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.3g} s"


@dataclass(frozen=True)
class TraceOutcome:
    """What a replay measured: everything :func:`trace_result` reports, and nothing of the run itself."""

    config: TraceConfig
    #: the trace file replayed
    source: str
    #: every request that completed, in completion order
    done: Sequence[Replayed]
    #: the recorded requests that were sent (those before the config's ``duration``)
    sent: Sequence[Request]
    #: requests recorded after the config's ``duration``, not sent
    skipped: int
    cache_sites: int
    cache_stats: CacheStats
    prefetch_stats: PrefetchStats
    #: hits on a layer still being read into the cache
    hits_waited: int
    #: bytes that left the registry's site over its uplink to the core switch
    registry_egress_bytes: int
    #: priced receipt amounts by kind: of the requests, and of the prefetches apart
    work: Mapping[str, int]
    prefetch_work: Mapping[str, int]
    stocked_blobs: int
    stocked_images: int
    #: what the set-up could not stock, with why
    stock_errors: Mapping[str, str]
    #: simulated time at which the replay ended
    end_time: float
    registry_cpu_busy_s: float
    #: SimPy events the run processed
    events: int = 0


def groups(done: Sequence[Replayed]) -> dict[str, list[Replayed]]:
    """Replayed requests by class: successful blob GETs (and their hits and misses), manifest GETs, pushes."""
    succeeded = [r for r in done if r.error is None]
    gets = [r for r in succeeded if r.kind == BLOB_GET]
    return {
        "get": gets,
        "hit": [r for r in gets if r.hit],
        "miss": [r for r in gets if not r.hit],
        "manifest": [r for r in succeeded if r.kind == MANIFEST_GET],
        "push": [r for r in succeeded if r.kind == BLOB_PUT],
        "failed": [r for r in done if r.error is not None],
    }


def offline_hit_ratio(outcome: TraceOutcome) -> float:
    """The hit ratio of the run's policy over the requests it sent, offline; NaN without a cache."""
    spec = outcome.config.registry.cache
    if not spec.enabled:
        return NAN
    return evaluate(list(outcome.sent), spec.policy, spec.capacity, prefetch=spec.prefetch).hit_ratio


def trace_result(outcome: TraceOutcome) -> VariantResult:
    """The variant's result: one row of KPIs, the hit-ratio and latency series, latency samples, notes."""
    o = outcome
    config, spec = o.config, o.config.registry.cache
    by = groups(o.done)
    stats, pre = o.cache_stats, o.prefetch_stats
    kinds = Counter(r.kind for r in o.done)
    requested = sum(r.size for r in by["get"])
    hit_bytes = sum(r.size for r in by["hit"])
    latency = _quantiles([r.latency for r in by["get"]])
    manifest = _quantiles([r.latency for r in by["manifest"]], (0.5, 0.99))
    makespan = max(r.end for r in o.done) - min(r.start for r in o.done) if o.done else 0.0
    kpis: dict[str, float | int | str] = {
        "trace": Path(o.source).name, "speedup": config.workload.speedup,
        "cache_policy": spec.label(), "cache_capacity": spec.capacity if spec.enabled else 0,
        "cache_placement": spec.placement if spec.enabled else "none", "cache_sites": o.cache_sites,
        "codec": config.registry.storage.codec, "encryption": config.registry.encryption,
        "auth_mode": config.registry.auth.mode, "data_plane": config.data_plane,
        "requests": len(o.done), "requests_skipped": o.skipped, "requests_failed": len(by["failed"]),
        "blob_gets": kinds["blob_get"], "manifest_gets": kinds["manifest_get"], "blob_puts": kinds["blob_put"],
        "blob_heads": kinds["blob_head"], "manifest_puts": kinds["manifest_put"], "other_requests": kinds["other"],
        "hits": len(by["hit"]), "misses": len(by["miss"]),
        "hit_ratio": _ratio(len(by["hit"]), len(by["get"])),
        "byte_hit_ratio": _ratio(hit_bytes, requested),
        "hits_waited": o.hits_waited,
        "offline_hit_ratio": offline_hit_ratio(o),
        "latency_p50_s": latency[0], "latency_p90_s": latency[1], "latency_p99_s": latency[2],
        "hit_latency_p50_s": _quantiles([r.latency for r in by["hit"]], (0.5,))[0],
        "miss_latency_p50_s": _quantiles([r.latency for r in by["miss"]], (0.5,))[0],
        "manifest_latency_p50_s": manifest[0], "manifest_latency_p99_s": manifest[1],
        "push_latency_p50_s": _quantiles([r.latency for r in by["push"]], (0.5,))[0],
        "requested_bytes": requested, "hit_bytes": hit_bytes,
        "registry_egress_bytes": o.registry_egress_bytes,
        "storage_read_bytes": o.work.get(Kind.DISK_READ, 0),
        "storage_write_bytes": o.work.get(Kind.DISK_WRITE, 0),
        "prefetch_read_bytes": o.prefetch_work.get(Kind.DISK_READ, 0),
        "prefetched": pre.prefetched, "prefetched_bytes": pre.prefetched_bytes,
        "prefetch_used": pre.used, "prefetch_wasted": pre.wasted,
        "cache_evictions": stats.evictions,
        "stocked_blobs": o.stocked_blobs, "stocked_images": o.stocked_images,
        "makespan_s": makespan, "end_s": o.end_time,
        "registry_cpu_busy_s": o.registry_cpu_busy_s,
    }
    samples = {name: np.asarray([r.latency for r in by[key]]) for name, key in
               (("blob_get_time_s", "get"), ("hit_time_s", "hit"), ("miss_time_s", "miss"),
                ("manifest_get_time_s", "manifest")) if by[key]}
    return VariantResult(kpis=kpis, series=_series(by["get"]), samples=samples, notes=_notes(o, kpis),
                         events=o.events)


def _series(gets: list[Replayed]) -> pd.DataFrame:
    """The hit ratio so far and the blob GET median latency, over the replay."""
    if not gets:
        return pd.DataFrame({"time_s": [], "metric": [], "value": []})
    start = np.array([r.start for r in gets])
    latency = np.array([r.latency for r in gets])
    hits = np.array([bool(r.hit) for r in gets], dtype=float)
    span = max(float(start.max()), 1e-9)
    edges = np.linspace(0.0, span, SERIES_BINS + 1)
    bins = np.clip(np.searchsorted(edges, start, side="right") - 1, 0, SERIES_BINS - 1)
    order = np.argsort(start, kind="stable")
    cumulative = np.cumsum(hits[order]) / np.arange(1, len(order) + 1)
    rows: list[tuple[float, str, float]] = []
    for b in np.unique(bins):
        t = float(edges[b + 1])
        rows.append((t, "blob_get_latency_p50_s", float(np.median(latency[bins == b]))))
        last = int(np.searchsorted(start[order], edges[b + 1], side="right")) - 1
        rows.append((t, "hit_ratio_so_far", float(cumulative[max(last, 0)])))
    frame = pd.DataFrame(rows, columns=["time_s", "metric", "value"])
    return frame.sort_values(["metric", "time_s"], kind="stable", ignore_index=True)


def _notes(outcome: TraceOutcome, k: dict) -> list[str]:
    """What the replay did and how its cache compares, in sentences for report.md."""
    config = outcome.config
    spec = config.registry.cache
    where = {"registry": "at the registry", "rack": f"in each of {k['cache_sites']} racks"}[spec.placement]
    label = k["cache_policy"]
    notes = [f"Replayed {k['requests']} requests of {k['trace']} at {config.workload.speedup:g}x: "
             f"{k['blob_gets']} layer GETs, {k['manifest_gets']} manifest GETs, {k['blob_puts']} layer uploads; "
             f"the registry was stocked beforehand with {k['stocked_blobs']} blobs and {k['stocked_images']} images "
             "the trace uses before pushing them (unpriced set-up)."]
    if spec.enabled:
        notes.append(
            f"{label}, {spec.capacity / 1e6:g} MB {where}: {k['hits']} of {k['blob_gets']} layer GETs hit "
            f"({k['hit_ratio']:.1%}; {k['byte_hit_ratio']:.1%} of bytes); blob GET p50 {_fmt_s(k['latency_p50_s'])} "
            f"(hits {_fmt_s(k['hit_latency_p50_s'])}, misses {_fmt_s(k['miss_latency_p50_s'])}), "
            f"p99 {_fmt_s(k['latency_p99_s'])}.")
        same = spec.placement == "registry" and not spec.prefetch
        notes.append(
            f"{label}, {spec.capacity / 1e6:g} MB: offline (regsim.traces.evaluate) the same policy has hit ratio "
            f"{k['offline_hit_ratio']:.1%}"
            + (" -- equal by construction: the same requests reach the policy in the same order." if same else
               "; they differ because " + ("each rack has its own cache" if spec.placement == "rack" else "")
               + (" and " if spec.placement == "rack" and spec.prefetch else "")
               + ("here the prefetcher knows an image's layers from its manifest, offline it learns them from "
                  "earlier pulls" if spec.prefetch else "") + "."))
    else:
        notes.append(f"No cache: every layer GET reads from storage; blob GET p50 {_fmt_s(k['latency_p50_s'])}, "
                     f"p99 {_fmt_s(k['latency_p99_s'])}.")
    if spec.prefetch:
        notes.append(f"{label}: prefetching read {k['prefetched']} layers ({k['prefetched_bytes'] / 1e6:.4g} MB) "
                     f"ahead of their GETs; {k['prefetch_used']} were then requested, {k['prefetch_wasted']} evicted "
                     f"unused; {k['hits_waited']} hits waited for a read still filling the cache.")
    notes.append(f"{label}: the registry sent {k['registry_egress_bytes'] / 1e6:.4g} MB out of its site and read "
                 f"{k['storage_read_bytes'] / 1e6:.4g} MB from its storage nodes "
                 f"({k['prefetch_read_bytes'] / 1e6:.4g} MB of it for prefetches).")
    errors = outcome.stock_errors
    if errors:
        what, why = next(iter(errors.items()))
        notes.append(f"{len(errors)} blobs or images of the trace could not be stored before the replay (names the "
                     f"registry refuses), so requests for them fail; the first: {what}: {why}")
    if k["requests_skipped"]:
        notes.append(f"{k['requests_skipped']} requests were recorded after the scenario's duration "
                     f"({config.duration:g} s of simulated time) and were not sent.")
    if k["requests_failed"]:
        causes = Counter((r.error or "").split(":")[0] for r in outcome.done if r.error is not None)
        notes.append(f"{k['requests_failed']} requests were refused by the registry ("
                     + ", ".join(f"{cause}: {count}" for cause, count in sorted(causes.items())) + ").")
    return notes
