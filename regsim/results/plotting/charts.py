"""The results charts as matplotlib figures: a KPI against a swept key, a distribution, a time series.

Each builder returns a finished :class:`~matplotlib.figure.Figure` -- axes styled by
:mod:`regsim.results.plotting.axes`, margins fitted, the legend to the right of the data -- that
:func:`save` writes as PNG; :mod:`regsim.results.plotting.folder` decides which to draw and names the files.
Figures are drawn on matplotlib's Agg canvas without pyplot, so drawing neither needs a display
nor changes the backend of a notebook that calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .axes import axis_label, fit_margins, style_swept_axis, style_values_axis
from regsim.results.labels import Quantity, quantity, swept_numbers
from .plan import EVENT_METRICS, MAX_VARIANT_LINES, KpiChart, VariantPanels, levels, variant_label

__all__ = ["CDF_LOG_DECADES", "Variants", "cdf_figure", "kpi_figure", "save", "series_figure"]

#: CDFs whose positive samples span more decades than this get a log x-axis.
CDF_LOG_DECADES = 2.0
#: lines with at most this many points show a marker at each point.
MARKED_POINTS = 20
#: width of a figure's plotting area (of each panel when it has several) and its height, inches;
#: margins and the legend are added to the width.
PANEL_WIDTH = 5.4
PANELS_WIDTH = 3.8
HEIGHT = 4.2
#: legend labels are cut to this many characters.
LEGEND_CHARS = 48
#: zlib level of the PNG files: 1 writes them several times faster than the default 6, for ~15 % more bytes.
PNG_COMPRESSION = 1
_COLORS = list(colormaps["tab10"].colors[:MAX_VARIANT_LINES])
_CYCLE = cycler(color=_COLORS)
_TIME = Quantity("simulated time", "s")


@dataclass(frozen=True)
class Variants:
    """The variants a distribution or time-series figure draws, and how their lines are named.

    ``values`` maps each variant id to its swept values, ``labels`` each swept key's values to
    short labels, ``layout`` shares the variants out over panels.
    """

    values: dict[str, dict[str, Any]]
    labels: dict[str, dict[Any, str]]
    layout: VariantPanels

    def name(self, variant: str) -> str:
        """``strategy=p2p-swarm``: the variant by the swept keys that tell the lines of a panel apart."""
        return variant_label(self.values.get(variant, {}), self.labels, self.layout.legend)

    def title(self, text: str, total: int) -> str:
        if self.layout.fixed:
            text += f" at {variant_label(self.layout.fixed, self.labels, list(self.layout.fixed))}"
        return f"{text} ({MAX_VARIANT_LINES} of {total} lines)" if total > MAX_VARIANT_LINES else text


def _plot_width(panels: int) -> float:
    return PANEL_WIDTH if panels == 1 else PANELS_WIDTH * panels


def _figure(title: str, panels: int = 1) -> tuple[Figure, list[Any]]:
    fig = Figure(figsize=(_plot_width(panels), HEIGHT), dpi=100)
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(1, panels, sharey=True, squeeze=False)[0])
    for ax in axes:
        ax.set_prop_cycle(_CYCLE)
        ax.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=10)
    return fig, axes


def _shorter(label: str) -> str:
    return label if len(label) <= LEGEND_CHARS else label[: LEGEND_CHARS - 1] + "…"


def _finish(fig: Figure, axes: Sequence[Any]) -> Figure:
    """Lay the figure out: margins that fit its labels, the legend right of the plotting area."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(_shorter(label), handle)
    legend = list(handles) if len(handles) > 1 else []
    edge = fit_margins(fig, axes, plot_width=_plot_width(len(axes)), legend=legend,
                       panel_titles=any(ax.get_title() for ax in axes))
    if legend:
        fig.legend(list(handles.values()), legend, loc="upper left", bbox_to_anchor=(edge, axes[0].get_position().y1),
                   fontsize=7, frameon=False)
    return fig


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG file (without a timestamp, so the same figure gives the same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None}, pil_kwargs={"compress_level": PNG_COMPRESSION})
    return path


def _panel_title(ax: Any, panel: dict[str, Any], labels: dict[str, dict[Any, str]], extra: str = "") -> None:
    text = variant_label(panel, labels, list(panel))
    text = (f"{text} ({extra})" if text else extra) if extra else text
    if text:
        ax.set_title(text, fontsize=9)


