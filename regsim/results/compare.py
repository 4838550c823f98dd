"""Comparing two runs KPI by KPI: what changed between a baseline and a new run, and by how much.

    from regsim.results import compare, format_comparison, load
    table = compare(load("results/rollout/base"), load("results/rollout/new"), rtol=0.01)
    print(format_comparison(table))

Variants are matched by their swept values when both runs sweep the same keys (so adding a
value to a sweep does not shift the pairing), else by variant id. Simulation outputs are
deterministic, so the default tolerance is none: any difference is a change. Runs of two
different scenarios, or sweeping different keys, can still be compared, but
:func:`comparison_warnings` says so (and the table's ``attrs["warnings"]`` carries it).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from .load import Results, load
from .report import fmt

__all__ = ["STATUSES", "compare", "comparison_warnings", "format_comparison"]

#: a KPI is ``same``, ``changed``, ``added`` (only in B) or ``removed`` (only in A).
STATUSES = ("same", "changed", "added", "removed")
COLUMNS = ["variant", "kpi", "a", "b", "delta", "ratio", "status"]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _keyed(r: Results, by_values: bool) -> dict[str, dict[str, Any]]:
    """Each variant's KPIs by its match key: ``"nodes=100, strategy=p2p"`` (or its id)."""
    out = {}
    for _, row in r.summary.iterrows():
        if by_values:
            key = ", ".join(f"{k}={fmt(_plain(row[k]))}" for k in sorted(r.swept))
        else:
            key = str(row["variant"])
        out[key] = {k: _plain(row[k]) for k in r.kpis if k in row.index}
    return out


def _status(a: Any, b: Any, rtol: float, atol: float) -> str:
    if _missing(a) and _missing(b):
        return "same"
    if _missing(a):
        return "added"
    if _missing(b):
        return "removed"
    if _number(a) and _number(b):
        return "same" if math.isclose(a, b, rel_tol=rtol, abs_tol=atol) else "changed"
    return "same" if a == b else "changed"


def comparison_warnings(a: Results, b: Results) -> list[str]:
    """Why pairing ``a``'s variants with ``b``'s may mean nothing: different scenarios, different sweeps."""
    out = []
    if a.name != b.name:
        out.append(f"A and B are runs of different scenarios ({a.name!r} and {b.name!r}): their KPIs are "
                   "paired variant by variant, but the two runs did not model the same thing")
    if sorted(a.swept) != sorted(b.swept):
        sweeps = [", ".join(r.swept) or "nothing" for r in (a, b)]
        out.append(f"A sweeps {sweeps[0]} and B sweeps {sweeps[1]}: variants are paired by id (v000 with v000), "
                   "not by the values they ran with")
    return out


def compare(a: Results | str | Path, b: Results | str | Path, *, rtol: float = 0.0, atol: float = 0.0) -> pd.DataFrame:
    """One row per variant and KPI of either run: ``variant, kpi, a, b, delta, ratio, status``.

    ``delta`` is ``b - a`` and ``ratio`` ``b / a`` for numbers; ``status`` is one of
    :data:`STATUSES`, numbers counting as ``same`` within ``rtol`` (relative) or ``atol``.
    ``attrs["warnings"]`` lists :func:`comparison_warnings`.
    """
    if rtol < 0 or atol < 0:
        raise ValueError(f"tolerances cannot be negative (rtol={rtol}, atol={atol})")
    ra = a if isinstance(a, Results) else load(a)
    rb = b if isinstance(b, Results) else load(b)
    by_values = bool(ra.swept) and sorted(ra.swept) == sorted(rb.swept)
    ka, kb = _keyed(ra, by_values), _keyed(rb, by_values)
    kpis = list(dict.fromkeys([*ra.kpis, *rb.kpis]))
    rows = []
    for variant in dict.fromkeys([*ka, *kb]):
        for kpi in kpis:
            va, vb = ka.get(variant, {}).get(kpi), kb.get(variant, {}).get(kpi)
            if _missing(va) and _missing(vb) and (variant not in ka or variant not in kb or
                                                   kpi not in ra.kpis or kpi not in rb.kpis):
                continue
            numbers = _number(va) and _number(vb) and not _missing(va) and not _missing(vb)
            delta = vb - va if numbers else None
            ratio = vb / va if numbers and va != 0 else None
            rows.append([variant, kpi, va, vb, delta, ratio, _status(va, vb, rtol, atol)])
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs["warnings"] = comparison_warnings(ra, rb)
    return table


def _change(row: pd.Series) -> str:
    if row["status"] != "changed":
        return row["status"]
    if _missing(row["delta"]):
        return "changed"
    pct = f" ({(row['ratio'] - 1) * 100:+.3g}%)" if not _missing(row["ratio"]) else ""
    return f"{row['delta']:+.6g}{pct}"


def format_comparison(table: pd.DataFrame, *, only_changed: bool = True, names: tuple[str, str] = ("A", "B")) -> str:
    """A plain-text table of ``table`` (from :func:`compare`), with a one-line tally at the end and
    its warnings (``warning: ...``) first."""
    counts = table["status"].value_counts()
    tally = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in STATUSES)
    shown = table[table["status"] != "same"] if only_changed else table
    lines = [f"warning: {w}" for w in table.attrs.get("warnings", [])]
    if len(shown):
        header = ["variant", "kpi", names[0], names[1], "change"]
        cells = [[str(r["variant"]), str(r["kpi"]), fmt(_plain(r["a"])), fmt(_plain(r["b"])), _change(r)]
                 for _, r in shown.iterrows()]
        widths = [max(len(header[i]), *(len(c[i]) for c in cells)) for i in range(len(header))]
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths)).rstrip() for cell in cells]
    variants = table["variant"].nunique() if len(table) else 0
    lines.append(f"{len(table)} KPI values over {variants} variants: {tally}")
    return "\n".join(lines)
