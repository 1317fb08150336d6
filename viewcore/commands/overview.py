"""``overview``: what the dump is and a summary of the Go process in it."""

from __future__ import annotations

from ..progress import report
from ..results import Overview

HELP = "summary of the dump: format, Go version, threads, goroutines, live heap"


def add_arguments(parser) -> None:
    """``overview`` takes no arguments."""


def run(gp, args) -> Overview:
    """Return the Overview of ``gp``."""
    return Overview(gp.summary(progress=report), list(gp.warnings))
