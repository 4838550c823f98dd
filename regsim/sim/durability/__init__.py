"""Durability of one stripe, three ways: Markov analysis, Backblaze's binomial, and simulation.

``durability(6, 4, afr=0.02, repair_time_s=86400)`` answers "how likely is an rs(4,2) stripe to
lose its data in a year?" with every figure the ``summary.csv`` of a run reports:

- ``p_loss_year_analytic``: exact, from the stripe's Markov chain (:mod:`.markov`);
- ``p_loss_year_mc`` with ``_low``/``_high``: a seeded simulation estimate and its 95 % interval --
  plain Monte Carlo (:mod:`.montecarlo`) while it can expect to see enough losses, importance
  sampling (:mod:`.importance`) below that, where plain Monte Carlo would report zero;
- ``mttdl_years`` and ``p_loss_year_binomial`` (Backblaze's method, :mod:`.binomial`).

The ``_year`` columns are over ``years`` years (one by default). See docs/durability.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..failure_processes import YEAR_S
from ..rng import RunRandom
from .binomial import backblaze_p_loss
from .chain import PARALLEL, SERIAL, StripeChain, check_horizon
from .importance import importance_sample
from .markov import mttdl, mttdl_closed_form, p_loss, p_loss_approx
from .montecarlo import simulate_simpy, simulate_vectorised, trials_needed
from .stats import Estimate, check_trials

__all__ = [
    "AUTO", "DurabilityResult", "Estimate", "IMPORTANCE", "PARALLEL", "PLAIN", "SERIAL", "StripeChain",
    "backblaze_p_loss", "durability", "importance_sample", "mttdl", "mttdl_closed_form", "nines", "p_loss",
    "p_loss_approx", "simulate_simpy", "simulate_vectorised", "trials_needed",
]

AUTO, PLAIN, IMPORTANCE = "auto", "plain", "importance"
#: ``mc="auto"`` uses plain Monte Carlo when it expects at least this many losses (+-20 % at 95 %)
MIN_EXPECTED_LOSSES = 100
#: summary.csv columns, in order
COLUMNS = ("p_loss_year_analytic", "p_loss_year_mc", "p_loss_year_mc_low", "p_loss_year_mc_high",
           "p_loss_year_binomial", "p_loss_year_approx", "mttdl_years", "mc_method", "mc_trials")


@dataclass(frozen=True, slots=True)
class DurabilityResult:
    """Every durability figure for one stripe layout, disk population and repair policy."""

    codec_n: int
    codec_k: int
    afr: float
    repair_time_s: float
    repair: str
    years: float
    #: exact P(loss within ``years``) from the Markov chain
    p_loss_year_analytic: float
    #: the simulation estimate of the same probability, and its 95 % interval
    p_loss_year_mc: float
    p_loss_year_mc_low: float
    p_loss_year_mc_high: float
    #: "vectorised" (plain Monte Carlo) or "importance-bfb-forcing"
    mc_method: str
    mc_trials: int
    #: exact mean time to data loss from all-healthy, seconds
    mttdl_s: float
    #: the classic closed-form MTTDL approximation, seconds
    mttdl_closed_form_s: float
    #: 1 - exp(-T / MTTDL)
    p_loss_year_approx: float
    #: Backblaze's per-period binomial estimate
    p_loss_year_binomial: float

    @property
    def mttdl_years(self) -> float:
        return self.mttdl_s / YEAR_S

    @property
    def mc_agrees(self) -> bool:
        """Whether the analytic value lies within the simulation's interval."""
        return self.p_loss_year_mc_low <= self.p_loss_year_analytic <= self.p_loss_year_mc_high

    def to_row(self) -> dict[str, object]:
        """The inputs and the :data:`COLUMNS` of a summary.csv row."""
        row = {key: value for key, value in asdict(self).items() if key in
               ("codec_n", "codec_k", "afr", "repair_time_s", "repair", "years")}
        row.update({column: getattr(self, column) for column in COLUMNS})
        return row


def durability(codec_n: int, codec_k: int, afr: float, repair_time_s: float, repair: str = SERIAL,
               years: float = 1.0, mc_trials: int = 100_000, seed: int = 0,
               mc: str = AUTO) -> DurabilityResult:
    """Durability of a stripe of ``codec_n`` fragments, any ``codec_k`` of which recover the data,
    on disks failing at annual rate ``afr`` and rebuilt in ``repair_time_s`` on average.

    ``repair`` is ``"serial"`` (one rebuild at a time, rate mu) or ``"parallel"`` (every failed disk
    at once, rate i*mu). ``mc`` picks the simulation estimator: ``"plain"``, ``"importance"``, or
    ``"auto"`` -- plain when ``mc_trials`` stripe-years expect at least
    :data:`MIN_EXPECTED_LOSSES` losses, importance sampling otherwise. Same seed, same result.
    """
    chain = StripeChain.from_afr(codec_n, codec_k, afr, repair_time_s, repair)
    if isinstance(years, bool) or not isinstance(years, (int, float)):
        raise ValueError(f"years must be a positive number, got {years!r}")
    horizon = check_horizon(years * YEAR_S)
    trials = check_trials(mc_trials)
    if mc not in (AUTO, PLAIN, IMPORTANCE):
        raise ValueError(f"mc must be 'auto', 'plain' or 'importance', got {mc!r}")
    rr = RunRandom(seed)
    analytic = p_loss(chain, horizon)
    if mc == AUTO:
        mc = PLAIN if analytic * trials >= MIN_EXPECTED_LOSSES else IMPORTANCE
    if mc == PLAIN:
        estimate = simulate_vectorised(chain, horizon, trials, rr.stream("durability/plain"))
    else:
        estimate = importance_sample(chain, horizon, trials, rr.stream("durability/importance"))
    mean_s = mttdl(chain)
    return DurabilityResult(
        codec_n=chain.n, codec_k=chain.n - chain.m, afr=float(afr), repair_time_s=float(repair_time_s),
        repair=chain.repair, years=float(years),
        p_loss_year_analytic=analytic,
        p_loss_year_mc=estimate.value, p_loss_year_mc_low=estimate.low, p_loss_year_mc_high=estimate.high,
        mc_method=estimate.method, mc_trials=estimate.trials,
        mttdl_s=mean_s, mttdl_closed_form_s=mttdl_closed_form(chain),
        p_loss_year_approx=p_loss_approx(mean_s, horizon),
        p_loss_year_binomial=backblaze_p_loss(codec_n, codec_k, afr, repair_time_s, years),
    )


def nines(p: float) -> float:
    """Durability as "nines": ``-log10(p)`` (11 nines is p = 1e-11); inf for p = 0."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a probability must lie in [0, 1], got {p!r}")
    return math.inf if p == 0.0 else -math.log10(p)
