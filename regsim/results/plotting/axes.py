"""Axis scales, units, tick labels and margins for the results plots.

The rules, so that a chart's shape tells the truth about its numbers:

- a log scale when positive values span more than :data:`LOG_DECADES` decades (10 to 10,000
  nodes; loss probabilities from 1e-9 to 1e-3), linear otherwise;
- never an offset (``1e11 + 1.8004``) nor a shared multiplier: each tick prints its whole value,
  in human units from the name's suffix (bytes as kB/MB/GB, fractions as percent, large counts
  as 1.5 M, times as below);
- times are read in the unit a person would use for the stretch the axis covers, with round
  ticks (:func:`time_unit`): days, hours or minutes at whole steps of that unit (half hours, 10
  or 15 minutes...) when a linear axis spans at least 3 days, 3 hours or 10 minutes, else
  seconds, ms or us at matplotlib's 1-2-2.5-5 steps. A log axis stays in s, ms or us, since its
  powers of ten are round only there (1000 s is not a round number of hours: 0.277778 h);
- a linear axis whose values differ by less than :data:`MIN_RELATIVE_SPAN` of their size is widened
  to that span, so a 0.03 % difference looks as small as it is.

:func:`fit_margins` sizes a figure's margins from the lengths of its labels instead of letting
matplotlib's layout engines measure every text (which doubled the cost of each plot).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from matplotlib.ticker import (EngFormatter, FuncFormatter, Locator, LogFormatterSciNotation, NullFormatter,
                               NullLocator, PercentFormatter)

from regsim.results.labels import Quantity

__all__ = ["LOG_DECADES", "MIN_RELATIVE_SPAN", "TimeUnit", "axis_label", "fit_margins", "log_worthy", "number",
           "style_swept_axis", "style_values_axis", "time_unit"]

#: positive values spanning more decades than this get a log axis.
LOG_DECADES = 1.5
#: a log axis spanning at most this many decades also labels its 2s and 5s.
FEW_DECADES = 2.5
#: smallest span of a linear value axis, relative to the largest magnitude on it.
MIN_RELATIVE_SPAN = 0.1
#: (least span, seconds per unit, unit, tick steps in the unit) of the calendar units of a linear time axis.
_LONG_TIME_UNITS = ((3 * 86400.0, 86400.0, "d", (0.5, 1, 2, 5, 7, 10, 14, 30, 60, 90, 180, 365)),
                    (3 * 3600.0, 3600.0, "h", (0.5, 1, 2, 3, 6, 12, 24)),
                    (600.0, 60.0, "min", (1, 2, 5, 10, 15, 20, 30, 60)))
#: (least magnitude, seconds per unit, unit) below those spans.
_SHORT_TIME_UNITS = ((1.0, 1.0, "s"), (1e-3, 1e-3, "ms"), (0.0, 1e-6, "us"))
#: a calendar time axis gets at most this many ticks.
_MAX_TIME_TICKS = 8
_ENG = EngFormatter(sep=" ")


def log_worthy(values: Any, decades: float = LOG_DECADES) -> bool:
    """Whether ``values`` (finite ones) are all positive and span more than ``decades`` decades."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v)) and bool((v > 0).all()) and float(np.log10(v.max() / v.min())) > decades


def number(x: float) -> str:
    """A tick's value on its own: ``0.25``, ``1200``, ``1.5 M``, ``2e-05``."""
    size = abs(x)
    if size >= 1e6:
        return _ENG.format_eng(x)
    if size and size < 1e-4:
        return f"{x:.3g}"
    return f"{x:.6g}"


class TimeUnit(NamedTuple):
    """The unit a time axis is printed in: seconds per unit, its name, and round tick steps in it
    (empty: matplotlib's own 1-2-2.5-5 steps)."""

    factor: float
    name: str
    steps: tuple[float, ...] = ()