def cdf_figure(name: str, group: pd.DataFrame, variants: Variants) -> Figure | None:
    """The empirical CDF of sample ``name`` (``group``: its ``variant, value`` rows), a line per variant.

    The x-axis is logarithmic when the samples span more than :data:`CDF_LOG_DECADES` decades;
    ``None`` when no variant has a value.
    """
    q = quantity(name)
    data = {str(v): np.sort(rows.to_numpy(dtype=float)) for v, rows in group.groupby("variant", sort=False)["value"]}
    data = {v: d[np.isfinite(d)] for v, d in data.items()}
    panels = [(p, ids) for p, ids in variants.layout.panels if any(len(data.get(v, ())) for v in ids)]
    if not panels:
        return None
    everything = np.concatenate([data[v] for _, ids in panels for v in ids if v in data])
    most = max(sum(len(data.get(v, ())) > 0 for v in ids) for _, ids in panels)
    fig, axes = _figure(variants.title(f"CDF of {q.text}", most), panels=len(panels))
    for ax, (panel, ids) in zip(axes, panels):
        for i, variant in enumerate(ids[:MAX_VARIANT_LINES]):
            d = data.get(variant, np.array([]))
            if not len(d):  # a variant without this sample (no pushes, say): no line, but its colour kept
                continue
            ax.step(np.r_[d[:1], d], np.arange(len(d) + 1) / len(d), where="post",
                    label=variants.name(variant) or variant, color=_COLORS[i], marker="o" if len(d) == 1 else None)
        _panel_title(ax, panel, variants.labels)
        style_values_axis(ax.xaxis, q, everything, log_decades=CDF_LOG_DECADES)
        ax.set_xlabel(axis_label(q, everything, log_decades=CDF_LOG_DECADES))
    axes[0].set_ylabel("fraction of samples ≤ x")
    axes[0].set_ylim(0, 1.02)
    return _finish(fig, axes)


def _line_label(chart: KpiChart, key: Any, labels: dict[str, dict[Any, str]]) -> str:
    key = key if isinstance(key, tuple) else (key,)
    return variant_label(dict(zip(chart.lines, key)), labels, chart.lines)


def kpi_figure(ok: pd.DataFrame, chart: KpiChart, labels: dict[str, dict[Any, str]],
               bounds: pd.Series | None = None) -> Figure:
    """``chart`` drawn from the summary rows ``ok`` of the variants that ran.

    Numeric swept values sit at their value and are joined by lines; categories are spread
    evenly, their points side by side and not joined. ``bounds`` (from
    :func:`~regsim.results.plotting.plan.bound_names`) names the bound each variant's ratio divides by,
    on the tick labels or in the legend.
    """
    q = quantity(chart.kpi)
    x_levels = levels(ok, chart.x)
    parsed = swept_numbers(x_levels)
    numeric = parsed is not None
    positions = dict(zip(x_levels, parsed[0] if numeric else range(len(x_levels))))
    ticks = [labels.get(chart.x, {}).get(v, str(v)) for v in x_levels]
    bounds = bounds if bounds is not None and bounds.notna().any() else None
    per_line = False
    if bounds is not None and bounds.dropna().nunique() > 1:  # one bound for all: the y label says which
        if not numeric and bounds.groupby(ok[chart.x], sort=False).nunique().max() == 1:  # one bound per category
            first = bounds.groupby(ok[chart.x], sort=False).first()
            ticks = [f"{t}\n÷ {first.get(v, '?')}" for t, v in zip(ticks, x_levels)]
        else:
            per_line = not chart.lines or bounds.groupby([ok[k] for k in chart.lines]).nunique().max() == 1
    panels = levels(ok, chart.panels) if chart.panels else [None]
    title = f"{chart.kpi} against {chart.x}"
    if chart.same_for:
        title += f" (same for every {', '.join(chart.same_for)})"
    fig, axes = _figure(title, panels=len(panels))
    for ax, panel in zip(axes, panels):
        rows = ok if panel is None else ok[ok[chart.panels] == panel]
        groups = list(rows.groupby(list(chart.lines), sort=False, dropna=False)) if chart.lines else [((), rows)]
        for i, (key, line) in enumerate(groups):
            line = line.dropna(subset=[chart.kpi]).drop_duplicates(subset=[chart.x])
            x = line[chart.x].map(positions).to_numpy(dtype=float)
            order = np.argsort(x, kind="stable")
            x, y = x[order], line[chart.kpi].to_numpy(dtype=float)[order]
            if not numeric and len(groups) > 1:
                x = x + (i - (len(groups) - 1) / 2) * (0.5 / len(groups))
            label = _line_label(chart, key, labels)
            if bounds is not None and per_line:
                used = bounds.loc[line.index].dropna()
                label += f" (÷ {used.iloc[0]})" if len(used) else ""
            ax.plot(x, y, marker="o", linestyle="-" if numeric else "none", label=label or chart.kpi)
        style_swept_axis(ax.xaxis, list(positions.values()), ticks, numeric=numeric)
        ax.set_xlabel(chart.x)
        if panel is not None:
            ax.set_title(variant_label({chart.panels: panel}, labels, [chart.panels]), fontsize=9)
    style_values_axis(axes[0].yaxis, q, ok[chart.kpi].to_numpy(dtype=float))
    ylabel = axis_label(q, ok[chart.kpi].to_numpy(dtype=float))
    if bounds is not None:
        names = bounds.dropna().unique()
        ylabel = f"{q.text.replace(' over bound', '')} ÷ " + (names[0] if len(names) == 1 else "its bound")
    axes[0].set_ylabel(ylabel)
    return _finish(fig, axes)


