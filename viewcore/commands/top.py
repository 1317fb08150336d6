"""``top``: the objects and the roots that keep the most memory alive (dominator tree)."""

from __future__ import annotations

import argparse

from gocore import DumpError

from ..results import RetainedObject, RetainedRoot, RootsRow, TopRetained, TopRoots
from ..walkresults import ChildRow, UnderResult
from ._heap import address, heap_index, positive

HELP = ("what keeps the most memory alive: objects by retained bytes (all they alone hold), "
        "and the globals and goroutine frames that alone hold the most")


class _Alone(argparse.Action):
    """Stores an option's value, a usage error (exit 2) when ``--under`` and a ranking
    option (``--by``, ``--nested``) are both given: the children of a node are ranked by
    retained bytes only."""

    def __call__(self, parser, namespace, values, option_string=None):
        clash = ("by", "nested") if self.dest == "under" else ("under",)
        for other in clash:
            if getattr(namespace, other, None):
                parser.error(f"argument {option_string}: not allowed with argument --{other}")
        setattr(namespace, self.dest, True if self.nargs == 0 else values)


def add_arguments(parser) -> None:
    """Add --n, --by, --nested and --under."""
    parser.add_argument("--n", type=positive, default=20, help="rows of each list (default 20)")
    parser.add_argument("--by", choices=("retained", "size", "root"), action=_Alone,
                        help="rank objects by retained bytes (default) or by their own slot size; "
                             "root: list only the roots, summed by name (all goroutines' "
                             "main.handle.r frames are one row)")
    parser.add_argument("--nested", action=_Alone, nargs=0, default=False,
                        help="with --by retained, rank every live object, also those inside "
                             "another's retained set (by default only objects no other object dominates)")
    parser.add_argument("--under", metavar="ADDR|ROOT", action=_Alone,
                        help="the children of one node of the dominator tree, the most retained "
                             "first, with what each alone keeps alive: of a live object (an address "
                             "inside it), or of a root as --by root names it (main.cache; "
                             "main.handle.r: all its goroutines)")


def run(gp, args) -> TopRetained | TopRoots | UnderResult:
    """Return the top objects and roots of the dominator tree of the live heap (with
    ``--by root``, the roots summed by name)."""
    hi = heap_index(gp)
    dom = gp.dominators()
    if args.under is not None:
        return _under(gp, hi, dom, args.under, args.n)
    by = args.by or "retained"
    if by == "root":
        return _by_root(gp, hi, dom, args.n)
    names: dict[int, str] = {}
    objects = []
    for i in dom.top(args.n, by=by, nested=args.nested).tolist():
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
    return TopRetained(by=by, nested=args.nested, objects=objects, roots=roots,
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


def _under(gp, hi, dom, what: str, n: int) -> UnderResult:
    """Return the children in the dominator tree of the object at address ``what`` or of
    the root groups named ``what``: the ``n`` that retain the most."""
    try:
        addr = address(what)
    except argparse.ArgumentTypeError:
        addr = None                  # not a number: a root name
    if addr is not None:
        i = hi.find(addr)
        if i < 0 or not hi.live[i]:
            raise DumpError(f"{addr:#x} is not in a live heap object")
        kids = dom.children(i)
        node = dict(kind="object", address=int(hi.heap.addr[i]), type=hi.name_of(i),
                    size=int(hi.heap.size[i]), root=None, root_kind=None, roots=0,
                    retained=int(dom.retained[i]), retained_objects=int(dom.retained_count[i]))
    else:
        groups = dom.groups_named(what)
        if not len(groups):
            raise DumpError(f"no root named {what} points into the heap "
                            f"(top --by root and reachable name them)")
        kids = dom.children_of_groups(groups)
        info = dom.group_info(int(groups[0]))
        node = dict(kind="root", address=None,
                    type=info.type if info.kind == "global" or info.variable else None,
                    size=None, root=what, root_kind=info.kind, roots=len(groups),
                    retained=int(dom.group_retained[groups].sum()),
                    retained_objects=int(dom.group_count[groups].sum()))
    shown = kids[:n]
    names: dict[int, str] = {}
    rows = []
    for k in shown.tolist():         # at most --n rows
        tid = int(hi.type_id[k])
        if tid not in names:
            names[tid] = hi.type_name(tid)
        goroutine = dom.group_info(int(dom.holder[k])).goroutine if node["kind"] == "root" else None
        rows.append(ChildRow(address=int(hi.heap.addr[k]), type=names[tid], size=int(hi.heap.size[k]),
                             retained=int(dom.retained[k]), retained_objects=int(dom.retained_count[k]),
                             goroutine=goroutine))
    more = int(dom.retained[kids[n:]].sum()) if len(kids) > n else 0
    return UnderResult(**node, rows=rows, children=len(kids), more_retained=more,
                       live_objects=hi.live_count, live_bytes=hi.live_bytes, warnings=list(gp.warnings))
