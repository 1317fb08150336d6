"""``breakdown``: where the process's memory goes."""

from __future__ import annotations

from ..results import BreakdownResult, BreakdownRow
from ._heap import heap_index

HELP = "memory by use: live heap, garbage, free and released heap, stacks, runtime, data/bss"


def add_arguments(parser) -> None:
    """``breakdown`` takes no arguments."""


def run(gp, args) -> BreakdownResult:
    """Return the rows with their share of the total."""
    heap_index(gp)
    b = gp.breakdown()
    total = b.total

    def row(what, n, depth=0):
        pct = None if n is None or not total else round(100.0 * n / total, 2)
        return BreakdownRow(what, n, pct, depth)

    rows = [row("heap in use (spans)", b.heap_in_use),
            row("live objects", b.live, 1),
            row("unreachable objects", b.unreachable, 1),
            row("free slots in in-use spans", b.fragmentation, 1),
            row("heap free (idle, kept)", b.heap_free),
            row("heap released to the OS", b.heap_released),
            row("goroutine stacks", b.stacks),
            row("stack spans kept for reuse", None if b.stacks_sys is None or b.stacks is None
                else b.stacks_sys - b.stacks),
            row("runtime metadata", b.metadata),
            row("data and bss", b.data_bss)]
    return BreakdownResult(rows, total, b.source, list(gp.warnings))
