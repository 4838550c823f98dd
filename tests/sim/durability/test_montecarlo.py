"""Plain Monte Carlo: both simulators agree with the chain where losses are common enough to see."""

import pytest

from regsim.sim.durability.chain import StripeChain
from regsim.sim.durability.markov import p_loss
from regsim.sim.durability.montecarlo import simulate_simpy, simulate_vectorised, trials_needed
from regsim.sim.failure_processes import YEAR_S
from regsim.sim.rng import RunRandom

WEEK = 7 * 86400.0


@pytest.mark.parametrize("repair", ["serial", "parallel"])
@pytest.mark.parametrize(("n", "k"), [(3, 1), (6, 4)])
def test_vectorised_simulator_agrees_with_the_chain_at_afr_50_percent(n, k, repair):
    chain = StripeChain.from_afr(n, k, 0.5, WEEK, repair)
    estimate = simulate_vectorised(chain, YEAR_S, 300_000, RunRandom(11).stream("mc"))
    assert estimate.losses >= 100
    assert estimate.contains(p_loss(chain, YEAR_S)), (estimate, p_loss(chain, YEAR_S))


@pytest.mark.slow
@pytest.mark.parametrize("repair", ["serial", "parallel"])
@pytest.mark.parametrize(("n", "k"), [(9, 6), (14, 10)])
def test_vectorised_simulator_agrees_with_the_chain_for_wide_codes(n, k, repair):
    chain = StripeChain.from_afr(n, k, 0.5, WEEK, repair)
    estimate = simulate_vectorised(chain, YEAR_S, 2_000_000, RunRandom(13).stream("mc"))
    assert estimate.losses >= 300
    assert estimate.contains(p_loss(chain, YEAR_S)), (estimate, p_loss(chain, YEAR_S))


@pytest.mark.parametrize("repair", ["serial", "parallel"])
def test_simpy_simulator_on_the_engines_failure_model_agrees_with_the_chain(repair):
    chain = StripeChain.from_afr(6, 4, 0.5, WEEK, repair)
    estimate = simulate_simpy(chain, YEAR_S, 3000, RunRandom(5))
    assert estimate.losses >= 15
    assert estimate.method == f"simpy-{repair}-exponential"
    assert estimate.contains(p_loss(chain, YEAR_S)), (estimate, p_loss(chain, YEAR_S))


@pytest.mark.parametrize("repair", ["serial", "parallel"])
def test_simpy_and_vectorised_simulators_agree(repair):
    chain = StripeChain.from_afr(5, 4, 0.5, WEEK, repair)  # one parity: losses are frequent
    simpy_run = simulate_simpy(chain, YEAR_S, 2000, RunRandom(8))
    fast = simulate_vectorised(chain, YEAR_S, 200_000, RunRandom(8).stream("fast"))
    assert simpy_run.losses >= 100
    # two independent estimates: their intervals must overlap
    assert simpy_run.low <= fast.high and fast.low <= simpy_run.high, (simpy_run, fast)


def test_same_seed_same_estimate_other_seed_other_draws():
    chain = StripeChain.from_afr(6, 4, 0.5, WEEK)
    once = simulate_simpy(chain, YEAR_S, 200, RunRandom(3))
    assert once == simulate_simpy(chain, YEAR_S, 200, RunRandom(3))
    first = simulate_vectorised(chain, YEAR_S, 20_000, RunRandom(3).stream("mc"))
    assert first == simulate_vectorised(chain, YEAR_S, 20_000, RunRandom(3).stream("mc"))
    assert first != simulate_vectorised(chain, YEAR_S, 20_000, RunRandom(4).stream("mc"))


def test_fixed_repair_times_run_on_the_engines_repair_model():
    chain = StripeChain.from_afr(5, 4, 0.5, WEEK, "serial")
    estimate = simulate_simpy(chain, YEAR_S, 500, RunRandom(2), repair_distribution="fixed")
    assert estimate.method == "simpy-serial-fixed"
    assert 0 < estimate.losses < 500
    with pytest.raises(ValueError, match="'fixed' or 'exponential'"):
        simulate_simpy(chain, YEAR_S, 10, RunRandom(2), repair_distribution="gamma")


def test_plain_monte_carlo_at_1e_9_needs_hundreds_of_billions_of_stripe_years():
    assert trials_needed(1e-9, 0.10) == pytest.approx(3.84e11, rel=0.01)
    # and at the 2 % AFR of a real fleet, 10^6 stripe-years see nothing
    chain = StripeChain.from_afr(6, 4, 0.02, 86400.0)
    estimate = simulate_vectorised(chain, YEAR_S, 100_000, RunRandom(1).stream("mc"))
    assert estimate.losses == 0 and estimate.value == 0.0
    assert estimate.high == pytest.approx(3.84e-5, rel=0.01)  # all it can say: p < z^2 / N


def test_invalid_trial_counts_are_refused():
    chain = StripeChain.from_afr(3, 1, 0.5, WEEK)
    with pytest.raises(ValueError, match="positive integer"):
        simulate_vectorised(chain, YEAR_S, 0, RunRandom(1).stream("mc"))
    with pytest.raises(ValueError, match="positive integer"):
        simulate_simpy(chain, YEAR_S, 2.5, RunRandom(1))
