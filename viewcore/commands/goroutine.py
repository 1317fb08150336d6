"""``goroutine ID``: one goroutine in full."""

from __future__ import annotations

from gocore import DumpError

from ..results import goroutine_row

HELP = "one goroutine in full: status, wait reason, creator, every frame"


def add_arguments(parser) -> None:
    """Take the goroutine id."""
    parser.add_argument("id", type=int, help="goroutine id")


def run(gp, args):
    """Return the GoroutineRow of goroutine ``args.id``."""
    for g in gp.goroutines():
        if g.id == args.id:
            return goroutine_row(g, detail=True)
    raise DumpError(f"no goroutine {args.id} in the dump")
