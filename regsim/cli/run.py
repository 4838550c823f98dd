"""``regsim run``: simulate a scenario -- every variant of its sweep -- into a results folder.

Exit code 0 when every variant ran, 1 when some failed (each recorded with its error in the
folder), 2 for bad input (an invalid scenario or override, an unknown model, a bad --jobs: each
a UserError, which :func:`regsim.cli.main` reports), 130 when Ctrl-C stopped it: the variants
that finished are written, and one line says where.

Before anything is written, the run's cost is estimated (:mod:`regsim.runner.estimate`): a
scenario whose variants running at once (``--jobs`` of them) would need more memory than this
machine has available, or that would take more than 12 hours, is refused with one line naming
the estimate (exit 2); ``--force`` runs it anyway.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runner import RunResult
    from ..scenario import Scenario


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
    p.add_argument("--force", action="store_true",
                   help="run even when the estimated memory or wall time does not fit this machine")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner import run_scenario
    from ..scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    if not args.force:
        refuse_if_too_big(scenario, args.jobs, args.dask)
    result = run_scenario(scenario, out=args.out, root=args.results, run_id=args.run_id, jobs=args.jobs,
                          dask=args.dask, quiet=args.quiet, plots=not args.no_plots)
    print(result.folder if args.quiet else summary(result))
    return 0 if result.ok else 1


def refuse_if_too_big(scenario: Scenario, jobs: int | None, dask: str | None) -> None:
    """A UserError (exit 2, one line) when the run's estimate does not fit this machine."""
    from ..errors import UserError
    from ..runner.estimate import check_fits, effective_jobs, estimate_run

    estimate = estimate_run(scenario)
    if not estimate.variants:
        return
    running = effective_jobs(jobs, dask, len(estimate.variants))
    why = check_fits(estimate, running, local=dask is None or dask == "local")
    if why:
        raise UserError(f"{scenario.name}: not run: {why}; `regsim validate` shows the estimate, --force runs it anyway")


def summary(result: RunResult) -> str:
    """What a person wants after a run: how many variants ran, which failed and why, where it all is."""
    total, failed = len(result.outcomes), result.failed
    lines = [f"{total} variant{'s' if total != 1 else ''}: {total - len(failed)} ok, {len(failed)} failed "
             f"in {result.wall_s:.3g} s"]
    lines += [f"  {o.id} ({o.describe()}) failed: {o.error}" for o in failed]
    lines.append(f"results: {result.folder}")
    return "\n".join(lines)
