"""Running a scenario: expand its sweep, simulate every variant, write the results folder.

    from regsim.scenario import load_scenario
    from regsim.runner import run_scenario
    run = run_scenario(load_scenario("scenarios/rollout.yaml"), jobs=2)
    run.folder, run.ok, run.results().summary

The command line's ``regsim run`` is this function plus argument parsing. A variant whose
combination of values is invalid, or whose model raises, is recorded with its error; the others
finish, and the run says how many failed. A scenario that no registered model can simulate is
refused before anything is written (:class:`~regsim.models.ModelError`). Ctrl-C writes the
variants that finished (``meta.json`` status ``interrupted``) and raises
:class:`~.interrupt.RunInterrupted`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ..models import Model, lookup, model_name
from ..results import Results, ResultsWriter, VariantOutcome, load, render
from ..scenario import Scenario, expand
from .pools import Executor, make_executor
from .interrupt import RunInterrupted
from .estimate import estimate_variant
from .progress import Reporter, reporter_for
from .variant import VariantTask, execute_variant

__all__ = ["RunResult", "plan", "run_scenario"]


@dataclass
class RunResult:
    """A finished run: its folder and every variant's outcome, in variant order."""

    folder: Path
    run_id: str
    outcomes: list[VariantOutcome]
    wall_s: float

    @property
    def failed(self) -> list[VariantOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        """True when every variant produced a result."""
        return not self.failed

    def results(self) -> Results:
        """The results folder read back (tables as DataFrames)."""
        return load(self.folder)


def plan(scenario: Scenario, model: Model | None = None, only: Collection[str] | None = None) -> list[VariantTask]:
    """One task per variant of ``scenario``'s sweep, each with its model (``model``, or the registered one);
    with ``only``, just the variants of those ids (each keeps the seed it has in the whole sweep).

    Invalid combinations become tasks that carry their error. Raises
    :class:`~regsim.models.ModelError` when a valid variant has no registered model.
    """
    tasks = []
    for v in expand(scenario, source=scenario.name):
        if only is not None and v.id not in only:
            continue
        if v.scenario is None:
            tasks.append(VariantTask(v.id, v.values, v.seed, None, error=v.error))
            continue
        fn = model if model is not None else lookup(v.scenario)
        tasks.append(VariantTask(v.id, v.values, v.seed, v.scenario, model_name(v.scenario), fn))
    return tasks


def _expect(reporter: Reporter, tasks: list[VariantTask]) -> None:
    """Tell a reporter that takes them (``expect``) each variant's estimated wall time, so its bar
    moves while the model reports nothing (:mod:`.progress`)."""
    expect = getattr(reporter, "expect", None)
    if expect is None or not reporter.wants_progress:
        return
    for task in tasks:
        if task.scenario is not None:
            try:
                expect(task.id, estimate_variant(task.scenario, task.id).wall_s)
            except Exception:  # noqa: BLE001 -- an estimate is a nicety; never fail a run over it
                continue


def run_scenario(scenario: Scenario, *, out: str | Path | None = None, root: str | Path = "results",
                 run_id: str | None = None, jobs: int | None = 1, dask: str | None = None,
                 executor: Executor | None = None, quiet: bool = True, reporter: Reporter | None = None,
                 model: Model | None = None, plots: bool = True, only: Collection[str] | None = None) -> RunResult:
    """Simulate every variant of ``scenario`` and write ``root/<name>/<run-id>/`` (or ``out``).

    ``jobs`` and ``dask`` choose the executor (as ``--jobs`` and ``--dask``), unless ``executor``
    is given. ``quiet=False`` draws progress bars (or pass a ``reporter``). ``model`` replaces
    the registered model for every variant (for experiments with a model under development).
    ``only`` runs just the variants of those ids (``regsim reproduce`` runs the ones it compares).
    """
    tasks = plan(scenario, model, only)
    runnable = [t for t in tasks if t.error is None]
    if executor is None:
        if jobs is None and dask is None:  # one process per CPU, but no more than there are variants
            jobs = max(1, min(os.cpu_count() or 1, len(runnable)))
        executor = make_executor(jobs, dask)
    writer = ResultsWriter.create(scenario, out=out, root=root, run_id=run_id)
    writer.start(executor.describe())
    reporter = reporter or reporter_for(quiet)
    start = time.perf_counter()
    _expect(reporter, tasks)
    reporter.start(f"{scenario.name}: {len(tasks)} variant{'s' if len(tasks) != 1 else ''}", len(tasks))
    try:
        for task in tasks:
            if task.error is not None:
                reporter.end(task.id, False)
        done = {o.id: o for o in executor.run(runnable, reporter)}
    except KeyboardInterrupt as exc:
        reporter.close()
        finished = getattr(exc, "finished", {})  # an executor's Interrupted carries what finished
        written = [t for t in tasks if t.id in finished or t.error is not None]
        outcomes = [finished[t.id] if t.id in finished else execute_variant(t) for t in written]
        writer.finish(outcomes, time.perf_counter() - start, status="interrupted")
        writer.note_interruption([t.id for t in tasks if t.id not in finished and t.error is None])
        raise RunInterrupted(writer.folder, len(outcomes), len(tasks)) from None
    except BaseException as exc:
        reporter.close()
        writer.abort("crashed", f"{type(exc).__name__}: {exc}", time.perf_counter() - start)
        raise
    reporter.close()
    outcomes = [done[t.id] if t.id in done else execute_variant(t) for t in tasks]
    wall = time.perf_counter() - start
    try:
        writer.finish(outcomes, wall)
        render(writer.folder, plots=plots)
    except KeyboardInterrupt:
        writer.note_interruption([], f"while writing the results; `regsim report {writer.folder}` redraws the "
                                     "report if the tables are complete")
        raise RunInterrupted(writer.folder, len(outcomes), len(tasks), "while writing the results") from None
    return RunResult(writer.folder, writer.run_id, outcomes, wall)
