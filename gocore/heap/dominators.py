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
no recursion, no Python per object. Compiled code is cached under
``$XDG_CACHE_HOME/viewcore/numba`` (``NUMBA_CACHE_DIR`` overrides it) when that directory
passes the checks of ``_numba_cache_dir``.

Memory while it runs: about 32 bytes per live object plus 4 per live edge (measured peak
37-39 B per object on 5M- and 20M-object heaps: 0.65 s and 2.5 s); kept: ``idom`` (4),
``retained`` (8), ``retained_count`` (4), ``holder`` (4), ``order`` (4) bytes per object.
The first run after install compiles (about 4 s); later runs load the cache.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from ..memo import once_per
from .roots import GLOBAL, FRAME

log = logging.getLogger(__name__)


def _private_tempdir() -> str:
    """Return a fresh directory of ours (mode 0700), removed when the interpreter exits."""
    d = tempfile.mkdtemp(prefix="viewcore-numba-")
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


def _numba_cache_dir() -> str:
    """Return the directory numba's compiled-code cache may use.

    numba loads its cache index with pickle, so whoever can write that directory can run
    code as us: it must be a directory only we control (``core.cachedir``; the
    subdirectories numba made in it are checked too). That is ``NUMBA_CACHE_DIR`` when the
    user set it (their choice of place, our checks), else ``$XDG_CACHE_HOME/viewcore/numba``.
    When it fails a check or cannot be created, compiled code is kept in a fresh private
    directory removed at exit: every run compiles (about 4 s), nothing is loaded.
    """
    from core.cachedir import CacheDirError, check_dir, private_dir
    from core.source import cache_dir
    want = os.environ.get("NUMBA_CACHE_DIR")
    try:
        d = private_dir(Path(want)) if want else private_dir(cache_dir(), "numba")
        for sub in os.scandir(d):
            if sub.is_symlink() or sub.is_dir(follow_symlinks=False):
                check_dir(Path(sub.path))
        return str(d)
    except CacheDirError as e:
        log.warning("numba's cache is not used: %s", e)
    except OSError as e:
        log.warning("numba's cache is not used: %s cannot be listed: %s", want or cache_dir(), e.strerror)
    return _private_tempdir()


def _import_numba():
    """Import numba with its cache directory set to a checked one (see _numba_cache_dir)."""
    d = _numba_cache_dir()
    # numba reads NUMBA_CACHE_DIR when it is first imported and again whenever its
    # compiler reloads the environment: set both, so neither brings another directory back.
    os.environ["NUMBA_CACHE_DIR"] = d
    import numba
    numba.config.CACHE_DIR = d
    return numba


_numba = _import_numba()
njit = _numba.njit


# ---------------------------------------------------------------- compiled core


@njit(cache=True, nogil=True)
def _grow(a, need):
    """Return ``a``, or a copy at least twice as long when ``need`` exceeds it (any dtype)."""
    if need <= len(a):
        return a
    b = np.empty(max(need, 2 * len(a)), dtype=a.dtype)
    b[:len(a)] = a
    return b


@njit(cache=True, nogil=True)
def _preorder(start, dst, vstart, vdst, nobj, total, m):
    """Depth-first preorder from the super-root (node ``total - 1``).

    Nodes below ``nobj`` are objects (successors ``dst[start[x]:start[x+1]]``); the rest are
    virtual (successors ``vdst[vstart[x-nobj]:...]``). Returns (dfn int32[total]: node ->
    preorder number or -1, vertex int32[m]: number -> node, parent int32[m]: tree parent's
    number, count of nodes reached).
    """
    dfn = np.full(total, -1, dtype=np.int32)
    vertex = np.empty(m, dtype=np.int32)
    parent = np.empty(m, dtype=np.int32)
    st_node = np.empty(1024, dtype=np.int32)
    st_pos = np.empty(1024, dtype=np.int64)
    s = total - 1
    dfn[s] = 0
    vertex[0] = s
    parent[0] = -1
    cnt = 1
    st_node[0] = s
    st_pos[0] = vstart[s - nobj]
    sp = 1
    while sp > 0:
        x = st_node[sp - 1]
        pos = st_pos[sp - 1]
        if x < nobj:
            end = start[x + 1]
        else:
            end = vstart[x - nobj + 1]
        found = -1
        while pos < end:
            y = dst[pos] if x < nobj else vdst[pos]
            pos += 1
            if dfn[y] < 0:
                found = y
                break
        if found < 0:
            sp -= 1
            continue
        st_pos[sp - 1] = pos
        if cnt >= m:                       # more reached than expected: caller's count is wrong
            return dfn, vertex, parent, -1
        dfn[found] = cnt
        vertex[cnt] = found
        parent[cnt] = dfn[x]
        cnt += 1
        if sp >= len(st_node):
            st_node = _grow(st_node, sp + 1)
            st_pos = _grow(st_pos, sp + 1)
        st_node[sp] = found
        st_pos[sp] = start[found] if found < nobj else vstart[found - nobj]
        sp += 1
    return dfn, vertex, parent, cnt


