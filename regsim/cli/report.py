"""``regsim report``: rebuild a results folder's plots and report.md from its files alone.

A run that did not finish is said in one line on standard error: interrupted by Ctrl-C (the
report covers the variants that finished), or -- exit 2, nothing to report -- still running or
killed ("did not finish: the process that ran it (pid N on host H) is gone").
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="rebuild the plots and report.md of a results folder")
    p.add_argument("folder", type=Path, metavar="DIR", help="a run folder, or results/<name> for its latest run")
    p.add_argument("--no-plots", action="store_true", help="rewrite report.md only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..results import find_run, render
    from ..results.meta import read_meta, run_state

    folder = find_run(args.folder)
    path = render(folder, plots=not args.no_plots)  # not a results folder, or no tables: a UserError
    state = run_state(read_meta(folder))
    if state.note:
        print(f"{folder}: {state.status}: {state.note}", file=sys.stderr)
    print(path)
    return 0
