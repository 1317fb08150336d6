"""Shared by the heap commands: address arguments and the indexing progress bar."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager

_HEX = set("abcdefABCDEF")


def address(text: str) -> int:
    """Parse an address: ``0x``-prefixed or containing a-f is hex, otherwise decimal.

    Go heap addresses (``c000012345``) always hold a hex letter, so hex without ``0x`` works.
    """
    t = text.strip().replace("_", "")
    try:
        if t.lower().startswith("0x"):
            v = int(t[2:], 16)
        elif _HEX & set(t):
            v = int(t, 16)
        else:
            v = int(t, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address: {text!r}") from None
    if not 0 <= v < 1 << 64:
        raise argparse.ArgumentTypeError(f"address out of range: {text!r}")
    return v


def positive(text: str) -> int:
    """Parse a count of at least 1."""
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return v


@contextmanager
def progress():
    """Yield a ``progress(stage, fraction)`` callback drawing a rich bar on stderr, or None
    when stderr is not a terminal (pipes and tests get no bar)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("indexing the heap", total=1.0)

        def report(stage: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=stage)

        yield report


def heap_index(gp):
    """Return ``gp``'s heap index, drawing the progress bar while it is built."""
    with progress() as report:
        return gp.heap_index(report)
