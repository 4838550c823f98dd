"""Steady-state statistics of a request-load run: the warm-up cut, quantile intervals, the stop rule.

A run that simulates a fixed number of requests measures whatever that sample happens to hold: a
short window at a high rate, a long one at a low rate, with more or fewer of the requests that
paid for a login or a new connection. ``workload.precision`` (:class:`~.config.Precision`) makes
a load point run until its latency quantile is known to a stated precision instead, and this
module holds the statistics it needs:

- **the warm-up cut** (:func:`mser5`): MSER-5 truncation (White, 1997; White, Cobb & Spratt,
  2000). The series (latencies in order of arrival) is averaged in batches of 5; the cut ``d`` is
  the number of leading batches whose removal minimises ``MSER(d) = sum_{i>d} (Z_i - mean_{>d})^2
  / (m - d)^2`` over ``d`` in the first half of the ``m`` batches -- the truncation point that
  best trades the bias of the transient against the variance of a shorter sample. A series with
  no transient is not cut (ties go to the smallest ``d``).
- **the quantile's interval** (:func:`quantile_ci`): batching by *sectioning* (Asmussen & Glynn,
  2007, ch. IV; Nakayama, 2014). The post-warm-up sample is split, in arrival order, into ``b``
  contiguous batches; the point estimate is the quantile of the whole sample, and the interval
  is ``estimate +- t(b-1) * s / sqrt(b)`` with ``s`` the standard deviation of the ``b`` batch
  quantiles. Contiguous batches absorb the series' autocorrelation (queueing makes neighbours
  alike); centring on the whole sample's quantile avoids the small-batch bias of a batch
  quantile's mean. A batch must hold at least :data:`TAIL_POINTS` observations beyond the
  quantile (500 for a p99), else no interval is given.
- **what a request paid to set up** (:data:`CONNECT`, :data:`LOGIN`): a request that opened (or
  waited for) a new connection, or waited for its client's credentials to be refreshed, carries
  a cost that arrives at a rate of its own -- one connection per ``keep_alive`` requests, one
  refresh per client per token TTL, whatever the request rate -- so its share of a sample
  changes with the load and the sample's length, and with it a tail quantile that mixes them in.
  The steady-state KPIs of each kind are taken over requests that paid no set-up (their share
  and latency are reported apart), which is what makes them grow with the load alone.
- **the stop rule** (:class:`PrecisionWatch`): the run checks the interval of each watched
  kind's p99 as requests complete -- at 1,000 completions, then each time they grew by 10 % --
  over the requests that started before the oldest one still in flight (a prefix of the arrival
  order, so a slow request still out cannot bias it), and stops the arrivals when every interval
  is within ``p99_rel`` of its estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from typing import TYPE_CHECKING

import numpy as np

from .auth_path import REFRESH_MARGIN_S
from .request import AUTH, PULL, Request

if TYPE_CHECKING:
    from .access import AccessLayer
    from .auth_path import AuthPath

__all__ = ["CONNECT", "LOGIN", "MSER_BATCH", "TAIL_POINTS", "PrecisionWatch", "QuantileCI", "SteadyState",
           "connects", "min_batch", "mser5", "quantile_ci", "series", "steady_state", "t_quantile",
           "waits_for_login"]

#: a request opened (or waited for) a new connection: TCP, and with TLS a handshake
CONNECT = 1
#: a request waited for its client's credentials to be issued or refreshed (not a token request's own login)
LOGIN = 2
#: MSER-5 averages the series in batches of this many observations
MSER_BATCH = 5
#: a batch of the quantile's interval holds at least this many observations beyond the quantile
TAIL_POINTS = 5
#: the stop rule first checks at this many completed requests, then each time they grow by CHECK_GROWTH
FIRST_CHECK = 1000
CHECK_GROWTH = 1.1

NAN = float("nan")


#: differences of latency below this are the simulated clock's rounding (float seconds), not a transient
RESOLUTION_S = 1e-9


def mser5(series: Sequence[float] | np.ndarray, batch: int = MSER_BATCH, resolution: float = RESOLUTION_S) -> int:
    """How many leading observations of ``series`` are warm-up, by MSER-``batch`` (a multiple of ``batch``).

    The cut is searched over the first half of the series (a cut beyond it would mean the run is
    too short to have a steady state; the half is the usual bound). Series shorter than two
    batches are not cut. Statistics within ``resolution**2 / batches`` of the minimum tie (the
    variance of values that differ by less than ``resolution``): a series flat but for the
    clock's rounding is not cut.
    """
    x = np.asarray(series, dtype=float)
    m = len(x) // batch
    if m < 2:
        return 0
    z = x[: m * batch].reshape(m, batch).mean(axis=1)
    z = z - z.mean()  # centred: the sums below then lose no precision to cancellation
    n = np.arange(m, 0, -1, dtype=float)  # batches kept for each cut d = 0 .. m-1
    tail_sum = np.cumsum(z[::-1])[::-1]
    tail_sq = np.cumsum((z * z)[::-1])[::-1]
    stat = np.maximum(tail_sq - tail_sum * tail_sum / n, 0.0) / (n * n)
    stat = stat[: m // 2 + 1]
    # the smallest cut within rounding of the minimum: a flat series keeps its first batch
    d = int(np.flatnonzero(stat <= float(stat.min()) * (1 + 1e-9) + resolution**2 / m)[0])
    return d * batch


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile of probability ``p`` with ``df`` degrees of freedom.

    The Cornish-Fisher expansion about the normal quantile (Abramowitz & Stegun 26.7.5, terms to
    ``1/df^4``): within 1e-4 of the exact value for ``df >= 5`` at the usual probabilities
    (t(0.975, 19) = 2.0930), which is far below the sampling error of the intervals it scales.
    """
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    z = NormalDist().inv_cdf(p)
    v = float(df)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / v + g2 / v**2 + g3 / v**3 + g4 / v**4


