"""Writing a results folder: ``results/<name>/<run-id>/`` with everything needed to redo the run.

    writer = ResultsWriter.create(scenario, root="results")        # or out="some/folder"
    writer.start({"kind": "processes", "jobs": 2})                  # scenario.yaml, meta.json (running)
    writer.finish(outcomes, wall_s)                                 # tables, meta.json (final)

The layout, every file and column: ``docs/results.md``. The folder is self-contained: the
resolved scenario (sweep included) is saved with the files it names -- a cost profile, a
trace, a small image -- copied under ``inputs/`` and referred to by relative path, so
``regsim run <folder>/scenario.yaml`` redoes the run anywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..scenario import Scenario, dump_yaml, resolved
from ..scenario.schema import PROFILES
from .meta import finish_meta, start_meta, utc_now, write_meta
from .outcome import VariantOutcome
from .schema import (ALERTS, INPUTS, META, SAMPLES, SCENARIO, SCHEMA_VERSION, SERIES, SUMMARY_CSV, SUMMARY_PARQUET,
                     ResultsError)
from .tables import (alerts_frame, kpi_columns, samples_frame, series_frame, summary_columns, summary_rows,
                     summary_table, write_summary_csv)

__all__ = ["ALERTS_CSV", "ResultsWriter", "portable_scenario", "run_id_for", "write_tables"]

#: the alerts again, as text for people and spreadsheets (same rows as ``alerts.parquet``).
ALERTS_CSV = "alerts.csv"
#: an image read ``from`` disk is copied into the folder only up to this size; beyond, its path is kept.
MAX_COPIED_IMAGE = 64 * 1024 * 1024
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: default run ids taken in one second by runs of one scenario before giving up (``<id>-2``, ``<id>-3``...).
_MAX_SUFFIX = 1000


def run_id_for(scenario: Scenario, now: datetime | None = None) -> str:
    """``20260128T101500Z-3f2a9c1e``: the UTC start time and a short hash of the resolved scenario.

    Two runs of one scenario started in the same second get the same id here;
    :meth:`ResultsWriter.create` makes the second ``...-3f2a9c1e-2``.
    """
    digest = hashlib.sha256(dump_yaml(scenario).encode("utf-8")).hexdigest()[:8]
    return f"{(now or utc_now()):%Y%m%dT%H%M%SZ}-{digest}"


def _claim(folder: Path, placeholder: str, *, empty_ok: bool) -> bool:
    """Create ``folder`` for this run alone: True if this call made it (or, with ``empty_ok``,
    claimed an existing empty one), False if it is taken. Atomic, so two runs never share one:
    the folder is made without ``exist_ok``, and an empty one belongs to the run that creates its
    ``meta.json`` (``placeholder``, until :meth:`ResultsWriter.start` writes the real one) first."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"cannot create the results folder {folder}: {_reason(exc)}") from None
    try:
        folder.mkdir()
    except FileExistsError:
        if not (empty_ok and folder.is_dir() and not any(folder.iterdir())):
            return False
    except OSError as exc:
        raise ResultsError(f"cannot create the results folder {folder}: {_reason(exc)}") from None
    try:
        with (folder / META).open("x", encoding="utf-8") as handle:
            handle.write(placeholder)
    except FileExistsError:
        return False
    return True


def _placeholder(scenario: Scenario, run_id: str) -> str:
    """The ``meta.json`` of a run folder claimed but not started yet: a readable ``running`` run."""
    return json.dumps({"schema_version": SCHEMA_VERSION, "run_id": run_id, "name": scenario.name,
                       "status": "running"}) + "\n"


