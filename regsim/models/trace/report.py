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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regsim.registry.receipts import Kind
from regsim.traces import evaluate

from regsim.models.core.result import VariantResult
from regsim.models.core.world import REGISTRY_RACK

if TYPE_CHECKING:
    from .run import Replayed, TraceRun

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


def groups(run: TraceRun) -> dict[str, list[Replayed]]:
    """Replayed requests by class: successful blob GETs (and their hits and misses), manifest GETs, pushes."""
    from .run import BLOB_GET, BLOB_PUT, MANIFEST_GET

    done = [r for r in run.done if r.error is None]
    gets = [r for r in done if r.kind == BLOB_GET]
    return {
        "get": gets,
        "hit": [r for r in gets if r.hit],
        "miss": [r for r in gets if not r.hit],
        "manifest": [r for r in done if r.kind == MANIFEST_GET],
        "push": [r for r in done if r.kind == BLOB_PUT],
        "failed": [r for r in run.done if r.error is not None],
    }


def egress_bytes(run: TraceRun) -> int:
    """Bytes that left the registry's site over its uplink to the core switch."""
    link = run.world.topology.racks[REGISTRY_RACK].uplink
    return int(run.world.net.link_bytes()[link]) if link is not None else 0


def offline_hit_ratio(run: TraceRun) -> float:
    """The hit ratio of the run's policy over the same trace offline; NaN without a cache."""
    spec = run.scenario.registry.cache
    if not spec.enabled:
        return NAN
    replayed = run.records[: len(run.records) - run.skipped]
    return evaluate(replayed, spec.policy, spec.capacity, prefetch=spec.prefetch).hit_ratio


def trace_result(run: TraceRun) -> VariantResult:
    sc, spec = run.scenario, run.scenario.registry.cache
    by = groups(run)
    stats, pre = run.caches.stats(), run.caches.prefetch_stats()
    kinds = Counter(r.kind for r in run.done)
    requested = sum(r.size for r in by["get"])
    hit_bytes = sum(r.size for r in by["hit"])
    latency = _quantiles([r.latency for r in by["get"]])
    manifest = _quantiles([r.latency for r in by["manifest"]], (0.5, 0.99))
    makespan = max(r.end for r in run.done) - min(r.start for r in run.done) if run.done else 0.0
    kpis: dict[str, float | int | str] = {
        "trace": Path(run.source).name, "speedup": run.workload.speedup,
        "cache_policy": spec.label(), "cache_capacity": spec.capacity if spec.enabled else 0,
        "cache_placement": spec.placement if spec.enabled else "none", "cache_sites": len(run.caches.sites),
        "codec": sc.registry.storage.codec, "encryption": sc.registry.encryption,
        "auth_mode": sc.registry.auth.mode, "data_plane": sc.data_plane,
        "requests": len(run.done), "requests_skipped": run.skipped, "requests_failed": len(by["failed"]),
        "blob_gets": kinds["blob_get"], "manifest_gets": kinds["manifest_get"], "blob_puts": kinds["blob_put"],
        "blob_heads": kinds["blob_head"], "manifest_puts": kinds["manifest_put"], "other_requests": kinds["other"],
        "hits": len(by["hit"]), "misses": len(by["miss"]),
        "hit_ratio": _ratio(len(by["hit"]), len(by["get"])),
        "byte_hit_ratio": _ratio(hit_bytes, requested),
        "hits_waited": run.caches.waited(),
        "offline_hit_ratio": offline_hit_ratio(run),
        "latency_p50_s": latency[0], "latency_p90_s": latency[1], "latency_p99_s": latency[2],
        "hit_latency_p50_s": _quantiles([r.latency for r in by["hit"]], (0.5,))[0],
        "miss_latency_p50_s": _quantiles([r.latency for r in by["miss"]], (0.5,))[0],
        "manifest_latency_p50_s": manifest[0], "manifest_latency_p99_s": manifest[1],
        "push_latency_p50_s": _quantiles([r.latency for r in by["push"]], (0.5,))[0],
        "requested_bytes": requested, "hit_bytes": hit_bytes,
        "registry_egress_bytes": egress_bytes(run),
        "storage_read_bytes": run.work[Kind.DISK_READ],
        "storage_write_bytes": run.work[Kind.DISK_WRITE],
        "prefetch_read_bytes": run.prefetch_work[Kind.DISK_READ],
        "prefetched": pre.prefetched, "prefetched_bytes": pre.prefetched_bytes,
        "prefetch_used": pre.used, "prefetch_wasted": pre.wasted,
        "cache_evictions": stats.evictions,
        "stocked_blobs": run.store.stocked_blobs, "stocked_images": run.store.stocked_images,
        "makespan_s": makespan, "end_s": run.end_time,
        "registry_cpu_busy_s": sum(run.world.cpus[fe].busy_s for fe in run.world.frontends),
    }
    samples = {name: np.asarray([r.latency for r in by[key]]) for name, key in
               (("blob_get_time_s", "get"), ("hit_time_s", "hit"), ("miss_time_s", "miss"),
                ("manifest_get_time_s", "manifest")) if by[key]}
    return VariantResult(kpis=kpis, series=_series(run, by["get"]), samples=samples, notes=_notes(run, kpis),
                         events=int(getattr(run.env, "events", 0)))


def _series(run: TraceRun, gets: list[Replayed]) -> pd.DataFrame:
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


def _notes(run: TraceRun, k: dict) -> list[str]:
    spec = run.scenario.registry.cache
    where = {"registry": "at the registry", "rack": f"in each of {k['cache_sites']} racks"}[spec.placement]
    label = k["cache_policy"]
    notes = [f"Replayed {k['requests']} requests of {k['trace']} at {run.workload.speedup:g}x: "
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
    errors = run.store.stock_errors
    if errors:
        what, why = next(iter(errors.items()))
        notes.append(f"{len(errors)} blobs or images of the trace could not be stored before the replay (names the "
                     f"registry refuses), so requests for them fail; the first: {what}: {why}")
    if k["requests_skipped"]:
        notes.append(f"{k['requests_skipped']} requests were recorded after the scenario's duration "
                     f"({run.scenario.duration:g} s of simulated time) and were not sent.")
    if k["requests_failed"]:
        causes = Counter((r.error or "").split(":")[0] for r in run.done if r.error is not None)
        notes.append(f"{k['requests_failed']} requests were refused by the registry ("
                     + ", ".join(f"{cause}: {count}" for cause, count in sorted(causes.items())) + ").")
    return notes
