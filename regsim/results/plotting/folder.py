"""The plots of a results folder, as PNG files under ``plots/``.

- ``cdf_<sample>.png``: the empirical CDF of each sample (pull times, say), a line per variant;
- ``kpi_<kpi>__<key>.png``: each numeric KPI that varies, against the swept key it depends on
  with the most values, a line per combination of the other keys it depends on;
- ``series_<metric>.png``: each time-series metric that is not constant, over simulated time, a
  line per variant (and label combination).

:mod:`regsim.results.plotting.plan` decides which charts a run gets (no chart of a constant KPI, none
of a KPI against a key it ignores, panels when lines would be too many);
:mod:`regsim.results.plotting.charts` draws them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .charts import Variants, cdf_figure, kpi_figure, save, series_figure
from .plan import (MAX_LINES, VariantPanels, bound_names, constant_series, plan_kpis, succeeded, value_labels,
                       variant_panels)
from ..schema import PLOTS

if TYPE_CHECKING:
    from ..load import Results

__all__ = ["MAX_LINES", "plot_all", "plot_cdfs", "plot_kpis", "plot_series", "slug"]

_PREFIXES = ("cdf_", "kpi_", "series_")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str) -> str:
    """A file-name-safe form of a KPI, metric or key name."""
    return _SLUG.sub("_", str(text)).strip("_") or "unnamed"


def _variants(frame: pd.DataFrame, values: dict[str, dict[str, Any]], labels: dict[str, dict[Any, str]] | None,
              layout: VariantPanels | None) -> Variants:
    """``layout``, or one panel of every variant in ``frame`` told apart by all their swept values."""
    if layout is None:
        ids = [str(v) for v in dict.fromkeys(frame["variant"])]
        keys = list(dict.fromkeys(k for v in ids for k in values.get(v, {})))
        layout = VariantPanels([({}, ids)], {}, keys)
    return Variants(values, labels or {}, layout)


def plot_cdfs(samples: pd.DataFrame, out_dir: Path, values: dict[str, dict[str, Any]], *,
              labels: dict[str, dict[Any, str]] | None = None, layout: VariantPanels | None = None) -> list[Path]:
    """One CDF figure per sample name; ``values`` maps variant ids to their swept values (legend).

    ``layout`` (:func:`~regsim.results.plotting.plan.variant_panels`) shares many variants out over panels.
    """
    variants = _variants(samples, values, labels, layout)
    paths = []
    for name, group in samples.groupby("sample", sort=False):
        fig = cdf_figure(str(name), group, variants)
        if fig is not None:
            paths.append(save(fig, out_dir / f"cdf_{slug(name)}.png"))
    return paths


def plot_kpis(summary: pd.DataFrame, swept: Sequence[str], kpis: Sequence[str], out_dir: Path) -> list[Path]:
    """A chart per varying numeric KPI, as :func:`~regsim.results.plotting.plan.plan_kpis` plans them."""
    ok = succeeded(summary)
    labels = value_labels(ok, swept)
    return [save(kpi_figure(ok, chart, labels, bound_names(ok, chart.kpi)),
                 out_dir / f"kpi_{slug(chart.kpi)}__{slug(chart.x)}.png")
            for chart in plan_kpis(summary, swept, kpis).charts]


def plot_series(series: pd.DataFrame, out_dir: Path, values: dict[str, dict[str, Any]], *,
                labels: dict[str, dict[Any, str]] | None = None, layout: VariantPanels | None = None,
                skip: Sequence[str] | None = None) -> list[Path]:
    """One figure per metric that is not constant (nor in ``skip``).

    Every figure spans the same simulated time, from 0 to the last point of any metric, so an
    alert or a dip can be placed against the others.
    """
    variants = _variants(series, values, labels, layout)
    flat = set(constant_series(series) if skip is None else skip)
    times = series["time_s"].to_numpy(dtype=float)
    times = times[np.isfinite(times)]
    span = (min(0.0, float(times.min())), float(times.max()) * 1.02) if len(times) and times.max() > 0 else (0.0, 1.0)
    paths = []
    for metric, group in series.groupby("metric", sort=False):
        fig = None if metric in flat else series_figure(str(metric), group, variants, span)
        if fig is not None:
            paths.append(save(fig, out_dir / f"series_{slug(metric)}.png"))
    return paths


def plot_all(results: Results, out_dir: str | Path | None = None) -> list[Path]:
    """Every plot of ``results`` into ``out_dir`` (default: its ``plots/`` folder); the files written.

    Plots of an earlier rendering (``cdf_``, ``kpi_``, ``series_`` files) that this one does not
    redraw are removed, so the folder holds only the current plots.
    """
    out = Path(out_dir) if out_dir is not None else results.path / PLOTS
    summary, swept = results.summary, results.swept
    labels = value_labels(succeeded(summary), swept)
    values = {str(row["variant"]): {k: row[k] for k in swept if k in summary} for _, row in summary.iterrows()}
    layout = variant_panels(summary, swept)
    shown = {v for _, ids in layout.panels for v in ids}
    samples = results.samples[results.samples["variant"].isin(shown)]
    series = results.series[results.series["variant"].isin(shown)]
    made = [*plot_cdfs(samples, out, values, labels=labels, layout=layout),
            *plot_kpis(summary, swept, results.kpis, out),
            *plot_series(series, out, values, labels=labels, layout=layout, skip=constant_series(results.series))]
    if out.is_dir():
        for old in {p for prefix in _PREFIXES for p in out.glob(f"{prefix}*.png")} - set(made):
            old.unlink()
    return made
