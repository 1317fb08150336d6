"""Dominator tree and retained sizes.

Truth comes from elsewhere than the algorithm under test: the fixture programs' manifests
(the list's length and the array's elements, walked in the dump's memory by their printed
layout), the heap's own slot sizes, and brute force (remove a node or a root and see what
becomes unreachable) on small graphs and on each fixture's roots.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from gocore.heap.dominators import compute, dominators_of
from gocore.heap.edges import Edges
from gocore.goroutines.stackroots import ARGS, LOCALS, REGISTER
from gocore.heap.roots import FRAME, GLOBAL, NO_AREA, OTHER, FrameTable, RootTable

from ..conftest import dump_cases, go_case

KINDS = ("crash", "sigquit", "gcore")
CASES = dump_cases(kinds=KINDS)


# ---------------------------------------------------------------- brute force


def _reach(start, dst, seeds, n, removed=-1) -> np.ndarray:
    """Return the nodes reachable from ``seeds`` without passing through ``removed``."""
    seen = np.zeros(n, dtype=bool)
    start = np.asarray(start, dtype=np.int64)      # the index's may be uint32
    seeds = np.unique(np.asarray(seeds, dtype=np.int64))
    seeds = seeds[seeds != removed]
    seen[seeds] = True
    frontier = seeds
    while len(frontier):
        s, e = start[frontier], start[frontier + 1]
        cnt = e - s
        if cnt.sum() == 0:
            break
        idx = np.repeat(s - np.r_[0, np.cumsum(cnt)[:-1]], cnt) + np.arange(cnt.sum())
        nxt = np.unique(dst[idx].astype(np.int64))
        nxt = nxt[~seen[nxt]]
        nxt = nxt[nxt != removed]
        seen[nxt] = True
        frontier = nxt
    return seen


def _csr(n, pairs) -> Edges:
    pairs = sorted(pairs)
    start = np.zeros(n + 1, dtype=np.int64)
    for s, _ in pairs:
        start[s + 1] += 1
    np.cumsum(start, out=start)
    dst = np.array([d for _, d in pairs], dtype=np.int32)
    return Edges(start, dst, np.zeros(len(dst), dtype=np.uint32))


def _table(rows, names=(), always_offset=(), frames=None) -> RootTable:
    """A RootTable of ``rows``: dicts of the columns that differ from a plain global word."""
    def col(key, default, dt):
        return np.array([r.get(key, default) for r in rows], dtype=dt)
    return RootTable(ptr=col("ptr", 0, np.uint64), obj=col("obj", 0, np.int32),
                     slot=col("slot", 0, np.uint64), kind=col("kind", GLOBAL, np.uint8),
                     goroutine=col("goroutine", -1, np.int64), frame=col("frame", -1, np.int32),
                     name=col("name", -1, np.int32), base=col("base", 0, np.uint64),
                     type=col("type", -1, np.int32), type_address=col("type_address", 0, np.uint64),
                     area=col("area", NO_AREA, np.uint8), precise=col("precise", True, bool),
                     var=col("var", -1, np.int32), names=list(names), always_offset=list(always_offset),
                     frames=frames or FrameTable(np.zeros(0, np.int64), np.zeros(0, np.int32),
                                                 np.zeros(0, np.uint64), np.zeros(0, np.uint64), []))


def _global_rows(root_rows) -> RootTable:
    """Global root words ``(object, "main.g+0x8" | "bss+0x10")``: a variable, or a section
    word, at a made-up address."""
    names, always, rows = [], [], []
    for obj, text in root_rows:
        var, _, off = text.partition("+")
        if var not in names:
            names.append(var)
            always.append(var in ("data", "bss"))
        k = names.index(var)
        base = 0x500000 + 0x1000 * k
        rows.append({"obj": obj, "name": k, "base": base, "slot": base + int(off or "0", 16)})
    return _table(rows, names, always)


def _fake_index(n, pairs, roots, sizes=None):
    """A stand-in HeapIndex over ``roots`` (a RootTable, or (object, global name) pairs)."""
    edges = _csr(n, pairs)
    if not isinstance(roots, RootTable):
        roots = _global_rows(roots)
    live = _reach(edges.start, edges.dst, roots.obj, n)
    size = np.asarray(sizes if sizes is not None else 16 * (1 + np.arange(n) % 5), dtype=np.uint32)
    heap = SimpleNamespace(addr=np.arange(n, dtype=np.uint64) * 4096 + 0xc000000000, size=size)
    return SimpleNamespace(heap=heap, edges=edges, roots=roots, live=live,
                           live_ids=np.flatnonzero(live).astype(np.int32), live_count=int(live.sum()))


def _check_against_brute_force(hi) -> None:
    """Every live X dominates exactly what becomes unreachable when X is removed."""
    d = compute(hi)
    n = len(hi.heap.addr)
    start, dst = hi.edges.start, hi.edges.dst
    size = hi.heap.size.astype(np.uint64)
    for x in np.flatnonzero(hi.live):
        lost = hi.live & ~_reach(start, dst, hi.roots.obj, n, removed=x)
        lost[x] = False
        got = np.zeros(n, dtype=bool)
        got[d.dominated(int(x))] = True
        assert (got == lost).all(), x
        assert int(d.retained[x]) == int(size[x] + size[lost].sum()), x
        assert int(d.retained_count[x]) == 1 + int(lost.sum()), x
        # the immediate dominator is the dominator of x that dominates the fewest
        doms = [y for y in np.flatnonzero(hi.live)
                if y != x and x in set(d.dominated(int(y)).tolist())]
        want = min(doms, key=lambda y: int(d.retained_count[y])) if doms else -1
        assert int(d.idom[x]) == want, x
    assert not d.retained[~hi.live].any() and (d.idom[~hi.live] == -1).all()
    assert int(d.retained[d.top_level].sum()) == int(size[hi.live].sum())


# ---------------------------------------------------------------- small graphs


def test_two_globals_share_an_object():
    """0 <- main.a, 1 <- main.b, both point to 2, 2 -> 3: 2 and 3 are held by both roots,
    so only the super-root dominates 2; each global alone keeps only its own object."""
    hi = _fake_index(5, [(0, 2), (1, 2), (2, 3)], [(0, "main.a"), (1, "main.b")],
                     sizes=[16, 32, 48, 64, 80])
    d = compute(hi)
    assert d.idom.tolist() == [-1, -1, -1, 2, -1]
    assert d.holder[2] == -1 and d.holder[0] == d.group_name.index("main.a")
    assert d.retained.tolist() == [16, 32, 48 + 64, 64, 0]
    assert d.group_retained[d.group_name.index("main.a")] == 16
    assert d.group_retained[d.group_name.index("main.b")] == 32
    assert (d.shared_retained, d.shared_count) == (112, 2)
    assert sorted(d.top_level.tolist()) == [0, 1, 2]


def test_words_of_one_global_are_one_root():
    """``main.g`` and ``main.g+0x8`` are two words of one variable: it alone holds 2."""
    hi = _fake_index(3, [(0, 2), (1, 2)], [(0, "main.g"), (1, "main.g+0x8")])
    d = compute(hi)
    assert d.group_name == ["main.g"]
    assert d.holder.tolist() == [0, 0, 0]
    assert int(d.group_retained[0]) == int(hi.heap.size.sum())
    assert d.shared_retained == 0


def test_words_of_one_frame_are_one_root():
    """Two words of goroutine 7's frame of main.f are one root, named by its function (the
    goroutine is an attribute); its register is another."""
    frames = FrameTable(np.array([7], np.int64), np.array([0], np.int32), np.array([0x401000], np.uint64),
                        np.array([0x50], np.uint64), ["main.f"])
    g7 = {"goroutine": 7, "name": -1}
    rows = [dict(g7, obj=0, slot=0x10, kind=FRAME, frame=0, area=LOCALS),
            dict(g7, obj=1, slot=0x40, kind=FRAME, frame=0, area=ARGS),
            dict(g7, obj=1, kind=OTHER, area=REGISTER, precise=False)]
    hi = _fake_index(3, [(0, 2), (1, 2)], _table(rows, frames=frames))
    d = compute(hi)
    assert sorted(d.group_name) == ["goroutine 7 register, conservative", "main.f"]
    f = d.group_name.index("main.f")
    assert d.holder.tolist() == [f, -1, -1]         # 1 is also held by the register, 2 through 1
    assert int(d.group_retained[f]) == int(hi.heap.size[0])


def test_a_frame_held_through_one_variable_is_named_by_it():
    """Goroutine 7's frame of main.f holds its words in variable r alone: the root is
    main.f.r; goroutine 8's frame holds words in r and s: the root is main.f."""
    frames = FrameTable(np.array([7, 8], np.int64), np.array([0, 0], np.int32),
                        np.array([0x401000, 0x401000], np.uint64), np.array([0x50, 0x90], np.uint64),
                        ["main.f"], var_names=["r", "s"])
    rows = [dict(goroutine=7, obj=0, slot=0x10, kind=FRAME, frame=0, area=ARGS, var=0),
            dict(goroutine=7, obj=1, slot=0x18, kind=FRAME, frame=0, area=ARGS, var=0),
            dict(goroutine=8, obj=2, slot=0x60, kind=FRAME, frame=1, area=ARGS, var=0),
            dict(goroutine=8, obj=3, slot=0x68, kind=FRAME, frame=1, area=LOCALS, var=1)]
    hi = _fake_index(4, [], _table(rows, frames=frames))
    d = compute(hi)
    assert d.group_name == ["main.f.r", "main.f"]
    assert [hi.roots.describe(r) for r in range(4)] == ["main.f.r", "main.f.r", "main.f.r", "main.f.s"]


