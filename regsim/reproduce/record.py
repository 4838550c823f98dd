"""The record of a full run (``docs/validation.json``): what the page is rendered from, and what
a later run is checked against (simulations are deterministic, so any change is a real change)."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

from .cases import ReproduceError
from .compare import Row
from .run import Report

__all__ = ["RECORD_VERSION", "read_record", "record_of", "stale_rows", "write_record"]

RECORD_VERSION = 1
#: how close a simulated figure must be to the recorded one to count as the same (float noise only)
RECORD_RTOL = 1e-9


def record_of(report: Report, command: str, when: date | None = None) -> dict[str, Any]:
    """The record of ``report``: per case, its wall time and each metric's simulated figure or error."""
    cases: dict[str, Any] = {}
    for run in report.runs:
        metrics = {r.metric.name: ({"simulated": r.simulated} if r.error is None else {"error": r.error})
                   for r in run.rows}
        cases[run.case.name] = {"wall_s": round(run.wall_s, 1), "metrics": metrics}
    return {"version": RECORD_VERSION, "command": command, "date": (when or date.today()).isoformat(),
            "cases": cases}


def write_record(path: str | Path, record: dict[str, Any]) -> Path:
    path = Path(path)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_record(path: str | Path) -> dict[str, Any]:
    """The record at ``path``; :class:`ReproduceError` if it is missing or not a record."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReproduceError(f"{path}: no record; `regsim reproduce --update-docs` writes it") from None
    except json.JSONDecodeError as exc:
        raise ReproduceError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != RECORD_VERSION or not isinstance(data.get("cases"), dict):
        raise ReproduceError(f"{path}: not a version-{RECORD_VERSION} record of `regsim reproduce`")
    return data


def recorded(record: dict[str, Any], case: str, metric: str) -> dict[str, Any] | None:
    """The recorded entry of ``case``'s ``metric``, or None."""
    return record["cases"].get(case, {}).get("metrics", {}).get(metric)


def stale_rows(rows: list[Row], record: dict[str, Any]) -> list[tuple[Row, str]]:
    """The rows whose figure differs from the record (or that it lacks), each with what it says."""
    stale = []
    for row in rows:
        entry = recorded(record, row.case, row.metric.name)
        if entry is None:
            stale.append((row, "not in the record"))
        elif row.simulated is None or "simulated" not in entry:
            if (row.simulated is None) != ("simulated" not in entry):
                stale.append((row, f"recorded {entry}, now {row.simulated if row.error is None else row.error}"))
        elif not math.isclose(row.simulated, entry["simulated"], rel_tol=RECORD_RTOL, abs_tol=0.0):
            stale.append((row, f"recorded {entry['simulated']:.6g}, now {row.simulated:.6g}"))
    return stale
