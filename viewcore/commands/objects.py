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
    tids, row = np.unique(hi.type_id[ids], return_inverse=True)
    names = [hi.type_name(int(t)) for t in tids]
    return ObjectList(hi.heap.addr[ids], hi.heap.size[ids], row.ravel().astype(np.int32), names,
                      total, list(gp.warnings))
