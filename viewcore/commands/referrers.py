"""``referrers ADDR``: the heap objects and roots that point into an object, with the field."""

from __future__ import annotations

from gocore import DumpError

from ..walkresults import ReferrerRow, ReferrersResult
from ._heap import address, heap_index, positive

HELP = "who points at the object at ADDR: heap objects and roots, with the field of each pointer"


def add_arguments(parser) -> None:
    """Take the address and --limit."""
    parser.add_argument("address", type=address, help="hex (with or without 0x) or decimal; may point inside")
    parser.add_argument("--limit", type=positive, default=1000, help="at most N referrers (default 1000)")


def run(gp, args) -> ReferrersResult:
    """Return the referrers of the live object holding ``args.address``; exit 1 if none."""
    heap_index(gp)
    got = gp.referrers(args.address, args.limit)
    if got is None:
        raise DumpError(f"{args.address:#x} is not inside a live heap object")
    obj = gp.object_at(args.address)
    rows = []
    for r in got.rows:
        info = r.root
        rows.append(ReferrerRow(
            source="object" if info is None else "root", address=r.address, type=r.type,
            size=r.size, offset=r.offset, field=r.field, target_offset=r.target_offset,
            root=None if info is None else info.name, kind=None if info is None else info.kind,
            goroutine=None if info is None else info.goroutine))
    return ReferrersResult(obj.address, args.address, obj.type_name, obj.size, rows, got.objects,
                           got.roots, list(gp.warnings))
