"""``object ADDRESS``: one heap object, field by field."""

from __future__ import annotations

from gocore import DumpError

from ..render.values import field_value_text
from ..results import FieldRow, ObjectDetail
from ._heap import address, heap_index, positive

HELP = "one heap object (ADDRESS may point inside it): type, size, fields and their targets"


def add_arguments(parser) -> None:
    """Take the address and --limit."""
    parser.add_argument("address", type=address, help="hex (with or without 0x) or decimal")
    parser.add_argument("--limit", type=positive, default=256, help="at most N fields (default 256)")


def run(gp, args) -> ObjectDetail:
    """Return the object holding ``args.address``; exit 1 if none does."""
    hi = heap_index(gp)
    i = hi.find(args.address)
    if i < 0:
        raise DumpError(f"{args.address:#x} is not inside an allocated heap object")
    fields, cut = hi.fields(i, args.limit)
    return ObjectDetail(
        address=int(hi.heap.addr[i]), size=int(hi.heap.size[i]), type=hi.name_of(i),
        live=bool(hi.live[i]), query=args.address, data_offset=int(hi.data_off[i]),
        fields=[FieldRow(f.path, f.offset, f.type, field_value_text(f), f.pointer, f.target_type)
                for f in fields],
        truncated=cut, warnings=list(gp.warnings))
