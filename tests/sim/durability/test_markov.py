"""Analytic durability: known values, exact arithmetic, the closed form, and P(loss within T)."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.sim.durability import durability
from regsim.sim.durability import markov
from regsim.sim.durability.chain import StripeChain
from regsim.sim.failure_processes import YEAR_S

DAY = 86400.0


@pytest.mark.parametrize(("n", "k", "known"), [(3, 1, 3.6e-10), (6, 4, 7.2e-9)])
def test_known_annual_loss_at_afr_2_percent_and_a_day_of_serial_repair(n, k, known):
    # the published figures take lambda = AFR / year; the engine converts exactly,
    # lambda = -ln(1 - AFR) / year, which is 1 % higher and lifts P(loss) ~ lambda^3 by 3 %
    linear = StripeChain(n, n - k, 0.02 / YEAR_S, 1 / DAY, "serial")
    assert markov.p_loss(linear, YEAR_S) == pytest.approx(known, rel=0.01)
    result = durability(n, k, 0.02, DAY, "serial", mc_trials=1000)
    assert result.p_loss_year_analytic == pytest.approx(known, rel=0.03)


def _mttdl_exact(chain: StripeChain) -> Fraction:
    """Solve -Q_T tau = 1 by Gaussian elimination in exact rational arithmetic."""
    size = chain.states
    fail = [Fraction(x) for x in chain.failure_rates()]
    fix = [Fraction(x) for x in chain.repair_rates()]
    a = [[Fraction(0)] * size + [Fraction(1)] for _ in range(size)]
    for i in range(size):
        a[i][i] = fail[i] + fix[i]
        if i + 1 < size:
            a[i][i + 1] = -fail[i]
        if i > 0:
            a[i][i - 1] = -fix[i]
    for col in range(size):
        for row in range(col + 1, size):
            factor = a[row][col] / a[col][col]
            a[row] = [x - factor * y for x, y in zip(a[row], a[col])]
    tau = [Fraction(0)] * size
    for row in reversed(range(size)):
        rest = sum(a[row][j] * tau[j] for j in range(row + 1, size))
        tau[row] = (a[row][-1] - rest) / a[row][row]
    return tau[0]


@pytest.mark.parametrize("repair", ["serial", "parallel"])
def test_mttdl_matches_exact_rational_arithmetic_on_ill_conditioned_chains(repair):
    chain = StripeChain.from_afr(14, 10, 0.02, DAY, repair)  # condition number ~ (mu/lambda)^4
    assert markov.mttdl(chain) == pytest.approx(float(_mttdl_exact(chain)), rel=1e-12)


def test_plain_lu_solve_agrees_where_the_chain_is_well_conditioned():
    chain = StripeChain.from_afr(3, 2, 0.3, 30 * DAY, "parallel")
    assert markov.mttdl_linear_solve(chain) == pytest.approx(markov.mttdl(chain), rel=1e-10)


def test_without_redundancy_mttdl_is_the_first_failure():
    chain = StripeChain(4, 0, 1e-6, 1e-3)
    assert markov.mttdl(chain) == pytest.approx(1 / 4e-6, rel=1e-15)
    assert markov.mttdl_closed_form(chain) == pytest.approx(1 / 4e-6, rel=1e-15)
    assert markov.p_loss(chain, YEAR_S) == pytest.approx(-math.expm1(-4e-6 * YEAR_S), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 20), m=st.integers(0, 6), ratio=st.floats(1e-9, 1e-4),
       repair=st.sampled_from(["serial", "parallel"]))
def test_closed_form_approaches_exact_mttdl_when_repair_is_fast(n, m, ratio, repair):
    m = min(m, n - 1)
    chain = StripeChain(n, m, ratio, 1.0, repair)
    error = abs(markov.mttdl_closed_form(chain) / markov.mttdl(chain) - 1)
    assert error <= 2 * (m + 1) * n * ratio  # first-order in lambda / mu


def test_closed_form_is_off_when_repair_is_slow():
    chain = StripeChain.from_afr(6, 4, 0.5, 60 * DAY)
    assert markov.mttdl_closed_form(chain) / markov.mttdl(chain) < 0.8


def _p_loss_by_eigen(chain: StripeChain, horizon: float) -> float:
    """1 - P(survive T) from the symmetrised transient generator (reversible birth-death chain)."""
    fail, fix = chain.failure_rates(), chain.repair_rates()
    q = chain.generator()[:-1, :-1]
    scale = np.ones(chain.states)
    for i in range(chain.m):
        scale[i + 1] = scale[i] * math.sqrt(fail[i] / fix[i + 1])
    sym = (q * scale[:, None]) / scale[None, :]
    values, vectors = np.linalg.eigh((sym + sym.T) / 2)
    expm = (vectors * np.exp(values * horizon)) @ vectors.T
    expm = expm / scale[:, None] * scale[None, :]
    return 1.0 - float(expm[0].sum())


@pytest.mark.parametrize(("n", "k", "repair"), [(3, 1, "serial"), (6, 4, "parallel"), (14, 10, "serial")])
def test_p_loss_matches_an_eigendecomposition_at_high_failure_rates(n, k, repair):
    chain = StripeChain.from_afr(n, k, 0.5, 7 * DAY, repair)
    assert markov.p_loss(chain, YEAR_S) == pytest.approx(_p_loss_by_eigen(chain, YEAR_S), rel=1e-8)


@pytest.mark.parametrize(("n", "m"), [(3, 2), (6, 2), (14, 4)])
def test_p_loss_keeps_full_precision_for_tiny_probabilities(n, m):
    # for T far below every holding time only the direct path 0 -> 1 -> ... -> m+1 matters:
    # P(loss by T) ~ prod(b_i) T^(m+1) / (m+1)!, values that 1 - P(survive) would round to zero
    chain = StripeChain(n, m, 1e-9, 1e-5)
    horizon = 1.0
    leading = math.prod(chain.failure_rates()) * horizon ** (m + 1) / math.factorial(m + 1)
    assert leading < 1e-25
    assert markov.p_loss(chain, horizon) == pytest.approx(leading, rel=1e-4)


def test_p_loss_is_close_to_the_poisson_approximation_when_mttdl_dwarfs_the_year():
    chain = StripeChain.from_afr(9, 6, 0.02, DAY)
    exact = markov.p_loss(chain, YEAR_S)
    approx = markov.p_loss_approx(markov.mttdl(chain), YEAR_S)
    assert exact == pytest.approx(approx, rel=0.02)
    assert exact < approx  # a healthy start needs a few repair times to reach the degraded states


def test_p_loss_grows_with_time_and_parallel_repair_halves_risk_for_two_parities():
    serial = StripeChain.from_afr(6, 4, 0.02, DAY, "serial")
    parallel = StripeChain.from_afr(6, 4, 0.02, DAY, "parallel")
    years = [markov.p_loss(serial, y * YEAR_S) for y in (0.5, 1, 2, 4)]
    assert years == sorted(years)
    assert years[2] == pytest.approx(2 * years[1], rel=0.01)
    # repair rate in state 2 doubles (2 mu): MTTDL ~ 2! mu^2 / (...), so half the loss
    assert markov.p_loss(parallel, YEAR_S) == pytest.approx(markov.p_loss(serial, YEAR_S) / 2, rel=0.01)


def test_transition_matrix_is_stochastic():
    matrix = markov.transition_matrix(StripeChain.from_afr(9, 6, 0.3, 3 * DAY, "parallel"), 5 * YEAR_S)
    assert np.all(matrix >= 0)
    assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-12)


def test_invalid_horizons_are_refused():
    chain = StripeChain.from_afr(3, 1, 0.02, DAY)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="mission time"):
            markov.p_loss(chain, bad)
