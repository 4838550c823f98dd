"""``regsim check``: the CI gate -- KPIs of ``scenarios/ci/`` against baselines, timings as ratios.

Exit code 0 when every KPI matches its baseline (within its stated tolerance) and every timing
ratio reaches its factor; 1 with a table of what moved (KPI, baseline, now, change, tolerance)
otherwise; 2 for bad input (no scenarios, an invalid scenario or baseline file). ``--update``
rewrites the baselines from this run and skips the timings. How it works: ``docs/ci.md``.
The default folders are the project's (see :func:`~.paths.find_project`), not the current folder's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="CI gate: scenario KPIs against committed baselines, timing ratios")
    p.add_argument("--scenarios", type=Path, metavar="DIR",
                   help="the CI scenarios to run (default: scenarios/ci of the project: the nearest folder, "
                        "from here up, that has scenarios/)")
    p.add_argument("--baselines", type=Path, metavar="DIR",
                   help="where the baselines are kept (default: results/baselines of the same project)")
    p.add_argument("--update", action="store_true",
                   help="rewrite the baselines from this run (keeps stated tolerances)")
    p.add_argument("--all", action="store_true", help="list every KPI, not only those off their baseline")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--no-ratios", action="store_true", help="skip the timing ratios")
    which.add_argument("--ratios-only", action="store_true", help="only measure the timing ratios")
    p.add_argument("--rounds", type=int, default=5, metavar="N",
                   help="alternating timing rounds per ratio, best kept (default: %(default)s)")
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep the scenario runs' results folders here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..check import format_gate, format_ratios, run_gate, run_ratios
    from .paths import project_folder

    if args.rounds < 1:
        raise UserError(f"--rounds must be at least 1, got {args.rounds}")
    failed = False
    if not args.ratios_only:
        scenarios = args.scenarios or project_folder("scenarios", "ci")
        baselines = args.baselines or project_folder("results", "baselines")
        gate = run_gate(scenarios, baselines, update=args.update, workdir=args.keep)  # bad input: UserErrors
        print(format_gate(gate, show_all=args.all), flush=True)
        failed = gate.failed
    if not (args.no_ratios or args.update):
        if not args.ratios_only:
            print()
        results = run_ratios(rounds=args.rounds)
        print(format_ratios(results))
        failed = failed or not all(r.ok for r in results)
    return 1 if failed else 0
