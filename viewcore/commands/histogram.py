"""``histogram``: live heap objects by type and slot size, backing arrays by slice type."""

from __future__ import annotations

from ..results import Histogram, HistogramRow
from ._heap import heap_index, positive, wants_json

HELP = ("live heap by type: count, slot size and bytes per type (largest first); the backing "
        "arrays of one slice type are one row unless --by-slot")


def add_arguments(parser) -> None:
    """Add --top, --sort and --by-slot."""
    parser.add_argument("--top", type=positive, help="only the first N rows")
    parser.add_argument("--sort", choices=("bytes", "count"), default="bytes",
                        help="order rows by total bytes (default) or by object count")
    parser.add_argument("--by-slot", action="store_true",
                        help="one row per backing-array slot count ([1023]*main.Leak, [39]string) "
                             "instead of one per slice element type")
    parser.add_argument("--grouped", action="store_true",
                        help="with --json: backing arrays grouped by slice type as in the text "
                             "(without it --json keeps one row per type and slot size)")


def run(gp, args) -> Histogram:
    """Return the histogram rows (sorted, cut at --top) and the heap totals."""
    hi = heap_index(gp)
    # --json keeps the contract's rows (one per type and slot size); the grouping is for people
    by_slot = args.by_slot or (wants_json(args) and not args.grouped)
    rows = [HistogramRow(g.type, g.count, g.size, g.bytes, g.backing_arrays)
            for g in gp.type_groups(by_slot=by_slot)]
    if args.sort == "count":
        rows.sort(key=lambda r: (-r.count, -r.bytes, r.type))
    n = len(rows)
    if args.top:
        rows = rows[:args.top]
    return Histogram(rows, hi.live_count, hi.live_bytes, n, list(gp.warnings))
