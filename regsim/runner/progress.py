"""Progress of runs and sweeps: rich progress bars on the terminal, or silence (``--quiet``).

Executors report four things -- a run starts, a variant starts, a variant advances (a fraction
its model reports), a variant ends -- to a :class:`Reporter`. :class:`RichReporter` draws an
overall bar (variants done of all, failures counted) and one bar per running variant;
:class:`NullReporter` draws nothing and tells executors not to collect progress at all.
"""

from __future__ import annotations

from typing import Protocol

from rich.console import Console
from rich.progress import (BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

__all__ = ["NullReporter", "Reporter", "RichReporter", "reporter_for"]


class Reporter(Protocol):
    """Receives a run's progress; ``wants_progress`` False lets executors skip collecting it."""

    wants_progress: bool

    def start(self, title: str, total: int) -> None: ...
    def begin(self, variant: str, label: str) -> None: ...
    def advance(self, variant: str, fraction: float) -> None: ...
    def end(self, variant: str, ok: bool) -> None: ...
    def close(self) -> None: ...


class NullReporter:
    """Reports nothing (``--quiet``, or a notebook that wants no output)."""

    wants_progress = False

    def start(self, title: str, total: int) -> None:
        pass

    def begin(self, variant: str, label: str) -> None:
        pass

    def advance(self, variant: str, fraction: float) -> None:
        pass

    def end(self, variant: str, ok: bool) -> None:
        pass

    def close(self) -> None:
        pass


class RichReporter:
    """An overall bar for the run and a transient bar per running variant, on standard error."""

    wants_progress = True

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                 TextColumn("{task.fields[count]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console or Console(stderr=True), transient=False)
        self.overall: TaskID | None = None
        self.tasks: dict[str, TaskID] = {}
        self.title = ""
        self.total = self.done = self.failed = 0

    def start(self, title: str, total: int) -> None:
        self.title = title
        self.progress.start()
        self.total = total
        self.overall = self.progress.add_task(title, total=total, count=f"0/{total}")

    def begin(self, variant: str, label: str) -> None:
        if variant not in self.tasks:
            self.tasks[variant] = self.progress.add_task(f"  {variant} {label}"[:60], total=100, count="")

    def advance(self, variant: str, fraction: float) -> None:
        if variant not in self.tasks:
            self.begin(variant, "")
        self.progress.update(self.tasks[variant], completed=max(0.0, min(1.0, fraction)) * 100)

    def end(self, variant: str, ok: bool) -> None:
        task = self.tasks.pop(variant, None)
        if task is not None:
            self.progress.remove_task(task)
        self.done += 1
        if not ok:
            self.failed += 1
        if self.overall is not None:
            suffix = f" ({self.failed} failed)" if self.failed else ""
            self.progress.update(self.overall, advance=1, description=self.title + suffix,
                                 count=f"{self.done}/{self.total}")

    def close(self) -> None:
        self.progress.stop()


def reporter_for(quiet: bool, console: Console | None = None) -> Reporter:
    """Silence for ``quiet``, progress bars otherwise."""
    return NullReporter() if quiet else RichReporter(console)
