"""Executors: where variants run -- this process, local worker processes, or a Dask cluster.

- :class:`LocalExecutor` with ``jobs=1`` (or a single variant) runs in this process, with live
  progress from the model. With more jobs it uses a spawn-context ``ProcessPoolExecutor``
  (safe on every platform and with threads around); workers send progress back on a queue.
- :class:`DaskExecutor` sends variants to a ``distributed`` scheduler at an address, or to a
  ``LocalCluster`` it starts for ``"local"``, for sweeps that outgrow one machine.

Every executor returns outcomes in the order of the tasks, whatever order they finish in, so
results do not depend on the executor. A variant whose worker dies is recorded as failed. Ctrl-C
stops the workers and raises :class:`~.interrupt.Interrupted` with the variants that finished.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue as queues
import traceback
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from regsim.errors import UserError
from regsim.results import VariantOutcome
from .interrupt import Interrupted, ignore_sigint, stop_workers
from .progress import Reporter
from .variant import VariantTask, execute_variant, failed_outcome

__all__ = ["DaskExecutor", "Executor", "ExecutorError", "LocalExecutor", "make_executor"]

#: a worker reports progress only when it moved by at least this fraction (keeps the queue quiet).
PROGRESS_STEP = 0.01
_POLL_S = 0.1
_worker_queue: Any = None


class ExecutorError(UserError, ValueError):
    """An executor that cannot be used as asked: bad ``--jobs``, no Dask, an unreachable scheduler."""


def _init_worker(progress_queue: Any) -> None:
    global _worker_queue
    ignore_sigint()
    _worker_queue = progress_queue


def _run_in_worker(task: VariantTask) -> VariantOutcome:
    """:func:`execute_variant` in a worker process, sending throttled progress to the parent."""
    q = _worker_queue
    if q is None:
        return execute_variant(task)
    last = [-1.0]

    def progress(fraction: float) -> None:
        if fraction - last[0] >= PROGRESS_STEP or fraction >= 1.0:
            last[0] = fraction
            q.put((task.id, float(fraction)))

    q.put((task.id, 0.0))
    return execute_variant(task, progress)


def _worker_failure(task: VariantTask, exc: BaseException) -> VariantOutcome:
    text = f"{type(exc).__name__}: {exc}"
    if "pickle" in text.lower():
        text += " (the model or its result cannot be sent between processes; run with --jobs 1)"
    return failed_outcome(task, f"worker failed: {text}", "".join(traceback.format_exception(exc)))


def _settle(task: VariantTask, future: Any, outcomes: dict[str, VariantOutcome], reporter: Reporter) -> None:
    """Record the outcome of a finished ``future``: a dead or lost worker fails its variant only."""
    try:
        outcome = future.result()
    except Exception as exc:  # noqa: BLE001
        outcome = _worker_failure(task, exc)
    outcomes[task.id] = outcome
    reporter.end(task.id, outcome.ok)


class Executor(ABC):
    """Runs tasks, reporting to a :class:`~.progress.Reporter`; outcomes come back in task order."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What ran the variants, for meta.json."""

    @abstractmethod
    def run(self, tasks: Sequence[VariantTask], reporter: Reporter) -> list[VariantOutcome]:
        """Every task's outcome, in task order."""