@njit(cache=True, nogil=True)
def _predecessors(start, dst, vstart, vdst, nobj, dfn, vertex, m):
    """Return the predecessors of each reached node as CSR in preorder numbers."""
    pstart = np.zeros(m + 1, dtype=np.int64)
    for w in range(m):
        x = vertex[w]
        if x < nobj:
            for k in range(start[x], start[x + 1]):
                pstart[dfn[dst[k]] + 1] += 1
        else:
            for k in range(vstart[x - nobj], vstart[x - nobj + 1]):
                pstart[dfn[vdst[k]] + 1] += 1
    for w in range(m):
        pstart[w + 1] += pstart[w]
    preds = np.empty(pstart[m], dtype=np.int32)
    fill = pstart[:m].copy()
    for w in range(m):
        x = vertex[w]
        if x < nobj:
            for k in range(start[x], start[x + 1]):
                d = dfn[dst[k]]
                preds[fill[d]] = w
                fill[d] += 1
        else:
            for k in range(vstart[x - nobj], vstart[x - nobj + 1]):
                d = dfn[vdst[k]]
                preds[fill[d]] = w
                fill[d] += 1
    return pstart, preds


@njit(cache=True, nogil=True)
def _semidominators(pstart, preds, parent, m):
    """Return semi int32[m]: each node's semidominator (Lengauer-Tarjan, path compression)."""
    semi = np.arange(m).astype(np.int32)
    label = np.arange(m).astype(np.int32)
    ancestor = np.full(m, -1, dtype=np.int32)
    stack = np.empty(1024, dtype=np.int32)
    for w in range(m - 1, 0, -1):
        sw = semi[w]
        for k in range(pstart[w], pstart[w + 1]):
            v = preds[k]
            # eval(v): v itself if not yet linked, else the min-semi label on its path
            if ancestor[v] >= 0:
                x = v
                n = 0
                while ancestor[ancestor[x]] >= 0:
                    if n >= len(stack):
                        stack = _grow(stack, n + 1)
                    stack[n] = x
                    n += 1
                    x = ancestor[x]
                while n > 0:                  # compress, top of the path first
                    n -= 1
                    x = stack[n]
                    a = ancestor[x]
                    if semi[label[a]] < semi[label[x]]:
                        label[x] = label[a]
                    ancestor[x] = ancestor[a]
                u = label[v]
            else:
                u = v
            if semi[u] < sw:
                sw = semi[u]
        semi[w] = sw
        ancestor[w] = parent[w]
    return semi


@njit(cache=True, nogil=True)
def _idoms(parent, semi, m):
    """Turn ``parent`` into idom in place (SNCA): idom(w) is the nearest ancestor of
    parent(w) in the dominator tree built so far that is at or above sdom(w)."""
    idom = parent
    idom[0] = 0
    for w in range(1, m):
        x = idom[w]
        while x > semi[w]:
            x = idom[x]
        idom[w] = x
    return idom


@njit(cache=True, nogil=True)
def _retained(vertex, idom, size, nobj, total, m):
    """Return (retained uint64[total], retained_count int32[total], idom by node int32[total])."""
    ret = np.zeros(total, dtype=np.uint64)
    cnt = np.zeros(total, dtype=np.int32)
    inode = np.full(total, -1, dtype=np.int32)
    for w in range(m):
        x = vertex[w]
        if x < nobj:
            ret[x] = np.uint64(size[x])
            cnt[x] = 1
    for w in range(m - 1, 0, -1):
        x = vertex[w]
        d = vertex[idom[w]]
        ret[d] += ret[x]
        cnt[d] += cnt[x]
        inode[x] = d
    return ret, cnt, inode


@njit(cache=True, nogil=True)
def _top_of(idom, i):
    """Return the top-level dominator of ``i`` (itself when ``idom[i]`` is -1)."""
    while idom[i] >= 0:
        i = idom[i]
    return i


@njit(cache=True, nogil=True)
def _under(order, idom, i):
    """Return a bool mask of the objects dominated by ``i`` (``i`` included)."""
    inside = np.zeros(len(idom), dtype=np.bool_)
    inside[i] = True
    for x in order:                    # preorder: an idom comes before what it dominates
        d = idom[x]
        if d >= 0 and inside[d]:
            inside[x] = True
    return inside


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
        return int(_top_of(self.idom, np.int64(i)))

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

    def top_groups(self, n: int) -> np.ndarray:
        """Return up to ``n`` root groups, the most retained first."""
        order = np.lexsort((np.arange(len(self.group_retained)), -self.group_retained.astype(np.float64)))
        return order[:n]


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
    return group, group_row, names


def compute(hi) -> Dominators:
    """Build the dominator tree of ``hi``'s live objects (use ``dominators_of``: cached)."""
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


@once_per
def dominators_of(hi) -> Dominators:
    """Return the Dominators of HeapIndex ``hi``, computed once per index."""
    return compute(hi)
