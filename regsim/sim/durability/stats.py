"""Estimates with confidence intervals, as the Monte Carlo durability estimators report them.

Plain Monte Carlo counts losses among independent stripe-years, a binomial proportion; its interval
is the **Wilson score interval**, which (unlike the textbook ``p +- z sqrt(p(1-p)/N)``) stays inside
[0, 1], has close to nominal coverage for small counts, and still gives a useful upper bound,
about ``z^2 / N``, when no loss was seen at all. Importance sampling averages weighted indicators,
not a proportion; its interval is the normal one from the sample variance of the weights (the
central limit theorem), clipped at zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral
from statistics import NormalDist

import numpy as np

WILSON, NORMAL = "wilson", "normal"


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile for ``confidence`` (1.96 for 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def check_trials(trials: object) -> int:
    """A positive whole number of independent trials."""
    if isinstance(trials, bool) or not isinstance(trials, Integral) or trials < 1:
        raise ValueError(f"the number of trials must be a positive integer, got {trials!r}")
    return int(trials)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A probability estimated by simulation: point value and a two-sided interval."""

    value: float
    low: float
    high: float
    trials: int
    #: trials that ended in data loss (under the sampling measure, for importance sampling)
    losses: int
    method: str
    interval: str
    confidence: float = 0.95

    def contains(self, p: float) -> bool:
        """Whether ``p`` lies within the interval (inclusive)."""
        return self.low <= p <= self.high

    @property
    def relative_half_width(self) -> float:
        """Half the interval's width over the estimate (inf when nothing was seen)."""
        return (self.high - self.low) / 2.0 / self.value if self.value > 0 else math.inf


def wilson(losses: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``losses / trials``."""
    trials = check_trials(trials)
    if not 0 <= losses <= trials:
        raise ValueError(f"losses must lie in [0, trials={trials}], got {losses!r}")
    z = z_value(confidence)
    p = losses / trials
    z2n = z * z / trials
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / trials + z2n / (4.0 * trials)) / (1.0 + z2n)
    # exact ends where they are known: no loss seen cannot rule out zero, and so on
    low = 0.0 if losses == 0 else max(0.0, centre - half)
    high = 1.0 if losses == trials else min(1.0, centre + half)
    return low, high


def proportion(losses: int, trials: int, method: str, confidence: float = 0.95) -> Estimate:
    """A plain Monte Carlo estimate: ``losses`` of ``trials`` with its Wilson interval."""
    low, high = wilson(losses, trials, confidence)
    return Estimate(losses / trials, low, high, trials, losses, method, WILSON, confidence)


class Moments:
    """Running count, mean and sum of squared deviations of a stream of numbers, merged batch by
    batch (Chan, Golub and LeVeque's update), so a variance never comes from ``E[x^2] - E[x]^2``,
    which cancels when the contributions are nearly equal."""

    __slots__ = ("count", "mean", "m2")

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, values: np.ndarray) -> None:
        size = int(values.size)
        if size == 0:
            return
        batch_mean = float(np.mean(values))
        batch_m2 = float(np.sum((values - batch_mean) ** 2))
        total = self.count + size
        delta = batch_mean - self.mean
        self.mean += delta * size / total
        self.m2 += batch_m2 + delta * delta * self.count * size / total
        self.count = total

    @property
    def variance(self) -> float:
        """Unbiased sample variance (0 for fewer than two values)."""
        return self.m2 / (self.count - 1) if self.count > 1 else 0.0


def weighted_mean(moments: Moments, hits: int, method: str, confidence: float = 0.95) -> Estimate:
    """An importance-sampling estimate from the moments of per-trial contributions (likelihood
    ratio on loss, zero otherwise), with a normal (CLT) interval."""
    trials = check_trials(moments.count)
    half = z_value(confidence) * math.sqrt(moments.variance / trials)
    mean = moments.mean
    return Estimate(mean, max(0.0, mean - half), mean + half, trials, hits, method, NORMAL, confidence)
