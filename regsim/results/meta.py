"""``meta.json``: what a run was (versions, profile, seed, executor) and how it went (time, errors).

Everything measured rather than simulated -- wall time, events per second, the machine,
tracebacks with this machine's paths -- lives here and nowhere else, so that ``summary.csv``
stays byte-identical between runs of one scenario and seed.

A run writes ``status: running`` with its ``pid`` and ``host`` when it starts, and its final
status when it ends; Ctrl-C writes ``interrupted``. A process killed outright (SIGKILL, the
out-of-memory killer, a power cut) writes nothing more, so :func:`run_state` tells a run still
going from a dead one: ``running`` with a pid that no longer lives on this host is ``killed``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import regsim

from ..scenario import Scenario
from .outcome import VariantOutcome
from .schema import META, SCHEMA_VERSION, ResultsError

__all__ = ["RunState", "finish_meta", "machine_info", "pid_alive", "read_meta", "run_state", "start_meta", "utc_now",
           "write_meta"]

_LIBRARIES = ("numpy", "pandas", "pyarrow", "simpy", "matplotlib", "pydantic", "dask", "distributed")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def machine_info() -> dict[str, Any]:
    """The machine a run ran on: enough to tell two machines' timings apart."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": memory,
        "python": sys.version.split()[0],
    }


def _versions() -> dict[str, str]:
    found = {}
    for name in _LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def start_meta(scenario: Scenario, run_id: str, executor: dict[str, Any], saved_profile: str) -> dict[str, Any]:
    """The meta of a run that has just started (``status: running``, until :func:`finish_meta`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "regsim_version": regsim.__version__,
        "run_id": run_id,
        "name": scenario.name,
        "description": scenario.description,
        "status": "running",
        "pid": os.getpid(),
        "host": platform.node(),
        "started": _iso(utc_now()),
        "finished": None,
        "wall_s": None,
        "profile": saved_profile,
        "seed": scenario.seed,
        "swept": list(scenario.sweep),
        "kpis": [],
        "executor": executor,
        "machine": machine_info(),
        "versions": _versions(),
        "variants": [],
        "events": 0,
        "events_per_s": None,
        "errors": [],
    }


def finish_meta(meta: dict[str, Any], outcomes: Sequence[VariantOutcome], kpis: Sequence[str],
                wall_s: float, status: str | None = None) -> dict[str, Any]:
    """``meta`` completed with every variant's cost, the errors, totals and the final status."""
    variants, errors = [], []
    for o in outcomes:
        events = o.result.events if o.result is not None else 0
        variants.append({
            "id": o.id, "values": o.values, "seed": o.seed, "model": o.model, "ok": o.ok,
            "wall_s": round(o.wall_s, 6), "events": events,
            "events_per_s": round(events / o.wall_s, 1) if o.wall_s > 0 and events else None,
            "notes": o.result.notes if o.result is not None else [],
        })
        if not o.ok:
            errors.append({"variant": o.id, "values": o.values, "error": o.error, "traceback": o.traceback})
    events = sum(v["events"] for v in variants)
    busy = sum(o.wall_s for o in outcomes)
    failed = len(errors)
    meta.update({
        "status": status or ("ok" if not failed else "failed"),
        "finished": _iso(utc_now()),
        "wall_s": round(wall_s, 6),
        "kpis": list(kpis),
        "variants": variants,
        "variants_ok": len(outcomes) - failed,
        "variants_failed": failed,
        "events": events,
        "events_per_s": round(events / busy, 1) if busy > 0 and events else None,
        "errors": errors,
    })
    return meta


def write_meta(folder: str | Path, meta: dict[str, Any]) -> Path:
    path = Path(folder) / META
    path.write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def read_meta(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / META
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{folder}: not a regsim results folder (no {META})") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: cannot read: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("schema_version"), int):
        raise ResultsError(f"{path}: not a regsim meta.json (no schema_version)")
    if meta["schema_version"] > SCHEMA_VERSION:
        raise ResultsError(f"{path}: results schema version {meta['schema_version']} is newer than this regsim "
                           f"understands ({SCHEMA_VERSION}); upgrade regsim to read it")
    return meta


class RunState(NamedTuple):
    """What a run's ``meta.json`` means now: its ``status`` (``killed`` for a ``running`` run whose
    process is gone) and a sentence for people (empty when the status says it all)."""

    status: str
    note: str


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (Unix time), from ``/proc``; None where that cannot be read."""
    try:
        stat_text = Path(f"/proc/{pid}/stat").read_text()
        fields = stat_text[stat_text.rindex(")") + 2:].split()
        if fields[0] in ("Z", "X"):  # a zombie has finished: only its exit status is left
            return float("inf")
        ticks = int(fields[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def pid_alive(pid: int, started: str | None = None) -> bool:
    """Whether process ``pid`` of this host is alive and, when ``started`` (ISO 8601, the run's
    start) is given and ``/proc`` tells, started no later than the run (not a reused pid)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    except OSError:
        return False
    began = _process_start(pid)
    if began is None or started is None:
        return True
    try:
        run_began = datetime.fromisoformat(str(started).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return True
    return began <= run_began + 2.0  # the run's start is written after its process starts (whole seconds)


def run_state(meta: dict[str, Any]) -> RunState:
    """``meta``'s status as it stands now, with what a person should know about it.

    ``running`` with a ``pid`` on this host that is gone becomes ``killed``: "did not finish: the
    process that ran it (pid N on host H) is gone". A run on another host cannot be checked from
    here, and a ``meta.json`` without a pid (written before runs recorded it, or in the moment
    before a run starts) is taken at its word.
    """
    status = str(meta.get("status") or "?")
    if status == "interrupted":
        unfinished = meta.get("unfinished") or []
        return RunState(status, "Ctrl-C stopped it before it finished" +
                        (f"; unfinished variants: {', '.join(map(str, unfinished))}" if unfinished else ""))
    if status != "running":
        return RunState(status, "")
    pid, host = meta.get("pid"), meta.get("host")
    if not isinstance(pid, int) or not host:
        return RunState(status, "running, or stopped without a trace (this meta.json names no process to check)")
    where = f"pid {pid} on host {host}"
    if host != platform.node():
        return RunState(status, f"running on another host ({where}), or killed there: this machine cannot tell")
    if pid_alive(pid, meta.get("started")):
        return RunState(status, f"still running ({where})")
    return RunState("killed", f"did not finish: the process that ran it ({where}) is gone")  # load.KILLED_WARNING
