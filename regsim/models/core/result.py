"""What one simulated variant hands back to the runner: KPIs, time series, samples, alerts, notes.

A model returns one :class:`VariantResult` per variant. The runner adds the variant's id and
swept values and writes every part to the results folder (``docs/results.md``): ``kpis`` become
one row of ``summary.csv``, ``series`` and ``alerts`` are stacked into parquet tables, ``samples``
feed the CDF plots, ``notes`` go into ``report.md``. The checks here run when the result is made,
so a model that returns the wrong shape fails inside that model's variant with a message naming
the field, not later in a writer or a plot.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["RESERVED_KPIS", "SERIES_COLUMNS", "ALERT_COLUMNS", "VariantResult"]

#: columns every ``series`` table has, in this order; any further columns are labels.
SERIES_COLUMNS = ("time_s", "metric", "value")
#: columns of an ``alerts`` table.
ALERT_COLUMNS = ("time_s", "level", "rule", "subject", "message")
#: names a KPI cannot take: the results tables use them for the variant's id and its error.
RESERVED_KPIS = frozenset({"variant", "error"})

Scalar = float | int | str


def _check_kpi(name: object, value: object) -> float | int | str | bool:
    if not isinstance(name, str) or not name:
        raise TypeError(f"KPI names must be non-empty strings, got {name!r}")
    if name in RESERVED_KPIS:
        raise ValueError(f"KPI name {name!r} is reserved for the results tables; choose another name")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"KPI {name!r} must be a number or a string, got {type(value).__name__} {value!r}")


def _check_frame(name: str, frame: object, columns: tuple[str, ...]) -> pd.DataFrame | None:
    if frame is None:
        return None
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame or None, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {', '.join(missing)}; expected {', '.join(columns)} "
                         f"(got {', '.join(map(str, frame.columns))})")
    if "variant" in frame.columns:
        raise ValueError(f"{name} has a column 'variant'; the runner adds it, so a model must not")
    return frame


@dataclass
class VariantResult:
    """The outcome of simulating one variant.

    ``kpis`` is one ``summary.csv`` row (name -> number or string), in the order the model
    wants its columns. ``series`` is a long table (``time_s``, ``metric``, ``value`` and any
    label columns). ``samples`` maps a name (``pull_time_s``) to the raw values whose CDF is
    plotted. ``alerts`` has ``time_s, level, rule, subject, message``. ``notes`` are lines for
    ``report.md`` (which parameters make a figure true). ``events`` counts simulated events,
    for events/s in ``meta.json``.
    """

    kpis: dict[str, Scalar]
    series: pd.DataFrame | None = None
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    alerts: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    events: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.kpis, dict):
            raise TypeError(f"kpis must be a dict of name -> value, got {type(self.kpis).__name__}")
        self.kpis = {name: _check_kpi(name, value) for name, value in self.kpis.items()}
        self.series = _check_frame("series", self.series, SERIES_COLUMNS)
        self.alerts = _check_frame("alerts", self.alerts, ALERT_COLUMNS)
        if not isinstance(self.samples, dict):
            raise TypeError(f"samples must be a dict of name -> array, got {type(self.samples).__name__}")
        samples = {}
        for name, values in self.samples.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"sample names must be non-empty strings, got {name!r}")
            array = np.asarray(values)
            if array.ndim != 1 or not np.issubdtype(array.dtype, np.number):
                raise ValueError(f"sample {name!r} must be a one-dimensional array of numbers "
                                 f"(got shape {array.shape}, dtype {array.dtype})")
            samples[name] = array.astype(np.float64, copy=False)
        self.samples = samples
        if isinstance(self.notes, str) or not all(isinstance(n, str) for n in self.notes):
            raise TypeError("notes must be a list of strings")
        self.notes = list(self.notes)
        if isinstance(self.events, bool) or not isinstance(self.events, (int, np.integer)) or self.events < 0:
            raise ValueError(f"events must be a non-negative integer, got {self.events!r}")
        self.events = int(self.events)
