"""Speed of the simulators, as ratios to primitives measured in the same run.

Run with ``.venv/bin/python -m pytest -m benchmark tests/sim/durability -q -s``.
"""

import time

import pytest

from regsim.sim.durability.chain import StripeChain
from regsim.sim.durability.importance import importance_sample
from regsim.sim.durability.montecarlo import simulate_simpy, simulate_vectorised
from regsim.sim.failure_processes import YEAR_S
from regsim.sim.rng import RunRandom

CHAIN = StripeChain.from_afr(6, 4, 0.5, 7 * 86400.0)
#: the vectorised simulator should be at least this many times faster per stripe-year than SimPy
SPEEDUP_TARGET = 100.0


def _per_trial(run, trials: int) -> float:
    start = time.perf_counter()
    run(trials)
    return (time.perf_counter() - start) / trials


@pytest.mark.benchmark
def test_vectorised_simulator_beats_one_simpy_run_per_stripe_year(benchmark):
    trials = 200_000
    benchmark.pedantic(lambda: simulate_vectorised(CHAIN, YEAR_S, trials, RunRandom(1).stream("b")),
                       rounds=3, iterations=1)
    fast = benchmark.stats.stats.min / trials
    slow = min(_per_trial(lambda n: simulate_simpy(CHAIN, YEAR_S, n, RunRandom(1)), 1000) for _ in range(2))
    ratio = slow / fast
    print(f"\nSimPy {slow * 1e6:.1f} us/stripe-year, vectorised {fast * 1e6:.3f} us/stripe-year: "
          f"{ratio:.0f}x (target {SPEEDUP_TARGET:.0f}x)")
    assert ratio >= SPEEDUP_TARGET * 0.8


@pytest.mark.benchmark
def test_importance_sampling_path_costs_about_a_plain_stripe_year(benchmark):
    chain = StripeChain.from_afr(6, 4, 0.02, 86400.0)
    trials = 100_000
    benchmark.pedantic(lambda: importance_sample(chain, YEAR_S, trials, RunRandom(1).stream("b")),
                       rounds=3, iterations=1)
    weighted = benchmark.stats.stats.min / trials
    plain = min(_per_trial(lambda n: simulate_vectorised(CHAIN, YEAR_S, n, RunRandom(1).stream("p")), trials)
                for _ in range(3))
    ratio = weighted / plain
    # a biased path runs to loss through several repair cycles; it should cost a few plain
    # stripe-years, and it replaces ~1e9 of them at 1e-9
    print(f"\nimportance path {weighted * 1e6:.2f} us, plain stripe-year {plain * 1e6:.2f} us: {ratio:.1f}x")
    assert ratio <= 10.0 / 0.8
