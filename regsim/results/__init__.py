"""Results folders: writing a run's tables, meta, plots and report; reading and comparing them.

    from regsim.results import load, compare, format_comparison
    r = load("results/rollout-1000")                 # latest run of a scenario, or a run folder
    r.summary, r.series, r.samples, r.alerts, r.meta, r.scenario
    print(format_comparison(compare("results/a/run1", "results/a/run2")))

The folder format, every file and column: ``docs/results.md``. matplotlib is imported on the
first plot only, so worker processes that just run variants start quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

from .compare import compare, format_comparison
from .load import Results, find_run, load
from .outcome import VariantOutcome
from .report import render, report_text
from .schema import SCHEMA_VERSION, ResultsError
from .writer import ResultsWriter, portable_scenario, run_id_for, write_tables

_LAZY = {"plot_all": "plotting.folder"}

__all__ = [
    "SCHEMA_VERSION",
    "Results",
    "ResultsError",
    "ResultsWriter",
    "VariantOutcome",
    "compare",
    "find_run",
    "format_comparison",
    "load",
    "plot_all",
    "portable_scenario",
    "render",
    "report_text",
    "run_id_for",
    "write_tables",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