def test_unnamed_section_words_stay_apart():
    hi = _fake_index(3, [(0, 2), (1, 2)], [(0, "bss+0x10"), (1, "bss+0x18")])
    d = compute(hi)
    assert sorted(d.group_name) == ["bss+0x10", "bss+0x18"]
    assert d.holder[2] == -1


def test_cycle_and_diamond():
    """r -> 0 -> 1 -> 2 -> 0 (cycle) and 0 -> 3 -> 5, 0 -> 4 -> 5 (diamond): 0 dominates all."""
    hi = _fake_index(7, [(0, 1), (1, 2), (2, 0), (0, 3), (0, 4), (3, 5), (4, 5), (5, 1)],
                     [(0, "main.r")])
    d = compute(hi)
    assert d.idom.tolist() == [-1, 0, 1, 0, 0, 0, -1]
    _check_against_brute_force(hi)


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    e = int(rng.integers(n // 2, 3 * n))
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, n, size=(e, 2)) if a != b}
    rows = [(int(o), f"main.g{int(rng.integers(0, 4))}") for o in rng.integers(0, n, size=int(rng.integers(1, 6)))]
    _check_against_brute_force(_fake_index(n, pairs, rows))


def test_long_chain_has_no_recursion_limit():
    """A 300 000-node list with a back pointer on every node (a doubly linked list)."""
    n = 300_000
    pairs = [(i, i + 1) for i in range(n - 1)] + [(i + 1, i) for i in range(n - 1)]
    hi = _fake_index(n, pairs, [(0, "main.list")], sizes=np.full(n, 16))
    d = compute(hi)
    assert d.idom[0] == -1 and (d.idom[1:] == np.arange(n - 1)).all()
    assert (d.retained == 16 * (n - np.arange(n))).all()


