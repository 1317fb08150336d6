"""``reachable ADDRESS``: a shortest path from a root to the object holding ADDRESS."""

from __future__ import annotations

from gocore import DumpError

from ..results import PathObject, PathObjects, PathRoot, ReachableAll, ReachablePath
from ._heap import address, heap_index

HELP = "why an object is live: a shortest path from a root (global, frame, finalizer) to it"


def add_arguments(parser) -> None:
    """Take the address and --all."""
    parser.add_argument("address", type=address, help="hex (with or without 0x) or decimal")
    parser.add_argument("--all", action="store_true",
                        help="one shortest path from each distinct root that reaches it (up to 16)")


def _result(hi, addr: int, i: int, root, objects, warnings) -> ReachablePath:
    return ReachablePath(
        address=addr, type=hi.name_of(i),
        root=PathRoot(root.name, root.kind, root.goroutine, root.address, root.offset, root.type),
        objects=objects, warnings=warnings)


def _objects(steps) -> list[PathObject]:
    return [PathObject(s.address, s.size, s.type, s.offset, s.field) for s in steps]


def run(gp, args) -> ReachablePath | ReachableAll:
    """Return the path (or every root's path); exit 1 for a non-heap or unreachable address."""
    hi = heap_index(gp)
    i = hi.find(args.address)
    if i < 0:
        raise DumpError(f"{args.address:#x} is not inside an allocated heap object")
    if not hi.live[i]:
        raise DumpError(f"{args.address:#x} ({hi.name_of(i)} at {int(hi.heap.addr[i]):#x}) "
                        "is not reachable from any root")
    w = list(gp.warnings)
    if args.all:
        return ReachableAll([_result(hi, args.address, i, r, _objects(s), w)
                             for r, s in hi.all_paths(i)], w)
    root, columns = hi.path_columns(i)       # columns: a path may be millions of objects
    return _result(hi, args.address, i, root, PathObjects(columns), w)
