"""One published figure against its simulated counterpart, and the verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from ..spec.expect import Metric

__all__ = ["Row", "Verdict"]


class Verdict(str, Enum):
    """How a figure fared. ``KNOWN_MISS`` is out of its band with a stated reason and does not fail
    the run; ``MET_KNOWN_MISS`` is inside its band although marked as a miss (remove the mark)."""

    OK = "ok"
    MISS = "MISS"
    KNOWN_MISS = "known miss"
    MET_KNOWN_MISS = "ok (marked known miss)"
    ERROR = "ERROR"

    @property
    def failed(self) -> bool:
        return self in (Verdict.MISS, Verdict.ERROR)


@dataclass(frozen=True)
class Row:
    """A case's metric: the published figure, the simulated one (None with ``error``), the verdict."""

    case: str
    metric: Metric
    simulated: float | None
    error: str | None = None

    @property
    def ratio(self) -> float:
        if self.simulated is None or self.metric.published == 0:
            return math.nan
        return self.simulated / self.metric.published

    @property
    def within(self) -> bool:
        lo, hi = self.metric.band
        return math.isfinite(self.ratio) and lo <= self.ratio <= hi

    @property
    def verdict(self) -> Verdict:
        if self.error is not None or self.simulated is None:
            return Verdict.ERROR
        if self.metric.known_miss:
            return Verdict.MET_KNOWN_MISS if self.within else Verdict.KNOWN_MISS
        return Verdict.OK if self.within else Verdict.MISS
