"""``regsim list``: the scenarios of this project, with name, variant count and description.

Without ``--dir`` it lists the ``scenarios/`` folder of the project: the current folder or the
nearest parent holding one, else the checkout regsim runs from. Exit code 0, or 2 when there is
no such folder (the message says where it looked and how to point elsewhere). On a terminal,
descriptions are cut to its width so that each scenario stays on one line.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import UserError
from .paths import MARKER, project_folder

#: a description is never cut shorter than this, however narrow the terminal.
MIN_DESCRIPTION = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the project's scenarios with their variant counts")
    p.add_argument("--dir", type=Path, metavar="DIR",
                   help="where to look (default: scenarios/ here or in the nearest parent folder that has one, "
                        "else in regsim's own checkout)")
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


def format_rows(rows: Sequence[tuple[str, str, str, str]], width: int | None = None) -> list[str]:
    """The table's lines; with a ``width``, descriptions are cut (ending in ``...``) to fit it."""
    header = ("file", "name", "variants", "description")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(3)]
    lines = []
    for row in (header, *rows):
        start = "  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  "
        text = row[3]
        if width is not None:
            room = max(MIN_DESCRIPTION, width - len(start))
            if len(text) > room:
                text = text[:room - 3].rstrip() + "..."
        lines.append((start + text).rstrip())
    return lines


def _terminal_width() -> int | None:
    """The width to fit: the terminal's, or ``COLUMNS`` if set; None (no cutting) into a pipe or file."""
    if "COLUMNS" in os.environ or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def run(args: argparse.Namespace) -> int:
    folder = args.dir if args.dir is not None else project_folder(MARKER)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder of scenarios; give one with --dir FOLDER")
    rows = scenario_rows(folder)
    if not rows:
        print(f"no scenarios (*.yaml) under {folder}")
        return 0
    if args.dir is None and folder.resolve() != (Path.cwd() / MARKER).resolve():
        print(f"scenarios in {folder}", file=sys.stderr)
    print("\n".join(format_rows(rows, _terminal_width())))
    return 0
