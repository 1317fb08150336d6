"""``goroutine ID [--locals]``: one goroutine in full, optionally with each frame's variables."""

from __future__ import annotations

from gocore import DumpError, Error

from ..render.locals import local_row
from ..results import GoroutineLocals, goroutine_row

HELP = "one goroutine in full: status, wait reason, creator, every frame (--locals: its variables)"


def add_arguments(parser) -> None:
    """Take the goroutine id and --locals."""
    parser.add_argument("id", type=int, help="goroutine id")
    parser.add_argument("--locals", action="store_true",
                        help="each frame's arguments and locals (DWARF): name, type, value or address")


def run(gp, args):
    """Return the GoroutineRow of goroutine ``args.id`` (GoroutineLocals with --locals)."""
    for g in gp.goroutines():
        if g.id == args.id:
            row = goroutine_row(g, detail=True)
            if not args.locals:
                return row
            frames = []
            for f in g.frames:
                try:
                    frames.append([local_row(name, v) for name, v in f.locals.items()])
                except Error as e:    # a frame's DWARF entry or memory unreadable
                    gp.process.warn(f"goroutine {g.id} {f.function}: locals unreadable ({e})")
                    frames.append([])
            return GoroutineLocals(row, frames, gp.dwarf is not None, warnings=list(gp.warnings))
    raise DumpError(f"no goroutine {args.id} in the dump")
