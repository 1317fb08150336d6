"""Dominator tree of the live object graph, and retained sizes.

The graph is the heap's pointer edges plus virtual nodes above them: one super-root, one
node per root *group* (a global variable, a goroutine frame, a finalizer word, ...; the
words of one group are one root), each group pointing to the objects its words hit. An
object X dominates Y when every path from the super-root to Y passes through X; Y's
*retained size* is the slot bytes that would become garbage if Y were freed: its own slot
plus every object it dominates. A root group's retained size is what that root alone keeps
alive (goref charges each object to the first root that reaches it instead).

The algorithm is Lengauer-Tarjan's semidominators (with path compression) followed by
the "SNCA" step of Georgiadis et al. (idom(w) = nearest common ancestor of parent(w) and
sdom(w) in the tree built so far), compiled with numba over int32 arrays in DFS preorder:
no recursion, no Python per object (the kernels are in ``domkernels``).

Memory while it runs: about 32 bytes per live object plus 4 per live edge (measured peak
37-39 B per object on 5M- and 20M-object heaps: 0.65 s and 2.5 s); kept: ``idom`` (4),
``retained`` (8), ``retained_count`` (4), ``holder`` (4), ``order`` (4) bytes per object.
A tree computed once is kept with the heap index (``HeapIndex.dominators``) and read back
by later processes without numba.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from .roots import GLOBAL, FRAME

log = logging.getLogger(__name__)

_PYTHON_WALK = 256   # dominator-chain steps walked in Python before the compiled walk


# ---------------------------------------------------------------- the result


@dataclass
class Dominators:
    """Immediate dominators and retained sizes of the live objects of a HeapIndex.

    Per object id (arrays of the heap's length; dead objects: idom -1, retained 0):

    * ``idom`` int32: the immediate dominator, or -1 when only the super-root (or one root
      group) dominates it: a root object, or an object held through several roots;
    * ``retained`` uint64: slot bytes of the object and of everything it dominates;
    * ``retained_count`` int32: how many objects that is (the object included);
    * ``holder`` int32: for objects with ``idom`` -1, the root group that alone holds it,
      or -1 when several roots do (also -1 for the others);
    * ``order``: live object ids in a depth-first preorder (a dominator before every object
      it dominates).

    Per root group k (``group_of_row`` maps root rows to groups): ``group_row[k]`` (its
    first root row), ``group_retained[k]`` (bytes that root alone keeps alive),
    ``group_count[k]``. ``shared_retained`` / ``shared_count``: what only the super-root
    dominates (objects held through more than one root, and what they alone hold).
    """

    hi: object
    idom: np.ndarray
    retained: np.ndarray
    retained_count: np.ndarray
    holder: np.ndarray
    order: np.ndarray
    group_of_row: np.ndarray
    group_row: np.ndarray
    group_name: list[str]
    group_retained: np.ndarray
    group_count: np.ndarray
    shared_retained: int
    shared_count: int

    @cached_property
    def top_level(self) -> np.ndarray:
        """Return the live objects that no other object dominates (the super-root's children)."""
        live = self.hi.live
        return np.flatnonzero(live & (self.idom < 0)).astype(np.int32)

    def dominated(self, i: int) -> np.ndarray:
        """Return the ids of the objects ``i`` dominates (``i`` itself not included)."""
        if not self.hi.live[i]:
            return np.zeros(0, dtype=np.int32)
        from .domkernels import _under
        mask = _under(self.order, self.idom, np.int64(i))
        mask[i] = False
        return np.flatnonzero(mask).astype(np.int32)

    def top(self, n: int, by: str = "retained", nested: bool = False) -> np.ndarray:
        """Return the ids of up to ``n`` live objects, largest first.

        ``by="retained"`` ranks the top-level objects (those no other object dominates) by
        retained bytes, or every live object with ``nested``; ``by="size"`` ranks every live
        object by slot size. Ties go by address.
        """
        if by not in ("retained", "size"):
            raise ValueError(f"unknown ranking {by!r}")
        if by == "retained" and not nested:
            ids = self.top_level
        else:
            ids = self.hi.live_ids
        key = self.retained[ids] if by == "retained" else self.hi.heap.size[ids].astype(np.uint64)
        if len(ids) > n:
            part = np.argpartition(key, len(ids) - n)[len(ids) - n:]
            ids, key = ids[part], key[part]
        second = self.retained[ids]
        order = np.lexsort((ids, -second.astype(np.float64), -key.astype(np.float64)))
        return ids[order]

    def top_of(self, i: int) -> int:
        """Return the top-level object whose subtree holds ``i`` (``i`` itself if top-level)."""
        idom = self.idom
        for _ in range(_PYTHON_WALK):        # most chains are short: no compiled code
            d = int(idom[i])
            if d < 0:
                return int(i)
            i = d
        from .domkernels import _top_of
        return int(_top_of(idom, np.int64(i)))

    def holder_of(self, i: int) -> int:
        """Return the root group that alone keeps live object ``i`` alive, or -1 when no
        single root does (two or more roots reach it)."""
        return int(self.holder[self.top_of(i)])

    def root_info(self, row: int):
        """Return the RootInfo (name, kind, goroutine, ...) of root row ``row``."""
        return self.hi.root_info(int(row))

    def group_info(self, k: int):
        """Return the RootInfo (name, kind, goroutine, ...) of root group ``k``: its first
        word's, named as the group (a global variable, or ``goroutine N func`` for a frame)."""
        info = self.root_info(int(self.group_row[k]))
        if info.name == self.group_name[k]:
            return info
        return replace(info, name=self.group_name[k],
                       type=info.type if info.kind == "global" else None)

    def roots_by_name(self) -> RootsByName:
        """Return the root groups summed by name: the frames of one function holding their
        words through one variable (``main.handle.r``, one per goroutine) are one row, and
        each global is its own; the most retained first."""
        gi = np.arange(len(self.group_name))
        kind = self.hi.roots.kind[self.group_row] if len(gi) else np.zeros(0, np.uint8)
        labels: dict[tuple[int, str], int] = {}
        key = np.array([labels.setdefault((int(k), n), len(labels))      # one per group
                        for k, n in zip(kind.tolist(), self.group_name)], np.int64)
        m = len(labels)
        retained = np.bincount(key, weights=self.group_retained.astype(np.float64), minlength=m)
        count = np.bincount(key, weights=self.group_count.astype(np.float64), minlength=m)
        groups = np.bincount(key, minlength=m)
        goro = self.hi.roots.goroutine[self.group_row] if len(gi) else np.zeros(0, np.int64)
        pairs = np.unique(np.stack([key, goro], axis=1)[goro >= 0], axis=0) if len(gi) else np.zeros((0, 2), np.int64)
        goroutines = np.bincount(pairs[:, 0], minlength=m) if len(pairs) else np.zeros(m, np.int64)
        first = np.full(m, len(gi), np.int64)
        np.minimum.at(first, key, gi)
        ret = np.rint(retained).astype(np.uint64)
        order = np.lexsort((first, -retained))
        row = np.empty(m, np.int32)
        row[order] = np.arange(m, dtype=np.int32)
        names = [n for _, n in labels]
        return RootsByName([names[i] for i in order.tolist()], first[order].astype(np.int32),
                           ret[order], np.rint(count[order]).astype(np.int64),
                           groups[order].astype(np.int64), goroutines[order].astype(np.int64),
                           row[key])

    def top_groups(self, n: int) -> np.ndarray:
        """Return up to ``n`` root groups, the most retained first."""
        order = np.lexsort((np.arange(len(self.group_retained)), -self.group_retained.astype(np.float64)))
        return order[:n]

    # ---- walking down the tree ----

    @cached_property
    def _children(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (start, ids): the objects object ``i`` immediately dominates are
        ``ids[start[i]:start[i+1]]``, the most retained first (one sort, made on first use)."""
        return _csr(self.idom, self.retained)

    @cached_property
    def _group_children(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (start, ids) as ``_children`` for the root groups: the top-level objects
        each group alone holds."""
        held = np.where(self.hi.live & (self.idom < 0), self.holder, -1)
        return _csr(held, self.retained, len(self.group_retained))

    def children(self, i: int) -> np.ndarray:
        """Return the ids of the objects live object ``i`` immediately dominates (its children
        in the dominator tree: each retained through ``i`` alone), the most retained first
        (ties by id); their retained sizes are ``retained[ids]``."""
        start, ids = self._children
        return ids[int(start[i]):int(start[i + 1])]

    def group_children(self, k: int) -> np.ndarray:
        """Return the ids of the objects root group ``k`` alone keeps alive and no object
        dominates (the group's children in the dominator tree), the most retained first."""
        start, ids = self._group_children
        return ids[int(start[k]):int(start[k + 1])]

    def groups_named(self, name: str) -> np.ndarray:
        """Return the root groups named ``name`` as ``roots_by_name`` and ``group_info``
        name them (a global, or ``main.handle.r`` for every goroutine's such frame), in
        group order; empty when no root of that name points into the heap."""
        return np.flatnonzero(np.array(self.group_name, dtype=object) == name).astype(np.int32)

    def children_of_groups(self, groups: np.ndarray) -> np.ndarray:
        """Return the ids of the objects that one of the root groups ``groups`` alone keeps
        alive and no object dominates (their children in the dominator tree, together),
        the most retained first (ties by id); they retain ``group_retained[groups]`` in all."""
        start, ids = self._group_children
        groups = np.asarray(groups, np.int64)
        if len(groups) == 1:
            return self.group_children(int(groups[0]))
        mask = np.zeros(len(start) - 1, bool)
        mask[groups] = True
        held = np.where(self.hi.live & (self.idom < 0), self.holder, -1)
        kids = np.flatnonzero((held >= 0) & mask[np.maximum(held, 0)])
        return kids[np.lexsort((kids, -self.retained[kids].astype(np.float64)))].astype(np.int32)

    def heaviest_chain(self, i: int, most: float = 0.5) -> np.ndarray:
        """Return the ids from live object ``i`` down the dominator tree, each the child of
        the one before that retains over ``most`` of its parent's retained bytes, ``i``
        first: the last is where the memory spreads over many children (the accumulation
        point of a leak)."""
        start, ids = self._children
        from .domkernels import _heaviest_chain
        return _heaviest_chain(start, ids, self.retained, np.int64(i), np.float64(most))


def _csr(parent: np.ndarray, retained: np.ndarray, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (start, ids) grouping the ids with ``parent >= 0`` by parent (``n`` parents,
    default ``len(parent)``), each group the most ``retained`` first, ties by id."""
    n = len(parent) if n is None else n
    kids = np.flatnonzero(parent >= 0)
    owner = parent[kids].astype(np.int64)
    order = np.lexsort((kids, -retained[kids].astype(np.float64), owner))
    start = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=start[1:])
    return start, kids[order].astype(np.int32)


@dataclass
class RootsByName:
    """Root groups summed by name (``Dominators.roots_by_name``), one row per name, the most
    retained first: ``group[i]`` is its first root group (``Dominators.group_info``),
    ``retained`` / ``retained_objects`` what its groups alone keep alive in total,
    ``groups`` how many root groups it sums and ``goroutines`` how many goroutines they are
    in (0 for globals); ``row_of_group[k]`` is the row root group ``k`` is summed in."""

    name: list[str]
    group: np.ndarray
    retained: np.ndarray
    retained_objects: np.ndarray
    groups: np.ndarray
    goroutines: np.ndarray
    row_of_group: np.ndarray

    def __len__(self) -> int:
        return len(self.name)


def _dense(*cols: np.ndarray) -> np.ndarray:
    """Return one int64 id per row, equal for rows equal in every column of ``cols``."""
    ids = np.zeros(len(cols[0]), np.int64)
    for c in cols:
        u, inv = np.unique(c, return_inverse=True)
        ids = ids * len(u) + np.asarray(inv).ravel()
        ids = np.asarray(np.unique(ids, return_inverse=True)[1]).ravel().astype(np.int64)
    return ids


def _groups(hi) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return (group per root row, first row per group, group names).

    A root group is what one root stands for: a DWARF global's words are its variable, a
    goroutine frame's words the frame (``goroutine 7 main.f``, recursion included), a
    goroutine's registers one group; other words (section words without a global,
    finalizer words, ``sched.ctxt``, defer records) stand alone. Groups are numbered in
    the order of their first row.
    """
    roots = hi.roots
    nrows = len(roots)
    if nrows == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), []
    named_global = np.zeros(nrows, bool)
    if roots.names:
        var = ~np.array(roots.always_offset, bool)        # names of DWARF globals
        named_global = (roots.kind == GLOBAL) & (roots.name >= 0) & var[np.maximum(roots.name, 0)]
    in_frame = (roots.kind == FRAME) & (roots.frame >= 0)
    cls = np.where(named_global, 0, np.where(in_frame, 1, 2)).astype(np.int64)
    # per class, the columns that tell its groups apart (unused ones zeroed)
    name = np.where(cls != 1, roots.name, -1)
    goro = np.where(cls != 0, roots.goroutine, -1)
    func = np.where(in_frame, roots.frames.func[np.maximum(roots.frame, 0)] if len(roots.frames)
                    else -1, -1)
    alone = cls == 2
    slot = np.where(alone, roots.slot, 0)
    area = np.where(alone, roots.area, 0)
    precise = np.where(alone, roots.precise, False)
    key = _dense(cls, name, goro, func, slot, area, precise)
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int32)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first), dtype=np.int32)
    group = rank[np.asarray(inv).ravel()]
    group_row = np.sort(first).astype(np.int32)
    names = [roots.group_name(int(r)) for r in group_row]   # one per group, not per word
    # a frame whose words are all one variable's is named by it: main.handle.r
    k = len(group_row)
    lo = np.full(k, np.iinfo(np.int32).max, np.int64)
    hi_ = np.full(k, -1, np.int64)
    np.minimum.at(lo, group, roots.var)
    np.maximum.at(hi_, group, roots.var)
    one = np.flatnonzero(in_frame[group_row] & (lo == hi_) & (lo >= 0))
    for g in one.tolist():       # one per named frame group
        names[g] = f"{names[g]}.{roots.frames.var_names[int(lo[g])]}"
    return group, group_row, names


