"""The results folder's layout and version: file names, fixed columns, and the one error type.

Bump :data:`SCHEMA_VERSION` whenever a file or column changes meaning, and describe the change
in ``docs/results.md``; :func:`regsim.results.load` refuses folders newer than it understands.
"""

from __future__ import annotations

from ..errors import UserError

__all__ = ["ALERTS", "META", "NOTES_KEY", "PLOTS", "REPORT", "SAMPLES", "SCENARIO", "SCHEMA_VERSION", "SERIES",
           "SUMMARY_CSV", "SUMMARY_PARQUET", "INPUTS", "ResultsError"]

#: version of the results folder format described in docs/results.md.
SCHEMA_VERSION = 1

SCENARIO = "scenario.yaml"
SUMMARY_CSV = "summary.csv"
SUMMARY_PARQUET = "summary.parquet"
SERIES = "series.parquet"
SAMPLES = "samples.parquet"
ALERTS = "alerts.parquet"
META = "meta.json"
REPORT = "report.md"
PLOTS = "plots"
#: files the scenario names (a cost profile, a trace), copied so the folder is self-contained.
INPUTS = "inputs"
NOTES_KEY = "notes"


class ResultsError(UserError, ValueError):
    """A results folder that cannot be written or read: the message says which file and why."""
