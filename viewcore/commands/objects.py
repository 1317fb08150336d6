"""``objects``: live heap objects in address order."""

from __future__ import annotations

import numpy as np

from ..results import ObjectList, ObjectRow
from ._heap import heap_index, positive

HELP = "live heap objects in address order (--type T: of type T exactly)"


def add_arguments(parser) -> None:
    """Add --type and --limit."""
    parser.add_argument("--type", dest="type_name", metavar="T", help="only objects of type T (exact name)")
    parser.add_argument("--limit", type=positive, help="at most N objects")


def run(gp, args) -> ObjectList:
    """Return the live objects (of the type asked), cut at --limit."""
    hi = heap_index(gp)
    ids = hi.objects_of(args.type_name)
    total = len(ids)
    if args.limit:
        ids = ids[:args.limit]
    addr = hi.heap.addr[ids].tolist()
    size = hi.heap.size[ids].tolist()
    tids = hi.type_id[ids]
    names = {int(t): hi.type_name(int(t)) for t in np.unique(tids)}
    rows = [ObjectRow(a, s, names[t]) for a, s, t in zip(addr, size, tids.tolist())]
    return ObjectList(rows, total, list(gp.warnings))
