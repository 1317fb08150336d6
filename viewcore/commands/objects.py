"""``objects``: live heap objects in address order."""

from __future__ import annotations

import numpy as np

from ..results import ObjectList
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
    # the types present by counting over the few thousand type ids, not by sorting the
    # objects' (np.unique over 6.7 M objects: 0.17 s)
    shifted = np.asarray(hi.type_id[ids], dtype=np.int64) + 1  # unknown (-1) counts as 0
    counts = np.bincount(shifted)
    present = np.flatnonzero(counts)
    row_of = np.zeros(len(counts), dtype=np.int32)
    row_of[present] = np.arange(len(present), dtype=np.int32)
    names = [hi.type_name(int(t) - 1) for t in present]
    return ObjectList(hi.heap.addr[ids], hi.heap.size[ids], row_of[shifted], names,
                      total, list(gp.warnings))