def time_unit(values: Any, log: bool = False) -> TimeUnit:
    """The unit of a time axis showing ``values`` (seconds): days, hours or minutes when a linear
    axis spans at least 3 d, 3 h or 10 min, else s, ms or us by the largest magnitude.

    The span is the values' range, or the :data:`MIN_RELATIVE_SPAN` a nearly constant axis is
    widened to -- the stretch the ticks divide, so 90 s read as seconds, 30 min and 1 h as minutes
    (ticks every 5 or 10 min), 3 h as hours (every half hour).
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    top = float(np.abs(v).max()) if len(v) else 0.0
    if not log and len(v):
        span = max(float(v.max() - v.min()), MIN_RELATIVE_SPAN * top)
        for least, factor, name, steps in _LONG_TIME_UNITS:
            if span >= least:
                return TimeUnit(factor, name, steps)
    for least, factor, name in _SHORT_TIME_UNITS:
        if top >= least:
            return TimeUnit(factor, name)
    return TimeUnit(1.0, "s")


class _TimeLocator(Locator):
    """Ticks at whole multiples of the first step of ``unit`` that gives at most :data:`_MAX_TIME_TICKS`
    ticks over the view: every 10 min, every half hour, every 2 days."""

    def __init__(self, unit: TimeUnit) -> None:
        self.unit = unit

    def __call__(self) -> Any:
        lo, hi = self.axis.get_view_interval()
        return self.tick_values(lo, hi)

    def tick_values(self, vmin: float, vmax: float) -> Any:
        lo, hi = sorted((vmin / self.unit.factor, vmax / self.unit.factor))
        step = next((s for s in self.unit.steps if (hi - lo) / s <= _MAX_TIME_TICKS), None)
        if step is None:  # longer than the steps foresee: powers of ten of the unit
            step = 10 ** math.ceil(math.log10(max(hi - lo, 1e-12) / _MAX_TIME_TICKS))
        first = math.ceil(lo / step - 1e-9)
        ticks = (first + np.arange(int(math.floor(hi / step + 1e-9)) - first + 1)) * step
        return self.raise_if_exceeds(ticks * self.unit.factor)


def axis_label(q: Quantity, values: Any = (), *, log_decades: float = LOG_DECADES) -> str:
    """``pull time (ms)``: the text and the unit the ticks are printed in (``values`` and
    ``log_decades`` as given to :func:`style_values_axis`, which chose that unit)."""
    unit = {"bytes": "", "bytes/s": "", "fraction": "%", "": ""}.get(q.unit, q.unit)
    if q.unit == "s":
        v = np.asarray(values, dtype=float)
        unit = time_unit(v, log=log_worthy(v, log_decades)).name
    return f"{q.text} ({unit})" if unit else q.text


def _formatter(q: Quantity, values: np.ndarray, log: bool) -> Any:
    if q.unit == "bytes":
        return EngFormatter(unit="B", sep=" ")
    if q.unit == "bytes/s":
        return EngFormatter(unit="B/s", sep=" ")
    if q.unit == "s":
        factor = time_unit(values, log).factor
        return FuncFormatter(lambda x, _pos: number(round(x / factor, 9)))
    if log:
        return LogFormatterSciNotation()
    if q.unit == "fraction":
        return PercentFormatter(xmax=1.0, decimals=None)
    return FuncFormatter(lambda x, _pos: number(x))


def _two_and_five(major: Any) -> FuncFormatter:
    """Minor tick labels at 2 and 5 times each power of ten, so a short log axis has enough numbers."""
    def label(x: float, pos: Any) -> str:
        if x <= 0:
            return ""
        mantissa = x / 10 ** math.floor(math.log10(x) + 1e-9)
        return major(x, pos) if min(abs(mantissa - 2), abs(mantissa - 5)) < 1e-6 else ""
    return FuncFormatter(label)


def style_values_axis(axis: Any, q: Quantity, values: Any, *, log_decades: float = LOG_DECADES) -> str:
    """Scale, tick labels and limits of an axis that shows values of ``q``; the scale chosen."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    x = axis.axis_name == "x"
    ax = axis.axes
    scale = "log" if log_worthy(v, log_decades) else "linear"
    (ax.set_xscale if x else ax.set_yscale)(scale)
    few = scale == "log" and float(np.log10(v.max() / v.min())) <= FEW_DECADES
    major = _formatter(q, v, scale == "log" and not few) if q.unit != "s" else _formatter(q, v, scale == "log")
    axis.set_major_formatter(major)
    if q.unit == "s" and scale == "linear" and time_unit(v).steps:
        axis.set_major_locator(_TimeLocator(time_unit(v)))
    if scale == "log":
        axis.set_minor_formatter(_two_and_five(major) if few else NullFormatter())
    elif len(v):
        lo, hi = float(v.min()), float(v.max())
        size = max(abs(lo), abs(hi))
        if size > 0 and hi - lo < MIN_RELATIVE_SPAN * size:
            middle = (lo + hi) / 2
            limits = (middle - MIN_RELATIVE_SPAN * size / 2, middle + MIN_RELATIVE_SPAN * size / 2)
            (ax.set_xlim if x else ax.set_ylim)(*limits)
    return scale


