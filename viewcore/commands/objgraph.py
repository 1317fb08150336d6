"""``objgraph -o FILE``: a Graphviz DOT graph of part of the heap, pruned to its big holders.

``--addr``: the object, the path that keeps it alive, and what it alone holds (its subtree
of the dominator tree), ``--depth`` levels down. ``--root NAME``: what a root alone holds
(``main.cache``; ``main.handle.r``: every goroutine's such frame), ``--depth`` levels down.
Neither: the live heap summarised by reference chain (as ``pprof`` counts it), one node
per type along each path from a root, with objects and bytes.

As pprof's ``-nodefraction``, a node is drawn only when it retains at least
``--node-fraction`` of the live heap; the children a node loses are one ``… N more
(B bytes)`` node under it. The dominator tree is drawn rather than every pointer because
there what a node retains is its own slot plus its children's, so what is cut is exact.
Nodes are weighted by what they retain (pen width and font size).
"""

from __future__ import annotations

import argparse
from collections import deque

import numpy as np

from gocore import DumpError

from ..results import WrittenFile
from ._heap import address, heap_index, positive

HELP = ("write a Graphviz DOT graph of the big holders: around an object (--addr), under a root "
        "(--root), or of the whole heap")
MAX_NODES = 300      # drawn at most even with --node-fraction 0: the rest are "… N more" too
_ROOT_STYLE = {"shape": "box", "style": "filled", "fillcolor": "lightgrey"}


