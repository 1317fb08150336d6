"""Marking: which heap objects are reachable from the roots table (roots.py), and a path
from a root to each.

Marking is a breadth-first search over the CSR edges, one numpy frontier per level (long
thin chains switch to a small queue loop). ``parent`` (int32, -1 for roots and unreached)
and ``root_of`` give a shortest path from a root to every reached object.
"""

from __future__ import annotations

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
    """The result of marking: per object ``reached``, ``parent``, ``root``. The pointer
    marking followed is the parent's first one to the object (``Edges.offset_to``): not
    kept per object (4 bytes each, at the marking's peak)."""

    heap: Heap
    edges: Edges
    roots: RootTable
    reached: np.ndarray     # bool[N]
    parent: np.ndarray      # int32[N]: the object that first reached it; -1 for roots/unreached
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
            chain.append((p, self.edges.offset_to(p, cur)))
            cur = p
        chain.reverse()
        return self.roots.describe(int(self.root[i])), chain


def mark(heap: Heap, edges: Edges, roots: RootTable) -> Reach:
    """Breadth-first marking from ``roots`` over ``edges`` (compiled: ``markkernels``)."""
    from .markkernels import bfs_mark
    n = len(heap)
    reached = np.zeros(n, dtype=bool)
    parent = np.full(n, -1, dtype=np.int32)
    root = np.full(n, -1, dtype=np.int32)
    objs, first = np.unique(roots.obj, return_index=True)
    reached[objs] = True
    root[objs] = first
    bfs_mark(objs.astype(np.int32), edges.start, edges.dst, reached, parent, root,
             np.empty(n, dtype=np.int32), np.zeros(n, dtype=bool))
    return Reach(heap, edges, roots, reached, parent, root)


def reach_of(gp: GoProcess) -> Reach:
    """Return the marking of ``gp``'s heap from its roots (the HeapIndex's root set)."""
    heap, _, edges = edges_of(gp)
    return mark(heap, edges, collect_roots(gp, heap, edges))
