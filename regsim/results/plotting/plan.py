"""Which charts a run deserves, decided from its summary alone (no matplotlib here).

A sweep of three keys over 87 KPIs could draw every KPI against every key -- 261 charts, most of
them flat lines over a key the KPI ignores. Instead:

- a KPI with one value in every variant is a *constant*: listed once in the report, not drawn;
  so is a number that varies by less than :data:`NEAR_CONSTANT` of its size (rounding, or
  ``storage_read_bytes`` differing by 0.03 %), with its range;
- a KPI that depends on one swept key only and is proportional to it (``afr`` for
  ``failures.afr = 2%``, ``storage_read_bytes`` = 900 MB x ``cluster.nodes``) is listed with its
  factor, not drawn;
- every other numeric KPI gets one chart, against the swept key it depends on that has the most
  values -- a numeric key with at least three values first, since a trend reads best along a
  numeric axis, and a numeric key on a tie -- with one line per combination of the other keys it
  depends on; keys it does not depend on are named in the title instead of multiplying the lines;
- more than :data:`MAX_LINES` lines: one panel per value of one of those keys (up to
  :data:`MAX_PANELS`), else the chart is skipped with a note.

Time series and distributions are drawn per variant; with more variants than :data:`MAX_VARIANT_LINES`,
:func:`variant_panels` draws a line per value of one key and a panel per value of another, the
other keys at their first value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from regsim.results.labels import compact_labels, short_key, swept_numbers

__all__ = ["EVENT_METRICS", "MAX_LINES", "MAX_PANELS", "MAX_VARIANT_LINES", "NEAR_CONSTANT", "KpiChart", "KpiPlan",
           "VariantPanels", "bound_names", "constant_series", "levels", "plan_kpis", "succeeded", "value_labels",
           "variant_label", "variant_panels"]

#: most lines in one KPI chart (or one panel of it).
MAX_LINES = 8
#: most variants drawn as lines in one distribution or time-series panel (the ten tab10 colours).
MAX_VARIANT_LINES = 10
#: most panels one chart is split into when its lines would be too many.
MAX_PANELS = 4
#: series whose points are events (an alert's level at its time): drawn as markers, never joined,
#: and drawn even when every event has the same level.
EVENT_METRICS = {"alert": {1: "warning", 2: "critical", 3: "emergency"}}
#: numbers whose spread is at most this fraction of their largest magnitude count as constant.
NEAR_CONSTANT = 1e-3
#: relative differences this small are rounding, not a change.
ROUNDING = 1e-9
#: a numeric key with at least this many values is the x-axis before a categorical key with more.
NUMERIC_X_VALUES = 3
#: the bounds a ``*_over_bound`` KPI may divide by, named for people (keyed by the ``<name>_bound_s`` column).
BOUNDS = {"central": "central bound N·F/u_s", "proxy": "proxy-cache bound", "kumar_ross": "Kumar-Ross bound"}


@dataclass(frozen=True)
class KpiChart:
    """One KPI chart: ``kpi`` against swept key ``x``, a line per combination of ``lines``, a panel
    per value of ``panels``; ``same_for`` are the varying keys the KPI does not depend on."""

    kpi: str
    x: str
    lines: tuple[str, ...] = ()
    panels: str | None = None
    same_for: tuple[str, ...] = ()


@dataclass
class KpiPlan:
    """What to do with each KPI of a run: draw it, list it as a constant, or say why not.

    ``constants`` maps a KPI to its value, or for a near-constant number to its ``(min, max)``;
    ``proportional`` maps a KPI to the swept key it is proportional to and the factor;
    ``skipped`` to the reason it is not drawn.
    """

    charts: list[KpiChart] = field(default_factory=list)
    constants: dict[str, Any] = field(default_factory=dict)
    proportional: dict[str, tuple[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def succeeded(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows of variants that ran (their ``error`` is empty)."""
    if "error" not in summary:
        return summary
    return summary[summary["error"].isna() | (summary["error"] == "")]


def levels(rows: pd.DataFrame, key: str) -> list[Any]:
    """The distinct values of ``key``, in variant (that is, sweep) order."""
    return list(dict.fromkeys(rows[key].tolist()))


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _depends(ok: pd.DataFrame, varying: list[str], kpis: list[str]) -> dict[str, set[str]]:
    """For each varying key, the (numeric) KPIs that change when only that key changes.

    Differences of rounding size (:data:`ROUNDING` of the value) do not count as a change.
    """
    out = {}
    numbers = ok[kpis].astype(float)
    for key in varying:
        others = [k for k in varying if k != key]
        if others:
            grouped = numbers.groupby([ok[k] for k in others], sort=False, dropna=False)
            lo, hi = grouped.min(), grouped.max()
        else:
            lo, hi = numbers.min().to_frame().T, numbers.max().to_frame().T
        size = np.maximum(lo.abs(), hi.abs())
        changed = ((hi - lo) > ROUNDING * size).any(axis=0)
        out[key] = {k for k in kpis if bool(changed.get(k, False))}
    return out


