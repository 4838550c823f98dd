"""Ctrl-C during a run: keep what finished, stop the workers, say where the partial results are.

An executor interrupted by Ctrl-C raises :class:`Interrupted` with the outcomes of the variants
that had finished; :func:`~regsim.runner.run.run_scenario` writes those into the results folder
(``summary.csv`` and the rest, ``meta.json`` status ``interrupted``) and raises
:class:`RunInterrupted`, whose message is the one line the command line prints. Both are
``KeyboardInterrupt`` subclasses, so code that stops on Ctrl-C still stops.
"""

from __future__ import annotations

import signal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..results import VariantOutcome

__all__ = ["Interrupted", "RunInterrupted", "ignore_sigint", "stop_workers"]

#: how long a terminated worker process gets to exit before it is killed.
_STOP_S = 5.0


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped an executor; ``finished`` holds the outcomes of the variants that had finished."""

    def __init__(self, finished: dict[str, VariantOutcome]) -> None:
        super().__init__(f"interrupted after {len(finished)} variant{'s' if len(finished) != 1 else ''}")
        self.finished = dict(finished)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run whose finished variants are written to ``folder``."""

    def __init__(self, folder: Path, finished: int, total: int, stage: str = "") -> None:
        when = f" {stage}" if stage else ""
        super().__init__(f"interrupted{when}: {finished} of {total} variant{'s' if total != 1 else ''} finished; "
                         f"partial results in {folder}")
        self.folder, self.finished, self.total = folder, finished, total


def ignore_sigint() -> None:
    """In a worker process: leave Ctrl-C to the parent, which stops the workers itself.

    A terminal sends SIGINT to the whole process group; without this every idle worker would
    print its own ``KeyboardInterrupt`` traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Shut ``pool`` down and terminate its worker processes now (running variants included), reaped.

    ``shutdown(cancel_futures=True)`` only drops queued work and then waits for the running
    variants, which may take hours; Python 3.14 has ``terminate_workers`` for this.
    """
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:  # pragma: no cover -- Python >= 3.14
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # before shutdown forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(_STOP_S)
        if process.is_alive():  # pragma: no cover -- a worker that ignores SIGTERM
            process.kill()
            process.join()
