"""``regsim run``: simulate a scenario -- every variant of its sweep -- into a results folder.

Exit code 0 when every variant ran, 1 when some failed (each recorded with its error in the
folder), 2 for bad input (an invalid scenario or override, an unknown model, a bad --jobs: each
a UserError, which :func:`regsim.cli.main` reports), 130 when Ctrl-C stopped it: the variants
that finished are written, and one line says where.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runner import RunResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="simulate a scenario (every variant of its sweep) into a results folder")
    p.add_argument("scenario", type=Path, metavar="SCENARIO", help="the scenario YAML file")
    p.add_argument("--out", type=Path, metavar="DIR", help="write the results here (default: RESULTS/<name>/<run-id>)")
    p.add_argument("--results", type=Path, default=Path("results"), metavar="RESULTS",
                   help="root of the results folders (default: %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key, e.g. --set cluster.nodes=1000 (repeatable)")
    p.add_argument("--jobs", "-j", type=int, metavar="N",
                   help="variants run at once in local processes; 1 runs in this process (default: one per CPU)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run variants on the Dask scheduler at ADDRESS (tcp://host:8786), "
                        "or 'local' for a LocalCluster")
    p.add_argument("--run-id", metavar="ID", help="name of the run folder (default: UTC time and scenario hash)")
    p.add_argument("--no-plots", action="store_true", help="skip the plots (report.md still lists the KPIs)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars; print only the results folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner import run_scenario
    from ..scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    result = run_scenario(scenario, out=args.out, root=args.results, run_id=args.run_id, jobs=args.jobs,
                          dask=args.dask, quiet=args.quiet, plots=not args.no_plots)
    print(result.folder if args.quiet else summary(result))
    return 0 if result.ok else 1


def summary(result: RunResult) -> str:
    """What a person wants after a run: how many variants ran, which failed and why, where it all is."""
    total, failed = len(result.outcomes), result.failed
    lines = [f"{total} variant{'s' if total != 1 else ''}: {total - len(failed)} ok, {len(failed)} failed "
             f"in {result.wall_s:.3g} s"]
    lines += [f"  {o.id} ({o.describe()}) failed: {o.error}" for o in failed]
    lines.append(f"results: {result.folder}")
    return "\n".join(lines)
