"""What a ``poisson`` or ``closed`` variant reports: one summary.csv row of KPIs, time series, samples and notes.

:func:`request_result` makes the variant's result from the :class:`~.record.RunRecord` of its run
(and of the same run without the TEE, if the registry has one).

The row puts side by side what a storage codec costs and buys:

- **storage**: ``storage_overhead`` is what the real registry holds on its storage nodes
  (``Registry.stored_bytes()``: fragments with their headers, encryption tags included) per
  plaintext byte it was given -- about 3.0 for ``replicate(3)``, 1.5 for ``rs(4,2)``;
- **throughput**: ``push_throughput_Bps``/``pull_throughput_Bps`` (bytes of the requests sent in
  the window, per second of the window) and ``push_goodput_Bps``/``pull_goodput_Bps`` (the same
  bytes per second of the time they took to serve, :func:`goodput`: the aggregate a saturated
  closed loop delivers);
- **latency**: push and pull p50/p90/p99 of healthy requests; ``degraded_pull_p50_s`` of pulls
  that had to read around a lost fragment (``degraded1_``/``degraded2_``: one, two or more of
  the blob's fragments lost); ``repair_pull_p50_s`` of healthy pulls made while the repair ran;
- **repair**: bytes the repair read and wrote (at modelled sizes), ``repair_bytes_per_byte``
  (read per byte rebuilt: k for Reed-Solomon, 1 for replication), its time and bandwidth cap;
- **durability**: :func:`regsim.sim.durability.durability` at ``failures.afr`` and
  ``failures.repair_time`` (2 % and 24 h when the scenario leaves them at 0).

Figures that were not measured (no degraded pull, no repair) are NaN; runs that move no blobs
leave these out altogether (:func:`stores_blobs`). The access layer's, the
auth path's and the monitor's KPIs, series, alerts and notes follow (:mod:`.access_report`).

With ``workload.precision`` the latency KPIs are steady-state ones (:func:`steady_state_kpis`,
:mod:`.steady_state`): requests that started in the warm-up (MSER-5) are left out of every
latency quantile (``latency_*``, ``pull_*``, ``push_*``, ``auth_p50_s``), and each kind's
``<kind>_p50_s``/``<kind>_p99_s`` (pull: healthy pulls) is taken over the requests that paid no
set-up -- no login and no new connection, whose share follows their own rates and not the
load's -- with the p99's confidence interval by batch means; ``login_wait_share`` and
``connect_share`` say how many paid one. Without it the row is exactly as it always was.
:func:`storage_overhead` is what the run measures on its registry for the record.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regsim.models.core.result import VariantResult
from regsim.models.core.storage_tier import stated_durability, stated_loss_per_year, tier_kpis
from regsim.sim.durability import DurabilityResult, durability, nines
from regsim.sim.durability.montecarlo import trials_needed
from regsim.spec.quantities import format_duration, format_rate

from .access_report import access_kpis, access_notes, access_series
from .monitoring import alert_frame
from .config import precise_kinds
from .record import RunRecord
from .request import KINDS, Request
from .steady_state import CONNECT, LOGIN, series, steady_state

if TYPE_CHECKING:
    from regsim.registry.registry import Registry

    from .request_kinds import BlobSizes

__all__ = ["classify", "durability_of", "goodput", "request_result", "slowdown", "steady_state_kpis", "storage_kpis",
           "storage_overhead", "stores_blobs"]

#: durability inputs used when the scenario gives none (no random failures in the simulated window).
DEFAULT_AFR = 0.02
DEFAULT_REPAIR_S = 86400.0
#: bins of the request-latency series over the workload's duration
LATENCY_BINS = 50
NAN = float("nan")


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return NAN, NAN, NAN
    q = np.quantile(np.asarray(values), [0.5, 0.9, 0.99])
    return float(q[0]), float(q[1]), float(q[2])


def _ratio(a: float, b: float) -> float:
    return a / b if b and not (math.isnan(a) or math.isnan(b)) else NAN


def _latencies(requests: list[Request]) -> list[float]:
    return [r.latency for r in requests]


def slowdown(requests: list[Request], healthy: list[Request]) -> float:
    """Median of each pull's latency over the healthy p50 of the same layer (sizes differ, so
    raw medians of two classes would compare layer mixes, not conditions); NaN if none compare."""
    base: dict[int, list[float]] = {}
    for r in healthy:
        base.setdefault(r.layer, []).append(r.latency)
    p50 = {layer: float(np.median(v)) for layer, v in base.items()}
    ratios = [r.latency / p50[r.layer] for r in requests if p50.get(r.layer)]
    return float(np.median(ratios)) if ratios else NAN


def classify(run: RunRecord) -> dict[str, list[Request]]:
    """Answered requests by class: pushes, auth, and pulls healthy, degraded (1, 2+ lost) or during repair."""
    done = [r for r in run.requests if r.error is None]
    pulls = [r for r in done if r.kind == "pull"]
    degraded = [r for r in pulls if r.degraded]
    return {
        "push": [r for r in done if r.kind == "push"],
        "auth": [r for r in done if r.kind == "auth"],
        "pull": [r for r in pulls if not r.degraded and not r.during_repair],
        "degraded": degraded,
        "degraded1": [r for r in degraded if r.lost == 1],
        "degraded2": [r for r in degraded if r.lost >= 2],
        "repair": [r for r in pulls if r.during_repair and not r.degraded],
        "failed": [r for r in run.requests if r.error is not None],
    }


def storage_overhead(registry: Registry, sizes: BlobSizes) -> tuple[float, int, int]:
    """(stored bytes per plaintext byte, stored bytes and plaintext bytes at modelled sizes) of
    ``registry``, whose blobs have the modelled sizes of ``sizes``."""
    blobs = registry.blobs
    real = logical = 0
    for digest in blobs.digests():
        size = blobs.size(digest)
        real += size
        logical += sizes.get(str(digest), (size, size))[0]
    overhead = registry.stored_bytes() / real if real else NAN
    return overhead, int(round(overhead * logical)) if real else 0, logical


def durability_of(run: RunRecord) -> DurabilityResult:
    """Durability of the run's codec at its ``failures.afr`` and ``failures.repair_time`` (or the defaults)."""
    failures = run.config.failures
    afr = failures.afr if failures.afr > 0 else DEFAULT_AFR
    repair_s = failures.repair_time if failures.repair_time > 0 else DEFAULT_REPAIR_S
    return durability(run.n, run.k, afr, repair_s, seed=run.seed)