class LocalExecutor(Executor):
    """This process for one job, else ``jobs`` spawned worker processes."""

    def __init__(self, jobs: int = 1) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ExecutorError(f"--jobs must be a whole number >= 1, got {jobs!r}")
        self.jobs = jobs

    def describe(self) -> dict[str, Any]:
        return {"kind": "in-process" if self.jobs == 1 else "processes", "jobs": self.jobs}

    def run(self, tasks: Sequence[VariantTask], reporter: Reporter) -> list[VariantOutcome]:
        if self.jobs == 1 or len(tasks) <= 1:
            finished: dict[str, VariantOutcome] = {}
            try:
                for task in tasks:
                    finished[task.id] = self._in_process(task, reporter)
            except KeyboardInterrupt:
                raise Interrupted(finished) from None
            return [finished[t.id] for t in tasks]
        return self._in_pool(tasks, reporter)

    @staticmethod
    def _in_process(task: VariantTask, reporter: Reporter) -> VariantOutcome:
        reporter.begin(task.id, task.describe())
        progress = (lambda f: reporter.advance(task.id, f)) if reporter.wants_progress else None
        outcome = execute_variant(task, progress)
        reporter.end(task.id, outcome.ok)
        return outcome

    def _in_pool(self, tasks: Sequence[VariantTask], reporter: Reporter) -> list[VariantOutcome]:
        outcomes: dict[str, VariantOutcome] = {}
        sendable = []
        for task in tasks:  # fail what cannot reach a worker now, rather than after starting the pool
            try:
                pickle.dumps(task)
            except Exception as exc:  # noqa: BLE001 -- pickling raises many kinds
                outcomes[task.id] = _worker_failure(task, exc)
                reporter.end(task.id, False)
            else:
                sendable.append(task)
        if sendable:
            self._pool(sendable, reporter, outcomes)
        return [outcomes[t.id] for t in tasks]

    def _pool(self, tasks: Sequence[VariantTask], reporter: Reporter, outcomes: dict[str, VariantOutcome]) -> None:
        context = multiprocessing.get_context("spawn")
        progress_queue = context.Queue() if reporter.wants_progress else None
        labels = {t.id: t.describe() for t in tasks}
        pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(tasks)), mp_context=context,
                                   initializer=_init_worker, initargs=(progress_queue,))
        try:
            futures: dict[Future[VariantOutcome], VariantTask] = {pool.submit(_run_in_worker, t): t for t in tasks}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=_POLL_S if progress_queue else None,
                                     return_when=FIRST_COMPLETED)
                self._drain(progress_queue, reporter, labels, outcomes)
                for future in done:
                    _settle(futures[future], future, outcomes, reporter)
        except KeyboardInterrupt:
            stop_workers(pool)
            raise Interrupted(outcomes) from None
        except BaseException:
            stop_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True)
            if progress_queue is not None:
                progress_queue.close()

    @staticmethod
    def _drain(progress_queue: Any, reporter: Reporter, labels: dict[str, str],
               finished: dict[str, VariantOutcome]) -> None:
        while progress_queue is not None:
            try:
                variant, fraction = progress_queue.get_nowait()
            except queues.Empty:
                return
            if variant not in finished:
                reporter.begin(variant, labels.get(variant, ""))
                reporter.advance(variant, fraction)


class DaskExecutor(Executor):
    """Variants as tasks on a Dask ``distributed`` cluster: at ``address``, or a LocalCluster for ``"local"``."""

    def __init__(self, address: str, jobs: int | None = None, *, processes: bool = True,
                 connect_timeout: float = 10.0) -> None:
        if not address:
            raise ExecutorError("--dask needs a scheduler address (tcp://host:8786) or 'local'")
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ExecutorError("the Dask executor needs dask[distributed]: pip install 'regsim[dask]'") from None
        self.address = address
        self.jobs = jobs or (os.cpu_count() or 1)
        self.processes = processes
        self.connect_timeout = connect_timeout

    def describe(self) -> dict[str, Any]:
        if self.address == "local":
            return {"kind": "dask", "address": "local", "jobs": self.jobs}
        return {"kind": "dask", "address": self.address}

    def _connect(self) -> tuple[Any, Any]:
        from distributed import Client, LocalCluster

        if self.address == "local":
            cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=self.processes,
                                   dashboard_address=None)
            return Client(cluster), cluster
        try:
            return Client(self.address, timeout=self.connect_timeout), None
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None

    def run(self, tasks: Sequence[VariantTask], reporter: Reporter) -> list[VariantOutcome]:
        from distributed import as_completed

        client, cluster = self._connect()
        try:
            futures = {client.submit(execute_variant, task, pure=False): task for task in tasks}
            outcomes: dict[str, VariantOutcome] = {}
            try:
                for future in as_completed(futures):
                    _settle(futures[future], future, outcomes, reporter)
            except KeyboardInterrupt:
                client.cancel(list(futures))
                raise Interrupted(outcomes) from None
            return [outcomes[t.id] for t in tasks]
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(jobs: int | None = None, dask: str | None = None) -> Executor:
    """The executor for ``--jobs`` and ``--dask``: Dask when an address is given, else local.

    ``jobs=None`` means one job per CPU for local processes (and per Dask worker of ``local``).
    """
    if dask is not None:
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
            raise ExecutorError(f"--jobs must be a whole number >= 1, got {jobs!r}")
        return DaskExecutor(dask, jobs)
    return LocalExecutor(jobs if jobs is not None else (os.cpu_count() or 1))
