"""The dominator tree's compiled kernels (numba), and where numba keeps compiled code.

Kept apart from ``dominators`` so that reading a dominator tree back from the kept index
(``indexstore``) imports no numba (about 0.4 s, more to load compiled code): only
computing one, or a walk too long for Python, does. Compiled code is cached under
``$XDG_CACHE_HOME/viewcore/numba`` (``NUMBA_CACHE_DIR`` overrides it) when that directory
passes the checks of ``_numba_cache_dir``; the first run after install compiles (about 4 s).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

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


@njit(cache=True, nogil=True)
def _heaviest_chain(start, ids, retained, i, most):
    """Return the chain from ``i`` down the children CSR (``start``, ``ids``: heaviest child
    first) while the heaviest child retains over ``most`` of its parent."""
    out = np.empty(16, dtype=np.int32)
    out[0] = i
    n = 1
    x = i
    while start[x] < start[x + 1]:
        c = ids[start[x]]
        if retained[c] <= most * retained[x]:
            break
        out = _grow(out, n + 1)
        out[n] = c
        n += 1
        x = c
    return out[:n]


@njit(cache=True, nogil=True)
def _under_set(order, idom, inside):
    """Mark in ``inside`` (a bool mask, changed in place) every object dominated by one
    already marked; returns it."""
    for x in order:                    # preorder: an idom comes before what it dominates
        d = idom[x]
        if d >= 0 and inside[d]:
            inside[x] = True
    return inside


def compiled_code_kept(kernels=None) -> bool:
    """Return whether numba's cache holds the compiled ``kernels`` (default: this
    module's), else their next call compiles them: seconds, once per install or change."""
    kernels = kernels or (_preorder, _predecessors, _semidominators, _idoms, _retained)
    return all(os.path.exists(k._cache._cache_file._index_path) for k in kernels)
