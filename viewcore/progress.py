"""The progress line: what a command is doing, on stderr, once it has run for a second.

``activity(name)`` wraps one command. On a terminal it draws, after ``DELAY`` seconds, a
transient line (spinner, the command and its stage, a bar when the stage has a fraction,
the time so far) that is erased when the command ends; elsewhere (pipes, tests, scripts)
it draws nothing. ``report(stage, fraction)`` is the ``progress`` callback that gocore's
long builds take (``gp.heap_index(report)``): it feeds the line of the command running.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

DELAY = 1.0  # seconds before the line appears: quick commands never flash one

_current: _Line | None = None


class _Line:
    """A rich progress line on stderr, started by a timer and stopped by the command."""

    def __init__(self, name: str):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.name = name
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
                            redirect_stdout=False, redirect_stderr=False)
        self.task = self.bar.add_task(name, total=None)
        self.lock = threading.Lock()
        self.shown = False
        self.stopped = False
        self.timer = threading.Timer(DELAY, self._show)
        self.timer.daemon = True

    def _show(self) -> None:
        with self.lock:
            if not self.stopped:
                self.bar.start()
                self.shown = True

    def update(self, stage: str, fraction: float) -> None:
        # a finished stage (the index built) leaves the command's own work: a pulsing bar
        if fraction >= 1.0:
            self.bar.update(self.task, description=self.name, total=None)
        else:
            self.bar.update(self.task, description=f"{self.name}: {stage}", total=1.0, completed=fraction)

    def stop(self) -> None:
        self.timer.cancel()
        with self.lock:
            self.stopped = True
            if self.shown:
                self.bar.stop()


@contextmanager
def activity(name: str) -> Iterator[None]:
    """Show the progress line of command ``name`` while the block runs (terminals only)."""
    global _current
    if not sys.stderr.isatty() or _current is not None:
        yield
        return
    line = _current = _Line(name)
    line.timer.start()
    try:
        yield
    finally:
        _current = None
        line.stop()


def report(stage: str, fraction: float) -> None:
    """Show ``stage`` (done to ``fraction``, 0 to 1) on the running command's line, if any."""
    line = _current
    if line is not None:
        line.update(stage, fraction)


def finish() -> None:
    """Erase the running command's line now: for a command that goes on working silently
    (``html`` serving until Ctrl-C) once its measurable part is done."""
    line = _current
    if line is not None:
        line.stop()