def fraction(text: str) -> float:
    """Parse a share of the live heap, from 0 (draw all) to 1."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return v


def add_arguments(parser) -> None:
    """Take the output file, what to draw, how deep and how much to prune."""
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="DOT file to write")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--root", metavar="NAME",
                      help="a root as `top --by root` names it: a global (main.cache), a frame variable (main.handle.r)")
    what.add_argument("--addr", type=address, metavar="ADDRESS", help="an object (hex or decimal)")
    parser.add_argument("--depth", type=positive, default=3, help="levels below the start (default 3)")
    parser.add_argument("--node-fraction", type=fraction, default=0.005, metavar="F",
                        help="draw only nodes retaining at least F of the live heap (default 0.005, "
                             "as pprof's -nodefraction); the rest of a node's children are one "
                             f"'… N more' node; at most {MAX_NODES} nodes")


def _weight(retained: int, live: int) -> dict[str, str]:
    """Return the DOT attributes that make a node retaining ``retained`` of ``live`` bytes stand out."""
    share = min(1.0, retained / live) if live else 0.0
    return {"penwidth": f"{1 + 5 * share:.2f}", "fontsize": f"{10 + 12 * share ** 0.5:.1f}"}


def _more(dot, parent: str, n: int, nbytes: int) -> None:
    """Draw the ``n`` children ``parent`` loses, retaining ``nbytes``, as one node."""
    dot.node(f"{parent}_more", f"… {n} more ({nbytes} bytes)", shape="note", style="dashed")
    dot.edge(parent, f"{parent}_more", style="dashed")


def _edge(hi, dot, parent: str, parent_id: int | None, child: int) -> None:
    """Draw an edge from DOT node ``parent`` (object ``parent_id``, None for a root) to object
    ``child``: labelled with the field when the object points at it, else dashed."""
    if parent_id is None:
        dot.edge(parent, f"o{child}")
        return
    dst, off = hi.edges.out(parent_id)
    hit = np.flatnonzero(dst == child)
    if not len(hit):
        dot.edge(parent, f"o{child}", style="dashed")
        return
    o = int(off[hit[0]])
    label = hi.field_path(int(hi.type_id[parent_id]), o - int(hi.data_off[parent_id]))
    dot.edge(parent, f"o{child}", label=label or f"+{o:#x}")


class _Tree:
    """Draws subtrees of the dominator tree, pruned by retained bytes."""

    def __init__(self, hi, dom, dot, node_fraction: float):
        self.hi, self.dom, self.dot = hi, dom, dot
        self.live = int(hi.live_bytes)
        self.threshold = node_fraction * self.live
        self.drawn = 0

    def node(self, i: int, **extra) -> None:
        """Draw object ``i``: its type, address, slot and retained bytes."""
        hi, r = self.hi, int(self.dom.retained[i])
        self.dot.node(f"o{i}", f"{hi.name_of(i)}\\n{int(hi.heap.addr[i]):#x}\\n{int(hi.heap.size[i])} B, "
                               f"retains {r} bytes", **_weight(r, self.live), **extra)
        self.drawn += 1

    def below(self, top: str, top_id: int | None, kids: np.ndarray, depth: int) -> None:
        """Draw ``kids`` (dominator-tree children, the most retained first) under DOT node
        ``top`` and their own children, ``depth`` levels in all, level by level."""
        queue = deque([(top, top_id, kids, 1)])
        while queue:
            name, parent_id, kids, level = queue.popleft()
            big = int(np.count_nonzero(self.dom.retained[kids] >= self.threshold))   # a prefix: sorted
            keep = kids[:max(0, min(big, MAX_NODES - self.drawn))]
            for k in keep.tolist():          # at most MAX_NODES in all
                self.node(k)
                _edge(self.hi, self.dot, name, parent_id, k)
                if level < depth:
                    queue.append((f"o{k}", k, self.dom.children(k), level + 1))
            lost = kids[len(keep):]
            if len(lost):
                _more(self.dot, name, len(lost), int(self.dom.retained[lost].sum()))


def _around(hi, dom, addr: int, depth: int, dot, node_fraction: float) -> int:
    i = hi.find(addr)
    if i < 0 or not hi.live[i]:
        raise DumpError(f"{addr:#x} is not a live heap object")
    tree = _Tree(hi, dom, dot, node_fraction)
    root, steps = hi.path(i)
    dot.node("root", f"{root.name}\\n({root.kind})", **_ROOT_STYLE)
    prev, prev_id = "root", None
    for st in steps:
        tree.node(st.id, **({"style": "bold"} if st.id == i else {}))
        _edge(hi, dot, prev, prev_id, st.id)    # the path follows pointers
        prev, prev_id = f"o{st.id}", st.id
    tree.below(f"o{i}", i, dom.children(i), depth)
    return tree.drawn


def _under_root(hi, dom, name: str, depth: int, dot, node_fraction: float) -> int:
    groups = dom.groups_named(name)
    if not len(groups):
        raise DumpError(f"no root named {name} holds a heap object")
    many = f"\\n{len(groups)} roots" if len(groups) > 1 else ""
    dot.node("root", f"{name}{many}\\nalone retains {int(dom.group_retained[groups].sum())} bytes", **_ROOT_STYLE)
    tree = _Tree(hi, dom, dot, node_fraction)
    tree.below("root", None, dom.children_of_groups(groups), depth)
    return tree.drawn


def _depths(parent: np.ndarray) -> np.ndarray:
    """Return each node's depth in the tree ``parent`` (-1 at the top: depth 0)."""
    depth = np.zeros(len(parent), np.int64)
    up = parent.astype(np.int64).copy()
    while (up >= 0).any():           # one pass per level: chains are cut at max_depth
        on = up >= 0
        depth[on] += 1
        up[on] = parent[up[on]]
    return depth


