"""``overview``: what the dump is and a summary of the Go process in it."""

from __future__ import annotations

from ..results import Overview
from ._heap import progress

HELP = "summary of the dump: format, Go version, threads, goroutines, live heap"


def add_arguments(parser) -> None:
    """``overview`` takes no arguments."""


def run(gp, args) -> Overview:
    """Return the Overview of ``gp``."""
    with progress() as report:
        summary = gp.summary(progress=report)
    return Overview(summary, list(gp.warnings))