def test_no_roots():
    hi = _fake_index(3, [(0, 1)], [])
    d = compute(hi)
    assert not d.retained.any() and (d.idom == -1).all() and d.group_name == []


# ---------------------------------------------------------------- the fixture dumps


def _dom(entry):
    case, gp = go_case(entry)
    hi = gp.heap_index()
    return case, hi, dominators_of(hi)


def _walk_list(gp, case) -> list[int]:
    """Return the list nodes' addresses by following ``Next`` in the dump's memory."""
    info = case.manifest["list"]
    out, p = [], case.manifest["objects"]["list_head"]
    while p and len(out) <= info["length"]:
        out.append(p)
        p = gp.process.read_ptr(p + info["next_offset"])
    return out


@pytest.mark.parametrize("entry", CASES)
def test_list_head_retains_the_list(entry):
    case, hi, d = _dom(entry)
    nodes = [hi.find(a) for a in _walk_list(hi.gp, case)]
    assert len(nodes) == case.manifest["list"]["length"] == case.manifest["counts"]["main.Node"] == 500
    head = nodes[0]
    slot = int(hi.heap.size[head])                 # the span's element size
    assert slot >= case.manifest["type_sizes"]["main.Node"]
    assert all(int(hi.heap.size[i]) == slot for i in nodes)
    assert int(d.retained[head]) == 500 * slot
    assert int(d.retained_count[head]) == 500
    assert sorted(d.dominated(head).tolist()) == sorted(nodes[1:])
    assert d.idom[head] == -1
    assert d.idom[nodes[1:]].tolist() == nodes[:-1]