def stores_blobs(run: RunRecord) -> bool:
    """True when the run moves blobs or fails storage, so that its codec's figures mean something."""
    mix, failures = run.config.workload.mix, run.config.failures
    return bool(mix.pull + mix.push > 0 or run.plan.mode != "none" or failures.afr > 0 or run.scans)


def request_result(run: RunRecord, baseline: RunRecord | None = None) -> VariantResult:
    """The variant's result; ``baseline`` is the same run without the TEE (for the TEE's rise).

    The storage, repair and durability KPIs are left out of runs that move no blobs (a stream of
    manifest GETs and token requests), where they would only repeat the scenario's settings.
    """
    by = classify(run)
    answered = [r for r in run.requests if r.error is None]
    makespan = max(r.end for r in run.requests) - min(r.start for r in run.requests) if run.requests else 0.0
    access = access_kpis(run, baseline)
    kpis: dict[str, float | int | str] = {
        "auth_mode": run.config.registry.auth.mode, **{k: access.pop(k) for k in list(access)[:9]},
        "requests": len(run.requests), "requests_failed": len(by["failed"]), "auth_requests": len(by["auth"]),
        "auth_p50_s": _quantiles(_latencies(by["auth"]))[0], "requests_per_s": len(answered) / run.duration,
        "makespan_s": makespan, "end_s": run.end_time,
    }
    dur = durability_of(run) if stores_blobs(run) else None
    if dur is not None:
        kpis.update(storage_kpis(run, by, dur))
        if run.tier is not None:
            pulled = sum(r.size for r in answered if r.kind == "pull")
            kpis.update(tier_kpis(run.config, run.tier, span_s=run.duration, stored_bytes=run.storage_overhead[1],
                                  pulled_bytes=pulled))
    kpis.update(access)
    if run.config.workload.precision is not None:
        kpis.update(steady_state_kpis(run))
    by["request"] = answered
    samples = {name: np.asarray(_latencies(by[key])) for name, key in
               (("pull_time_s", "pull"), ("push_time_s", "push"), ("degraded_pull_time_s", "degraded"),
                ("repair_pull_time_s", "repair"), ("request_time_s", "request")) if by[key]}
    notes = (_notes(run, kpis, dur) if dur is not None else []) + access_notes(run, kpis)
    if run.config.workload.precision is not None:
        notes.append(_steady_note(run, kpis))
    return VariantResult(kpis=kpis, series=_series(run), samples=samples, alerts=alert_frame(run.alerts),
                         notes=notes, events=run.events)


