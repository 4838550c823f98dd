"""Plain-text tables of the gate's findings, for a terminal and a CI log.

The KPI table has one row per KPI that failed (or every KPI with ``show_all``): scenario, variant,
KPI, baseline, now, change, tolerance. Numbers show ten significant digits, enough to see a
last-digit drift that the default six would hide. The ratio table has one row per timing check.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .gate import FAILING, GateResult, KpiResult
from .ratios import RatioResult

__all__ = ["format_gate", "format_ratios", "format_value", "text_table"]


def format_value(value: Any) -> str:
    """A cell: floats to ten significant digits, missing as ``-``, long text cut to 60 characters."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.10g}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _change(row: KpiResult) -> str:
    a, b = row.baseline, row.now
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    if row.status in ("changed", "ok") and numbers:
        delta = b - a
        if not delta or math.isnan(delta):
            return "none" if delta == 0 else "nan"
        pct = f" ({delta / abs(a) * 100:+.3g}%)" if a else ""
        return f"{delta:+.4g}{pct}"
    return {"ok": "none", "changed": "changed", "new": "new KPI", "removed": "KPI gone", "failed": "variant failed",
            "values": "sweep changed", "variant new": "new variant", "variant removed": "variant gone",
            "no baseline": "no baseline"}.get(row.status, row.status)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, a rule under the header."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def format_gate(gate: GateResult, *, show_all: bool = False) -> str:
    """The KPI table (failures only, unless ``show_all``), the notes, and a one-line tally."""
    shown = [r for r in gate.rows if show_all or r.status != "ok"]
    lines = []
    if shown:
        header = ["scenario", "variant", "KPI", "baseline", "now", "change", "tolerance"]
        cells = [[r.scenario, r.variant, r.kpi, format_value(r.baseline), format_value(r.now), _change(r),
                  r.tolerance.describe() if r.tolerance is not None else ""] for r in shown]
        lines.append(text_table(header, cells))
    for s in gate.scenarios:
        lines += [f"note: {n}" for n in s.notes]
    lines += [f"note: {n}" for n in gate.notes]
    counts = Counter(r.status for r in gate.rows)
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    updated = sum(s.updated for s in gate.scenarios)
    failing = sum(r.status in FAILING for s in gate.scenarios if not s.updated for r in s.rows)
    verdicts = [f"{updated} baseline(s) written"] if updated else []
    if gate.failed:
        verdicts.append(f"FAILED: {failing} KPI value(s) or variant(s) off their baseline")
    verdict = ", ".join(verdicts) or "passed"
    lines.append(f"regsim check: {len(gate.scenarios)} scenario(s)" + (f", {tally}" if tally else "") + f": {verdict}")
    return "\n".join(lines)


def format_ratios(results: Sequence[RatioResult]) -> str:
    """One row per timing check: what was timed against what, the ratio, the factor it must reach."""
    header = ["check", "ours", "reference", "ours/call", "ref/call", "ratio", "needs", "status"]
    cells = [[r.check.name, r.check.ours, r.check.reference, _seconds(r.ours_s), _seconds(r.reference_s),
              f"{r.ratio:.3g}x", f">= {r.check.factor:g}x",
              ("ok" if r.ok else "FAILED") + (f" ({r.attempts} tries)" if r.attempts > 1 else "")] for r in results]
    failed = sum(not r.ok for r in results)
    verdict = f"FAILED: {failed} below their factor" if failed else "passed"
    return (text_table(header, cells) + "\nratio = reference time / our time, best of alternating rounds "
            f"in this run\nbenchmark ratios: {len(results)} check(s): {verdict}")


def _seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"
