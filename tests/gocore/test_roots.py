"""The roots table (gocore.heap.roots) against what the program and the runtime said.

Truth: the fixture program's printed addresses of its globals and objects (the manifest),
the executable's DWARF global names, the runtime's own traceback (goroutine ids and
functions), and the GC's finalizer rule (src/runtime/mgcmark.go markrootSpans: an object
with a finalizer is scanned, never marked, by its record).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from gocore.heap import roots as roots_mod
from gocore.heap.edges import edges_of
from gocore.heap.reach import mark
from gocore.heap.roots import (FINALIZER, FRAME, GLOBAL, ROOT_KINDS, FinalizerRecord,
                               collect_roots)

from ..conftest import dump_cases, go_case

CRASH = dump_cases(kinds=("crash",), stripped=False)
ALL = dump_cases(kinds=("crash", "sigquit", "gcore"))


def _table(gp):
    heap, _, edges = edges_of(gp)
    return heap, edges, collect_roots(gp, heap, edges)


@pytest.mark.parametrize("entry", CRASH)
def test_global_rows_are_the_programs_globals(entry):
    """A pointer global the program printed the address of is a row at that address, named
    by DWARF, whose pointer is the word in memory; every named global row lies inside its
    DWARF variable."""
    case, gp = go_case(entry)
    heap, _, t = _table(gp)
    for gname in ("main.list", "main.finalized", "main.leak"):
        addr = case.manifest["globals"][gname]
        rows = np.flatnonzero(t.slot == np.uint64(addr))
        assert len(rows) == 1, gname
        r = int(rows[0])
        assert t.kind_of(r) == "global" and t.describe(r) == gname
        assert int(t.ptr[r]) == gp.process.read_ptr(addr)
        assert int(t.obj[r]) == heap.find_one(gp.process.read_ptr(addr))
    bias = gp.process.exe_bias
    g = (t.kind == GLOBAL) & (t.name >= 0)
    for r in np.flatnonzero(g).tolist():
        name = t.names[int(t.name[r])]
        if name in ("data", "bss"):
            continue
        var = gp.dwarf.globals[name]
        assert var.addr + bias <= int(t.slot[r]) < var.addr + bias + max(var.size, 1), name
        assert int(t.base[r]) == var.addr + bias


@pytest.mark.parametrize("entry", CRASH)
def test_root_info_of_a_global(entry):
    """main.list's RootInfo: the variable, its address, its DWARF type, no goroutine."""
    case, gp = go_case(entry)
    hi = gp.heap_index()
    addr = case.manifest["globals"]["main.list"]
    r = int(np.flatnonzero(hi.roots.slot == np.uint64(addr))[0])
    info = hi.root_info(r)
    assert (info.name, info.kind, info.address, info.offset) == ("main.list", "global", addr, 0)
    assert info.goroutine is None and info.function is None
    assert info.type == "*main.Node"


@pytest.mark.parametrize("entry", CRASH)
def test_frame_rows_are_the_tracebacks_goroutines(entry):
    """Frame rows name goroutines and functions the runtime's traceback shows; the object
    only main.parkLocalOnly's frame holds is reached from a row of that goroutine's frame."""
    case, gp = go_case(entry)
    hi = gp.heap_index()
    t = hi.roots
    tb = case.traceback
    # the traceback's goroutine blocks: id -> its text (runtime goroutines may be hidden)
    blocks = {int(m.group(1)): m.group(2) for m in
              re.finditer(r"^goroutine (\d+) [^\n]*\]:\n(.*?)(?=^goroutine \d+ |\Z)", tb, re.M | re.S)}
    frame = np.flatnonzero(t.kind == FRAME)
    assert len(frame)
    pairs = np.unique(np.stack([t.goroutine[frame], t.frames.func[t.frame[frame]]], axis=1), axis=0)
    checked = 0
    for goid, f in pairs.tolist():      # per distinct (goroutine, function)
        name = t.frames.func_names[f]
        if name.startswith("main."):
            assert name + "(" in blocks[goid], (goid, name)
            checked += 1
    assert checked
    goid = case.manifest["goroutines"]["main.parkLocalOnly"]["goid"]
    local = hi.find(case.manifest["objects"]["local_only"])
    root, path = hi.path(local)
    assert len(path) == 1
    assert (root.kind, root.goroutine, root.function) == ("frame", goid, "main.parkLocalOnly")
    assert root.name.startswith("main.parkLocalOnly")   # its goroutine is an attribute
    r = int(hi.reach.root[local])
    assert gp.process.read_ptr(int(t.slot[r])) == int(t.ptr[r])


@pytest.mark.parametrize("entry", CRASH)
def test_finalized_objects_are_not_their_own_roots(entry):
    """main.finalized's objects each have a finalizer record; none is a finalizer root
    (the record scans its object, never marks it): the path to the first one starts at
    the global main.finalized."""
    case, gp = go_case(entry)
    hi = gp.heap_index()
    t = hi.roots
    first = hi.find(case.manifest["objects"]["finalized_first"])
    records = roots_mod.finalizer_records(gp, hi.heap)
    own = {hi.find(rec.obj) for rec in records}
    assert first in own and len(own) >= case.manifest["finalizers"]
    fin = t.kind == FINALIZER
    assert not np.isin(t.obj[fin], list(own)).any()
    root, _ = hi.path(first)
    assert (root.kind, root.name) == ("global", "main.finalized")


@pytest.mark.parametrize("entry", CRASH[:2])
def test_a_finalizer_keeps_what_its_object_points_to(entry, monkeypatch):
    """Give main.list's head a finalizer record: marking from the finalizer rows alone
    reaches the next node (the word at the printed next offset), never the head itself."""
    case, gp = go_case(entry)
    heap, _, edges = edges_of(gp)
    head_addr = case.manifest["objects"]["list_head"]
    next_addr = gp.process.read_ptr(head_addr + case.manifest["list"]["next_offset"])
    head, nxt = heap.find_one(head_addr), heap.find_one(next_addr)
    monkeypatch.setattr(roots_mod, "finalizer_records",
                        lambda gp, heap: [FinalizerRecord(head_addr, 0, 0)])
    t = collect_roots(gp, heap, edges)
    fin = t.take(t.kind == FINALIZER)
    assert head not in fin.obj.tolist() and nxt in fin.obj.tolist()
    r = fin.obj.tolist().index(nxt)
    assert int(fin.slot[r]) == head_addr + case.manifest["list"]["next_offset"]
    assert fin.describe(r) == f"finalizer of {head_addr:#x}+{case.manifest['list']['next_offset']:#x}"
    reached = mark(heap, edges, fin).reached
    assert reached[nxt] and not reached[head]


@pytest.mark.parametrize("entry", ALL)
def test_heap_index_marks_from_the_table(entry):
    """HeapIndex's roots are collect_roots' rows, kinds from ROOT_KINDS, each row's object
    the heap object its pointer hits."""
    _, gp = go_case(entry)
    hi = gp.heap_index()
    t = hi.roots
    again = collect_roots(gp, hi.heap, hi.edges)
    assert len(t) == len(again) and (t.obj == again.obj).all() and (t.slot == again.slot).all()
    assert (hi.heap.find(t.ptr) == t.obj).all()
    assert set(np.unique(t.kind).tolist()) <= set(range(len(ROOT_KINDS)))
    assert (t.goroutine[t.kind == GLOBAL] == -1).all()
    assert (t.frame[t.kind == FRAME] >= 0).all()
