"""What the access layer, the auth path and the monitor report: KPIs, time series and notes.

The **window** is the time in which the workload sent requests (its duration, or until
``workload.requests`` were sent). ``offered_rps`` is the arrival rate: the configured rate of an
open loop, what the clients sent per second in a closed loop. ``throughput_rps`` is the rate at
which the registry answered: 95 % of the answered requests over the time from the first arrival
to the moment that 95 % had been answered -- the offered rate when the registry keeps up, its
service rate when a queue builds, whatever the window's length, and blind to the last 5 %
(a request that waits for a token refresh at the end of a short window). Utilisations are time
averages over the window.

The **saturation point** of a variant follows from the utilisation law, applied to every resource
a request may queue for (:data:`RESOURCES`): the frontends' cores (``frontend_cpu``: request work;
``tls_handshakes``: the server side of TLS handshakes, on the same cores), the token service's
cores (``token_service_cpu``: logins, refreshes included), the database's connection pool
(``db_pool``; the database's own CPU is not modelled apart from the pool, see
:mod:`regsim.sim.database`), and the network: the registry site's egress (``egress``: pulled
bytes) and, over the same duplex link, its ingress (``ingress``: pushed bytes). Each resource ``r``
accumulated ``B_r`` of busy time (core-seconds, connection-seconds, bytes) over the whole run
while its ``C`` requests completed, so a request of the observed mix demands ``D_r = B_r / C`` of
it, and ``r`` alone allows at most ``servers_r / D_r`` requests per second (``servers``: cores,
connections, bytes/s). ``capacity_rps`` is the least of these and ``bottleneck`` names that
resource: the one that saturates first. TLS handshakes and request work share the frontends'
cores, so they have one bound, ``cores / (D_frontend_cpu + D_tls_handshakes)``, named
``tls_handshakes`` when the handshakes take the larger share of those cores' time per request
(``D_tls_handshakes > D_frontend_cpu``: request work is HTTP handling, token checks and the
rest), ``frontend_cpu`` otherwise. Token refreshes count like any other demand: they come at about
``clients / token_ttl`` (not in proportion to the rate), so the token service's bound is the rate
at which the observed mix -- the same clients, the same refreshes per request -- saturates it.

Demands are measured over two spans (:func:`demands`): the measurement window (when at least
:data:`MIN_WINDOW_REQUESTS` requests completed in it) and the whole run (the drain after the
window included). Each can only overstate a demand -- the window by work already done on requests
still in flight at its end, the whole run by a drain whose requests cost more than the window's
(behind a saturated token service, waits outgrow the tokens' lifetime and every request needs a
login) -- so each resource's demand is the lesser of the two. When the window's is taken and its
resource was ~100 % busy, ``capacity_rps`` is the rate at which requests completed in the window
(answered or failed) over that utilisation: the utilisation law on the window.

A run is ``saturated`` when it completes requests (answered or failed) 5 % slower than they
arrived -- 95 % of them over the time from the first arrival until 95 % were done, against 95 %
over the time until 95 % had arrived, so the arrivals the run actually drew count, not the nominal
rate -- or a resource was 95 % busy over the window. Utilisations are time averages over the
window (``frontend_cpu``'s includes its handshakes). A database pool of ``c`` connections held
``s`` seconds per request saturates at ``c / s``.

Everything here reads a :class:`~.record.RunRecord`; :func:`resource_counters` is what the run
reads off its platform and auth path at the end of the window and of the run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regsim.registry.receipts import Kind, WorkItem
from regsim.spec.quantities import format_duration

from .monitoring import LEVELS, alert_counts
from .record import Counters, RunRecord
from .request import FAILURES

if TYPE_CHECKING:
    from regsim.models.core.world import World

    from .auth_path import AuthPath

__all__ = ["FAILURES", "MAX_BINS", "MIN_WINDOW_REQUESTS", "RESOURCES", "SATURATION", "access_kpis", "access_notes",
           "access_series", "answer_rate", "arrival_rate", "capacity", "demand_spans", "demands", "method",
           "resource_counters", "servers", "tee_kpis"]

NAN = float("nan")
#: a run is saturated when it completes requests slower than SATURATION * offered, or a resource is this busy
SATURATION = 0.95
#: the request series have at most this many bins over the run
MAX_BINS = 200


#: demands per request come from the window's counters when at least this many requests completed in
#: the window (:func:`demand_span`), from the whole run's otherwise
MIN_WINDOW_REQUESTS = 100

#: the two parts of the frontends' cores' demand
FRONTEND = ("frontend_cpu", "tls_handshakes")

#: the resources :func:`capacity` bounds the request rate by, in the order the report lists them
RESOURCES = ("frontend_cpu", "tls_handshakes", "token_service_cpu", "db_pool", "egress", "ingress")


def resource_counters(world: World, auth: AuthPath, done: int,
                      handshakes: Mapping[str, int] | None = None) -> dict[str, float]:
    """The counters the KPIs need, read now (the run reads them at the end of the window and at
    its end; ``done``: requests finished so far; ``handshakes``: the access layer's TLS handshakes
    so far, "full" and "resumed"): busy time of each resource in its unit (core-seconds,
    connection-seconds, bytes).

    ``frontend_cpu`` is every core-second of the frontends, handshakes included;
    ``tls_handshakes`` is the part of it the handshakes took, priced as the executor prices them.
    """
    handshakes = handshakes or {}
    executor = world.executor
    tls = 0.0
    if world.frontends:
        fe = world.frontends[0]
        profile = executor.tee_profile if fe in executor.tee_nodes else executor.profile
        for name, kind in (("full", Kind.TLS_HANDSHAKE_FULL), ("resumed", Kind.TLS_HANDSHAKE_RESUMED)):
            if handshakes.get(name):
                tls += handshakes[name] * profile.cost(WorkItem(kind, 1, fe))
    return {
        "time": world.env.now,
        "done": float(done),
        "frontend_cpu": sum(world.cpus[fe].busy_s for fe in world.frontends),
        "tls_handshakes": tls,
        "token_service_cpu": auth.cpu.busy_s if auth.database is not None else 0.0,
        "db_pool": sum(db.in_use.area for db in auth.databases),
        "egress": float(world.net.bytes_by_tag.get("egress", 0.0)),
        "ingress": float(world.net.bytes_by_tag.get("ingress", 0.0)),
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


def servers(run: RunRecord) -> dict[str, float]:
    """Each resource's capacity in the unit of its busy time per second: cores, connections, bytes/s."""
    reg = run.config.registry
    cores = reg.frontends * reg.cores
    out = {"frontend_cpu": float(cores), "tls_handshakes": float(cores)}
    if run.auth.has_database:
        out["token_service_cpu"] = float(reg.auth.service_cores)
        out["db_pool"] = float(run.auth.db_pool)
    # the site's link to the core carries the egress each way (core/world.py)
    out["egress"] = out["ingress"] = float(reg.egress)
    return out


