"""The compiled passes of the index build give what their numpy forms give: the edge scan
of small objects (markkernels.span_edges) the numpy slot path's edges, on every version's
dump (Go 1.22+ takes the compiled path; older ones check the fallback), and marking
(markkernels.bfs_mark) the parents and followed pointers of a level-by-level numpy BFS, on wide (densely sorted)
and narrow levels."""

import numpy as np
import pytest

from gocore.heap import edges as E
from gocore.heap.heap import heap_of
from gocore.heap.markkernels import bfs_mark
from gocore.heap.ptrmaps import PointerMaps
from tests.conftest import dump_cases, go_case


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",)))
def test_span_scan_equals_numpy(entry, monkeypatch):
    _, gp = go_case(entry)
    heap = heap_of(gp)
    pm = PointerMaps(gp, heap)
    fused = E.build_edges(heap, pm, max_words=1 << 12)        # many batches, mixed runs
    monkeypatch.setattr(E._SpanScan, "make", classmethod(lambda cls, h, p: None))
    plain = E.build_edges(heap, pm, max_words=1 << 12)
    for name in ("start", "dst", "off", "delta"):
        a, b = getattr(fused, name), getattr(plain, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert len(plain) > 1000


def _numpy_bfs(seeds, start, dst, off, n):
    """Level by level: a level's objects in ascending id, each new object's parent the
    first edge reaching it in that order."""
    parent = np.full(n, -1, np.int32)
    poff = np.zeros(n, np.uint32)
    reached = np.zeros(n, bool)
    reached[seeds] = True
    level = np.sort(seeds)
    while len(level):
        counts = start[level + 1] - start[level]
        src = np.repeat(level, counts)
        e = np.concatenate([np.arange(start[u], start[u + 1]) for u in level]) \
            if counts.sum() else np.zeros(0, np.int64)
        d = dst[e]
        new = ~reached[d]
        d, src, e = d[new], src[new], e[new]
        first = np.unique(d, return_index=True)[1]
        d, src, e = d[first], src[first], e[first]
        reached[d] = True
        parent[d] = src
        poff[d] = off[e]
        level = d
    return reached, parent, poff


@pytest.mark.parametrize("shape", ["wide", "narrow"])
def test_bfs_mark_equals_level_bfs(shape):
    rng = np.random.default_rng(11)
    n = 20_000
    if shape == "wide":          # few levels holding most ids: the dense sort
        deg = rng.integers(0, 6, n)
        dst = rng.integers(0, n, int(deg.sum())).astype(np.int32)
    else:                        # a chain with side branches: many small levels
        deg = np.full(n, 2, np.int64)
        ahead = np.minimum(np.arange(n) + rng.integers(1, 5000, n), n - 1)   # sparse levels
        dst = np.stack([np.minimum(np.arange(n) + 1, n - 1), ahead], axis=1).ravel().astype(np.int32)
    start = np.zeros(n + 1, np.int64)
    np.cumsum(deg, out=start[1:])
    off = (rng.integers(0, 64, len(dst)) * 8).astype(np.uint32)
    seeds = np.array([0, 7, 123], np.int32)
    reached = np.zeros(n, bool)
    parent = np.full(n, -1, np.int32)
    root = np.full(n, -1, np.int32)
    reached[seeds] = True
    root[seeds] = np.arange(len(seeds))
    bfs_mark(seeds, start, dst, reached, parent, root, np.empty(n, np.int32), np.zeros(n, bool))
    want_reached, want_parent, want_off = _numpy_bfs(seeds, start, dst, off, n)
    assert np.array_equal(reached, want_reached)
    assert np.array_equal(parent, want_parent)
    # the pointer followed: the parent's first edge to the object (not kept by marking)
    edges = E.Edges(start, dst, off)
    kids = np.flatnonzero(parent >= 0)
    assert [edges.offset_to(int(parent[d]), int(d)) for d in kids] == want_off[kids].tolist()
    assert reached.sum() > n // 2
