"""Importance sampling: unbiased at 1e-9 and below, with an interval that holds the exact value."""

import math

import pytest

from regsim.sim.durability.chain import StripeChain
from regsim.sim.durability.importance import importance_sample
from regsim.sim.durability.markov import p_loss
from regsim.sim.failure_processes import YEAR_S
from regsim.sim.rng import RunRandom

DAY = 86400.0


@pytest.mark.parametrize("repair", ["serial", "parallel"])
@pytest.mark.parametrize(("n", "k"), [(3, 1), (6, 4), (9, 6), (14, 10)])
def test_agrees_with_the_chain_at_afr_2_percent(n, k, repair):
    chain = StripeChain.from_afr(n, k, 0.02, DAY, repair)
    exact = p_loss(chain, YEAR_S)
    estimate = importance_sample(chain, YEAR_S, 20_000, RunRandom(21).stream("is"))
    assert exact < 1e-8
    assert estimate.contains(exact), (estimate, exact)
    assert estimate.relative_half_width < 0.1


@pytest.mark.parametrize("repair", ["serial", "parallel"])
def test_stays_unbiased_where_losses_are_common(repair):
    chain = StripeChain.from_afr(6, 4, 0.5, 7 * DAY, repair)
    estimate = importance_sample(chain, YEAR_S, 20_000, RunRandom(22).stream("is"))
    assert estimate.contains(p_loss(chain, YEAR_S)), estimate


def test_agrees_without_forcing_and_over_ten_years():
    chain = StripeChain.from_afr(6, 4, 0.05, 2 * DAY)
    unforced = importance_sample(chain, YEAR_S, 40_000, RunRandom(23).stream("is"), forcing=False)
    assert unforced.method == "importance-bfb"
    assert unforced.contains(p_loss(chain, YEAR_S)), unforced
    decade = importance_sample(chain, 10 * YEAR_S, 20_000, RunRandom(23).stream("is"))
    assert decade.contains(p_loss(chain, 10 * YEAR_S)), decade


def test_forcing_alone_is_exact_without_redundancy():
    chain = StripeChain(4, 0, 1e-9, 1e-5)
    estimate = importance_sample(chain, YEAR_S, 1000, RunRandom(1).stream("is"))
    assert estimate.value == pytest.approx(-math.expm1(-4e-9 * YEAR_S), rel=1e-12)
    assert estimate.high - estimate.low < 1e-15


def test_same_seed_same_estimate():
    chain = StripeChain.from_afr(9, 6, 0.02, DAY)
    one = importance_sample(chain, YEAR_S, 5000, RunRandom(9).stream("is"))
    assert one == importance_sample(chain, YEAR_S, 5000, RunRandom(9).stream("is"))
    assert one != importance_sample(chain, YEAR_S, 5000, RunRandom(10).stream("is"))


def test_invalid_bias_is_refused():
    chain = StripeChain.from_afr(3, 1, 0.02, DAY)
    for bias in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="failure bias"):
            importance_sample(chain, YEAR_S, 10, RunRandom(1).stream("is"), bias=bias)