def _span_demands(run: RunRecord, counters: Counters) -> dict[str, float]:
    """Each resource's busy time per request completed, both read from ``counters`` (every counter
    is zero at time 0); ``frontend_cpu`` without the handshakes' part."""
    done = counters.get("done", 0.0)
    if not done:
        return {}
    out = {name: counters.get(name, 0.0) / done for name in servers(run)}
    out["frontend_cpu"] = max(0.0, out["frontend_cpu"] - out["tls_handshakes"])  # the handshakes' part apart
    return out


def demand_spans(run: RunRecord) -> dict[str, str]:
    """Where each resource's demand comes from: ``"window"`` or ``"run"`` (see :func:`demands`)."""
    return _choose(run)[1]


def _choose(run: RunRecord) -> tuple[dict[str, float], dict[str, str]]:
    whole = _span_demands(run, run.end_counters)
    window = (_span_demands(run, run.window_counters)
              if run.window_counters.get("done", 0.0) >= MIN_WINDOW_REQUESTS else {})
    chosen: dict[str, float] = {}
    spans: dict[str, str] = {}
    # the frontends' two parts share their cores: one choice for both, by their sum
    groups = [("frontend_cpu", "tls_handshakes")] + [(name,) for name in whole if name not in FRONTEND]
    for group in groups:
        run_d = sum(whole.get(name, 0.0) for name in group)
        win_d = sum(window.get(name, 0.0) for name in group) if window else math.inf
        span, source = ("window", window) if 0 < win_d <= run_d else ("run", whole)
        for name in group:
            chosen[name], spans[name] = source.get(name, 0.0), span
    return {name: d for name, d in chosen.items() if d > 0}, {name: spans[name] for name in chosen if chosen[name] > 0}


def demands(run: RunRecord) -> dict[str, float]:
    """Each resource's demand per completed request (its busy time over the requests completed);
    resources no request used are left out.

    Two spans give an estimate, and each can only err high in a run that starts empty (the steady
    state at time 0 has no work under way):

    - the **window** (from time 0, when every counter is zero, to the end of the measurement
      window; used only when at least :data:`MIN_WINDOW_REQUESTS` requests completed in it): it
      counts work already done for requests still in flight at its end -- the earlier stages of
      requests queued behind later arrivals' (a manifest GET's HTTP handling waiting for its
      signature check on the same FIFO cores, a session check's first query waiting for its
      second), which an overloaded run piles up;
    - the **whole run** (every request sent, all their work, the drain after the window
      included): exact for the run's own mix, but that mix is not the window's when the drain
      costs more per request -- behind a saturated token service the waits outgrow the tokens'
      lifetime, so the drain's requests each need a login where the window's mostly did not.

    So each resource's demand is the lesser of the two (the frontends' request work and handshakes,
    which share cores, by their sum): when the bottleneck was busy throughout the window and the
    window's estimate is taken, ``capacity_rps`` is the rate at which requests completed in the
    window over its utilisation (the utilisation law), within a few percent of that rate.
    """
    return _choose(run)[0]


