"""Steady-state statistics of the request-load models (``workload.precision``, :mod:`regsim.models.requests.steady_state`):
the MSER-5 warm-up cut on series with a known transient, the batch-means interval's coverage of a
known quantile, and p99 against offered load with the option on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.models.requests.report import request_result
from regsim.models.requests.run import RequestRun
from regsim.models.requests.steady_state import mser5, quantile_ci, t_quantile
from regsim.scenario import load_scenario

SCENARIO = Path(__file__).parents[2] / "scenarios" / "jwt-vs-db-auth.yaml"
Z99 = 2.3263478740408408  # the standard normal's 99 % quantile


def test_mser5_cuts_a_step_transient_at_its_end():
    rng = np.random.default_rng(1)
    x = np.concatenate([10 + rng.normal(0, 1, 1000), rng.normal(0, 1, 9000)])
    assert 1000 <= mser5(x) <= 1010


def test_mser5_cuts_an_exponential_transient_where_it_fades():
    rng = np.random.default_rng(2)
    t = np.arange(20000)
    x = 8 * np.exp(-t / 300) + rng.normal(0, 1, len(t))
    cut = mser5(x)
    # the bias 8 exp(-t/300) falls below the noise of the mean of what is kept (~1/sqrt(n)) by ~t = 2,000
    assert 500 <= cut <= 3000
    assert cut % 5 == 0


def test_mser5_leaves_a_stationary_or_flat_series_alone():
    rng = np.random.default_rng(3)
    assert mser5(rng.normal(0, 1, 10000)) < 500
    flat = 7.8e-4 + rng.uniform(-1e-15, 1e-15, 5000)  # the simulated clock's rounding only
    assert mser5(flat) == 0
    assert mser5([1.0, 2.0]) == 0


def test_t_quantile_matches_tables():
    for p, df, exact in ((0.975, 19, 2.093024), (0.975, 29, 2.045230), (0.95, 9, 1.833113), (0.995, 19, 2.860935)):
        assert t_quantile(p, df) == pytest.approx(exact, abs=2e-3)


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """A stationary Gaussian AR(1) series of unit marginal variance."""
    e = rng.normal(0, np.sqrt(1 - phi * phi), n)
    x = np.empty(n)
    x[0] = rng.normal()
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


@settings(max_examples=4, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), phi=st.sampled_from([0.0, 0.5, 0.8]))
def test_batch_means_interval_covers_a_known_quantile(seed, phi):
    """Over 60 replications the 95 % interval covers the true p99 of a correlated series about 95 %
    of the time (at least 80 %: the interval is asymptotic, and 60 replications are noisy)."""
    rng = np.random.default_rng(seed)
    hits = 0
    reps = 60
    for _ in range(reps):
        ci = quantile_ci(_ar1(rng, 20 * 1000, phi), 0.99, 0.95, 20)
        assert ci.batches == 20 and ci.low <= ci.estimate <= ci.high
        hits += ci.low <= Z99 <= ci.high
    assert hits >= 0.8 * reps


def test_interval_needs_enough_requests_per_batch():
    ci = quantile_ci(np.arange(5000.0), 0.99, 0.95, 20)  # 250 a batch, 500 needed for a p99
    assert ci.batches == 0 and np.isnan(ci.low) and ci.estimate == pytest.approx(np.quantile(np.arange(5000.0), 0.99))


def _point(rate: int, *extra: str):
    sc = load_scenario(SCENARIO, [f"workload.rate={rate}", "registry.auth={mode: jwt, cache: 10000}",
                                  "registry.auth.db.latency=500us", "sweep={}", *extra])
    run = RequestRun.build(sc, 8)
    run.run()
    return request_result(run.record()).kpis


def test_precision_stops_the_arrivals_early_and_reports_the_interval():
    k = _point(300, "workload.precision={p99_rel: 5%, batches: 10, kinds: [manifest]}")
    assert k["stopped_precise"] == 1 and k["precision_met"] == 1 and k["batches"] == 10
    assert k["requests"] < 20000
    assert k["manifest_p99_ci_low_s"] <= k["manifest_p99_s"] <= k["manifest_p99_ci_high_s"]
    assert k["manifest_p99_s"] < 5e-3  # no login (0.32 s) in the figure, whatever their share
    assert 0 < k["login_wait_share"] < 0.02 and k["warmup_s"] >= 0


@pytest.mark.slow
def test_p99_grows_with_offered_load_in_the_steady_state():
    """jwt with a token cache and the database 500 us away at 100 to 3,000 requests/s (below
    saturation): the steady-state manifest p99 never falls as the load rises (to the clock's
    rounding), where the 2,000-request sample's p99 zig-zagged with the share of logins in it."""
    rates = [100, 300, 1000, 3000]
    points = [_point(r, "workload.precision={p99_rel: 5%, batches: 20, kinds: [manifest]}") for r in rates]
    p99 = [k["manifest_p99_s"] for k in points]
    assert all(k["saturated"] is False or k["saturated"] == 0 for k in points)
    assert all(b >= a - 1e-9 for a, b in zip(p99, p99[1:])), p99
