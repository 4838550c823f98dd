"""Running published cases: the variants their metrics name, through the ordinary runner."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..results import VariantOutcome
from ..runner import run_scenario
from .cases import Case
from .compare import Row

__all__ = ["CaseRun", "Report", "reproduce"]


@dataclass(frozen=True)
class CaseRun:
    """One case's run: its rows, its results folder, its wall time."""

    case: Case
    rows: list[Row]
    folder: Path | None
    wall_s: float


@dataclass
class Report:
    """Every case run by :func:`reproduce`, in order."""

    runs: list[CaseRun] = field(default_factory=list)
    quick: bool = False

    @property
    def rows(self) -> list[Row]:
        return [r for run in self.runs for r in run.rows]

    @property
    def failed(self) -> bool:
        """True when a figure is out of its band without a stated reason, or could not be computed."""
        return any(r.verdict.failed for r in self.rows)


def _value(outcome: VariantOutcome | None, kpi: str) -> tuple[float | None, str | None]:
    if outcome is None:
        return None, "the variant did not run"
    if not outcome.ok or outcome.result is None:
        return None, outcome.error or "the variant failed"
    kpis = outcome.result.kpis
    if kpi not in kpis:
        return None, f"no KPI {kpi!r}; the model reports {', '.join(sorted(kpis))}"
    value = kpis[kpi]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return None, f"KPI {kpi!r} is {value!r}, not a finite number"
    return float(value), None


def run_case(case: Case, *, quick: bool = False, root: str | Path = "results/reproduce", jobs: int | None = None,
             quiet: bool = True) -> CaseRun:
    """Run the variants ``case``'s (quick) metrics read and compare each metric."""
    start = time.perf_counter()
    ids = case.variant_ids(quick)
    result = run_scenario(case.scenario, root=root, jobs=jobs, quiet=quiet, plots=False, only=set(ids))
    outcomes = {o.id: o for o in result.outcomes}
    rows = []
    for metric in case.metrics(quick):
        value, error = _value(outcomes.get(case.variants[metric.name].id), metric.kpi)
        rows.append(Row(case.name, metric, None if value is None else value / metric.divide_by, error))
    return CaseRun(case, rows, result.folder, time.perf_counter() - start)


def reproduce(cases: Sequence[Case], *, quick: bool = False, root: str | Path = "results/reproduce",
              jobs: int | None = None, quiet: bool = True,
              progress: Callable[[CaseRun], None] | None = None) -> Report:
    """Run every case (with ``quick``, only its quick metrics' variants); ``progress`` is told
    each case as it finishes."""
    report = Report(quick=quick)
    for case in cases:
        if not case.metrics(quick):
            continue
        run = run_case(case, quick=quick, root=root, jobs=jobs, quiet=quiet)
        report.runs.append(run)
        if progress is not None:
            progress(run)
    return report
