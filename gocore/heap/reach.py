"""Marking: which heap objects are reachable from the roots table (roots.py), and a path
from a root to each.

Marking is a breadth-first search over the CSR edges, one numpy frontier per level (long
thin chains switch to a small queue loop). ``parent`` (int32, -1 for roots and unreached)
and ``root_of`` give a shortest path from a root to every reached object.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .edges import Edges, edges_of
from .heap import Heap
from .roots import RootTable, collect_roots

if TYPE_CHECKING:
    from ..process import GoProcess


@dataclass
class Reach:
    """The result of marking: per object ``reached``, ``parent``, ``parent_off``, ``root``."""

    heap: Heap
    edges: Edges
    roots: RootTable
    reached: np.ndarray     # bool[N]
    parent: np.ndarray      # int32[N]: the object that first reached it; -1 for roots/unreached
    parent_off: np.ndarray  # uint32[N]: byte offset of the pointer in the parent
    root: np.ndarray        # int32[N]: row in ``roots`` the object was reached from; -1 unreached

    @property
    def live_count(self) -> int:
        """Return the number of reached objects."""
        return int(self.reached.sum())

    @property
    def live_bytes(self) -> int:
        """Return the slot bytes of the reached objects."""
        return int(self.heap.size[self.reached].sum(dtype=np.uint64))

    def path(self, i: int) -> tuple[str | None, list[tuple[int, int]]]:
        """Return (root description, [(object id, byte offset of the next pointer)...]).

        The list runs from the root's object to ``i``; the offset of the last entry is -1.
        Unreached objects give (None, []).
        """
        if not self.reached[i]:
            return None, []
        chain = [(int(i), -1)]
        cur = int(i)
        for _ in range(len(self.parent)):
            p = int(self.parent[cur])
            if p < 0:
                break
            chain.append((p, int(self.parent_off[cur])))
            cur = p
        chain.reverse()
        return self.roots.describe(int(self.root[i])), chain


def mark(heap: Heap, edges: Edges, roots: RootTable, small_frontier: int = 32,
         queue_limit: int = 4096) -> Reach:
    """Breadth-first marking from ``roots`` over ``edges``."""
    n = len(heap)
    reached = np.zeros(n, dtype=bool)
    parent = np.full(n, -1, dtype=np.int32)
    parent_off = np.zeros(n, dtype=np.uint32)
    root = np.full(n, -1, dtype=np.int32)
    objs, first = np.unique(roots.obj, return_index=True)
    reached[objs] = True
    root[objs] = first
    frontier = objs.astype(np.int64)
    start, dst, off = edges.start, edges.dst, edges.off
    while len(frontier):
        if len(frontier) < small_frontier:
            frontier = _queue_steps(frontier, start, dst, off, reached, parent, parent_off, root,
                                    queue_limit)
            continue
        frontier = _level(frontier, start, dst, off, reached, parent, parent_off, root)
    return Reach(heap, edges, roots, reached, parent, parent_off, root)


def _level(frontier, start, dst, off, reached, parent, parent_off, root, max_edges: int = 1 << 21):
    """Reach the unreached targets of ``frontier``'s edges (one BFS level); return them sorted.

    The level's edges are taken a run of frontier objects at a time (at most about
    ``max_edges`` edges), in frontier order, so each target keeps its first edge in that
    order as its parent, as if the whole level were done at once.
    """
    s = start[frontier]
    cnt = start[frontier + 1] - s
    cum = np.cumsum(cnt)
    out = []
    lo = 0
    while lo < len(frontier):
        base = int(cum[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(cum, base + max_edges, side="right")), lo + 1)
        c = cnt[lo:hi]
        cc = cum[lo:hi] - base                    # end of each object's edges in the run
        total = int(cc[-1])
        if total:
            e = np.arange(total, dtype=np.int64)
            e += np.repeat(s[lo:hi] - (cc - c), c)
            d = dst[e]
            pos = np.flatnonzero(~reached[d])
            d = d[pos]
            d, firsts = np.unique(d, return_index=True)
            pos = pos[firsts]
            src = frontier[lo + np.searchsorted(cc, pos, side="right")]
            reached[d] = True
            parent[d] = src
            parent_off[d] = off[e[pos]]
            root[d] = root[src]
            out.append(d)
            del e, pos, src
        lo = hi
    if not out:
        return np.zeros(0, dtype=np.int64)
    nxt = out[0] if len(out) == 1 else np.sort(np.concatenate(out), kind="stable")
    return nxt.astype(np.int64)


def _queue_steps(frontier, start, dst, off, reached, parent, parent_off, root, limit):
    """FIFO marking in Python while the frontier is thin (linked lists); returns a new frontier."""
    q = deque(int(x) for x in frontier)
    while q and len(q) < limit:
        u = q.popleft()
        a, b = int(start[u]), int(start[u + 1])
        if a == b:
            continue
        ds = dst[a:b]
        new = np.flatnonzero(~reached[ds]) if b - a > 8 else [j for j in range(b - a) if not reached[ds[j]]]
        ru = root[u]
        for j in new:
            v = int(ds[j])
            if reached[v]:
                continue
            reached[v] = True
            parent[v] = u
            parent_off[v] = off[a + j]
            root[v] = ru
            q.append(v)
    return np.array(q, dtype=np.int64)


def reach_of(gp: GoProcess) -> Reach:
    """Return the marking of ``gp``'s heap from its roots (the HeapIndex's root set)."""
    heap, _, edges = edges_of(gp)
    return mark(heap, edges, collect_roots(gp, heap, edges))
