"""The network model against SimGrid, as a section of ``docs/validation.md``.

``tools/simgrid/crosscheck.py`` runs three platforms in SimGrid 4.1 (LV08) and in regsim's engine
under each sharing model and writes ``docs/simgrid.json``; SimGrid is too slow and too heavy to
build for every run, so the page renders that record rather than rerunning it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: what each regsim sharing model is, in the section's table
LABELS = {"lv08": "`lv08` (SimGrid's LV08)", "tcp": "`tcp` (the default)", "maxmin": "`maxmin`"}


def read_network_record(docs: Path) -> dict[str, Any] | None:
    """``docs/simgrid.json``, or None where the cross-check was never run."""
    path = docs / "simgrid.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def network_section(record: dict[str, Any]) -> list[str]:
    """Per platform and regsim model: how far each flow's duration is from SimGrid LV08's."""
    tol = record["tolerance"]
    lines = ["## The network model against SimGrid", "",
             "Every flow's duration (finish - start) in regsim against SimGrid 4.1's LV08 model on the same "
             "platform (`docs/network.md`; run by `tools/simgrid/crosscheck.py`, which writes "
             f"`docs/simgrid.json`). Target: every flow within {tol:.0%} under `lv08`.", "",
             "| platform | hosts | regsim model | flows | max error | mean error | flows over "
             f"{tol:.0%} | regsim wall | SimGrid wall |", "|---|---|---|---|---|---|---|---|---|"]
    for name, platform in record["platforms"].items():
        for model, e in platform["models"].items():
            lines.append(f"| {name} | {platform['hosts']:,} | {LABELS.get(model, model)} | {e['flows']:,} | "
                         f"{_share(e['max'])} | {_share(e['mean'])} | {e['off']:.1%} | {e['wall_s']} s | "
                         f"{platform['simgrid_wall_s']} s |")
    return lines + [""]


def _share(x: float) -> str:
    """A relative error as a person reads it: a percentage, or scientific below 0.01 %."""
    return f"{x:.1e}" if 0 < x < 1e-4 else f"{x:.2%}"