def _series_axes(ax: Any, metric: str, values: np.ndarray) -> None:
    if metric in EVENT_METRICS:
        names = EVENT_METRICS[metric]
        ax.set_yticks(list(names), list(names.values()))
        ax.set_ylim(min(names) - 0.5, max(names) + 0.5)
        ax.set_ylabel(metric)
    else:
        q = quantity(metric)
        style_values_axis(ax.yaxis, q, values)
        ax.set_ylabel(axis_label(q, values))


def _draw_series(ax: Any, chosen: Sequence[tuple[Any, ...]], lines: dict[tuple[Any, ...], pd.DataFrame],
                 keys: Sequence[str], name: Any, events: bool) -> str:
    """Draw the ``chosen`` lines (keyed by variant and label values); the labels they all share, said once."""
    def shown(v: Any) -> bool:
        return v is not None and v == v

    common = [j for j in range(1, len(keys)) if len({str(k[j]) for k in chosen}) == 1]
    for key in chosen:
        rows = lines[key].sort_values("time_s", kind="stable")
        parts = [name(key[0])] + [f"{keys[j]}={key[j]}" for j in range(1, len(keys))
                                  if j not in common and shown(key[j])]
        ax.plot(rows["time_s"].to_numpy(dtype=float), rows["value"].to_numpy(dtype=float),
                marker="o" if events or len(rows) <= MARKED_POINTS else None,
                linestyle="none" if events else "-", label=", ".join(p for p in parts if p) or str(key[0]))
    return ", ".join(f"{keys[j]}={chosen[0][j]}" for j in common if chosen and shown(chosen[0][j]))


def series_figure(metric: str, group: pd.DataFrame, variants: Variants, span: tuple[float, float]) -> Figure | None:
    """``metric`` over simulated time ``span`` (``group``: its rows), a line per variant and label combination.

    Label columns with one value are said in the title; events (:data:`EVENT_METRICS`) are
    markers on a named level axis. ``None`` when none of the variants drawn has this metric.
    """
    extra = [c for c in group.columns if c not in ("variant", "time_s", "metric", "value")]
    present = [c for c in extra if group[c].notna().any()]
    keys = ["variant", *[c for c in present if group[c].nunique(dropna=False) > 1]]
    same = ", ".join(f"{c}={group[c].iloc[0]}" for c in present if c not in keys)
    lines = {(k if isinstance(k, tuple) else (k,)): rows for k, rows in group.groupby(keys, sort=False, dropna=False)}
    by_variant: dict[str, list[tuple[Any, ...]]] = {}
    for key in lines:
        by_variant.setdefault(str(key[0]), []).append(key)
    panels = [(p, ids) for p, ids in variants.layout.panels if any(v in by_variant for v in ids)]
    if not panels:
        return None
    most = max(sum(len(by_variant.get(v, [])) for v in ids) for _, ids in panels)
    fig, axes = _figure(variants.title(metric + (f" ({same})" if same else ""), most), panels=len(panels))
    for ax, (panel, ids) in zip(axes, panels):
        chosen = [k for v in ids for k in by_variant.get(v, [])][:MAX_VARIANT_LINES]
        shared = _draw_series(ax, chosen, lines, keys, variants.name, metric in EVENT_METRICS)
        _panel_title(ax, panel, variants.labels, shared)
        style_values_axis(ax.xaxis, _TIME, span, log_decades=float("inf"))
        ax.set_xlim(*span)
        ax.set_xlabel(axis_label(_TIME, span, log_decades=float("inf")))
    _series_axes(axes[0], metric, group["value"].to_numpy(dtype=float))
    return _finish(fig, axes)