def steady_state_kpis(run: RunRecord) -> dict[str, float | int | str]:
    """The steady-state latency KPIs of a run with ``workload.precision`` (:mod:`.steady_state`).

    ``warmup_s`` is the MSER-5 cut (the latest over the watched kinds' series of requests without
    set-up), ``warmup_requests`` the requests that started before it. Every latency quantile of the
    row is recomputed without them: ``latency_p50_s``/``latency_p99_s`` over every answered request
    (set-up included: what clients saw), ``auth_p50_s`` over token requests, and per kind the mix
    sends ``<kind>_p50_s``, ``<kind>_p99_s`` (pull and push also ``_p90_s``) over the requests of
    the kind that paid no set-up (pulls: healthy ones), with ``<kind>_p99_ci_low_s`` and
    ``_high_s``: the ``confidence`` interval over ``batches`` batches (NaN with too few requests).
    ``precision_met`` is 1 when every watched kind's interval is within ``p99_rel`` of its
    estimate; ``stopped_precise`` 1 when the arrivals stopped for that reason before a cap.
    """
    precision = run.config.workload.precision
    assert precision is not None
    watched = precise_kinds(run.config.workload)
    mix = run.config.workload.mix
    kinds = [k for k in KINDS if getattr(mix, k) > 0 or k in watched]
    ss = steady_state(series(run.requests, run.setup, kinds), 0.99, precision.confidence, precision.batches,
                      cut_by=watched)
    cut = ss.warmup_s
    after = [(r, paid) for r, paid in zip(run.requests, run.setup) if r.start >= cut]
    answered = [(r, paid) for r, paid in after if r.error is None]
    latencies = [r.latency for r, _ in answered]
    out: dict[str, float | int | str] = {
        "latency_p50_s": _quantiles(latencies)[0], "latency_p99_s": _quantiles(latencies)[2],
        "auth_p50_s": _quantiles([r.latency for r, _ in answered if r.kind == "auth"])[0],
    }
    for kind in kinds:
        ci = ss.p99[kind]
        own = series(run.requests, run.setup, [kind])[kind]
        kept = own[1][own[0] >= cut]
        p50, p90, _ = _quantiles(list(kept))
        out[f"{kind}_p50_s"] = p50
        if kind in ("pull", "push"):
            out[f"{kind}_p90_s"] = p90
        out[f"{kind}_p99_s"] = ci.estimate
        out[f"{kind}_p99_ci_low_s"], out[f"{kind}_p99_ci_high_s"] = ci.low, ci.high
        out[f"{kind}_p99_requests"] = ci.n
    login = [r.latency for r, paid in answered if paid & LOGIN]
    watched_ci = [ss.p99[k] for k in watched]
    out.update({
        "warmup_s": cut, "warmup_requests": len(run.requests) - len(after),
        "batches": min((ci.batches for ci in watched_ci), default=0),
        "precision_target": precision.p99_rel, "precision_confidence": precision.confidence,
        "precision_met": int(bool(watched_ci) and all(ci.relative_half_width <= precision.p99_rel
                                                      for ci in watched_ci)),
        "stopped_precise": int(run.stopped_precise), "precision_checks": run.precision_checks,
        "setup_share": _ratio(sum(1 for _, paid in answered if paid), len(answered)),
        "login_wait_share": _ratio(len(login), len(answered)),
        "connect_share": _ratio(sum(1 for _, paid in answered if paid & CONNECT), len(answered)),
        "login_wait_p50_s": _quantiles(login)[0],
    })
    return out