def min_batch(q: float) -> int:
    """The fewest observations a batch needs for its ``q`` quantile: :data:`TAIL_POINTS` beyond it."""
    return math.ceil(TAIL_POINTS / (1.0 - q) - 1e-9)


@dataclass(frozen=True)
class QuantileCI:
    """A quantile's point estimate and its confidence interval (NaN when the sample is too small)."""

    estimate: float
    low: float
    high: float
    #: batches the interval was taken over (0: too few observations for one)
    batches: int
    #: observations the estimate was taken over
    n: int

    @property
    def relative_half_width(self) -> float:
        """Half the interval's width over the estimate (infinite when there is no interval)."""
        if self.batches == 0 or math.isnan(self.low) or not self.estimate:
            return math.inf
        return (self.high - self.low) / 2 / abs(self.estimate)


def quantile_ci(values: Sequence[float] | np.ndarray, q: float = 0.99, confidence: float = 0.95,
                batches: int = 20) -> QuantileCI:
    """The ``q`` quantile of ``values`` (in arrival order) and its ``confidence`` interval by sectioning.

    ``batches`` contiguous batches, each of at least :func:`min_batch` observations; with fewer
    observations than that the estimate is given without an interval (``batches`` 0).
    """
    x = np.asarray(values, dtype=float)
    if not len(x):
        return QuantileCI(NAN, NAN, NAN, 0, 0)
    estimate = float(np.quantile(x, q))
    if batches < 2 or len(x) < batches * min_batch(q):
        return QuantileCI(estimate, NAN, NAN, 0, len(x))
    per_batch = np.array([np.quantile(part, q) for part in np.array_split(x, batches)])
    half = t_quantile(0.5 + confidence / 2, batches - 1) * float(np.std(per_batch, ddof=1)) / math.sqrt(batches)
    return QuantileCI(estimate, estimate - half, estimate + half, batches, len(x))


@dataclass(frozen=True)
class SteadyState:
    """A run's steady-state view of its requests: where the warm-up ends, and each kind's p99 interval."""

    #: requests that started before this simulated time are warm-up (0: none)
    warmup_s: float
    #: kind -> the p99 interval of its post-warm-up requests that paid no set-up
    p99: Mapping[str, QuantileCI]

    def tight(self, rel: float) -> bool:
        """Every kind's interval is within ``rel`` of its estimate."""
        return bool(self.p99) and all(ci.relative_half_width <= rel for ci in self.p99.values())


