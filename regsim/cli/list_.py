"""``regsim list``: the scenarios under ``scenarios/``, with name, variant count and description."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the scenarios under scenarios/ with their variant counts")
    p.add_argument("--dir", type=Path, default=Path("scenarios"), help="where to look (default: %(default)s)")
    p.set_defaults(func=run)


def scenario_rows(folder: Path) -> list[tuple[str, str, str, str]]:
    """``(file, name, variants, description)`` for every scenario file under ``folder``, invalid ones too."""
    from ..scenario import ScenarioError, load_scenario

    rows = []
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            first = str(exc).splitlines()[0]
            rows.append((path.relative_to(folder).as_posix(), "-", "-", f"INVALID: {first}"))
            continue
        variants = math.prod(len(v) for v in scenario.sweep.values()) if scenario.sweep else 1
        description = " ".join(scenario.description.split())
        rows.append((path.relative_to(folder).as_posix(), scenario.name, str(variants), description))
    return rows


def run(args: argparse.Namespace) -> int:
    from . import UserError

    if not args.dir.is_dir():
        raise UserError(f"{args.dir}: no such folder of scenarios")
    rows = scenario_rows(args.dir)
    if not rows:
        print(f"no scenarios (*.yaml) under {args.dir}")
        return 0
    header = ("file", "name", "variants", "description")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(3)]
    for row in (header, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
    return 0
