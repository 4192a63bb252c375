"""Progress bars for long steps: rich, on stderr, silent with --quiet or when stderr is not a terminal.

Each named step the library reports ("Building the panel", "Randomisation inference", …) gets its own bar
with its unit ("persons", "draws"), the count done of the total, the time spent and an estimate of the time
left.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from trialeval.pipeline import ProgressCallback

if TYPE_CHECKING:          # rich's progress display is loaded only when a bar is shown
    from rich.console import Console
    from rich.progress import Progress, TaskID


class StepBars:
    """A ``callback(done, total, step, unit)`` that shows one bar per named step (the library's ``named``
    progress protocol); a caller that reports no step name gets the bar's own description."""

    named = True

    def __init__(self, bars: Progress, description: str) -> None:
        self._bars = bars
        self._description = description
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, done: int, total: int, step: str | None = None, unit: str = "") -> None:
        name = step or self._description
        if name not in self._tasks:
            self._tasks[name] = self._bars.add_task(name, total=total, unit=unit)
        self._bars.update(self._tasks[name], completed=done, total=total)


def step_bars(console: Console, description: str) -> tuple[Progress, StepBars]:
    """The rich progress display and the callback that feeds it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bars = Progress(TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,} {task.fields[unit]}"),
                    TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=console, transient=True)
    return bars, StepBars(bars, description)


@contextlib.contextmanager
def progress_bar(description: str, *, quiet: bool = False) -> Iterator[ProgressCallback | None]:
    """Yield a progress callback for the library, or None when no bar should show."""
    from trialeval.cli._app import is_quiet

    if quiet or is_quiet() or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console

    bars, callback = step_bars(Console(stderr=True), description)
    with bars:
        yield callback
