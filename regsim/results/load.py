"""Reading a results folder back as pandas tables, for notebooks, reports and comparisons.

    from regsim.results import load
    r = load("results/rollout-1000")          # the latest run, or a run folder itself
    r.summary                                 # one row per variant: variant, swept keys, KPIs, error
    r.samples.query("sample == 'pull_time_s'")
    r.state                                   # ("ok", ""), or ("killed", "did not finish: ...")

A run whose ``meta.json`` still says ``running`` although the process that ran it is gone (a
SIGKILL, the out-of-memory killer) is ``killed`` in :attr:`Results.state`, and :func:`load` warns
so (a ``UserWarning``) with the sentence ``regsim report`` prints.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from ..scenario import Scenario, parse_yaml, scenario_from_dict
from .meta import RunState, read_meta, run_state
from .schema import ALERTS, META, SAMPLES, SCENARIO, SERIES, SUMMARY_CSV, SUMMARY_PARQUET, ResultsError

__all__ = ["KILLED_WARNING", "Results", "find_run", "load"]

#: the start of the warning :func:`load` gives for a killed run (a ``UserWarning``), for filters.
KILLED_WARNING = "did not finish: the process that ran it"


def find_run(path: str | Path) -> Path:
    """The run folder at ``path``: ``path`` itself, or the latest run under ``results/<name>/``."""
    path = Path(path)
    if (path / META).is_file():
        return path
    if not path.is_dir():
        raise ResultsError(f"{path}: no such results folder")
    runs = [p for p in path.iterdir() if (p / META).is_file()]
    if not runs:
        raise ResultsError(f"{path}: not a regsim results folder (no {META}, and no run folders inside)")
    return max(runs, key=lambda p: (str(read_meta(p).get("started") or ""), p.name))


def _parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing; the run did not finish writing its results") from None
    except Exception as exc:  # noqa: BLE001 -- pyarrow raises several kinds for a corrupt file
        raise ResultsError(f"{path}: cannot read: {exc}") from None


@dataclass
class Results:
    """One run's results folder: its tables as pandas DataFrames, its meta and its scenario."""

    path: Path
    meta: dict[str, Any]

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per variant: ``variant``, the swept keys, the KPIs, ``error`` (empty when it ran)."""
        if (self.path / SUMMARY_PARQUET).is_file():
            return _parquet(self.path / SUMMARY_PARQUET)
        try:
            return pd.read_csv(self.path / SUMMARY_CSV, keep_default_na=False, na_values=[""])
        except FileNotFoundError:
            why = self.state.note or "the run did not finish"
            raise ResultsError(f"{self.path}: no {SUMMARY_PARQUET} or {SUMMARY_CSV}; {why}") from None

    @property
    def state(self) -> RunState:
        """The run's status now (``killed`` for a ``running`` run whose process is gone) and a note
        for people; see :func:`regsim.results.meta.run_state`."""
        return run_state(self.meta)

    @property
    def status(self) -> str:
        """``ok``, ``failed``, ``interrupted``, ``crashed``, ``running``, or ``killed``."""
        return self.state.status

    @cached_property
    def series(self) -> pd.DataFrame:
        """Time series, long form: ``variant, time_s, metric, value`` and any label columns."""
        return _parquet(self.path / SERIES)

    @cached_property
    def samples(self) -> pd.DataFrame:
        """Raw samples, long form: ``variant, sample, value``."""
        return _parquet(self.path / SAMPLES)

    @cached_property
    def alerts(self) -> pd.DataFrame:
        """Alerts raised: ``variant, time_s, level, rule, subject, message``."""
        return _parquet(self.path / ALERTS)

    @cached_property
    def scenario(self) -> dict[str, Any]:
        """The resolved scenario as saved (``scenario.yaml``), as plain data."""
        try:
            text = (self.path / SCENARIO).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ResultsError(f"{self.path}: no {SCENARIO}") from None
        data = parse_yaml(text, str(self.path / SCENARIO))
        if not isinstance(data, dict):
            raise ResultsError(f"{self.path / SCENARIO}: expected a mapping of scenario keys")
        return data

    def load_scenario(self) -> Scenario:
        """The saved scenario validated again (its relative paths point into this folder)."""
        return scenario_from_dict(self.scenario, str(self.path / SCENARIO), base_dir=self.path)

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.scenario.get("name", self.path.name))

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id") or self.path.name)

    @property
    def swept(self) -> list[str]:
        """The swept keys, in sweep order."""
        return list(self.meta.get("swept") or [])

    @property
    def kpis(self) -> list[str]:
        """The KPI columns of the summary, in the models' order."""
        if self.meta.get("kpis"):
            return list(self.meta["kpis"])
        return [c for c in self.summary.columns if c not in ("variant", "error", *self.swept)]

    @property
    def notes(self) -> dict[str, list[str]]:
        """Each variant's notes for the report."""
        return {v["id"]: list(v.get("notes") or []) for v in self.meta.get("variants", [])}

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Failed variants: ``variant``, ``values``, ``error``, ``traceback``."""
        return list(self.meta.get("errors") or [])


def load(path: str | Path) -> Results:
    """The results at ``path``: a run folder, or ``results/<name>`` for its latest run."""
    folder = find_run(path)
    results = Results(folder, read_meta(folder))
    state = results.state
    if state.status == "killed":
        warnings.warn(f"{folder}: {state.note}", UserWarning, stacklevel=2)
    return results