def _steady_note(run: RunRecord, k: dict) -> str:
    """The note of the steady-state statistics: the warm-up, each watched p99 and its interval, why it stopped."""
    precision = run.config.workload.precision
    assert precision is not None
    parts = []
    for kind in precise_kinds(run.config.workload):
        lo, hi = k[f"{kind}_p99_ci_low_s"], k[f"{kind}_p99_ci_high_s"]
        ci = "no interval: too few requests" if math.isnan(lo) else f"{lo * 1e3:.4g}-{hi * 1e3:.4g} ms"
        parts.append(f"{kind} p99 {k[f'{kind}_p99_s'] * 1e3:.4g} ms ({ci})")
    why = ("the arrivals stopped when every interval was within "
           f"{precision.p99_rel:.3g} of its estimate" if run.stopped_precise
           else "the arrivals ran to their cap (workload.requests or duration)")
    return (f"steady state: warm-up of {k['warmup_s']:.4g} s ({k['warmup_requests']} requests) cut by MSER-5; "
            + "; ".join(parts) + f" at {precision.confidence:.0%} over {k['batches']} batches, "
            f"requests that paid a login ({k['login_wait_share']:.2%}) or a new connection "
            f"({k['connect_share']:.2%}) apart; {why}.")


def goodput(requests: list[Request]) -> float:
    """Bytes of ``requests`` per second of the time they were served: from the first one's start to
    the last one's end (NaN without any). ``push_throughput_Bps``/``pull_throughput_Bps`` divide
    the same bytes by the window instead, which a closed loop overstates by the requests still in
    flight when it stops sending (they are answered after it); a saturated closed loop's goodput is
    the rate its bottleneck delivers, short only by the drain at its end."""
    if not requests:
        return NAN
    span = max(r.end for r in requests) - min(r.start for r in requests)
    return sum(r.size for r in requests) / span if span > 0 else NAN


