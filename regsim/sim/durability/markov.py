"""Analytic durability of a stripe: exact MTTDL and P(loss within T) from its Markov chain.

Mean time to data loss (MTTDL) is the expected absorption time of the birth-death chain from
state 0. The expected absorption times ``tau`` solve the linear system ``-Q_T tau = 1`` (``Q_T``:
the generator restricted to the transient states). That system is badly conditioned -- its
condition number grows like ``(mu / lambda) ** m``, about 1e17 for ``rs(10,4)`` at AFR 2 % and a
day's repair -- and a general LU solve (``numpy.linalg.solve``) loses up to 1 % there. The chain
is tridiagonal, so :func:`absorption_times` eliminates it from state 0 upward in the
subtraction-free (Grassmann-Taksar-Heyman) form: with ``h_i`` the expected time to go from state
``i`` to ``i + 1``, ``h_0 = 1 / b_0`` and ``h_i = (1 + d_i h_{i-1}) / b_i``, every operation adds or
multiplies positive numbers, so the result is exact to a few ulps for any rates.
:func:`mttdl_linear_solve` keeps the plain LU solve for comparison.

The classic closed form (Gibson; Patterson, Gibson and Katz for RAID) assumes repair is much faster
than failure: MTTDL ~ ``prod(repair rates) / (n (n-1) ... (n-m) lambda^(m+1))``, i.e.
``mu^m / (n ... (n-m) lambda^(m+1))`` for serial repair and ``m! mu^m / (...)`` for parallel.

P(loss within T) is the absorbing column of ``exp(Q T)``. Computed as ``1 - P(survive)`` it would
cancel catastrophically at 1e-10, so :func:`p_loss` builds ``exp(Q T)`` by uniformisation over a
short step and repeated squaring: every term is a non-negative number, no subtraction ever touches
the loss probability, and its relative error stays near machine precision. (scipy is not a
dependency; its ``expm`` would not avoid the cancellation problem anyway.)
"""

from __future__ import annotations

import math

import numpy as np

from .chain import StripeChain, check_horizon

#: uniformisation step bound: Lambda * h <= this, so the Poisson series converges in a few terms
_STEP = 0.5
#: Poisson terms beyond the m + 1 needed to reach the loss state; (0.5^40 / 40!) is far below 1 ulp
_EXTRA_TERMS = 40


def absorption_times(chain: StripeChain) -> np.ndarray:
    """Expected time to data loss (seconds) from each transient state 0..m."""
    fail, fix = chain.failure_rates(), chain.repair_rates()
    steps = np.empty(chain.states)  # steps[i]: expected time from state i to state i + 1
    previous = 0.0
    for i in range(chain.states):
        previous = steps[i] = (1.0 + fix[i] * previous) / fail[i]
    # from state i the chain must climb i -> i+1 -> ... -> m+1
    return np.cumsum(steps[::-1])[::-1]


def mttdl(chain: StripeChain) -> float:
    """Exact mean time to data loss (seconds) of a stripe starting with every disk healthy."""
    return float(absorption_times(chain)[0])


def mttdl_linear_solve(chain: StripeChain) -> float:
    """MTTDL from a general LU solve of ``-Q_T tau = 1``: accurate only while the chain is well
    conditioned (few parities, or repair not much faster than failure); kept for comparison."""
    q = chain.generator()[:-1, :-1]
    return float(np.linalg.solve(-q, np.ones(chain.states))[0])


def mttdl_closed_form(chain: StripeChain) -> float:
    """The classic approximation ``prod(repair rates) / (n (n-1) ... (n-m) lambda^(m+1))``.

    Good to relative order ``n * lambda / mu`` when repairs are far faster than failures; it
    ignores the time spent in degraded states and the chance of a repair racing a failure.
    """
    fix = chain.repair_rates()[1:]
    falling = math.prod(range(chain.n - chain.m, chain.n + 1))
    # work in logs: lambda^(m+1) underflows for wide codes and tiny rates
    log_value = (float(np.sum(np.log(fix))) - math.log(falling)
                 - (chain.m + 1) * math.log(chain.failure_rate))
    return math.exp(log_value)


def p_loss_approx(mttdl_s: float, horizon_s: float) -> float:
    """``1 - exp(-T / MTTDL)``: loss within ``T`` if losses arrived as a Poisson process at rate
    1/MTTDL -- close to exact when MTTDL >> T >> repair time."""
    if not mttdl_s > 0:
        raise ValueError(f"MTTDL must be positive, got {mttdl_s!r}")
    return -math.expm1(-check_horizon(horizon_s) / mttdl_s)


def transition_matrix(chain: StripeChain, horizon_s: float) -> np.ndarray:
    """``exp(Q T)``: entry ``[i, j]`` is the probability of being in state ``j`` at time ``T`` having
    started in ``i``; the last column is the probability of data loss by ``T``."""
    horizon = check_horizon(horizon_s)
    q = chain.generator()
    size = q.shape[0]
    uniform_rate = float(np.max(-np.diag(q)))
    # T = h * 2**squarings with uniform_rate * h <= _STEP
    squarings = max(0, math.ceil(math.log2(uniform_rate * horizon / _STEP)))
    step = horizon / 2.0 ** squarings
    # the uniformised jump matrix I + Q / Lambda: non-negative, rows sum to one
    jump = np.eye(size) + q / uniform_rate
    mean = uniform_rate * step
    weight = math.exp(-mean)
    power = np.eye(size)
    result = weight * power
    for k in range(1, chain.states + _EXTRA_TERMS):
        weight *= mean / k
        power = power @ jump
        result += weight * power
    for _ in range(squarings):
        result = result @ result
    return result


def p_loss(chain: StripeChain, horizon_s: float) -> float:
    """Exact probability that a stripe healthy at time 0 has lost its data by ``horizon_s``."""
    return float(transition_matrix(chain, horizon_s)[0, -1])
