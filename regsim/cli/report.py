"""``regsim report``: rebuild a results folder's plots and report.md from its files alone."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="rebuild the plots and report.md of a results folder")
    p.add_argument("folder", type=Path, metavar="DIR", help="a run folder, or results/<name> for its latest run")
    p.add_argument("--no-plots", action="store_true", help="rewrite report.md only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..results import find_run, render

    path = render(find_run(args.folder), plots=not args.no_plots)  # not a results folder: a UserError
    print(path)
    return 0