def _merged(tree) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (labels, parent, count, bytes, depth) of the chain tree with the chains of all
    goroutines merged: one node per label path (``main.handle`` <- ``main.handle.r`` for
    every goroutine parked there), as pprof merges the samples of one stack."""
    depth = _depths(tree.parent)
    node = np.empty(len(depth), np.int64)       # merged node per chain node
    labels: list[np.ndarray] = []
    parents: list[np.ndarray] = []
    made = 0
    for d in range(int(depth.max(initial=-1)) + 1):      # level by level: parents first
        at = np.flatnonzero(depth == d)
        up = node[tree.parent[at]] if d else np.full(len(at), -1, np.int64)
        pairs, inv = np.unique(np.stack([up, tree.label[at].astype(np.int64)], axis=1), axis=0,
                               return_inverse=True)
        node[at] = made + np.asarray(inv).ravel()
        parents.append(pairs[:, 0])
        labels.append(pairs[:, 1])
        made += len(pairs)
    parent = np.concatenate(parents) if parents else np.zeros(0, np.int64)
    label = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    count = np.bincount(node, weights=tree.count.astype(np.float64), minlength=made)
    nbytes = np.bincount(node, weights=tree.bytes.astype(np.float64), minlength=made)
    return ([tree.labels[k] for k in label.tolist()], parent, np.rint(count).astype(np.int64),
            np.rint(nbytes).astype(np.int64), _depths(parent))


def _chains(gp, hi, dot, node_fraction: float) -> int:
    labels, parent, count, own, depth = _merged(gp.reference_chains())
    live = int(hi.live_bytes)
    cum = own.copy()                 # what hangs on paths through each node
    for d in range(int(depth.max(initial=0)), 0, -1):
        at = np.flatnonzero(depth == d)
        np.add.at(cum, parent[at], cum[at])
    order = np.lexsort((np.arange(len(cum)), -cum.astype(np.float64)))
    big = order[cum[order] >= node_fraction * live][:MAX_NODES]
    keep = np.zeros(len(cum), bool)
    keep[big] = True
    # a node's ancestors retain at least as much, but ties at the cut may leave one out
    for k in big.tolist():           # at most MAX_NODES
        p = int(parent[k])
        while p >= 0 and not keep[p]:
            keep[p] = True
            p = int(parent[p])
    for k in np.flatnonzero(keep).tolist():
        p = int(parent[k])
        dot.node(f"n{k}", f"{labels[k]}\\n{int(count[k])} objects, {int(cum[k])} bytes on paths through here",
                 **(_ROOT_STYLE if p < 0 else {}), **_weight(int(cum[k]), live))
        if p >= 0:
            dot.edge(f"n{p}", f"n{k}")
    # what each drawn node (and the top) loses
    lost = np.flatnonzero(~keep)
    up = parent[lost]
    under = (up < 0) | keep[np.maximum(up, 0)]
    lost, up = lost[under], up[under]
    slot = np.where(up < 0, len(cum), up)
    n = np.bincount(slot, minlength=len(cum) + 1)
    b = np.bincount(slot, weights=cum[lost].astype(np.float64), minlength=len(cum) + 1)
    for p in np.flatnonzero(n).tolist():   # one per drawn node
        if p == len(cum):
            dot.node("top", "live heap", **_ROOT_STYLE)
            _more(dot, "top", int(n[p]), int(round(b[p])))
        else:
            _more(dot, f"n{p}", int(n[p]), int(round(b[p])))
    return int(keep.sum())


def run(gp, args) -> WrittenFile:
    """Write the DOT file; return what was written."""
    import graphviz  # imported only to draw a graph
    hi = heap_index(gp)
    dot = graphviz.Digraph("heap", graph_attr={"rankdir": "LR"}, node_attr={"shape": "ellipse", "fontsize": "10"},
                           edge_attr={"fontsize": "9"})
    if args.addr is not None:
        n = _around(hi, gp.dominators(), args.addr, args.depth, dot, args.node_fraction)
    elif args.root is not None:
        n = _under_root(hi, gp.dominators(), args.root, args.depth, dot, args.node_fraction)
    else:
        n = _chains(gp, hi, dot, args.node_fraction)
    text = dot.source
    with open(args.output, "w") as f:
        f.write(text)
    return WrittenFile(args.output, "dot", len(text), hi.live_count, hi.live_bytes, n)