def _factor(ok: pd.DataFrame, kpi: str, key: str) -> float | None:
    """``f`` when ``kpi`` is ``f`` times ``key``'s value (read as a number) in every variant, else ``None``."""
    parsed = swept_numbers(ok[key].tolist())
    if parsed is None:
        return None
    x, y = parsed[0], ok[kpi].to_numpy(dtype=float)
    keep = np.isfinite(y) & (x != 0)
    if keep.sum() < 2:
        return None
    ratio = y[keep] / x[keep]
    same = np.allclose(ratio, ratio[0], rtol=1e-9, atol=0.0) and ratio[0] != 0
    return float(ratio[0]) if same else None


def _constant(values: pd.Series) -> Any:
    """The one value of ``values`` (no missing ones; numbers differing by rounding count as one),
    ``(min, max)`` when numbers differ by at most :data:`NEAR_CONSTANT` of their size, or ``None``."""
    if values.nunique() == 1:
        return _plain(values.iloc[0])
    if not _numeric(values):
        return None
    lo, hi = float(values.min()), float(values.max())
    size = max(abs(lo), abs(hi))
    if not math.isfinite(size) or hi - lo > NEAR_CONSTANT * size:
        return None
    return _plain(values.iloc[0]) if hi - lo <= ROUNDING * size else (lo, hi)


def _combinations(rows: pd.DataFrame, keys: Sequence[str]) -> int:
    return len(rows[list(keys)].drop_duplicates()) if keys else 1


def plan_kpis(summary: pd.DataFrame, swept: Sequence[str], kpis: Sequence[str], *,
              max_lines: int = MAX_LINES, max_panels: int = MAX_PANELS) -> KpiPlan:
    """The charts, constants, echoes and skipped KPIs of a run's summary (failed variants left out)."""
    plan = KpiPlan()
    ok = succeeded(summary)
    present = [k for k in kpis if k in ok]
    varying = [k for k in swept if k in ok and ok[k].nunique(dropna=False) > 1]
    drawable = []
    for kpi in present:
        values = ok[kpi].dropna()
        if len(ok) < 2 or not len(values):
            continue
        constant = _constant(values)
        if constant is not None:
            plan.constants[kpi] = constant
        elif _numeric(ok[kpi]) and varying:
            drawable.append(kpi)
    depends = _depends(ok, varying, drawable) if drawable else {}
    count = {k: ok[k].nunique(dropna=False) for k in varying}
    numeric = {k: swept_numbers(levels(ok, k)) is not None for k in varying}
    for kpi in drawable:
        on = [k for k in varying if kpi in depends[k]] or list(varying)
        factor = _factor(ok, kpi, on[0]) if len(on) == 1 else None
        if factor is not None:
            plan.proportional[kpi] = (on[0], factor)
            continue
        x = max(on, key=lambda k: (numeric[k] and count[k] >= NUMERIC_X_VALUES, count[k], numeric[k],
                                   -varying.index(k)))
        lines = tuple(k for k in on if k != x)
        same_for = tuple(k for k in varying if k not in on)
        chart = KpiChart(kpi, x, lines, None, same_for)
        if _combinations(ok, lines) > max_lines:
            options = [(count[f], f) for f in lines if count[f] <= max_panels
                       and _combinations(ok, [k for k in lines if k != f]) <= max_lines]
            if not options:
                plan.skipped[kpi] = (f"{_combinations(ok, lines)} combinations of {', '.join(lines)}: "
                                     "too many lines for one chart")
                continue
            panels = min(options)[1]
            chart = KpiChart(kpi, x, tuple(k for k in lines if k != panels), panels, same_for)
        plan.charts.append(chart)
    return plan