@pytest.mark.parametrize("entry", CASES)
def test_large_array_retains_its_elements(entry):
    case, hi, d = _dom(entry)
    arr = case.manifest["arrays"]["main.arrLarge"]
    i = hi.find(case.manifest["objects"]["arr_large_array"])
    ptrs = np.frombuffer(hi.gp.process.read(arr["addr"], 8 * arr["len"]), "<u8")
    elems = hi.heap.find(ptrs)
    assert (elems >= 0).all() and len(np.unique(elems)) == arr["len"] == case.manifest["counts"]["main.ElemL"]
    elem_slot = int(hi.heap.size[elems[0]])
    assert elem_slot >= case.manifest["type_sizes"]["main.ElemL"]
    assert (hi.heap.size[elems] == elem_slot).all()
    assert int(d.retained[i]) == int(hi.heap.size[i]) + 10000 * elem_slot
    assert int(d.retained_count[i]) == 10001
    assert sorted(d.dominated(i).tolist()) == sorted(elems.tolist())


@pytest.mark.parametrize("entry", CASES)
def test_top_level_retained_is_the_live_heap(entry):
    case, hi, d = _dom(entry)
    assert int(d.retained[d.top_level].sum()) == hi.live_bytes
    assert int(d.group_retained.sum()) + d.shared_retained == hi.live_bytes
    assert int(d.group_count.sum()) + d.shared_count == hi.live_count
    ms = case.manifest["memstats"]
    assert abs(hi.live_bytes - ms["HeapAlloc"]) <= 0.02 * ms["HeapAlloc"]


def _group_at(hi, d, addr: int) -> int:
    """Return the root group of the root word(s) at ``addr`` (a global's address)."""
    rows = np.flatnonzero(hi.roots.slot == np.uint64(addr))
    groups = np.unique(d.group_of_row[rows])
    assert len(groups) == 1, (hex(addr), groups)
    return int(groups[0])


@pytest.mark.parametrize("entry", CASES)
def test_globals_alone_keep_what_removing_them_frees(entry):
    """main.list and main.arrLarge (found by the addresses the program printed): their
    retained bytes equal what is lost when their root words are dropped (brute force)."""
    case, hi, d = _dom(entry)
    n = len(hi.heap.addr)
    for gname, want in (("main.list", 500 * int(hi.heap.size[hi.find(case.manifest["objects"]["list_head"])])),
                        ("main.arrLarge", None)):
        g = _group_at(hi, d, case.manifest["globals"][gname])
        keep = d.group_of_row != g
        lost = hi.live & ~_reach(hi.edges.start, hi.edges.dst, hi.roots.obj[keep], n)
        size = hi.heap.size.astype(np.uint64)
        assert int(d.group_retained[g]) == int(size[lost].sum()), gname
        assert int(d.group_count[g]) == int(lost.sum()), gname
        if want is not None:
            assert int(d.group_retained[g]) == want


@pytest.mark.parametrize("entry", CASES)
def test_objects_held_by_several_roots_have_no_single_holder(entry):
    """Mark from each root group alone: an object that two or more groups reach is
    dominated by the super-root only (no one root keeps it alive); one that a single group
    reaches has that group as its top-level dominator's holder."""
    _, hi, d = _dom(entry)
    n = len(hi.heap.addr)
    k = len(d.group_name)
    nreach = np.zeros(n, dtype=np.int32)
    only = np.full(n, -1, dtype=np.int32)
    for g in range(k):
        got = _reach(hi.edges.start, hi.edges.dst, hi.roots.obj[d.group_of_row == g], n)
        nreach += got
        only[got] = g
    live = hi.live
    assert ((nreach > 0) == live).all()
    top = np.where(d.idom >= 0, d.idom, np.arange(n))       # top-level dominator: pointer doubling
    for _ in range(64):
        nxt = top[top]
        if (nxt == top).all():
            break
        top = nxt
    want = np.where(nreach == 1, only, -1)
    assert (d.holder[top][live] == want[live]).all()
    shared = np.flatnonzero(live & (nreach > 1))
    assert len(shared)                                       # runtime globals share some
    roots_hit = np.unique(hi.roots.obj)
    several = roots_hit[nreach[roots_hit] > 1]
    assert (d.idom[several] == -1).all() and (d.holder[several] == -1).all()
