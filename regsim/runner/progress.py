"""Progress of runs and sweeps: rich progress bars on the terminal, or silence (``--quiet``).

Executors report four things -- a run starts, a variant starts, a variant advances (a fraction
its model reports), a variant ends -- to a :class:`Reporter`. :class:`RichReporter` draws an
overall bar (variants done of all, failures counted) and one bar per running variant;
:class:`NullReporter` draws nothing and tells executors not to collect progress at all.

Models report progress as pulls or requests complete, which can leave a bar at 0 % for most of
a long variant: building 100,000 hosts reports nothing, and a central rollout whose nodes all
start at once finishes its pulls together at the end. So a reporter may be told each variant's
estimated wall time (``expect``, from :mod:`.estimate`); while the model has reported less, the
variant's bar follows the time elapsed against that estimate, up to :data:`ESTIMATE_CAP`, shown
with a ``~`` (an estimate, not a measurement). The overall bar counts the running variants'
fractions too, so a single huge variant moves it.
"""

from __future__ import annotations

from typing import Any, Protocol

from rich.console import Console
from rich.progress import (BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.progress_bar import ProgressBar
from rich.text import Text

__all__ = ["ESTIMATE_CAP", "NullReporter", "Reporter", "RichReporter", "reporter_for", "shown_fraction"]

#: a bar driven by the estimated wall time stops here until the model reports more (or the variant ends).
ESTIMATE_CAP = 0.9


def shown_fraction(task: Task) -> tuple[float, bool]:
    """What a variant's bar shows: the model's fraction, or the time elapsed against the variant's
    estimated wall time (capped at :data:`ESTIMATE_CAP`) when that is more; True when estimated."""
    reported = (task.completed / task.total) if task.total else 0.0
    expected = task.fields.get("expected")
    if not expected or task.finished or task.elapsed is None:
        return reported, False
    guessed = min(ESTIMATE_CAP, task.elapsed / expected)
    return (guessed, True) if guessed > reported else (reported, False)


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


class _Shown(ProgressColumn):
    """A bar, or its percentage, of what :meth:`RichReporter.fraction` says a task stands at."""

    def __init__(self, reporter: RichReporter, bar: bool) -> None:
        super().__init__()
        self.reporter, self.bar = reporter, bar
        self.column = BarColumn() if bar else None

    def render(self, task: Task) -> Any:
        fraction, estimated = self.reporter.fraction(task)
        if self.column is not None:
            return ProgressBar(total=100.0, completed=fraction * 100.0, width=self.column.bar_width,
                               pulse=False, animation_time=task.get_time(), style=self.column.style,
                               complete_style=self.column.complete_style,
                               finished_style=self.column.finished_style, pulse_style=self.column.pulse_style)
        return Text(f"{'~' if estimated else ''}{fraction * 100:3.0f}%", style="progress.percentage")


class RichReporter:
    """An overall bar for the run and a transient bar per running variant, on standard error."""

    wants_progress = True

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(TextColumn("{task.description}"), _Shown(self, True), _Shown(self, False),
                                 TextColumn("{task.fields[count]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console or Console(stderr=True), transient=False)
        self.overall: TaskID | None = None
        self.tasks: dict[str, TaskID] = {}
        self.expected: dict[str, float] = {}
        self.title = ""
        self.total = self.done = self.failed = 0

    def expect(self, variant: str, wall_s: float) -> None:
        """``variant`` is estimated to take ``wall_s`` seconds (drives its bar while the model is quiet)."""
        if wall_s > 0:
            self.expected[variant] = float(wall_s)

    def fraction(self, task: Task) -> tuple[float, bool]:
        """Where a bar stands: a variant's :func:`shown_fraction`; the overall bar counts the
        finished variants and the running ones' fractions."""
        if task.id != self.overall:
            return shown_fraction(task)
        if not self.total:
            return 0.0, False
        running = [shown_fraction(t) for t in self.progress.tasks if t.id in self.tasks.values()]
        part = sum(f for f, _ in running)
        return min(1.0, (self.done + part) / self.total), any(e for _, e in running)

    def start(self, title: str, total: int) -> None:
        self.title = title
        self.progress.start()
        self.total = total
        self.overall = self.progress.add_task(title, total=total, count=f"0/{total}")

    def begin(self, variant: str, label: str) -> None:
        if variant not in self.tasks:
            self.tasks[variant] = self.progress.add_task(f"  {variant} {label}"[:60], total=100, count="",
                                                         expected=self.expected.get(variant))

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
