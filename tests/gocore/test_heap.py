"""Heap layer on the fixture dumps: spans, objects, pointer maps, edges, marking.

Ground truth is each dump's manifest (MemStats after runtime.GC(), addresses the program
printed); nothing here compares against our own earlier output.
"""

from __future__ import annotations

import numpy as np
import pytest

from gocore.heap.edges import edges_of
from gocore.heap.heap import heap_of
from gocore.heap.gcprog import run_gc_program
from gocore.heap.reach import mark
from gocore.heap.roots import collect_roots, finalizer_records
from gocore.heap.stats import runtime_figure, runtime_object_counts

from ..conftest import dump_cases, go_case

CASES = dump_cases(kinds=("crash", "sigquit", "gcore"))
ARRAYS = {"arr_small_array": "main.arrSmall", "arr_mid_array": "main.arrMid",
          "arr_large_array": "main.arrLarge"}

def _gp(entry):
    return go_case(entry)


def _reach(gp):
    """Mark from the product's roots less the goroutine stacks (globals and finalizers)."""
    heap, _, edges = edges_of(gp)
    roots = collect_roots(gp, heap, edges)
    return heap, edges, mark(heap, edges, roots.take(roots.name >= 0))


@pytest.mark.parametrize("entry", CASES)
def test_runtime_counts_are_memstats(entry):
    """The runtime's own counts the heap check compares against, read through the layout:
    DWARF and stripped builds alike give MemStats' HeapInuse and HeapObjects."""
    case, gp = _gp(entry)
    ms = case.manifest["memstats"]
    pages = runtime_figure(gp, "runtime.mheap_", "runtime.mheap", "pagesInUse")
    assert pages is not None and pages * heap_of(gp).spans.page_size == ms["HeapInuse"]
    small, large = runtime_object_counts(gp)
    assert int(small.sum()) + large == ms["HeapObjects"]


@pytest.mark.parametrize("entry", CASES)
def test_allocated_objects_match_memstats(entry):
    case, gp = _gp(entry)
    heap = heap_of(gp)
    ms = case.manifest["memstats"]
    assert abs(heap.count - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"]
    assert abs(heap.bytes - ms["HeapAlloc"]) <= 0.02 * ms["HeapAlloc"]
    assert (np.diff(heap.addr.astype(np.int64)) > 0).all()


@pytest.mark.parametrize("entry", CASES)
def test_manifest_objects_are_allocated(entry):
    case, gp = _gp(entry)
    heap = heap_of(gp)
    malloc_headers = gp.facts.malloc_headers
    for name, addr in case.manifest["objects"].items():
        i = heap.find_one(addr)
        assert i >= 0, name
        # &x[0] of a slice with a malloc header (go1.22+, 512 B < slot <= 32 KiB) is slot+8
        assert addr - int(heap.addr[i]) in ((0, 8) if malloc_headers else (0,)), name
    big = heap.find_one(case.manifest["objects"]["big"])
    want = case.manifest["type_sizes"]["main.BigObj"]
    assert int(heap.addr[big]) == case.manifest["objects"]["big"]
    assert want <= int(heap.size[big]) < want + 8192
    assert heap.spans.sizeclass[heap.span[big]] == 0          # a large object: its own span


@pytest.mark.parametrize("entry", CASES)
def test_pointer_arrays_in_every_size_band(entry):
    """Arrays of 256 B, 8000 B (malloc header on go1.22+) and 80 KB: every element found."""
    case, gp = _gp(entry)
    heap, pm, _ = edges_of(gp)
    for obj, arr in ARRAYS.items():
        i = heap.find_one(case.manifest["objects"][obj])
        ids, words = pm.slots(np.array([i]))
        assert (ids == i).all()
        vals, ok = heap.gather.words(heap.addr[i] + words.astype(np.uint64) * np.uint64(heap.word_size))
        assert ok.all()
        dst = heap.find(vals[vals != 0])
        assert (dst >= 0).all(), obj
        assert len(np.unique(dst)) == len(dst) == case.manifest["arrays"][arr]["len"], obj


@pytest.mark.parametrize("entry", CASES)
def test_marking_from_globals(entry):
    case, gp = _gp(entry)
    heap, edges, r = _reach(gp)
    objs = case.manifest["objects"]
    for obj, arr in ARRAYS.items():
        i = heap.find_one(objs[obj])
        assert r.reached[i]
        dst, _ = edges.out(i)
        assert len(np.unique(dst)) == case.manifest["arrays"][arr]["len"]
        assert r.reached[dst].all(), obj
    # walk the list through memory and check each node is marked
    node, seen = heap.find_one(objs["list_head"]), 0
    next_off = case.manifest["list"]["next_offset"]
    while node >= 0:
        assert r.reached[node]
        seen += 1
        nxt = gp.process.read_ptr(int(heap.addr[node]) + next_off)
        node = heap.find_one(nxt) if nxt else -1
        assert seen <= case.manifest["list"]["length"]
    assert seen == case.manifest["list"]["length"]
    tail = heap.find_one(objs["list_tail"])
    root, path = r.path(tail)
    assert len(path) == case.manifest["list"]["length"]
    assert path[0][0] == heap.find_one(objs["list_head"]) and path[-1][0] == tail
    if gp.dwarf is not None:
        assert root == "main.list"
    # held only by a goroutine's stack: not reachable from data/bss
    assert not r.reached[heap.find_one(objs["local_only"])]
    assert r.reached[heap.find_one(objs["big_child"])]
    assert r.reached[heap.find_one(objs["finalized_first"])]


@pytest.mark.parametrize("entry", CASES)
def test_live_gap_without_stack_roots_is_small(entry):
    """Without stack roots a few objects (stack-held ones) are missing; never more than 1 %."""
    case, gp = _gp(entry)
    heap, _, r = _reach(gp)
    ms = case.manifest["memstats"]
    gap = ms["HeapObjects"] - r.live_count
    assert 0 <= gap <= 0.01 * ms["HeapObjects"], gap
    assert r.live_bytes <= heap.bytes


def test_gc_program_literal_and_repeat():
    # 3 literal bits 101, then repeat the last 3 bits twice, then 1 literal bit 1, end
    prog = bytes([0x03, 0b101, 0x83, 0x02, 0x01, 0x01, 0x00])
    assert run_gc_program(prog, max_bits=10).astype(int).tolist() == [1, 0, 1, 1, 0, 1, 1, 0, 1, 1]
    # n = 0 in the repeat: n as a varint
    prog = bytes([0x02, 0b10, 0x80, 0x02, 0x03, 0x00])
    assert run_gc_program(prog, max_bits=8).astype(int).tolist() == [0, 1] * 4


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",)))
def test_finalizer_specials_are_found(entry):
    """Every object the program gave a finalizer has its record (main.finalized's objects)."""
    case, gp = _gp(entry)
    heap = heap_of(gp)
    fin = {rec.obj for rec in finalizer_records(gp, heap)}
    first = case.manifest["objects"]["finalized_first"]
    assert first in fin
    assert len(fin) >= case.manifest["finalizers"]
