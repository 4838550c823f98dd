"""Backblaze's per-period binomial durability estimate, for comparison with the Markov chain.

The method is the one Backblaze published in "Backblaze Durability Calculates at 99.999999999% --
And Why It Doesn't Matter" (Backblaze blog, July 2018), with its code in the
Backblaze/erasure-coding-durability repository. It cuts the year into back-to-back periods, each
as long as the time to replace a failed drive, and says data is lost when more than ``m`` of the
``n`` drives of a stripe fail within the same period:

- periods per year ``P = floor(year / w)`` for repair window ``w`` (at least one);
- a drive fails within a period with probability ``q = AFR / P`` (the AFR shared evenly);
- a period loses data with ``p = P(X > m)``, ``X ~ Binomial(n, q)``;
- the stripe survives ``N = P * years`` periods with ``(1 - p)^N``, so
  ``P(loss) = 1 - (1 - p)^N``, computed as ``-expm1(N * log1p(-p))`` to stay exact at 1e-15.

With Backblaze's own example (4 + 2 shards, AFR 10 %, one-day replacement) this gives an annual
loss probability of 1.500e-07, as their table does.

It is not the Markov chain's answer. Failures only count together when they fall in the same
fixed period, while in reality the second failure may come any time during the first one's repair
(and the third during either of theirs): for small rates the estimate is low by a factor of about
``(m + 1)!`` against serial repair and ``(m + 1)`` against parallel repair (6x and 3x for
3 replicas). Only the ``m + 1`` is the fixed periods' doing; the further ``m!`` of serial repair
comes from the chain's exponential rebuild times queued one at a time (serial rebuilds of fixed
length give the parallel figure to leading order; docs/durability.md, "Backblaze's Vaults").
This module follows the calculator's first version (1 February 2018). Its July 2018 version,
which produced the published 17+3 figure (7.354e-12), uses ``365 / w`` periods and
``q = 1 - exp(-AFR / periods)``; for that case this module lands 0.8 % above it.
regsim reports it as the ``p_loss_year_binomial`` column for comparison only.
"""

from __future__ import annotations

import math

from ..failure_processes import YEAR_S
from .chain import check_codec, check_horizon, check_repair_time


def window_loss_probability(n: int, m: int, q: float) -> float:
    """P(more than ``m`` of ``n`` drives fail), each independently with probability ``q``.

    Summed upward from ``m + 1`` (the tail), never as ``1 - P(X <= m)``, so a tail of 1e-20
    keeps its digits.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a per-period failure probability must lie in [0, 1], got {q!r}")
    return math.fsum(math.comb(n, j) * q ** j * (1.0 - q) ** (n - j) for j in range(m + 1, n + 1))


def backblaze_p_loss(n: int, k: int, afr: float, repair_time_s: float, years: float = 1.0,
                     *, year_s: float = YEAR_S) -> float:
    """Backblaze's estimate of P(a stripe of ``n`` fragments, any ``k`` of which suffice, loses its
    data within ``years``), for drives of annual failure rate ``afr`` replaced in ``repair_time_s``.

    ``afr`` is read as Backblaze reads it, an expected number of failures per drive-year shared
    evenly over the periods, so it must lie in (0, 1) only to match the rest of regsim.
    """
    n, m = check_codec(n, k)
    if isinstance(afr, bool) or not (isinstance(afr, (int, float)) and 0.0 < afr < 1.0):
        raise ValueError(f"an annual failure rate is a probability in (0, 1), got {afr!r}")
    window = check_repair_time(repair_time_s)
    horizon = check_horizon(years * year_s if isinstance(years, (int, float)) else years)
    periods_per_year = max(1, math.floor(year_s / window))
    p_window = window_loss_probability(n, m, afr / periods_per_year)
    periods = periods_per_year * horizon / year_s
    if p_window >= 1.0:
        return 1.0
    return -math.expm1(periods * math.log1p(-p_window))
