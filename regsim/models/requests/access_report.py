"""What the access layer, the auth path and the monitor report: KPIs, time series and notes.

The **window** is the time in which the workload sent requests (its duration, or until
``workload.requests`` were sent). ``offered_rps`` is the arrival rate: the configured rate of an
open loop, what the clients sent per second in a closed loop. ``throughput_rps`` is the rate at
which the registry answered: 95 % of the answered requests over the time from the first arrival
to the moment that 95 % had been answered -- the offered rate when the registry keeps up, its
service rate when a queue builds, whatever the window's length, and blind to the last 5 %
(a request that waits for a token refresh at the end of a short window). Utilisations are time
averages over the window.

The **saturation point** of a variant follows from the utilisation law: each resource ``r`` --
the frontends' cores, the registry's egress, the database's connection pool in ``db`` mode, and
the token service's cores (with its users database in ``jwt`` mode) when the mix has token
requests -- was busy ``B_r`` over the whole run while its ``C`` requests were served, so each
request demands ``D_r = B_r / C`` of it and ``r`` can serve at most ``servers_r / D_r`` requests
per second. ``capacity_rps`` is the least of these and ``bottleneck`` names its resource. (Token
refreshes are not per request: they come at about ``clients / token_ttl`` whatever the rate, so
they load the token service, reported as its utilisation, without bounding the request rate.) A run
is ``saturated`` when it completes requests (answered or failed) 5 % slower than they arrived -- 95 %
of them over the time from the first arrival until 95 % were done, against 95 % over the time until
95 % had arrived, so the arrivals the run actually drew count, not the nominal rate -- or a resource
was 95 % busy over the window. A database pool of ``c`` connections held ``s``
seconds per request saturates at ``c / s``.

Everything here reads a :class:`~.record.RunRecord`; :func:`resource_counters` is what the run
reads off its platform and auth path at the end of the window and of the run.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regsim.spec.quantities import format_duration

from .monitoring import LEVELS, alert_counts
from .record import RunRecord
from .request import FAILURES

if TYPE_CHECKING:
    from regsim.models.core.world import World

    from .auth_path import AuthPath

__all__ = ["FAILURES", "MAX_BINS", "SATURATION", "access_kpis", "access_notes", "access_series", "answer_rate",
           "arrival_rate", "capacity", "method", "resource_counters", "tee_kpis"]

NAN = float("nan")
#: a run is saturated when it completes requests slower than SATURATION * offered, or a resource is this busy
SATURATION = 0.95
#: the request series have at most this many bins over the run
MAX_BINS = 200


def resource_counters(world: World, auth: AuthPath, done: int) -> dict[str, float]:
    """The counters the KPIs need, read now (the run reads them at the end of the window and at
    its end; ``done``: requests finished so far): busy time of each resource in its unit
    (core-seconds, bytes, ...)."""
    return {
        "time": world.env.now,
        "done": float(done),
        "frontend_cpu": sum(world.cpus[fe].busy_s for fe in world.frontends),
        "token_service_cpu": auth.cpu.busy_s if auth.database is not None else 0.0,
        "db_pool": sum(db.in_use.area for db in auth.databases),
        "egress": float(world.net.bytes_by_tag.get("egress", 0.0)),
        "logins": float(auth.logins),
        "refreshes": float(auth.refreshes),
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b else NAN


def _p(values: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(values), q)) if values else NAN


def arrival_rate(run: RunRecord, share: float = 0.95) -> float:
    """Requests arriving per second, measured as :func:`answer_rate` with ``failed`` measures their
    completions: ``share`` of the requests over the time from the first arrival until that share had
    arrived (infinite when they arrived at once)."""
    starts = sorted(r.start for r in run.requests)
    if not starts:
        return 0.0
    k = max(1, math.ceil(share * len(starts)))
    span = starts[k - 1] - starts[0]
    return k / span if span > 0 else math.inf


def answer_rate(run: RunRecord, share: float = 0.95, *, failed: bool = False) -> float:
    """Requests answered per second: ``share`` of the answered requests (with ``failed``, of all
    requests, failed ones too) over the time from the first arrival until that share was done."""
    ends = sorted(r.end for r in run.requests if failed or r.failure is None)
    if not ends:
        return 0.0
    k = max(1, math.ceil(share * len(ends)))
    span = ends[k - 1] - min(r.start for r in run.requests)
    return k / span if span > 0 else NAN


def method(run: RunRecord) -> str:
    """``none``, ``jwt``, ``jwt+cache``, ``db-session`` or ``db-basic``: how requests authenticate."""
    auth = run.config.registry.auth
    if auth.mode == "jwt":
        return "jwt+cache" if auth.cache else "jwt"
    if auth.mode == "db":
        return f"db-{auth.db.credentials}"
    return "none"


def capacity(run: RunRecord) -> tuple[float, str, dict[str, float]]:
    """(requests/s the bottleneck allows, its name, each resource's utilisation over the window)."""
    reg, window = run.config.registry, max(run.window, 1e-12)
    servers = {"frontend_cpu": reg.frontends * reg.cores, "egress": reg.egress}
    if run.auth.has_database:
        servers["token_service_cpu"] = reg.auth.service_cores
        servers["db_pool"] = run.auth.db_pool
    at_window, at_end = run.window_counters, run.end_counters
    utilisation = {name: at_window[name] / (n * window) for name, n in servers.items()}
    logins_only = {"token_service_cpu"} | ({"db_pool"} if reg.auth.mode == "jwt" else set())
    per_request = {name for name in servers if name not in logins_only or run.config.workload.mix.auth > 0}
    done = len(run.requests)
    bounds = {name: servers[name] * done / at_end[name] for name in per_request if at_end[name] > 0}
    if not bounds or not done:
        return NAN, "", utilisation
    name = min(bounds, key=bounds.__getitem__)
    return bounds[name], name, utilisation


def access_kpis(run: RunRecord, baseline: RunRecord | None = None) -> dict[str, float | int | str | bool]:
    """The access layer's, the auth path's and the monitor's KPIs (and the TEE's, against ``baseline``)."""
    reqs, window = run.requests, max(run.window, 1e-12)
    ok = [r for r in reqs if r.failure is None]
    latencies = [r.latency for r in ok]
    offered = run.offered_rps
    throughput = answer_rate(run)
    # against the requests that arrived, not the nominal rate: a short open loop may see 77
    # arrivals where 100 were expected. Failures count as completions: they are not a queue.
    arrived = arrival_rate(run)
    keeping_up = math.isinf(arrived) or answer_rate(run, failed=True) >= SATURATION * arrived
    cap, bottleneck, util = capacity(run)
    busiest = max(util.values()) if util else 0.0
    failures = Counter(r.failure for r in reqs if r.failure is not None)
    handshakes = run.handshakes
    queries = run.auth.db_queries
    alerts = alert_counts(run.alerts)
    kpis: dict[str, float | int | str | bool] = {
        "auth_method": method(run), "offered_rps": offered, "throughput_rps": throughput,
        "latency_p50_s": _p(latencies, 0.5), "latency_p99_s": _p(latencies, 0.99),
        "db_queries_per_request": _ratio(queries, len(reqs)) if run.auth.has_database else 0.0,
        "db_utilisation": util.get("db_pool", NAN),
        "saturated": bool(not keeping_up or busiest >= SATURATION),
        "capacity_rps": cap, "bottleneck": bottleneck,
        "frontend_cpu_utilisation": util["frontend_cpu"],
        "token_service_utilisation": util.get("token_service_cpu", NAN),
        "window_s": run.window,
        "logins_per_s": run.window_counters["logins"] / window,
        "token_refreshes_per_s": run.window_counters["refreshes"] / window,
        "login_failures": run.auth.login_failures,
        "connections_opened": handshakes["tcp"], "tls_full_handshakes": handshakes["full"],
        "tls_resumed_handshakes": handshakes["resumed"],
        "handshakes_per_request": _ratio(handshakes["full"] + handshakes["resumed"], len(reqs)),
        **{f"{f}_failures": failures.get(f, 0) for f in FAILURES},
        **{f"alerts_{level}": alerts[level] for level in LEVELS},
    }
    if run.scans:
        kpis["scans"] = len(run.scans)
        kpis["scan_time_s"] = float(np.mean([s.end - s.start for s in run.scans]))
    if run.tee is not None:
        kpis.update(tee_kpis(run, baseline))
    return kpis


def tee_kpis(run: RunRecord, baseline: RunRecord | None) -> dict[str, float | int | str | bool]:
    """The TEE's latency rise: each class's p50 over the same run's without the TEE."""
    tee = run.tee
    assert tee is not None
    out: dict[str, float | int | str | bool] = {
        "tee": tee.kind, "tee_working_set": tee.working_set, "tee_paged_fraction": tee.paged_fraction,
    }
    base = baseline or run
    for name, kinds in (("", None), ("pull_", ("pull",)), ("auth_", ("auth", "manifest"))):
        mine = _p([r.latency for r in run.requests if r.failure is None and (kinds is None or r.kind in kinds)], 0.5)
        theirs = _p([r.latency for r in base.requests if r.failure is None and (kinds is None or r.kind in kinds)], 0.5)
        out[f"tee_{name}latency_rise"] = _ratio(mine, theirs) - 1 if not math.isnan(mine) else NAN
        if not name:
            out["baseline_latency_p50_s"] = theirs
    return out


def access_series(run: RunRecord) -> list[pd.DataFrame]:
    """Per bin of ``monitoring.interval`` (at most :data:`MAX_BINS` bins over the run): the share of
    each kind's requests answered, and failed per cause, and their latency p50 and p99; stored bytes
    and utilisation per repository; and every alert (value: its level's rank, 1 = warning)."""
    frames = []
    if run.requests:
        dt = max(run.interval, run.end_time / MAX_BINS)
        reqs = pd.DataFrame({"kind": [r.kind for r in run.requests], "failure": [r.failure or "" for r in run.requests],
                             "latency": [r.latency for r in run.requests],
                             "time_s": (np.floor([r.end / dt for r in run.requests]) + 1) * dt})
        shares = pd.crosstab([reqs.kind, reqs.time_s], reqs.failure, normalize="index")
        shares = shares.rename(columns={"": "success_rate", **{f: f"{f}_failure_rate" for f in FAILURES}})
        for f in ("success_rate", *(f"{f}_failure_rate" for f in FAILURES)):
            if f not in shares:
                shares[f] = 0.0
        ok = reqs[reqs.failure == ""].groupby(["kind", "time_s"]).latency
        table = shares.join(ok.median().rename("latency_p50_s")).join(ok.quantile(0.99).rename("latency_p99_s"))
        table.columns.name = None
        long = table.reset_index().melt(id_vars=["kind", "time_s"], var_name="metric", value_name="value").dropna()
        frames.append(long[["time_s", "metric", "value", "kind"]])
    if run.storage_samples:
        t, repo, stored = zip(*run.storage_samples)
        frame = pd.DataFrame({"time_s": t, "metric": "storage_bytes", "value": stored, "repository": repo})
        frames.append(frame)
        if run.capacity is not None:
            frames.append(frame.assign(metric="storage_utilisation", value=frame.value / run.capacity))
    if run.alerts:
        frames.append(pd.DataFrame({"time_s": [a.time for a in run.alerts], "metric": "alert",
                                    "value": [float(LEVELS.index(a.level) + 1) for a in run.alerts],
                                    "rule": [a.rule for a in run.alerts],
                                    "subject": [a.subject for a in run.alerts]}))
    return frames


def access_notes(run: RunRecord, k: dict) -> list[str]:
    """The notes of the access layer, the auth path, the TEE, the faults and the alerts (``k``: the KPIs)."""
    label = k["auth_method"]
    notes = []
    if not math.isnan(k["capacity_rps"]):
        notes.append(
            f"{label}: saturates at about {k['capacity_rps']:,.0f} requests/s ({k['bottleneck']} is the bottleneck, "
            f"by the utilisation law over the window); offered {k['offered_rps']:,.0f}/s, answered "
            f"{k['throughput_rps']:,.0f}/s with p50 {k['latency_p50_s'] * 1e3:.3g} ms and p99 "
            f"{k['latency_p99_s'] * 1e3:.3g} ms{' -- saturated' if k['saturated'] else ''}.")
    if run.auth.has_database:
        notes.append(f"{label}: {k['db_queries_per_request']:.3g} database queries per request; "
                     f"{k['token_refreshes_per_s']:.3g} token refreshes/s with a {format_duration(run.auth.token_ttl)} TTL "
                     f"put the token service at {k['token_service_utilisation']:.1%} busy.")
    if run.tee is not None:
        notes.append(f"{k['tee']} TEE (working set {k['tee_working_set'] / 2**20:.0f} MiB, "
                     f"{k['tee_paged_fraction']:.0%} paged): median latency {k['tee_latency_rise']:+.1%} "
                     f"(pulls {k['tee_pull_latency_rise']:+.1%}, auth and manifests {k['tee_auth_latency_rise']:+.1%}) "
                     f"against the same run without the TEE.")
    for when, kind, target, edge in run.faults:
        notes.append(f"fault: {kind} of {target} {'starts' if edge == 'start' else 'ends'} at {when:.6g} s.")
    for alert in run.alerts[:20]:
        notes.append(f"alert at {alert.time:.6g} s: {alert.level} {alert.rule} ({alert.subject}): {alert.message}.")
    if len(run.alerts) > 20:
        notes.append(f"... and {len(run.alerts) - 20} more alerts (alerts.csv lists them all).")
    return notes
