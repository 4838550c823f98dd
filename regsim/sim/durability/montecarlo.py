"""Plain Monte Carlo durability: simulate stripe-years of failures and repairs, count the losses.

Two simulators of the same stripe (see :mod:`.chain`), each seeded through the run's
:class:`~regsim.sim.rng.RunRandom`:

- :func:`simulate_simpy` runs every stripe-year as a SimPy model on the engine's own failure
  machinery: disks with exponential lifetimes at :func:`~regsim.sim.failure_processes.afr_to_rate`, repair
  times drawn by :class:`~regsim.sim.failure_processes.Repair`. Parallel repair is exactly the
  :class:`~regsim.sim.failure_processes.FailureInjector` (every failed disk repairs on its own); serial
  repair queues failed disks for a single repair crew, a ``simpy.Resource`` of capacity one,
  which the injector cannot express. Exponential repair makes it the Markov chain; ``fixed``
  repair shows what the exponential assumption changes. Costs ~0.1 ms per stripe-year.
- :func:`simulate_vectorised` walks the chain's jumps for a whole batch of stripe-years at once in
  numpy: ~10^7 stripe-years in seconds.

Each stripe-year either loses data or not, so the estimate is a binomial proportion with a Wilson
interval (:mod:`.stats`). That is also why plain Monte Carlo cannot reach 1e-9: see
:func:`trials_needed` and :mod:`.importance`.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import simpy

from ..failure_processes import FailureInjector, Repair
from ..rng import RunRandom
from .chain import PARALLEL, StripeChain, check_horizon
from .stats import Estimate, check_trials, proportion, z_value

#: stripe-years walked together by the vectorised simulator (bounds memory, not results)
BATCH = 1 << 18


def trials_needed(p: float, relative_error: float = 0.1, confidence: float = 0.95) -> float:
    """Stripe-years plain Monte Carlo needs for a ``confidence`` interval of ``+- relative_error``
    around a loss probability ``p``: ``(1 - p) / p * (z / relative_error)^2`` (~4e11 for 1e-9)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a loss probability must lie in (0, 1), got {p!r}")
    if not relative_error > 0:
        raise ValueError(f"relative error must be positive, got {relative_error!r}")
    return (1.0 - p) / p * (z_value(confidence) / relative_error) ** 2


class _Stripe:
    """Counts the disks down in one stripe-year and fires ``lost`` on the (m+1)-th."""

    __slots__ = ("m", "down", "lost")

    def __init__(self, env: simpy.Environment, m: int) -> None:
        self.m, self.down, self.lost = m, 0, env.event()

    def on_fail(self, _target: str, now: float) -> None:
        self.down += 1
        if self.down > self.m and not self.lost.triggered:
            self.lost.succeed(now)

    def on_repair(self, _target: str, _now: float) -> None:
        self.down -= 1


def _disk(env: simpy.Environment, crew: simpy.Resource, rng: np.random.Generator, stripe: _Stripe,
          name: str, mttf_s: float, repair: Repair) -> Generator[simpy.Event, object, None]:
    """One disk under serial repair: live, fail, wait for the crew, be rebuilt, live again."""
    while True:
        yield env.timeout(float(rng.exponential(mttf_s)))
        stripe.on_fail(name, env.now)
        with crew.request() as turn:
            yield turn
            yield env.timeout(repair.draw(rng))
        stripe.on_repair(name, env.now)


def _one_stripe_year(chain: StripeChain, horizon: float, rr: RunRandom, repair: Repair,
                     stream: str) -> bool:
    env = simpy.Environment()
    stripe = _Stripe(env, chain.m)
    mttf_s = 1.0 / chain.failure_rate
    names = [f"disk-{i}" for i in range(chain.n)]
    if chain.repair == PARALLEL:
        injector = FailureInjector(env, rr, on_fail=stripe.on_fail, on_repair=stripe.on_repair,
                                   stream=stream)
        for name in names:
            injector.add(name, mttf_s=mttf_s, repair=repair)
    else:
        crew = simpy.Resource(env, capacity=1)
        for name in names:
            env.process(_disk(env, crew, rr.stream(f"{stream}/{name}"), stripe, name, mttf_s, repair))
    env.run(until=env.any_of([stripe.lost, env.timeout(horizon)]))
    return stripe.lost.triggered


def simulate_simpy(chain: StripeChain, horizon_s: float, trials: int, rr: RunRandom, *,
                   repair_distribution: str = "exponential", stream: str = "durability",
                   confidence: float = 0.95) -> Estimate:
    """P(loss within ``horizon_s``) from ``trials`` SimPy runs of one stripe, each from all-healthy.

    Disk ``i`` draws its lifetimes and repairs from stream ``"<stream>/disk-<i>"`` of ``rr``;
    successive trials continue those streams, so a seed fixes every trial.
    """
    horizon = check_horizon(horizon_s)
    trials = check_trials(trials)
    repair = Repair(1.0 / chain.repair_rate, repair_distribution)
    losses = sum(_one_stripe_year(chain, horizon, rr, repair, stream) for _ in range(trials))
    return proportion(losses, trials, f"simpy-{chain.repair}-{repair_distribution}", confidence)


def simulate_vectorised(chain: StripeChain, horizon_s: float, trials: int, rng: np.random.Generator,
                        *, confidence: float = 0.95) -> Estimate:
    """P(loss within ``horizon_s``) from ``trials`` stripe-years of the Markov chain, walked in
    numpy batches: each step draws every live stripe's holding time and next jump at once."""
    horizon = check_horizon(horizon_s)
    trials = check_trials(trials)
    fail, fix = chain.failure_rates(), chain.repair_rates()
    out = fail + fix
    p_fail = fail / out  # exactly 1 in state 0, where nothing can be repaired
    losses = 0
    for start in range(0, trials, BATCH):
        size = min(BATCH, trials - start)
        state = np.zeros(size, dtype=np.int64)
        clock = np.zeros(size)
        while state.size:
            clock += rng.standard_exponential(state.size) / out[state]
            alive = clock < horizon
            state, clock = state[alive], clock[alive]
            state += np.where(rng.random(state.size) < p_fail[state], 1, -1)
            lost = state > chain.m
            losses += int(np.count_nonzero(lost))
            state, clock = state[~lost], clock[~lost]
    return proportion(losses, trials, "vectorised", confidence)

