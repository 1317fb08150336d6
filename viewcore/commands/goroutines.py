"""``goroutines``: every goroutine with its status and stack; grouping and filters."""

from __future__ import annotations

from ..results import GoroutineGroups, GoroutineRow, Rows, goroutine_row

HELP = "goroutines: id, status or wait reason, stack (--group merges identical stacks)"


def add_arguments(parser) -> None:
    """Add grouping and filter options."""
    parser.add_argument("--group", action="store_true",
                        help="one row per distinct stack and status, with a count")
    parser.add_argument("--status", help="only goroutines with this status (waiting, running, ...)")
    parser.add_argument("--wait-reason", help="only goroutines whose wait reason contains this text")
    parser.add_argument("--func", help="only goroutines with a frame whose function contains this text")
    parser.add_argument("--no-system", action="store_true", help="hide the runtime's own goroutines")


def select(goroutines, args) -> list:
    """Return the goroutines that pass the filters in ``args``."""
    out = []
    for g in goroutines:
        if args.status and g.status != args.status:
            continue
        if args.wait_reason and args.wait_reason not in (g.wait_reason or ""):
            continue
        if args.func and not any(args.func in f.func for f in g.frames):
            continue
        if args.no_system and g.system:
            continue
        out.append(g)
    return out


def run(gp, args) -> Rows | GoroutineGroups:
    """Return one row per goroutine (or per group of identical stacks)."""
    rows: list[GoroutineRow] = [goroutine_row(g) for g in select(gp.goroutines(), args)]
    if args.group:
        return GoroutineGroups.of(rows, list(gp.warnings))
    return Rows("goroutines", rows, list(gp.warnings))
