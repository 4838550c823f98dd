"""Importance sampling: unbiased at 1e-9 and below, with an interval that holds the exact value."""

import math

import pytest

from regsim.sim.durability.chain import StripeChain
from regsim.sim.durability.importance import importance_sample
from regsim.sim.durability.markov import p_loss
from regsim.sim.durability.stats import z_value
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


RUNS, PATHS = 400, 5000
#: the 95 % intervals of RUNS independent unbiased estimates miss the exact value Binomial(RUNS, 5 %)
#: times: 20 expected, P(misses <= 5) = 5.3e-5, P(misses >= 40) = 3.1e-5
FEWEST_MISSES, MOST_MISSES = 6, 39
#: a pooled estimate further than this many standard errors from the exact value: P = 6.3e-5
POOLED_Z = 4.0


@pytest.mark.parametrize("repair", ["serial", "parallel"])
def test_unbiased_with_calibrated_intervals_at_a_weeks_repair(repair):
    """rs(6,3) at AFR 2 % and 7-day repair, where one seed's interval missed the exact value by 3.5
    standard errors (replication-vs-ec, variant v009: 3.23e-9 [3.18e-9, 3.28e-9] against 3.32e-9).

    A modelling difference between the sampler and the chain would show as a bias that does not
    shrink with more paths; chance shows as misses at the nominal rate around an unbiased mean.
    400 independent seeded runs of 5000 paths tell the two apart: their pooled mean (2x10^6 paths,
    +-0.5 % at 95 %) must lie within 4 standard errors and 1 % of the chain's value (the miss was
    2.8 % low), and their 95 % intervals must miss it between 6 and 39 times (20 expected). An
    unbiased, well-calibrated estimator fails either check with probability below 1.5e-4 (1.2e-3
    if its intervals cover only 94 %); the seeds are fixed, so the test gives the same answer on
    every run. Here the pools land 0.18 % (serial) and 0.11 % (parallel) above the chain, with 17
    and 19 misses; a failure rate 0.5 % lower in the sampler than in the chain fails by 11
    standard errors.
    """
    chain = StripeChain.from_afr(9, 6, 0.02, 7 * DAY, repair)
    exact = p_loss(chain, YEAR_S)
    rr = RunRandom(32)
    estimates = [importance_sample(chain, YEAR_S, PATHS, rr.stream(f"is/{i}")) for i in range(RUNS)]
    z = z_value(0.95)
    errors = [(e.high - e.low) / (2 * z) for e in estimates]
    pooled = math.fsum(e.value for e in estimates) / RUNS
    pooled_error = math.sqrt(math.fsum(s * s for s in errors)) / RUNS
    assert abs(pooled - exact) <= POOLED_Z * pooled_error, (pooled, exact, pooled_error)
    assert abs(pooled / exact - 1.0) < 0.01, (pooled, exact)
    misses = sum(not e.contains(exact) for e in estimates)
    assert FEWEST_MISSES <= misses <= MOST_MISSES, misses
