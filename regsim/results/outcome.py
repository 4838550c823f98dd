"""One variant's outcome as the runner records it: its identity, its result or its error, its cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models.core.result import VariantResult

__all__ = ["VariantOutcome"]


@dataclass
class VariantOutcome:
    """What running one variant gave: a :class:`VariantResult`, or the error that stopped it.

    ``error`` is one readable line (``ValueError: codec rs(10,4) needs ...``) that goes into
    ``summary.csv``; ``traceback`` is the full text, kept in ``meta.json`` only since it names
    files and lines of this machine. ``wall_s`` is measured, so it too stays out of the summary.
    """

    id: str
    values: dict[str, Any]
    seed: int
    result: VariantResult | None = None
    error: str | None = None
    traceback: str | None = None
    wall_s: float = 0.0
    model: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.error is None

    def describe(self) -> str:
        """``"cluster.nodes=100, distribution.strategy=central"`` (``"base"`` without a sweep)."""
        return ", ".join(f"{k}={v}" for k, v in self.values.items()) or "base"