def style_swept_axis(axis: Any, positions: Sequence[float], labels: Sequence[str], *, numeric: bool) -> str:
    """A swept key's axis: ticks at its values, labelled as written in the scenario; the scale.

    Numeric values sit at their value (log when they span decades); categories at 0, 1, 2, ...
    Long or many labels are turned so they do not overlap.
    """
    ax = axis.axes
    x = axis.axis_name == "x"
    scale = "log" if numeric and log_worthy(positions) else "linear"
    (ax.set_xscale if x else ax.set_yscale)(scale)
    axis.set_ticks(list(positions), list(labels))
    axis.set_minor_locator(NullLocator())
    if numeric:
        ax.margins(**{axis.axis_name: 0.08})
    else:
        (ax.set_xlim if x else ax.set_ylim)(-0.5, len(positions) - 0.5)
    if x and sum(_chars(t) + 2 for t in labels) > ROTATE_CHARS:
        for tick in axis.get_ticklabels():
            tick.set_rotation(30)
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")
    return scale


#: tick labels of a swept key are turned when they add up to more characters than this.
ROTATE_CHARS = 60
#: inches per character and per line of text, per point of font size (DejaVu Sans, generously).
_CHAR_IN = 0.0085
_LINE_IN = 1.45 / 72


_MATH = re.compile(r"\\mathdefault|\\times|[${}^]")


def _chars(text: str) -> int:
    """Characters of the longest line of ``text`` as drawn (mathtext markup such as ``$10^{-4}$`` not counted)."""
    return max((len(_MATH.sub("", line)) for line in str(text).split("\n")), default=0)


def _width(texts: Sequence[str], size: float) -> float:
    return max((_chars(t) for t in texts), default=0) * size * _CHAR_IN


def _lines(texts: Sequence[str]) -> int:
    return max((str(t).count("\n") + 1 for t in texts), default=0)


def _tick_texts(axis: Any) -> list[str]:
    lo, hi = sorted(axis.get_view_interval())
    locs = [v for v in axis.get_majorticklocs() if lo - 1e-12 * abs(lo) <= v <= hi + 1e-12 * abs(hi)]
    texts = axis.get_major_formatter().format_ticks(locs)
    return [t for t in texts if t]


def fit_margins(fig: Any, axes: Sequence[Any], *, plot_width: float, legend: Sequence[str] = (),
                legend_size: float = 7, panel_titles: bool = False) -> float:
    """Size the figure so its plotting area is ``plot_width`` inches wide and its labels, ticks, title
    and a legend on the right fit around it; returns the legend's left edge (figure fraction)."""
    height = fig.get_size_inches()[1]
    ax = axes[0]
    size = 10.0
    left = 0.12 + _width(_tick_texts(ax.yaxis), size)
    if ax.get_ylabel():
        left += _LINE_IN * size * _lines([ax.get_ylabel()]) + 0.1
    bottom = 0.12
    for a in axes:
        labels = a.xaxis.get_ticklabels()
        x_ticks = [t.get_text() for t in labels] or _tick_texts(a.xaxis)
        rotation = labels[0].get_rotation() if labels else 0
        turned = _LINE_IN * size * _lines(x_ticks)
        if rotation:
            turned += _width(x_ticks, size) * math.sin(math.radians(rotation))
        label = _LINE_IN * size * _lines([a.get_xlabel()]) if a.get_xlabel() else 0
        bottom = max(bottom, 0.12 + turned + label + 0.05)
        if not rotation:  # the first tick's label is centred on the axis' left edge
            left = max(left, 0.12 + _width(x_ticks[:1], size) / 2)
    top = 0.12 + _LINE_IN * 10 + (_LINE_IN * 9 + 0.05 if panel_titles else 0)
    right = 0.55 + _width(legend, legend_size) if legend else 0.3
    width = plot_width + left + right
    bottom = min(bottom, 0.45 * height)
    fig.set_size_inches(width, height)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        wspace=0.08 if len(axes) > 1 else None)
    return 1 - (right - 0.15) / width
