"""``report.md``: a results folder explained for people -- what ran, what came out, and why.

The report is made from the folder's files alone (:func:`render`), so ``regsim report DIR``
rebuilds it and its plots for any run, on any machine: the scenario's description, a table of
the run, the variants and their swept values, the KPIs, the models' notes (which parameters
make a figure true), the errors of failed variants, and links to every plot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .load import Results, load
from .schema import PLOTS, REPORT

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
    status = m.get("status", "?") + (f" ({failed} of {total} variants failed)" if failed else "")
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
    seeds = {v["id"]: v.get("seed") for v in r.meta.get("variants", [])}
    s = r.summary
    failed = s["error"].notna() & (s["error"] != "") if "error" in s else pd.Series(False, index=s.index)
    rows = [(row["variant"], *(row[k] for k in r.swept), seeds.get(row["variant"]), "failed" if bad else "ok")
            for (_, row), bad in zip(s.iterrows(), failed)]
    return markdown_table(("variant", *r.swept, "seed", "status"), rows)


def _kpi_tables(r: Results) -> list[str]:
    s, kpis = r.summary, [k for k in r.kpis if k in r.summary]
    if not kpis:
        return ["No KPIs: every variant failed." if len(s) else "No variants ran."]
    tables = []
    for start in range(0, len(kpis), KPIS_PER_TABLE):
        chunk = kpis[start:start + KPIS_PER_TABLE]
        rows = [(row["variant"], *(row[k] for k in chunk)) for _, row in s.iterrows()]
        tables.append(markdown_table(("variant", *chunk), rows))
    return tables


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
        out += [f"### {e['variant']} ({values})", "", "```text", str(e.get("error") or "").strip(), "```", ""]
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
    parts += ["## KPIs", ""]
    for table in _kpi_tables(r):
        parts += [table, ""]
    notes = _notes(r)
    if notes:
        parts += ["## Notes", "", *notes, ""]
    warnings = r.meta.get("warnings") or []
    if warnings:
        parts += ["## Warnings", "", *(f"- {w}" for w in warnings), ""]
    if r.errors:
        parts += ["## Errors", "", "Full tracebacks are in `meta.json`.", "", *_errors(r)]
    if plots:
        parts += ["## Plots", "", *_plots(plots, r.path)]
    return "\n".join(parts).rstrip() + "\n"


def render(path: str | Path, *, plots: bool = True) -> Path:
    """(Re)write the plots and ``report.md`` of the results folder at ``path``; the report's path."""
    r = load(path)
    if plots:
        from .plots import plot_all  # matplotlib: loaded only to draw

        made = plot_all(r)
    else:
        made = sorted((r.path / PLOTS).glob("*.png"))
    out = r.path / REPORT
    out.write_text(report_text(r, made), encoding="utf-8")
    return out
