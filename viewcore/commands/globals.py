"""``globals``: the package-level variables with their type, size and retained bytes."""

from __future__ import annotations

from gocore import DumpError

from ..walkresults import GlobalRow, GlobalsResult
from ._heap import heap_index, positive

HELP = "package-level variables: type, size and the heap bytes each alone keeps alive"


def add_arguments(parser) -> None:
    """Add --sort, --top and --filter."""
    parser.add_argument("--sort", choices=("retained", "name", "size"), default="retained",
                        help="by retained bytes (default), by name, or by the variable's own size")
    parser.add_argument("--top", type=positive, help="only the first N rows")
    parser.add_argument("--filter", metavar="TEXT", help="only globals whose name contains TEXT")


def run(gp, args) -> GlobalsResult:
    """Return the globals DWARF describes, sorted and cut as asked; exit 1 without DWARF."""
    if gp.dwarf is None:
        raise DumpError("globals needs DWARF: the executable has no debug information")
    heap_index(gp)
    retained = gp.global_retained()
    rows = []
    for name, v in gp.globals():
        if args.filter and args.filter not in name:
            continue
        r, n = retained.get(name, (0, 0))
        rows.append(GlobalRow(name, v.type_name, v.address, v.size, r, n))
    key = {"retained": lambda g: (-g.retained, g.name), "name": lambda g: g.name,
           "size": lambda g: (-g.size, g.name)}[args.sort]
    rows.sort(key=key)
    total = len(rows)
    if args.top:
        rows = rows[:args.top]
    return GlobalsResult(args.sort, rows, total, list(gp.warnings))
