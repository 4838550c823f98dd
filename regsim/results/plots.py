"""The plots of a results folder, as PNG files under ``plots/``.

- ``cdf_<sample>.png``: the empirical CDF of each sample (pull times, say), one line per variant;
- ``kpi_<kpi>__<key>.png``: each numeric KPI against each swept key, one line per combination
  of the other swept keys' values;
- ``series_<metric>.png``: each time-series metric over simulated time, one line per variant
  (and label combination).

Figures are drawn on matplotlib's Agg canvas without pyplot, so plotting neither needs a
display nor changes the backend of a notebook that calls it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .schema import PLOTS

if TYPE_CHECKING:
    from .load import Results

__all__ = ["MAX_LINES", "plot_all", "plot_cdfs", "plot_kpis", "plot_series", "slug"]

#: most lines drawn in one figure; beyond it the title says how many were left out.
MAX_LINES = 12
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
#: ten colours solid, then the same ten dashed: up to MAX_LINES lines stay distinguishable.
_CYCLE = cycler(linestyle=["-", "--"]) * cycler(color=list(colormaps["tab10"].colors))


def slug(text: str) -> str:
    """A file-name-safe form of a KPI, metric or key name."""
    return _SLUG.sub("_", str(text)).strip("_") or "unnamed"


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Any]:
    fig = Figure(figsize=(7, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_prop_cycle(_CYCLE)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _save(fig: Figure, ax: Any, path: Path, lines: int) -> Path:
    if lines > 1:
        ax.legend(fontsize=7, loc="best")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    return path


def _short(values: dict[str, Any]) -> str:
    """``strategy=central, nodes=100`` from ``{"distribution.strategy": "central", ...}``."""
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in values.items())


def _label(variant: str, values: dict[str, dict[str, Any]]) -> str:
    shown = _short(values.get(variant, {}))
    return f"{variant} ({shown})" if shown else variant


def _capped(title: str, total: int) -> str:
    return f"{title} ({MAX_LINES} of {total} lines)" if total > MAX_LINES else title


def plot_cdfs(samples: pd.DataFrame, out_dir: Path, values: dict[str, dict[str, Any]]) -> list[Path]:
    """One CDF figure per sample name; ``values`` maps variant ids to their swept values (legend)."""
    paths = []
    for name, group in samples.groupby("sample", sort=False):
        variants = list(dict.fromkeys(group["variant"]))
        fig, ax = _figure(_capped(f"CDF of {name}", len(variants)), str(name), "fraction of samples <= x")
        for variant in variants[:MAX_LINES]:
            data = np.sort(group.loc[group["variant"] == variant, "value"].to_numpy(dtype=float))
            data = data[np.isfinite(data)]
            if len(data):
                ax.step(data, np.arange(1, len(data) + 1) / len(data), where="post", label=_label(variant, values))
        paths.append(_save(fig, ax, out_dir / f"cdf_{slug(name)}.png", len(variants)))
    return paths


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def plot_kpis(summary: pd.DataFrame, swept: Sequence[str], kpis: Sequence[str], out_dir: Path) -> list[Path]:
    """Each numeric KPI against each swept key; lines group the other swept keys' values."""
    paths: list[Path] = []
    ok = summary[summary["error"].isna() | (summary["error"] == "")] if "error" in summary else summary
    for key in swept:
        others = [k for k in swept if k != key]
        order = list(dict.fromkeys(ok[key]))
        numeric_x = _numeric(ok[key])
        for kpi in kpis:
            if kpi not in ok or not _numeric(ok[kpi]) or ok[kpi].isna().all():
                continue
            groups = list(ok.groupby(others, sort=False, dropna=False)) if others else [((), ok)]
            fig, ax = _figure(_capped(f"{kpi} against {key}", len(groups)), key, kpi)
            for group_key, rows in groups[:MAX_LINES]:
                rows = rows.dropna(subset=[kpi])
                if numeric_x:
                    rows = rows.sort_values(key)
                    x = rows[key].to_numpy(dtype=float)
                else:
                    x = np.array([order.index(v) for v in rows[key]], dtype=float)
                    idx = np.argsort(x, kind="stable")
                    x, rows = x[idx], rows.iloc[idx]
                group_key = group_key if isinstance(group_key, tuple) else (group_key,)
                label = _short(dict(zip(others, group_key))) or kpi
                ax.plot(x, rows[kpi].to_numpy(dtype=float), marker="o", label=label)
            if not numeric_x:
                ax.set_xticks(range(len(order)), [str(v) for v in order], rotation=20 if len(order) > 4 else 0)
            paths.append(_save(fig, ax, out_dir / f"kpi_{slug(kpi)}__{slug(key)}.png", len(groups)))
    return paths


def plot_series(series: pd.DataFrame, out_dir: Path, values: dict[str, dict[str, Any]]) -> list[Path]:
    """One figure per metric over simulated time; a line per variant and label combination."""
    paths = []
    labels = [c for c in series.columns if c not in ("variant", "time_s", "metric", "value")]
    for metric, group in series.groupby("metric", sort=False):
        keys = ["variant", *[c for c in labels if group[c].notna().any()]]
        lines = list(group.groupby(keys, sort=False, dropna=False))
        fig, ax = _figure(_capped(str(metric), len(lines)), "simulated time (s)", str(metric))
        for line_key, rows in lines[:MAX_LINES]:
            line_key = line_key if isinstance(line_key, tuple) else (line_key,)
            rows = rows.sort_values("time_s", kind="stable")
            extra = ", ".join(f"{k}={v}" for k, v in zip(keys[1:], line_key[1:]))
            label = _label(str(line_key[0]), values) + (f" {extra}" if extra else "")
            ax.plot(rows["time_s"].to_numpy(dtype=float), rows["value"].to_numpy(dtype=float), label=label)
        paths.append(_save(fig, ax, out_dir / f"series_{slug(metric)}.png", len(lines)))
    return paths


def plot_all(results: Results, out_dir: str | Path | None = None) -> list[Path]:
    """Every plot of ``results`` into ``out_dir`` (default: its ``plots/`` folder); the files written."""
    out = Path(out_dir) if out_dir is not None else results.path / PLOTS
    values = {v["id"]: v.get("values") or {} for v in results.meta.get("variants", [])}
    return [*plot_cdfs(results.samples, out, values),
            *plot_kpis(results.summary, results.swept, results.kpis, out),
            *plot_series(results.series, out, values)]
