"""Progress reporting: one callback type for every stage, and one rich bar for every command.

Stages call ``progress(fraction, message)`` with ``fraction`` in [0, 1]; a stage never imports rich, so
library users can pass any callable (or nothing). Commands turn the callback into a bar on stderr.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str = "") -> None:
    """The default callback: report nothing."""


def scaled(progress: Progress | None, start: float, stop: float) -> Progress:
    """A callback for one part of a longer job, mapping its [0, 1] onto [start, stop] of ``progress``."""
    outer = progress or no_progress
    return lambda fraction, message="": outer(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)


def rich_progress(console: Any = None, *, eta: bool = False, disable: bool = False) -> Any:
    """The one place the bar's columns are chosen; ``eta`` adds the estimated time left: a task's own
    estimate where it gives one (fields ``eta_s``, seconds left as of the monotonic time ``eta_at``),
    else rich's, from the pace so far."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

    columns: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn(),
                          TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn()]
    if eta:
        columns += [TextColumn("eta"), _eta_column()]
    return Bar(*columns, console=console or Console(stderr=True), transient=True, disable=disable)


def _eta_column() -> Any:
    import time

    from rich.progress import TimeRemainingColumn
    from rich.text import Text

    class EtaColumn(TimeRemainingColumn):
        def render(self, task: Any) -> Any:
            if "eta_s" not in task.fields:
                return super().render(task)
            left = max(0, int(task.fields["eta_s"] - (time.monotonic() - task.fields["eta_at"])))
            return Text(f"{left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}", style="progress.remaining")

    return EtaColumn()


@contextlib.contextmanager
def progress_bar(label: str, console: Any = None, *, eta: bool = False) -> Iterator[Progress]:
    """A bar on stderr for one job, as a ``progress(fraction, message)`` callback."""
    with rich_progress(console, eta=eta) as bar:
        task = bar.add_task(label, total=1.0)

        def update(fraction: float, message: str = "") -> None:
            bar.update(task, completed=min(max(fraction, 0.0), 1.0), description=f"{label} {message}".rstrip()[:70])

        yield update
