"""``regsim validate``: check a scenario, its overrides and every variant of its sweep, without running.

Exit code 0 when every variant is valid and has a model, 2 otherwise (each problem on its own
line, naming the file, the key and what was expected). A large scenario (a variant estimated over
1 GB, or the run over 10 minutes) also gets its estimated peak memory and wall time, per variant
and in all (:mod:`regsim.runner.estimate`), and a warning when ``regsim run`` would refuse it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a scenario and every variant of its sweep without running it")
    p.add_argument("scenario", type=Path, metavar="SCENARIO", help="the scenario YAML file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key, as for `regsim run` (repeatable)")
    p.add_argument("--resolved", action="store_true", help="also print the resolved scenario (every default filled in)")
    p.add_argument("--jobs", "-j", type=int, metavar="N",
                   help="variants run at once, for the estimate (default: as `regsim run`, one per CPU)")
    p.add_argument("--estimate", action="store_true", help="print the estimated memory and wall time even when small")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner import plan
    from ..scenario import dump_yaml, load_scenario

    scenario = load_scenario(args.scenario, args.overrides)  # an invalid scenario: ScenarioError, a UserError
    tasks = plan(scenario)  # no model for it: ModelError, a UserError
    invalid = [t for t in tasks if t.error is not None]
    if invalid:
        lines = [f"{t.id} ({t.describe()}): {t.error}" for t in invalid]
        raise UserError(f"{len(invalid)} of {len(tasks)} variants are invalid:\n" + "\n".join(lines))
    models = sorted({t.model_name for t in tasks if t.model_name})
    print(f"{args.scenario}: ok: scenario {scenario.name!r}, {len(tasks)} variant{'s' if len(tasks) != 1 else ''}, "
          f"model {', '.join(models)}")
    from ..runner.estimate import check_fits, effective_jobs, estimate_run

    estimate = estimate_run(scenario)
    if estimate.variants and (args.estimate or estimate.is_large()):
        jobs = effective_jobs(args.jobs, None, len(estimate.variants))
        print("\n".join(estimate.lines(jobs)))
        why = check_fits(estimate, jobs)
        if why:
            print(f"warning: `regsim run` would refuse it: {why}; --force runs it anyway")
    if args.resolved:
        print(dump_yaml(scenario), end="")
    return 0
