"""``threads``: the OS threads with their registers and the function they were in."""

from __future__ import annotations

from ..results import Rows, ThreadRow

NEEDS_MEMORY = False  # answers from the dump's own records, even without full memory
HELP = "OS threads: id, pc, sp, function, and which one crashed"


def add_arguments(parser) -> None:
    """``threads`` takes no arguments."""


def run(gp, args) -> Rows:
    """Return one row per thread, in the dump's order."""
    crash = gp.crash_thread()
    rows = [ThreadRow(t.tid, t.pc, t.sp, t.fp, gp.func_name(t.pc), t is crash,
                      t.signal if t is crash else None) for t in gp.threads()]
    return Rows("threads", rows, list(gp.warnings))