def storage_kpis(run: RunRecord, by: dict[str, list[Request]], dur: DurabilityResult) -> dict[str, float | int | str]:
    """What the codec costs and buys: storage, push and pull latency, degraded reads, repair, durability."""
    sc, storage = run.config, run.repair
    push, pull = _quantiles(_latencies(by["push"])), _quantiles(_latencies(by["pull"]))
    overhead, stored, logical = run.storage_overhead
    stated = stated_loss_per_year(sc)
    if stated is not None:  # an object store or a file server: its durability is a stated figure
        dur = stated_durability(dur, stated)
    repaired = storage.bytes_written
    repair_s = storage.time_s
    answered = [r for r in run.requests if r.error is None]
    span = run.duration
    return {
        "codec": sc.registry.storage.codec, "codec_k": run.k, "codec_n": run.n,
        "storage_nodes": sc.registry.storage.nodes, "data_plane": sc.data_plane,
        "encryption": sc.registry.encryption, "failure_mode": run.plan.mode,
        "pushes": len(by["push"]), "pulls": sum(1 for r in answered if r.kind == "pull"),
        "storage_overhead": overhead, "stored_bytes": stored, "logical_bytes": logical,
        "push_p50_s": push[0], "push_p90_s": push[1], "push_p99_s": push[2],
        "pull_p50_s": pull[0], "pull_p90_s": pull[1], "pull_p99_s": pull[2],
        "push_throughput_Bps": sum(r.size for r in by["push"]) / span,
        "pull_throughput_Bps": sum(r.size for r in answered if r.kind == "pull") / span,
        "push_goodput_Bps": goodput(by["push"]),
        "pull_goodput_Bps": goodput([r for r in answered if r.kind == "pull"]),
        "degraded_pulls": len(by["degraded"]),
        "degraded_pull_p50_s": _quantiles(_latencies(by["degraded"]))[0],
        "degraded1_pull_p50_s": _quantiles(_latencies(by["degraded1"]))[0],
        "degraded2_pull_p50_s": _quantiles(_latencies(by["degraded2"]))[0],
        "degraded_slowdown": slowdown(by["degraded"], by["pull"]),
        "degraded_decoded_share": (sum(r.decoded for r in by["degraded"]) / len(by["degraded"])
                                   if by["degraded"] else NAN),
        "pull_retries": sum(r.retries for r in run.requests),
        "push_lost_writes": sum(r.lost_writes for r in run.requests),
        "repair_pull_p50_s": _quantiles(_latencies(by["repair"]))[0],
        "repair_pull_slowdown": slowdown(by["repair"], by["pull"]),
        "repair_bytes_read": storage.bytes_read, "repair_bytes_written": repaired,
        "repair_bytes_per_byte": _ratio(storage.bytes_read, repaired),
        "repair_bytes_moved_per_byte": _ratio(storage.bytes_read + repaired, repaired),
        "repair_time_s": repair_s, "repair_throughput_Bps": _ratio(repaired, repair_s),
        "repair_bandwidth_Bps": storage.bandwidth, "repair_fragments": storage.fragments,
        "repair_complete": int(not storage.repairing and not storage.unrecoverable),
        "repair_unrecoverable_blobs": storage.unrecoverable,
        "afr": dur.afr, "durability_repair_time_s": dur.repair_time_s,
        "p_loss_year_analytic": dur.p_loss_year_analytic, "p_loss_year_mc": dur.p_loss_year_mc,
        "p_loss_year_mc_low": dur.p_loss_year_mc_low, "p_loss_year_mc_high": dur.p_loss_year_mc_high,
        "p_loss_year_binomial": dur.p_loss_year_binomial, "mttdl_years": dur.mttdl_years,
        "mc_method": dur.mc_method, "durability_nines": nines(dur.p_loss_year_analytic),
        "storage_disk_utilisation": run.storage_disk_utilisation,
        "registry_cpu_busy_s": run.registry_cpu_busy_s,
    }


def _series(run: RunRecord) -> pd.DataFrame:
    frames = []
    if run.samples and stores_blobs(run):
        t, disk, disk_max, nic, down = (np.asarray(c, dtype=float) for c in zip(*run.samples))
        metrics = {"storage_disk_utilisation": disk, "storage_disk_utilisation_max": disk_max,
                   "storage_nic_utilisation": nic, "storage_nodes_down": down}
        frames += [pd.DataFrame({"time_s": t, "metric": m, "value": v}) for m, v in metrics.items()]
    if run.repair.bytes_written:
        # a step per blob rebuilt, from 0 when the first repair starts to 1 when the last ends
        times, written = zip(*run.repair.progress)
        frames.append(pd.DataFrame({"time_s": times, "metric": "repair_progress",
                                    "value": np.asarray(written, dtype=float) / run.repair.bytes_written}))
    edges = np.linspace(0.0, run.duration, LATENCY_BINS + 1)
    for kind in ("pull", "push"):
        done = [r for r in run.requests if r.kind == kind and r.error is None]
        if not done:
            continue
        start = np.array([r.start for r in done])
        latency = np.array([r.latency for r in done])
        bins = np.clip(np.searchsorted(edges, start, side="right") - 1, 0, LATENCY_BINS - 1)
        rows = [(float(edges[b + 1]), float(np.median(latency[bins == b]))) for b in np.unique(bins)]
        frames.append(pd.DataFrame({"time_s": [r[0] for r in rows], "metric": f"{kind}_latency_p50_s",
                                    "value": [r[1] for r in rows]}))
    frames += access_series(run)
    if not frames:
        return pd.DataFrame({"time_s": [], "metric": [], "value": []})
    return pd.concat(frames, ignore_index=True)


