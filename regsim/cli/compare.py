"""``regsim compare``: two results folders KPI by KPI, as a table of what changed.

Exit code 0; with ``--check``, 1 when any KPI changed beyond the tolerance or appears in one
run only (a regression gate for deterministic simulation outputs). Runs of different scenarios,
or sweeping different keys, are compared all the same, after a ``warning:`` line that says so.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare two results folders KPI by KPI")
    p.add_argument("a", type=Path, metavar="DIR", help="the baseline run (or results/<name> for its latest run)")
    p.add_argument("b", type=Path, metavar="DIR", help="the run to compare with it")
    p.add_argument("--rtol", type=float, default=0.0, help="relative difference still counted as the same (default: 0)")
    p.add_argument("--atol", type=float, default=0.0, help="absolute difference still counted as the same (default: 0)")
    p.add_argument("--all", action="store_true", help="list unchanged KPIs too")
    p.add_argument("--check", action="store_true", help="exit 1 if anything changed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..results import compare, format_comparison, load
    from .common import as_user_error

    # a folder that is not a run is a ResultsError, a UserError already; compare() refuses a negative
    # --rtol or --atol, and pandas a garbled summary.csv, with plain ValueErrors
    with as_user_error(ValueError):
        a, b = load(args.a), load(args.b)
        table = compare(a, b, rtol=args.rtol, atol=args.atol)
    print(f"A: {a.path} ({a.name})\nB: {b.path} ({b.name})")
    print(format_comparison(table, only_changed=not args.all))
    changed = bool((table["status"] != "same").any())
    return 1 if args.check and changed else 0
