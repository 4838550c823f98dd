"""One stripe as a birth-death Markov chain: the model every durability method here shares.

A stripe keeps ``n`` fragments on ``n`` independent disks and survives while at most ``m`` of them
are lost (replication: ``n`` copies, ``m = n - 1``; an MDS code such as Reed-Solomon ``(k, m)``:
``n = k + m``). The state is the number ``i`` of failed disks, ``0 <= i <= m``; one more failure
from state ``m`` loses the data, an absorbing state.

- Failures: each of the ``n - i`` working disks fails at rate ``lambda`` (exponential lifetimes,
  the engine's :func:`~regsim.sim.failure_processes.afr_to_rate`), so the failure rate out of state ``i``
  is ``(n - i) * lambda``.
- Repairs: ``serial`` repair rebuilds one disk at a time at rate ``mu`` whatever the number failed
  (one repair crew, one rebuild stream); ``parallel`` repair rebuilds all ``i`` failed disks at
  once, rate ``i * mu``. ``mu = 1 / mean repair time``.

This is the chain behind the classic MTTDL formulas; the analytic, Monte Carlo and importance
sampling estimators all take a :class:`StripeChain`, so they cannot disagree about the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from ..failure_processes import afr_to_rate

SERIAL, PARALLEL = "serial", "parallel"
REPAIR_MODES = (SERIAL, PARALLEL)


def check_codec(n: object, k: object) -> tuple[int, int]:
    """``(n, m)`` of a stripe of ``n`` fragments of which any ``k`` suffice, or a clear ValueError."""
    for name, value in (("n", n), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ValueError(f"codec {name} must be an integer, got {type(value).__name__} {value!r}")
    if k < 1:
        raise ValueError(f"a stripe needs at least one fragment to read its data back: k >= 1, got k={k}")
    if n < k:
        raise ValueError(f"a stripe cannot store fewer fragments than it needs: n={n} < k={k} "
                         f"(fragments that may be lost, m = n - k = {n - k}, must be >= 0)")
    return int(n), int(n - k)


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer))


def check_repair_time(repair_time_s: object) -> float:
    """A mean repair time in seconds, finite and positive."""
    if not _is_number(repair_time_s):
        raise ValueError(f"repair time must be a number of seconds, got {type(repair_time_s).__name__}")
    seconds = float(repair_time_s)  # type: ignore[arg-type]
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"repair time must be a positive, finite number of seconds, got {repair_time_s!r}")
    return seconds


def check_horizon(seconds: object) -> float:
    """A mission time in seconds (the ``T`` of "P(loss within T)"), finite and positive."""
    if not _is_number(seconds):
        raise ValueError(f"a mission time must be a number of seconds, got {type(seconds).__name__}")
    horizon = float(seconds)  # type: ignore[arg-type]
    if not (horizon > 0 and math.isfinite(horizon)):
        raise ValueError(f"a mission time must be positive and finite, got {seconds!r}")
    return horizon


@dataclass(frozen=True, slots=True)
class StripeChain:
    """The birth-death chain of one stripe: ``n`` disks, tolerance ``m``, rates per second."""

    n: int
    m: int
    failure_rate: float
    repair_rate: float
    repair: str = SERIAL

    def __post_init__(self) -> None:
        for name in ("n", "m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise ValueError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
        if self.m < 0:
            raise ValueError(f"tolerance m (fragments that may be lost) must be >= 0, got m={self.m}")
        if self.n <= self.m:
            raise ValueError(f"a stripe of n={self.n} disks cannot tolerate m={self.m} losses: "
                             "it needs n > m (at least one fragment to read from)")
        for name in ("failure_rate", "repair_rate"):
            rate = getattr(self, name)
            if not (isinstance(rate, (int, float, np.floating)) and rate > 0 and math.isfinite(rate)):
                raise ValueError(f"{name} must be a positive, finite rate per second, got {rate!r}")
        if self.repair not in REPAIR_MODES:
            raise ValueError("repair must be 'serial' (rate mu) or 'parallel' (rate i*mu), "
                             f"got {self.repair!r}")

    @classmethod
    def from_afr(cls, n: int, k: int, afr: float, repair_time_s: float, repair: str = SERIAL) -> StripeChain:
        """The chain of a codec that writes ``n`` fragments and reads from any ``k``, on disks with
        annual failure rate ``afr`` and mean repair time ``repair_time_s``."""
        n, m = check_codec(n, k)
        if not _is_number(afr):
            raise ValueError(f"an annual failure rate is a probability in (0, 1), got {afr!r}")
        return cls(n, m, afr_to_rate(float(afr)), 1.0 / check_repair_time(repair_time_s), repair)

    @property
    def states(self) -> int:
        """Transient states 0..m (the absorbing loss state is not counted)."""
        return self.m + 1

    def failure_rates(self) -> np.ndarray:
        """Rate of one more failure out of each transient state: ``(n - i) * lambda``."""
        return (self.n - np.arange(self.states, dtype=float)) * self.failure_rate

    def repair_rates(self) -> np.ndarray:
        """Rate of one repair out of each transient state: 0 in state 0, then ``mu`` or ``i * mu``."""
        i = np.arange(self.states, dtype=float)
        if self.repair == SERIAL:
            return np.where(i > 0, self.repair_rate, 0.0)
        return i * self.repair_rate

    def generator(self) -> np.ndarray:
        """The ``(m + 2) x (m + 2)`` generator matrix; the last state is data loss (absorbing)."""
        size = self.states + 1
        q = np.zeros((size, size))
        fail, fix = self.failure_rates(), self.repair_rates()
        for i in range(self.states):
            q[i, i + 1] = fail[i]
            if i > 0:
                q[i, i - 1] = fix[i]
            q[i, i] = -(fail[i] + fix[i])
        return q
