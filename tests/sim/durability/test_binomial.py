"""Backblaze's per-period binomial method: their own figure, exact tails, and how it compares."""

import math

import pytest

from regsim.sim.durability.binomial import backblaze_p_loss, window_loss_probability
from regsim.sim.durability.chain import StripeChain
from regsim.sim.durability.markov import p_loss
from regsim.sim.failure_processes import YEAR_S

DAY = 86400.0


def test_reproduces_backblazes_published_table():
    # Backblaze/erasure-coding-durability README: 4 + 2 shards, AFR 10 %, 1-day replacement,
    # 3 failures in one period: annual loss rate 1.500e-07
    assert backblaze_p_loss(6, 4, 0.10, DAY, year_s=365 * DAY) == pytest.approx(1.500e-07, rel=1e-3)


def test_window_tail_is_summed_without_cancellation():
    q = 1e-6
    assert window_loss_probability(3, 2, q) == pytest.approx(q ** 3, rel=1e-12)
    exact = 20 * q ** 3 * (1 - q) ** 3 + 15 * q ** 4 * (1 - q) ** 2 + 6 * q ** 5 * (1 - q) + q ** 6
    assert window_loss_probability(6, 2, q) == pytest.approx(exact, rel=1e-12)
    assert window_loss_probability(4, 0, 0.5) == pytest.approx(1 - 0.5 ** 4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        window_loss_probability(3, 1, 1.5)


def test_more_years_compound_the_periods():
    one = backblaze_p_loss(6, 4, 0.05, DAY)
    ten = backblaze_p_loss(6, 4, 0.05, DAY, years=10)
    assert ten == pytest.approx(-math.expm1(10 * math.log1p(-one)), rel=1e-9)


@pytest.mark.parametrize(("n", "k"), [(3, 1), (6, 4), (9, 6), (14, 10)])
def test_it_sits_about_m_plus_one_factorial_below_the_serial_markov_chain(n, k):
    m = n - k
    chain = StripeChain(n, m, 0.02 / YEAR_S, 1 / DAY, "serial")  # Backblaze's linear AFR
    ratio = p_loss(chain, YEAR_S) / backblaze_p_loss(n, k, 0.02, DAY)
    assert ratio == pytest.approx(math.factorial(m + 1), rel=0.05)


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError, match="k >= 1"):
        backblaze_p_loss(3, 0, 0.02, DAY)
    with pytest.raises(ValueError, match="probability in"):
        backblaze_p_loss(3, 1, 1.2, DAY)
    with pytest.raises(ValueError, match="repair time"):
        backblaze_p_loss(3, 1, 0.02, 0)
    with pytest.raises(ValueError, match="mission time"):
        backblaze_p_loss(3, 1, 0.02, DAY, years=0)