def capacity(run: RunRecord) -> tuple[float, str, dict[str, float]]:
    """(requests/s the bottleneck allows, its name, each resource's utilisation over the window).

    The bound of each resource is ``servers / demand`` (:func:`demands`); the frontends' cores
    serve both request work and TLS handshakes, so theirs is ``cores / (both demands)``, named
    ``tls_handshakes`` when the handshakes' demand exceeds the request work's (they take the larger
    share of the cores' time), ``frontend_cpu`` otherwise.
    """
    window = max(run.window, 1e-12)
    n = servers(run)
    at_window = run.window_counters
    utilisation = {name: at_window.get(name, 0.0) / (count * window) for name, count in n.items()}
    d = demands(run)
    bounds = {name: n[name] / d[name] for name in d if name not in ("frontend_cpu", "tls_handshakes")}
    cpu, tls = d.get("frontend_cpu", 0.0), d.get("tls_handshakes", 0.0)
    if cpu + tls > 0:
        bounds["tls_handshakes" if tls > cpu else "frontend_cpu"] = n["frontend_cpu"] / (cpu + tls)
    if not bounds:
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
    if run.rotations:
        kpis.update(rotation_kpis(run))
    kpis.update(dict(run.credentials))
    return kpis


#: the span after a rotation over which its storm is measured
STORM_S = 10.0


def rotation_kpis(run: RunRecord) -> dict[str, float | int]:
    """The handshake storm a certificate rotation causes: handshakes that could not resume, the
    peak handshake rate (1 s bins) against the rate before the first rotation, and request latency
    in the :data:`STORM_S` after each rotation against before the first."""
    first = run.rotations[0]
    times = np.array([t for t, _ in run.handshake_times])
    before = times[times < first]
    peak = float(np.bincount(np.floor(times).astype(int)).max()) if len(times) else 0.0
    ok = [r for r in run.requests if r.failure is None]
    after = [r.latency for r in ok if any(rot <= r.start < rot + STORM_S for rot in run.rotations)]
    calm = [r.latency for r in ok if r.start < first]
    return {
        "tls_rotations": len(run.rotations), "tls_forced_full_handshakes": run.handshakes.get("forced_full", 0),
        "tls_handshake_peak_per_s": peak,
        "tls_handshakes_per_s_before": len(before) / first if first > 0 else NAN,
        "latency_p99_before_rotation_s": _p(calm, 0.99), "latency_p99_after_rotation_s": _p(after, 0.99),
    }


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
    dt = max(run.interval, run.end_time / MAX_BINS)
    if run.requests:
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
    if run.rotations and run.handshake_times:
        t, kind = zip(*run.handshake_times)
        shakes = pd.DataFrame({"time_s": (np.floor(np.array(t) / dt) + 1) * dt, "kind": kind})
        rate = shakes.groupby(["time_s", "kind"]).size().rename("value").reset_index()
        frames.append(rate.assign(metric="tls_handshakes_per_s", value=rate.value / dt)
                      [["time_s", "metric", "value", "kind"]])
    if run.alerts:
        frames.append(pd.DataFrame({"time_s": [a.time for a in run.alerts], "metric": "alert",
                                    "value": [float(LEVELS.index(a.level) + 1) for a in run.alerts],
                                    "rule": [a.rule for a in run.alerts],
                                    "subject": [a.subject for a in run.alerts]}))
    return frames


def _busy(run: RunRecord, name: str) -> str:
    """``name``'s utilisation over the window, as a percentage."""
    util = capacity(run)[2].get(name, NAN)
    return "n/a" if math.isnan(util) else f"{util:.0%}"


def access_notes(run: RunRecord, k: dict) -> list[str]:
    """The notes of the access layer, the auth path, the TEE, the faults and the alerts (``k``: the KPIs)."""
    label = k["auth_method"]
    notes = []
    if not math.isnan(k["capacity_rps"]):
        notes.append(
            f"{label}: saturates at about {k['capacity_rps']:,.0f} requests/s ({k['bottleneck']} is the bottleneck: "
            f"the resource that saturates first, by the utilisation law on the run's demands per request; "
            f"{_busy(run, k['bottleneck'])} busy over the window); offered {k['offered_rps']:,.0f}/s, answered "
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