def _fmt(value: float, unit: str = "s") -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g} {unit}".rstrip()


def _notes(run: RunRecord, k: dict, dur: DurabilityResult) -> list[str]:
    codec = k["codec"]
    rs = codec.startswith("rs(")
    notes = [
        f"{codec}: the registry stores {k['storage_overhead']:.3f} bytes per byte pushed "
        f"(n/k = {run.n / run.k:.3f}; the rest is fragment headers and encryption tags).",
        f"{codec}: push p50 {_fmt(k['push_p50_s'])}, pull p50 {_fmt(k['pull_p50_s'])}; degraded pulls "
        f"{_fmt(k['degraded1_pull_p50_s'])} with one fragment lost, {_fmt(k['degraded2_pull_p50_s'])} with two "
        f"({'decoded from k fragments on the frontend' if rs else 'read from another replica, nothing to decode'}; "
        f"{_fmt(k['degraded_slowdown'], 'times')} a healthy pull of the same layer).",
    ]
    if k["repair_bytes_written"]:
        notes.append(
            f"{codec}: the repair rebuilt {k['repair_bytes_written'] / 1e9:.3g} GB in {_fmt(k['repair_time_s'])} "
            f"under a {format_rate(run.repair.bandwidth)} cap, reading {k['repair_bytes_per_byte']:.3g} bytes per "
            f"byte rebuilt (k = {run.k}); healthy pulls during the repair took "
            f"{_fmt(k['repair_pull_slowdown'], 'times')} their healthy p50 (same layer).")
    notes.append(
        f"{codec}: P(data loss in a year) per stripe at AFR {dur.afr * 100:.3g} % and "
        f"{format_duration(dur.repair_time_s)} "
        f"repair = {dur.p_loss_year_analytic:.3g} (Markov chain), {dur.p_loss_year_mc:.3g} simulated "
        f"[{dur.p_loss_year_mc_low:.3g}, {dur.p_loss_year_mc_high:.3g}] ({dur.mc_method}): "
        f"{k['durability_nines']:.1f} nines.")
    if dur.mc_method.startswith("importance") and 0.0 < dur.p_loss_year_analytic < 1.0:
        notes.append(
            f"{codec}: plain Monte Carlo cannot see a {dur.p_loss_year_analytic:.2g} loss: a +-10 % estimate at 95 % "
            f"needs {trials_needed(dur.p_loss_year_analytic):.2g} simulated stripe-years, and {dur.mc_trials:,} of "
            f"them expect {dur.mc_trials * dur.p_loss_year_analytic:.1g} losses. regsim instead samples failure paths with importance sampling "
            "(balanced failure biasing, every path weighted by its likelihood ratio, so the estimate stays "
            "unbiased) and checks plain Monte Carlo against the Markov chain at high failure rates where it "
            "does see losses (docs/durability.md).")
    failures = run.config.failures
    if failures.afr <= 0 or failures.repair_time <= 0:
        notes.append(f"failures.afr or failures.repair_time is 0: durability uses AFR {DEFAULT_AFR:.0%} "
                     f"and {format_duration(DEFAULT_REPAIR_S)} repair instead.")
    if run.plan.phase_nodes is not None:
        a, b = run.plan.phase_nodes
        notes.append(f"Degraded phases over T = {format_duration(run.duration)}: {a} failed at T/4, {b} at T/2; "
                     f"at 3T/4 {a} came back with its data and {b} was replaced and rebuilt.")
    if k["requests_failed"]:
        causes = Counter((r.error or "").split(":")[0] for r in run.requests if r.error is not None)
        notes.append(f"{codec}: {k['requests_failed']} requests failed ("
                     + ", ".join(f"{cause}: {count}" for cause, count in sorted(causes.items())) + ").")
    return notes
