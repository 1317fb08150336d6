"""``objgraph -o FILE``: a Graphviz DOT graph of part of the heap.

``--addr``: the object, the path that keeps it alive, and what it points to, ``--depth``
levels down. ``--root NAME``: what a root (``main.cache``) holds, ``--depth`` levels down.
Neither: the live heap summarised by reference chain (as ``pprof`` counts it), one node
per type along each path from a root, with objects and bytes.
"""

from __future__ import annotations

import numpy as np

from gocore import DumpError

from ..results import WrittenFile
from ._heap import address, heap_index, positive

HELP = "write a Graphviz DOT graph: around an object (--addr), under a root (--root), or of the whole heap"
MAX_NODES = 300


def add_arguments(parser) -> None:
    """Take the output file, what to draw, and how deep."""
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="DOT file to write")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--root", metavar="NAME", help="a root: a global (main.cache) as `reachable` names it")
    what.add_argument("--addr", type=address, metavar="ADDRESS", help="an object (hex or decimal)")
    parser.add_argument("--depth", type=positive, default=3, help="levels below the start (default 3)")


def _label(hi, i: int) -> str:
    return f"{hi.name_of(i)}\\n{int(hi.heap.addr[i]):#x}\\n{int(hi.heap.size[i])} B"


def _below(hi, start: list[int], depth: int, dot, seen: set[int]) -> None:
    """Draw the objects reachable from ``start`` up to ``depth`` edges, at most MAX_NODES."""
    frontier = list(start)
    for _ in range(depth):
        nxt = []
        for i in frontier:
            dst, off = hi.edges.out(i)
            for d, o in zip(dst.tolist(), off.tolist()):
                if len(seen) >= MAX_NODES:
                    return
                if d not in seen:
                    seen.add(d)
                    dot.node(f"o{d}", _label(hi, d))
                    nxt.append(d)
                dot.edge(f"o{i}", f"o{d}", label=hi.field_path(int(hi.type_id[i]), o - int(hi.data_off[i]))
                         or f"+{o:#x}")
        frontier = nxt


def _around(hi, addr: int, depth: int, dot) -> int:
    i = hi.find(addr)
    if i < 0 or not hi.live[i]:
        raise DumpError(f"{addr:#x} is not a live heap object")
    root, steps = hi.path(i)
    dot.node("root", f"{root.name}\\n({root.kind})", shape="box", style="filled", fillcolor="lightgrey")
    prev, seen = "root", set()
    for st in steps:
        seen.add(st.id)
        dot.node(f"o{st.id}", _label(hi, st.id), **({"style": "bold"} if st.id == i else {}))
        dot.edge(prev, f"o{st.id}")
        prev = f"o{st.id}"
    _below(hi, [i], depth, dot, seen)
    return len(seen)


def _under_root(hi, name: str, depth: int, dot) -> int:
    roots = hi.roots
    rows = [r for r in range(len(roots)) if roots.describe(r).split("+", 1)[0] == name]
    if not rows:
        raise DumpError(f"no root named {name} holds a heap object")
    dot.node("root", name, shape="box", style="filled", fillcolor="lightgrey")
    seen: set[int] = set()
    for r in rows:
        o = int(roots.obj[r])
        if o not in seen:
            seen.add(o)
            dot.node(f"o{o}", _label(hi, o))
        dot.edge("root", f"o{o}")
    _below(hi, sorted(seen), depth - 1, dot, seen)
    return len(seen)


def _chains(gp, hi, dot) -> int:
    tree = gp.reference_chains()
    # cumulative bytes per node, then keep the heaviest nodes and their ancestors
    cum = tree.bytes.astype(np.int64).copy()
    for k in sorted(range(len(cum)), key=lambda k: -_depth(tree, k)):
        p = int(tree.parent[k])
        if p >= 0:
            cum[p] += cum[k]
    keep = set()
    for k in np.argsort(-cum)[:MAX_NODES // 3].tolist():
        while k >= 0 and k not in keep:
            keep.add(k)
            k = int(tree.parent[k])
    for k in keep:
        shape = {"shape": "box", "style": "filled", "fillcolor": "lightgrey"} if tree.parent[k] < 0 else {}
        dot.node(f"n{k}", f"{tree.labels[int(tree.label[k])]}\\n{int(tree.count[k])} objects, "
                          f"{int(cum[k])} B on paths through here", **shape)
        if tree.parent[k] >= 0:
            dot.edge(f"n{int(tree.parent[k])}", f"n{k}")
    return len(keep)


def _depth(tree, k: int) -> int:
    d = 0
    while tree.parent[k] >= 0:
        k, d = int(tree.parent[k]), d + 1
    return d


def run(gp, args) -> WrittenFile:
    """Write the DOT file; return what was written."""
    import graphviz  # imported only to draw a graph
    hi = heap_index(gp)
    dot = graphviz.Digraph("heap", graph_attr={"rankdir": "LR"}, node_attr={"shape": "ellipse", "fontsize": "10"},
                           edge_attr={"fontsize": "9"})
    if args.addr is not None:
        n = _around(hi, args.addr, args.depth, dot)
    elif args.root is not None:
        n = _under_root(hi, args.root, args.depth, dot)
    else:
        n = _chains(gp, hi, dot)
    text = dot.source
    with open(args.output, "w") as f:
        f.write(text)
    return WrittenFile(args.output, "dot", len(text), hi.live_count, hi.live_bytes, n)