def compute(hi) -> Dominators:
    """Build the dominator tree of ``hi``'s live objects (use ``dominators_of``: cached)."""
    from .domkernels import _idoms, _predecessors, _preorder, _retained, _semidominators
    heap, edges, roots = hi.heap, hi.edges, hi.roots
    nobj = len(heap.addr)
    group, group_row, names = _groups(hi)
    k = len(names)
    total = nobj + k + 1
    # virtual nodes: groups nobj..nobj+k-1 -> their distinct objects; super-root -> groups
    pairs = np.unique(group.astype(np.int64) * max(nobj, 1) + roots.obj.astype(np.int64))
    g_of = (pairs // max(nobj, 1)).astype(np.int64)
    vstart = np.zeros(k + 2, dtype=np.int64)
    np.cumsum(np.bincount(g_of, minlength=k), out=vstart[1:k + 1])
    vstart[k + 1] = vstart[k] + k
    vdst = np.concatenate([(pairs % max(nobj, 1)).astype(np.int32),
                           np.arange(nobj, nobj + k, dtype=np.int32)])
    del pairs, g_of
    m = int(hi.live_count) + k + 1
    dfn, vertex, parent, reached = _preorder(edges.start, edges.dst, vstart, vdst, nobj, total, m)
    if reached != m:
        raise AssertionError(f"dominators: reached {reached} nodes, marking found {m}")
    pstart, preds = _predecessors(edges.start, edges.dst, vstart, vdst, nobj, dfn, vertex, m)
    del dfn
    semi = _semidominators(pstart, preds, parent, m)
    del pstart, preds
    idom_pre = _idoms(parent, semi, m)
    del semi
    ret, cnt, inode = _retained(vertex, idom_pre, heap.size, nobj, total, m)
    del idom_pre
    idom = inode[:nobj]
    virtual = idom >= nobj
    holder = np.where(virtual & (idom < nobj + k), idom - nobj, -1).astype(np.int32)
    idom = np.where(virtual, -1, idom).astype(np.int32)
    del inode, virtual
    order = vertex[vertex < nobj]
    return Dominators(hi, idom, ret[:nobj], cnt[:nobj], holder, order, group, group_row, names,
                      ret[nobj:nobj + k], cnt[nobj:nobj + k], int(ret[total - 1]) - int(ret[nobj:nobj + k].sum()),
                      int(cnt[total - 1]) - int(cnt[nobj:nobj + k].sum()))


_STORED_ARRAYS = ("idom", "retained", "retained_count", "holder", "order", "group_of_row",
                  "group_row", "group_retained", "group_count")


def storable_dominators(d: Dominators) -> tuple[dict, dict]:
    """Return (arrays, meta) that ``stored_dominators`` reads back."""
    return ({name: getattr(d, name) for name in _STORED_ARRAYS},
            {"group_name": d.group_name, "shared_retained": d.shared_retained,
             "shared_count": d.shared_count})


def stored_dominators(hi, part) -> Dominators:
    """Return the Dominators of ``hi`` kept in stored part ``part`` (an indexstore.StoredPart)."""
    arrays = {name: part.array(name) for name in _STORED_ARRAYS}
    return Dominators(hi, group_name=part.meta["group_name"],
                      shared_retained=int(part.meta["shared_retained"]),
                      shared_count=int(part.meta["shared_count"]), **arrays)


def dominators_of(hi) -> Dominators:
    """Return the Dominators of HeapIndex ``hi``, computed once per index (and kept with it)."""
    return hi.dominators()
