"""``top``: the objects and the roots that keep the most memory alive (dominator tree)."""

from __future__ import annotations

from ..results import RetainedObject, RetainedRoot, RootsRow, TopRetained, TopRoots
from ._heap import heap_index, positive

HELP = ("what keeps the most memory alive: objects by retained bytes (all they alone hold), "
        "and the globals and goroutine frames that alone hold the most")


def add_arguments(parser) -> None:
    """Add --n, --by and --nested."""
    parser.add_argument("--n", type=positive, default=20, help="rows of each list (default 20)")
    parser.add_argument("--by", choices=("retained", "size", "root"), default="retained",
                        help="rank objects by retained bytes (default) or by their own slot size; "
                             "root: list only the roots, summed by name (all goroutines' "
                             "main.handle.r frames are one row)")
    parser.add_argument("--nested", action="store_true",
                        help="with --by retained, rank every live object, also those inside "
                             "another's retained set (by default only objects no other object dominates)")


def run(gp, args) -> TopRetained | TopRoots:
    """Return the top objects and roots of the dominator tree of the live heap (with
    ``--by root``, the roots summed by name)."""
    hi = heap_index(gp)
    dom = gp.dominators()
    if args.by == "root":
        return _by_root(gp, hi, dom, args.n)
    names: dict[int, str] = {}
    objects = []
    for i in dom.top(args.n, by=args.by, nested=args.nested).tolist():
        r = int(hi.reach.root[i])
        info = dom.root_info(r) if r >= 0 else None
        tid = int(hi.type_id[i])
        if tid not in names:
            names[tid] = hi.type_name(tid)
        objects.append(RetainedObject(
            address=int(hi.heap.addr[i]), type=names[tid], size=int(hi.heap.size[i]),
            retained=int(dom.retained[i]), retained_objects=int(dom.retained_count[i]),
            root=info.name if info else None, root_kind=info.kind if info else None,
            shared=dom.holder_of(i) < 0))
    roots = []
    for k in dom.top_groups(args.n).tolist():
        if not dom.group_retained[k]:
            break
        info = dom.group_info(k)
        roots.append(RetainedRoot(root=info.name, kind=info.kind, goroutine=info.goroutine,
                                  type=info.type, retained=int(dom.group_retained[k]),
                                  retained_objects=int(dom.group_count[k])))
    return TopRetained(by=args.by, nested=args.nested, objects=objects, roots=roots,
                       live_objects=hi.live_count, live_bytes=hi.live_bytes,
                       shared_bytes=dom.shared_retained, shared_objects=dom.shared_count,
                       warnings=list(gp.warnings))


def _by_root(gp, hi, dom, n: int) -> TopRoots:
    """Return the ``n`` root names that alone keep the most alive."""
    by = dom.roots_by_name()
    rows = []
    for i in range(min(n, len(by))):
        if not by.retained[i]:
            break
        info = dom.group_info(int(by.group[i]))
        rows.append(RootsRow(root=by.name[i], kind=info.kind,
                             type=info.type if info.kind == "global" or info.variable else None,
                             roots=int(by.groups[i]), goroutines=int(by.goroutines[i]),
                             retained=int(by.retained[i]), retained_objects=int(by.retained_objects[i])))
    return TopRoots(rows=rows, named_variables=gp.dwarf is not None, live_objects=hi.live_count,
                    live_bytes=hi.live_bytes, shared_bytes=dom.shared_retained,
                    shared_objects=dom.shared_count, warnings=list(gp.warnings))
