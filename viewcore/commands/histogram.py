"""``histogram``: live heap objects by type and slot size."""

from __future__ import annotations

from ..results import Histogram, HistogramRow
from ._heap import heap_index, positive

HELP = "live heap by type: count, slot size and bytes per type (largest first)"


def add_arguments(parser) -> None:
    """Add --top and --sort."""
    parser.add_argument("--top", type=positive, help="only the first N rows")
    parser.add_argument("--sort", choices=("bytes", "count"), default="bytes",
                        help="order rows by total bytes (default) or by object count")


def run(gp, args) -> Histogram:
    """Return the histogram rows (sorted, cut at --top) and the heap totals."""
    hi = heap_index(gp)
    names, sizes, counts, nbytes = hi.histogram()
    rows = [HistogramRow(n, int(c), int(s), int(b)) for n, s, c, b in zip(names, sizes, counts, nbytes)]
    if args.sort == "count":
        rows.sort(key=lambda r: (-r.count, -r.bytes, r.type))
    n = len(rows)
    if args.top:
        rows = rows[:args.top]
    return Histogram(rows, hi.live_count, hi.live_bytes, n, list(gp.warnings))
