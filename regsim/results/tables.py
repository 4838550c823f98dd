"""The results tables built from variant outcomes: the summary, series, samples and alerts.

``summary.csv`` must be byte-identical for the same scenario and seed, so it is written here
cell by cell rather than by pandas: a fixed column order (``variant``, the swept keys in sweep
order, the KPIs in the order the models return them, ``error``), integers as integers,
floats as their shortest round-trip ``repr`` (exact, and independent of locale and dtype
inference), missing values as empty cells, and Unix line ends. The parquet files carry the
same rows with types, for analysis.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..models.core.result import ALERT_COLUMNS, SERIES_COLUMNS
from .outcome import VariantOutcome

__all__ = ["alerts_frame", "format_cell", "kpi_columns", "samples_frame", "series_frame", "summary_columns",
           "summary_rows", "summary_table", "write_summary_csv"]


def kpi_columns(outcomes: Sequence[VariantOutcome]) -> list[str]:
    """Every KPI name, in the order the models return them (first appearance over the variants)."""
    seen: dict[str, None] = {}
    for outcome in outcomes:
        if outcome.result is not None:
            seen.update(dict.fromkeys(outcome.result.kpis))
    return list(seen)


def summary_columns(swept: Sequence[str], kpis: Sequence[str]) -> list[str]:
    """The summary's columns: ``variant``, the swept keys, the KPIs, ``error``."""
    clash = sorted(set(swept) & set(kpis))
    if clash:
        raise ValueError(f"KPI name(s) {', '.join(clash)} clash with swept key(s) of the same name")
    return ["variant", *swept, *kpis, "error"]


def _plain(value: Any) -> Any:
    """Swept values as one scalar: a mapping or list (a swept section) becomes canonical JSON."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    if isinstance(value, np.generic):
        return value.item()
    return value


def summary_rows(outcomes: Sequence[VariantOutcome], swept: Sequence[str], kpis: Sequence[str]) -> list[list[Any]]:
    """One row of plain Python values per variant, in :func:`summary_columns` order."""
    rows = []
    for outcome in outcomes:
        values = [_plain(outcome.values.get(key)) for key in swept]
        found = outcome.result.kpis if outcome.result is not None else {}
        rows.append([outcome.id, *values, *(found.get(k) for k in kpis), outcome.error or None])
    return rows


def format_cell(value: Any) -> str:
    """The one text form of a cell: ``repr`` for floats, ``str`` for the rest, empty for missing."""
    kind = type(value)
    if kind is float:
        return repr(value) if value == value else "nan"  # repr: shortest exact; NaN != NaN
    if kind is int or kind is str:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(float(value))
    return str(value)


def write_summary_csv(path: str | Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write ``summary.csv``: the same rows give the same bytes, on every machine."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([format_cell(v) for v in row])


def _column(values: list[Any]) -> pa.Array:
    """A typed arrow column; text when the values mix kinds (``all`` beside ``5m``)."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else format_cell(v) for v in values], type=pa.string())


def summary_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """The summary as an arrow table (for ``summary.parquet``), one typed column each."""
    data = list(zip(*rows)) if rows else [() for _ in columns]
    arrays = []
    for values in data:
        array = _column(list(values))
        if pa.types.is_null(array.type):
            array = array.cast(pa.string())
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=list(columns))


#: inferred kinds of object columns that parquet cannot store as one type: written as text.
_MIXED = {"mixed", "mixed-integer"}


def _stack(outcomes: Sequence[VariantOutcome], attr: str, columns: Sequence[str]) -> pd.DataFrame:
    frames = []
    for outcome in outcomes:
        frame = getattr(outcome.result, attr, None) if outcome.result is not None else None
        if frame is not None and len(frame):
            frame = frame.reset_index(drop=True)
            frames.append(frame.assign(variant=outcome.id)[["variant", *frame.columns]])
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("time_s", "value") else "object")
                             for c in ("variant", *columns)})
    out = pd.concat(frames, ignore_index=True, sort=False)
    for name in out.columns:
        if out[name].dtype == object and pd.api.types.infer_dtype(out[name], skipna=True) in _MIXED:
            out[name] = out[name].map(lambda v: None if v is None or v is pd.NA else format_cell(v))
    return out


def series_frame(outcomes: Sequence[VariantOutcome]) -> pd.DataFrame:
    """Every variant's time series stacked: ``variant, time_s, metric, value`` and any labels."""
    return _stack(outcomes, "series", SERIES_COLUMNS)


def alerts_frame(outcomes: Sequence[VariantOutcome]) -> pd.DataFrame:
    """Every variant's alerts stacked: ``variant, time_s, level, rule, subject, message``."""
    return _stack(outcomes, "alerts", ALERT_COLUMNS)


def samples_frame(outcomes: Sequence[VariantOutcome]) -> pd.DataFrame:
    """Every variant's samples in long form: ``variant, sample, value``."""
    variants: list[np.ndarray] = []
    names: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for outcome in outcomes:
        if outcome.result is None:
            continue
        for name, array in outcome.result.samples.items():
            variants.append(np.full(len(array), outcome.id, dtype=object))
            names.append(np.full(len(array), name, dtype=object))
            values.append(np.asarray(array, dtype=np.float64))
    if not values:
        return pd.DataFrame({"variant": pd.Series(dtype="object"), "sample": pd.Series(dtype="object"),
                             "value": pd.Series(dtype="float64")})
    return pd.DataFrame({"variant": np.concatenate(variants), "sample": np.concatenate(names),
                         "value": np.concatenate(values)})