def bound_names(summary: pd.DataFrame, kpi: str) -> pd.Series | None:
    """For a ``<x>_over_bound`` KPI, the bound each variant divided by (``None`` where none matches).

    Models put each bound beside the ratio as ``<name>_bound_s``; the bound a variant used is the
    one with ``<x>_s / bound == ratio``. ``None`` (not a ratio to a bound) for other KPIs.
    """
    if not kpi.endswith("_over_bound"):
        return None
    base = kpi[: -len("_over_bound")]
    numerator = next((c for c in (f"{base}_s", base) if c in summary), None)
    candidates = sorted((c for c in summary.columns if c.endswith("_bound_s")), key=lambda c: c == "central_bound_s")
    if numerator is None or not candidates:
        return None
    names = []
    for _, row in summary.iterrows():
        found = None
        for column in candidates:
            try:
                bound, ratio, top = float(row[column]), float(row[kpi]), float(row[numerator])
            except (TypeError, ValueError):
                continue
            if all(map(math.isfinite, (bound, ratio, top))) and bound > 0 and math.isclose(top / bound, ratio,
                                                                                             rel_tol=1e-6):
                stem = column[: -len("_bound_s")]
                found = BOUNDS.get(stem, f"{stem.replace('_', ' ')} bound")
                break
        names.append(found)
    return pd.Series(names, index=summary.index, dtype=object)


def value_labels(summary: pd.DataFrame, swept: Sequence[str]) -> dict[str, dict[Any, str]]:
    """For each swept key, each of its values' short label (:func:`~regsim.results.labels.compact_labels`)."""
    out = {}
    for key in swept:
        if key in summary:
            values = levels(summary, key)
            out[key] = dict(zip(values, compact_labels(values)))
    return out


def variant_label(values: dict[str, Any], labels: dict[str, dict[Any, str]], keys: Sequence[str]) -> str:
    """``nodes=100, strategy=p2p-swarm`` (or ``tee sgx ws=64MB`` for a swept mapping) over ``keys``."""
    parts = []
    for key in keys:
        if key not in values:
            continue
        value = values[key]
        text = labels.get(key, {}).get(value, str(value))
        mapping = isinstance(value, str) and value[:1] in "{["
        parts.append(f"{short_key(key)} {text}" if mapping else f"{short_key(key)}={text}")
    return ", ".join(parts)


@dataclass
class VariantPanels:
    """How per-variant plots (distributions, time series) share out a run's variants.

    ``panels`` lists each panel's swept values (empty for a single panel) and variant ids;
    ``fixed`` the swept values every drawn variant shares (the rest are not drawn); ``legend``
    the swept keys that tell one line of a panel from another.
    """

    panels: list[tuple[dict[str, Any], list[str]]]
    fixed: dict[str, Any] = field(default_factory=dict)
    legend: list[str] = field(default_factory=list)


def variant_panels(summary: pd.DataFrame, swept: Sequence[str], max_lines: int = MAX_VARIANT_LINES,
                   max_panels: int = MAX_PANELS) -> VariantPanels:
    """One panel of every variant that ran when they are few; else a line per value of the key with
    most values (at most ``max_lines``; a categorical key first), a panel per value of another key
    (at most ``max_panels``), any further keys held at their first value."""
    ok = succeeded(summary)
    ids = [str(v) for v in ok["variant"]]
    varying = [k for k in swept if k in ok and ok[k].nunique(dropna=False) > 1]
    if len(ids) <= max_lines or not varying:
        return VariantPanels([({}, ids)], {}, varying)
    count = {k: ok[k].nunique(dropna=False) for k in varying}
    numeric = {k: swept_numbers(levels(ok, k)) is not None for k in varying}
    along = max(varying, key=lambda k: (count[k] <= max_lines, not numeric[k], count[k], -varying.index(k)))
    rest = [k for k in varying if k != along and count[k] <= max_panels]
    split = max(rest, key=lambda k: (count[k], -varying.index(k))) if rest else None
    fixed = {k: levels(ok, k)[0] for k in varying if k not in (along, split)}
    mask = np.logical_and.reduce([ok[k] == v for k, v in fixed.items()]) if fixed else np.ones(len(ok), bool)
    chosen = ok[mask]
    if split is None:
        return VariantPanels([({}, [str(v) for v in chosen["variant"].head(max_lines)])], fixed, [along])
    panels = [({split: value}, [str(v) for v in chosen.loc[chosen[split] == value, "variant"].head(max_lines)])
              for value in levels(chosen, split)]
    return VariantPanels(panels, fixed, [along])


def constant_series(series: pd.DataFrame) -> dict[str, Any]:
    """Metrics whose every value, in every variant and at every time, is the same: ``{metric: value}``.

    Event metrics (:data:`EVENT_METRICS`) are never constant: each point is an event worth seeing.
    """
    series = series[~series["metric"].isin(list(EVENT_METRICS))] if len(series) else series
    if not len(series):
        return {}
    spread = series.groupby("metric", sort=False)["value"].agg(["min", "max"])
    flat = spread[(spread["min"] == spread["max"]) | (spread["min"].isna() & spread["max"].isna())]
    return {str(m): _plain(v) for m, v in flat["min"].items()}
