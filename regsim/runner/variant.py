"""Running one variant: the unit of work every executor ships, in-process or to another machine.

A :class:`VariantTask` carries everything a worker needs -- the variant's scenario, seed and the
model function itself (pickled by reference, so a worker imports the module that defines it) --
and :func:`execute_variant` always returns a :class:`~regsim.results.VariantOutcome`: a model
that raises is recorded with its error and traceback, and the other variants go on.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..models import Model, call_model
from ..results import VariantOutcome
from ..scenario import Scenario

__all__ = ["VariantTask", "error_line", "execute_variant", "failed_outcome"]

Progress = Callable[[float], None]


@dataclass(frozen=True)
class VariantTask:
    """One variant ready to run: its scenario and model, or the error that makes it unrunnable."""

    id: str
    values: dict[str, Any]
    seed: int
    scenario: Scenario | None
    model_name: str | None = None
    model: Model | None = None
    error: str | None = None

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items()) or "base"


def error_line(text: str) -> str:
    """A multi-line error message as one line (for ``summary.csv``): lines joined by ``"; "``."""
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def failed_outcome(task: VariantTask, error: str, trace: str | None = None, wall_s: float = 0.0) -> VariantOutcome:
    """The outcome of a variant that did not produce a result."""
    return VariantOutcome(task.id, dict(task.values), task.seed, None, error_line(error), trace or error, wall_s,
                          task.model_name)


def execute_variant(task: VariantTask, progress: Progress | None = None) -> VariantOutcome:
    """Run ``task``'s model on its scenario; the outcome, with the error if the model raised."""
    if task.error is not None or task.scenario is None or task.model is None:
        return failed_outcome(task, task.error or "the variant has no scenario or model to run")
    start = time.perf_counter()
    try:
        result = call_model(task.model, task.scenario, task.seed, progress)
    except Exception as exc:  # noqa: BLE001 -- a failing variant is recorded, the others go on
        return failed_outcome(task, f"{type(exc).__name__}: {exc}", traceback.format_exc(),
                              time.perf_counter() - start)
    return VariantOutcome(task.id, dict(task.values), task.seed, result, None, None, time.perf_counter() - start,
                          task.model_name)
