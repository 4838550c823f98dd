"""``regsim reproduce``: run the published cases and compare them with what was measured.

Exit code 0 when every figure is inside its band (or out of it as a stated known miss), 1 when
one is not or could not be computed (or, with ``--check-docs``, differs from the record behind
``docs/validation.md``), 2 for bad input. How cases are written: ``docs/validation.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="replay published measurements of real systems and compare")
    p.add_argument("names", nargs="*", metavar="NAME", help="cases to run (default: all)")
    p.add_argument("--quick", action="store_true", help="only the figures marked quick (what CI runs)")
    p.add_argument("--dir", type=Path, metavar="DIR",
                   help="the published cases (default: scenarios/published of the project)")
    p.add_argument("--jobs", type=int, metavar="N", help="worker processes per case (default: one per CPU)")
    p.add_argument("--out", type=Path, metavar="DIR", default=Path("results/reproduce"),
                   help="where the cases' results folders go (default: %(default)s)")
    docs = p.add_mutually_exclusive_group()
    docs.add_argument("--update-docs", action="store_true",
                      help="run every case in full and rewrite docs/validation.md and docs/validation.json")
    docs.add_argument("--check-docs", action="store_true",
                      help="also fail when a figure differs from docs/validation.json (the page is stale)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..reproduce import (format_rows, load_cases, read_record, record_of, reproduce, stale_rows,
                             validation_page, write_record)
    from ..reproduce.network_record import read_network_record
    from .paths import project_folder

    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    if args.update_docs and (args.quick or args.names):
        raise UserError("--update-docs reruns every case in full; give no names and no --quick")
    folder = args.dir or project_folder("scenarios", "published")
    docs = folder.resolve().parent.parent / "docs"
    cases = load_cases(folder, args.names)
    record = read_record(docs / "validation.json") if args.check_docs else None

    def progress(case_run) -> None:
        verdicts = ", ".join(f"{r.metric.name} {r.verdict.value}" for r in case_run.rows)
        print(f"{case_run.case.name} ({case_run.wall_s:.1f} s): {verdicts}", file=sys.stderr, flush=True)

    report = reproduce(cases, quick=args.quick, root=args.out, jobs=args.jobs, quiet=args.quiet,
                       progress=progress)
    print(format_rows(report.rows))
    failed = report.failed
    if record is not None:
        stale = stale_rows(report.rows, record)
        if stale:
            print("\ndocs/validation.json is stale (run `regsim reproduce --update-docs`):")
            for row, what in stale:
                print(f"- {row.case} / {row.metric.name}: {what}")
            failed = True
    if args.update_docs:
        new = record_of(report, "regsim reproduce --update-docs")
        write_record(docs / "validation.json", new)
        (docs / "validation.md").write_text(validation_page(cases, new, read_network_record(docs)), encoding="utf-8")
        print(f"\nwrote {docs / 'validation.md'} and {docs / 'validation.json'}")
    return 1 if failed else 0