def _reason(exc: OSError) -> str:
    """Why a folder could not be made, naming the file in the way when that is the reason."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename is not None:
        for path in (Path(exc.filename), *Path(exc.filename).parents):
            if path.exists():
                return f"{path} is a file, not a folder" if not path.is_dir() else (exc.strerror or str(exc))
    return exc.strerror or str(exc)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _copy_input(source: Path, folder: Path, kind: str) -> str:
    """Copy ``source`` to ``inputs/<kind>/<name>`` in ``folder``; the relative path to write instead."""
    target = folder / INPUTS / kind / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)
    return target.relative_to(folder).as_posix()


def portable_scenario(scenario: Scenario, folder: str | Path) -> tuple[dict[str, Any], list[str]]:
    """The resolved scenario with the files it names copied into ``folder`` and named relatively.

    Returns the data to save and a list of warnings (an image too large to copy keeps its
    absolute path, so that run needs that file too).
    """
    folder = Path(folder)
    data = resolved(scenario)
    warnings: list[str] = []
    if data.get("profile") not in PROFILES:
        data["profile"] = _copy_input(Path(data["profile"]), folder, "profile")
    workload = data.get("workload") or {}
    if workload.get("kind") == "trace" and workload.get("path"):
        workload["path"] = _copy_input(Path(workload["path"]), folder, "trace")
    image = data.get("image") or {}
    if image.get("from"):
        source = Path(image["from"])
        if _size(source) <= MAX_COPIED_IMAGE:
            image["from"] = _copy_input(source, folder, "image")
        else:
            warnings.append(f"image.from {source} is larger than {MAX_COPIED_IMAGE // 2**20} MiB and was not copied; "
                            "re-running from this folder needs it at that path")
    return data, warnings


def write_tables(folder: str | Path, outcomes: Sequence[VariantOutcome], swept: Sequence[str]) -> list[str]:
    """Write the summary (CSV and parquet), series, samples and alerts (parquet and CSV); returns the KPI names."""
    folder = Path(folder)
    # a KPI that echoes a setting (a model's `data_plane`) is the swept column when that setting is swept
    kpis = [k for k in kpi_columns(outcomes) if k not in swept]
    columns = summary_columns(swept, kpis)
    rows = summary_rows(outcomes, swept, kpis)
    write_summary_csv(folder / SUMMARY_CSV, columns, rows)
    pq.write_table(summary_table(columns, rows), folder / SUMMARY_PARQUET)
    alerts = alerts_frame(outcomes)
    for name, frame in ((SERIES, series_frame(outcomes)), (SAMPLES, samples_frame(outcomes)), (ALERTS, alerts)):
        frame.to_parquet(folder / name, index=False)
    write_summary_csv(folder / ALERTS_CSV, list(alerts.columns), alerts.itertuples(index=False, name=None))
    return kpis


@dataclass
class ResultsWriter:
    """One run's results folder, from creation to the final ``meta.json``."""

    scenario: Scenario
    folder: Path
    run_id: str
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, scenario: Scenario, *, out: str | Path | None = None, root: str | Path = "results",
               run_id: str | None = None) -> ResultsWriter:
        """Make the run's folder: ``out`` itself, else ``root/<name>/<run-id>``.

        A folder named by ``out`` or ``run_id`` must be new or empty; a default run id that is
        taken (another run of the scenario in the same second) gets a suffix, ``-2``, ``-3``...
        Creation is atomic: two runs never write into one folder.
        """
        if run_id is not None and not _RUN_ID.match(run_id):
            raise ResultsError(f"run id {run_id!r}: expected letters, digits, '.', '_' and '-' "
                               "(it names a folder)")
        if out is not None or run_id is not None:
            run_id = run_id or run_id_for(scenario)
            folder = Path(out) if out is not None else Path(root) / scenario.name / run_id
            if not _claim(folder, _placeholder(scenario, run_id), empty_ok=True):
                raise ResultsError(f"{folder} already exists and is not an empty folder; choose another "
                                   f"{'--out' if out is not None else '--run-id'} or remove it")
            return cls(scenario, folder, run_id)
        base = run_id_for(scenario)
        for n in range(1, _MAX_SUFFIX + 1):
            run_id = base if n == 1 else f"{base}-{n}"
            folder = Path(root) / scenario.name / run_id
            if _claim(folder, _placeholder(scenario, run_id), empty_ok=False):
                return cls(scenario, folder, run_id)
        raise ResultsError(f"{Path(root) / scenario.name}: {_MAX_SUFFIX} runs named {base}[-N] already exist")

    def start(self, executor: dict[str, Any]) -> None:
        """Save the scenario and a ``running`` meta.json, so even a crashed run says what it was."""
        data, self.warnings = portable_scenario(self.scenario, self.folder)
        dump_yaml(data, self.folder / SCENARIO)
        self.meta = start_meta(self.scenario, self.run_id, executor, str(data["profile"]))
        self.meta["warnings"] = list(self.warnings)
        write_meta(self.folder, self.meta)

    def finish(self, outcomes: Sequence[VariantOutcome], wall_s: float, status: str | None = None) -> None:
        """Write the tables and the final meta.json (``ok``, ``failed`` or the given ``status``)."""
        kpis = write_tables(self.folder, outcomes, list(self.scenario.sweep))
        write_meta(self.folder, finish_meta(self.meta, outcomes, kpis, wall_s, status))

    def note_interruption(self, unfinished: Sequence[str], stage: str = "") -> None:
        """Mark meta.json ``interrupted`` (Ctrl-C), listing the variants that did not finish."""
        self.meta["status"] = "interrupted"
        self.meta["unfinished"] = list(unfinished)
        text = "interrupted (Ctrl-C)" + (f" {stage}" if stage else "")
        if unfinished:
            text += f"; unfinished variants: {', '.join(unfinished)}"
        self.meta.setdefault("errors", []).append({"variant": None, "values": {}, "error": text, "traceback": None})
        write_meta(self.folder, self.meta)

    def abort(self, status: str, error: str, wall_s: float) -> None:
        """Record in meta.json that the run stopped early (``interrupted``, ``crashed``) and why; no tables."""
        finish_meta(self.meta, [], [], wall_s, status)
        self.meta["errors"] = [{"variant": None, "values": {}, "error": error, "traceback": None}]
        write_meta(self.folder, self.meta)
