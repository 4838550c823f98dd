"""``report.md``: a results folder explained for people -- what ran, what came out, and why.

The report is made from the folder's files alone (:func:`render`), so ``regsim report DIR``
rebuilds it and its plots for any run, on any machine: the scenario's description, a table of
the run, the variants and their swept values, the KPIs that vary (and, once, those that do not),
which bound a ``*_over_bound`` KPI divides by, the models' notes (which parameters make a figure
true), the errors of failed variants, what was not plotted and why, and links to every plot.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..units import format_size
from .labels import quantity, short_key
from .load import KILLED_WARNING, Results, load
from .plotting.plan import (NEAR_CONSTANT, KpiPlan, bound_names, constant_series, plan_kpis, succeeded, value_labels,
                       variant_label)
from .schema import PLOTS, REPORT, SUMMARY_CSV, ResultsError

__all__ = ["KPIS_PER_TABLE", "fmt", "markdown_table", "render", "report_text"]

#: KPI columns per table, so a wide summary stays readable.
KPIS_PER_TABLE = 6


def fmt(value: Any) -> str:
    """A cell for people: six significant digits, integers whole, missing as an empty cell."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"
    if hasattr(value, "item"):
        return fmt(value.item())
    return str(value)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table; ``|`` and line breaks in cells are escaped."""
    def cell(v: Any) -> str:
        return fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _run_table(r: Results) -> str:
    m = r.meta
    failed = m.get("variants_failed", len(r.errors))
    total = len(m.get("variants") or []) or len(r.summary)
    state = r.state
    status = state.status + (f" ({failed} of {total} variants failed)" if failed else "")
    if state.note:
        status += f": {state.note}"
    machine = m.get("machine") or {}
    ex = m.get("executor") or {}
    rows = [
        ("run", r.run_id), ("status", status), ("seed", m.get("seed")), ("profile", m.get("profile")),
        ("variants", total), ("executor", ", ".join(f"{k}={v}" for k, v in ex.items() if v is not None)),
        ("started (UTC)", m.get("started")), ("wall time", f"{fmt(m.get('wall_s'))} s"),
        ("simulated events", m.get("events")), ("events/s", m.get("events_per_s")),
        ("regsim", m.get("regsim_version")),
        ("machine", f"{machine.get('platform', '?')}, {machine.get('cpu_count', '?')} CPUs, "
                    f"Python {machine.get('python', '?')}"),
    ]
    return markdown_table(("", ""), rows)


def _variants_table(r: Results) -> str:
    """The variants and their swept values; a swept mapping also by the short label the plots use."""
    seeds = {v["id"]: v.get("seed") for v in r.meta.get("variants", [])}
    s = r.summary
    labels = value_labels(s, r.swept)

    def shown(key: str, value: Any) -> Any:
        mapping = isinstance(value, str) and value[:1] in "{["
        return f"{labels[key].get(value, value)}: {value}" if mapping and key in labels else value

    failed = s["error"].notna() & (s["error"] != "") if "error" in s else pd.Series(False, index=s.index)
    rows = [(row["variant"], *(shown(k, row[k]) for k in r.swept), seeds.get(row["variant"]), "failed" if bad else "ok")
            for (_, row), bad in zip(s.iterrows(), failed)]
    return markdown_table(("variant", *r.swept, "seed", "status"), rows)


def _kpi_tables(r: Results, plan: KpiPlan) -> list[str]:
    s = r.summary
    kpis = [k for k in r.kpis if k in s and k not in plan.constants]
    if not [k for k in r.kpis if k in s]:
        return ["No KPIs: every variant failed." if len(s) else "No variants ran."]
    tables = []
    for start in range(0, len(kpis), KPIS_PER_TABLE):
        chunk = kpis[start:start + KPIS_PER_TABLE]
        rows = [(row["variant"], *(row[k] for k in chunk)) for _, row in s.iterrows()]
        tables.append(markdown_table(("variant", *chunk), rows))
    return tables


def _human(kpi: str, value: Any) -> str:
    """``180039851200 (180 GB)``: a number with its human form when the KPI's name gives its unit."""
    text = fmt(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return text
    unit = quantity(kpi).unit
    if unit == "bytes" and abs(value) >= 1000:
        return f"{text} ({format_size(value)})"
    if unit == "bytes/s" and abs(value) >= 1000:
        return f"{text} ({format_size(value)}/s)"
    return text


def _where(ok: pd.DataFrame, mask: pd.Series, swept: Sequence[str]) -> str:
    """Which variants ``mask`` selects, for people: ``all``, ``strategy=p2p-swarm, p2p-scheduler``, or ids."""
    if mask.all():
        return "all"
    labels = value_labels(ok, swept)
    for key in swept:
        if key in ok and ok[key].nunique() > 1:
            chosen = list(dict.fromkeys(ok.loc[mask, key]))
            if ok[key].isin(chosen).equals(mask):
                return variant_label({key: chosen[0]}, labels, [key]) + "".join(
                    f", {labels[key].get(v, v)}" for v in chosen[1:])
    present, missing = ok.loc[mask, "variant"].tolist(), ok.loc[~mask, "variant"].tolist()
    return f"only {', '.join(map(str, present))}" if len(present) <= len(missing) else \
        f"all but {', '.join(map(str, missing))}"


def _constants(r: Results, plan: KpiPlan) -> list[str]:
    """The constant KPIs as one table (the variants they are missing from, if any)."""
    if not plan.constants:
        return []
    ok = succeeded(r.summary)
    rows = []
    for kpi, value in plan.constants.items():
        if isinstance(value, tuple):
            lo, hi = value
            spread = (hi - lo) / max(abs(lo), abs(hi)) * 100
            shown = f"{_human(kpi, lo)} to {_human(kpi, hi)} (differ by {spread:.2g} %)"
        else:
            shown = _human(kpi, value)
        rows.append((kpi, shown, _where(ok, ok[kpi].notna(), r.swept)))
    return ["### The same in every variant", "",
            "Not in the tables above nor plotted: their value (a range when it differs by less than "
            f"{NEAR_CONSTANT * 100:g} %).", "", markdown_table(("KPI", "value", "variants"), rows), ""]


def _bounds(r: Results, plan: KpiPlan) -> list[str]:
    """Which bound each variant's ``*_over_bound`` KPI divides by, when it is not the same bound for all."""
    ok, out = succeeded(r.summary), []
    for kpi in [k for k in r.kpis if k in ok and k not in plan.constants]:
        names = bound_names(ok, kpi)
        if names is None or names.dropna().nunique() < 2:
            continue
        key = next((k for k in r.swept if k in ok and ok[k].nunique() > 1
                    and names.groupby(ok[k]).nunique().max() == 1), None)
        parts = []
        for name in names.dropna().unique():
            rows = ok[names == name]
            which = ", ".join(map(str, dict.fromkeys(rows[key]))) if key else ", ".join(map(str, rows["variant"]))
            parts.append(f"the {name} for {short_key(key) + '=' if key else ''}{which}")
        out.append(f"- `{kpi}` divides by a different bound per variant: {'; '.join(parts)}. Compare it within "
                   "one bound, not across them.")
    return out


def _plot_notes(r: Results, plan: KpiPlan) -> list[str]:
    """What was not plotted and why: KPIs proportional to a swept key, skipped charts, constant series."""
    out = [f"- `{kpi}` is {fmt(factor)} x `{key}`: not plotted." for kpi, (key, factor) in plan.proportional.items()]
    out += [f"- `{kpi}` is not plotted: {why}." for kpi, why in plan.skipped.items()]
    try:
        flat = constant_series(r.series)
    except ResultsError:
        flat = {}
    if flat:
        out.append("- Time series constant in every variant, not plotted: "
                   + ", ".join(f"`{m}` ({fmt(v)})" for m, v in flat.items()) + ".")
    return out


def _notes(r: Results) -> list[str]:
    notes = r.notes
    if not any(notes.values()):
        return []
    shared = [n for n in dict.fromkeys(n for ns in notes.values() for n in ns)
              if all(n in ns for ns in notes.values())]
    lines = [f"- {n}" for n in shared]
    for variant, ns in notes.items():
        lines += [f"- {variant}: {n}" for n in ns if n not in shared]
    return lines


def _errors(r: Results) -> list[str]:
    out = []
    for e in r.errors:
        values = ", ".join(f"{k}={v}" for k, v in (e.get("values") or {}).items()) or "base"
        title = f"{e['variant']} ({values})" if e.get("variant") is not None else "The run"  # Ctrl-C, a crash
        out += [f"### {title}", "", "```text", str(e.get("error") or "").strip(), "```", ""]
    return out


def _plots(paths: Sequence[Path], base: Path) -> list[str]:
    sections = {"cdf_": "Distributions", "kpi_": "KPIs against swept keys", "series_": "Time series"}
    out = []
    for prefix, title in sections.items():
        mine = [p for p in paths if p.name.startswith(prefix)]
        if mine:
            out += [f"### {title}", ""]
            out += [f"![{p.stem}]({p.relative_to(base).as_posix()})" for p in mine]
            out.append("")
    return out


def report_text(r: Results, plots: Sequence[Path] = ()) -> str:
    """The text of ``report.md`` for ``r``, linking ``plots`` (paths inside the run folder)."""
    description = str(r.scenario.get("description") or "").strip()
    parts = [f"# {r.name}", ""]
    if description:
        parts += [description, ""]
    parts += ["## Run", "", _run_table(r), "", "Reproduce with `regsim run scenario.yaml` in this folder "
              "(the resolved scenario, sweep and seed included).", ""]
    parts += ["## Variants", "", _variants_table(r), ""]
    plan = plan_kpis(r.summary, r.swept, r.kpis)
    parts += ["## KPIs", ""]
    for table in _kpi_tables(r, plan):
        parts += [table, ""]
    parts += _constants(r, plan)
    bounds = _bounds(r, plan)
    if bounds:
        parts += [*bounds, ""]
    notes = _notes(r)
    if notes:
        parts += ["## Notes", "", *notes, ""]
    warnings = r.meta.get("warnings") or []
    if warnings:
        parts += ["## Warnings", "", *(f"- {w}" for w in warnings), ""]
    if r.errors:
        parts += ["## Errors", "", "Full tracebacks are in `meta.json`.", "", *_errors(r)]
    if plots:
        notes = _plot_notes(r, plan)
        parts += ["## Plots", "", *notes, *([""] if notes else []), *_plots(plots, r.path)]
    return "\n".join(parts).rstrip() + "\n"


def render(path: str | Path, *, plots: bool = True) -> Path:
    """(Re)write the plots and ``report.md`` of the results folder at ``path``; the report's path.

    A run that wrote no tables -- still running, or killed (its ``meta.json`` says ``running`` and
    its process is gone) -- is a :class:`ResultsError` that says which, in one line.
    """
    with warnings.catch_warnings():  # a killed run is said below, in one line
        warnings.filterwarnings("ignore", f".*{KILLED_WARNING}", UserWarning)
        r = load(path)
    state = r.state
    if state.status in ("killed", "running") and not (r.path / SUMMARY_CSV).is_file():
        raise ResultsError(f"{r.path}: {state.note}; it wrote no results to report")
    if plots:
        from .plotting.folder import plot_all  # matplotlib: loaded only to draw

        made = plot_all(r)
    else:
        made = sorted((r.path / PLOTS).glob("*.png"))
    out = r.path / REPORT
    out.write_text(report_text(r, made), encoding="utf-8")
    return out
