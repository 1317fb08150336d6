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
    return Overview(
        dump_format=summary.dump_format, goos=summary.goos, goarch=summary.goarch,
        go_version=summary.go_version, pid=summary.pid, threads=summary.threads,
        goroutines=summary.goroutines, heap_objects=summary.heap_objects,
        heap_bytes=summary.heap_bytes, executable=summary.executable, signal=summary.signal,
        partial=summary.partial, warnings=list(gp.warnings))