def steady_state(series: Mapping[str, tuple[np.ndarray, np.ndarray]], q: float = 0.99, confidence: float = 0.95,
                 batches: int = 20, cut_by: Sequence[str] | None = None) -> SteadyState:
    """The warm-up cut and the p99 intervals of ``series``: kind -> (start times, latencies), in arrival order.

    The series of each kind of ``cut_by`` (default: every kind) is cut by :func:`mser5`; the run's
    cut is the latest of them, as a time, and applies to every kind (and to every latency KPI of
    the run).
    """
    warmup = 0.0
    for kind, (starts, latencies) in series.items():
        if cut_by is not None and kind not in cut_by:
            continue
        cut = mser5(latencies)
        if 0 < cut < len(starts):
            warmup = max(warmup, float(starts[cut]))
    out = {}
    for kind, (starts, latencies) in series.items():
        kept = latencies[starts >= warmup] if warmup > 0 else latencies
        out[kind] = quantile_ci(kept, q, confidence, batches)
    return SteadyState(warmup, out)


class PrecisionWatch:
    """When the run checks its intervals, and whether they are tight (``workload.precision``).

    ``kinds`` are the request kinds whose p99 must be known to ``rel`` (relative half-width) at
    ``confidence``, over ``batches`` batches.
    """

    def __init__(self, kinds: Sequence[str], *, rel: float, confidence: float, batches: int) -> None:
        self.kinds, self.rel, self.confidence, self.batches = tuple(kinds), rel, confidence, batches
        self.next_check = FIRST_CHECK
        self.checks = 0
        #: the last check's view (None before the first)
        self.last: SteadyState | None = None

    def due(self, completed: int) -> bool:
        """True when ``completed`` requests call for a check (and schedules the next one)."""
        if completed < self.next_check:
            return False
        self.next_check = max(completed + 1, math.ceil(completed * CHECK_GROWTH))
        return True

    def check(self, series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> bool:
        """True when every watched kind's p99 interval over ``series`` is tight enough to stop."""
        self.checks += 1
        self.last = steady_state({k: series.get(k, (np.empty(0), np.empty(0))) for k in self.kinds},
                                 0.99, self.confidence, self.batches)
        return self.last.tight(self.rel)


# -- what a request paid to set up (read off the access layer and the auth path, never changing them) --

def connects(access: AccessLayer, client: str, now: float) -> int:
    """:data:`CONNECT` if ``client``'s request, about to enter at ``now``, will open a connection or
    wait for one being opened (the test :meth:`.access.AccessLayer.enter` makes), else 0."""
    conn = access.connections.get(client)
    if conn is None or not conn.ready.triggered:
        return CONNECT
    expired = conn.requests >= access.keep_alive or now - conn.last_used > access.idle_timeout
    return CONNECT if expired else 0


def waits_for_login(auth: AuthPath, client: str, kind: str, now: float) -> int:
    """:data:`LOGIN` if ``client``'s request of ``kind``, about to present its credentials at
    ``now``, will log in first or wait for a login of the client in progress (the test of
    :meth:`.auth_path.AuthPath.check`), else 0. A token request's own login is what it measures,
    not a set-up: 0."""
    if kind == AUTH or auth.mode == "none" or auth.basic:
        return 0
    if client in auth.bad or client in auth._logging_in:  # noqa: SLF001 -- read only
        return LOGIN
    held = auth.held.get(client)
    return LOGIN if held is None or now >= held[1] - REFRESH_MARGIN_S else 0


def series(requests: Sequence[Request], setup: Sequence[int], kinds: Sequence[str],
           before: float = math.inf) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """kind -> (start times, latencies) in arrival order of the answered requests of ``kinds`` that
    paid no set-up and started before ``before`` (pulls: healthy ones, neither degraded nor during
    a repair) -- the series the steady-state KPIs and the stop rule read."""
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    for req, paid in zip(requests, setup):
        out = rows.get(req.kind)
        if out is None or paid or req.error is not None or req.start >= before:
            continue
        if req.kind == PULL and (req.degraded or req.during_repair):
            continue
        out.append((req.start, req.end - req.start))
    result = {}
    for kind, pairs in rows.items():
        pairs.sort()
        arr = np.asarray(pairs, dtype=float).reshape(-1, 2)
        result[kind] = (arr[:, 0], arr[:, 1])
    return result
