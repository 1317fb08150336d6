"""Stack roots on every fixture dump, checked against the program's manifest.

heapkeeper keeps one ``main.LocalOnly`` object only in a local variable of the parked
goroutine ``main.parkLocalOnly``; the manifest gives its address and that goroutine's id,
and ``MemStats.HeapObjects`` after ``runtime.GC()`` (what the runtime's own marking left).
"""

from __future__ import annotations

import numpy as np
import pytest

from gocore.heap.heap import heap_of
from gocore.heap.edges import edges_of
from gocore.heap.reach import mark, reach_of
from gocore.heap.roots import collect_roots
from gocore.goroutines.stackroots import (AREAS, StackRoot, _Ctx, _Frames, stack_root_table,
                               stack_roots)

from ..conftest import dump_cases, go_case

CASES = dump_cases(kinds=("crash", "sigquit", "gcore"))

def _gp(entry):
    return go_case(entry)


def _without_stacks(gp):
    """Mark from the product's roots less the goroutine stacks."""
    heap, _, edges = edges_of(gp)
    roots = collect_roots(gp, heap, edges)
    return mark(heap, edges, roots.take(roots.name >= 0))


@pytest.mark.parametrize("entry", CASES)
def test_local_only_object_is_held_by_its_frame(entry):
    case, gp = _gp(entry)
    heap = heap_of(gp)
    local = heap.find_one(case.manifest["objects"]["local_only"])
    goid = case.manifest["goroutines"]["main.parkLocalOnly"]["goid"]
    assert local >= 0
    assert not _without_stacks(gp).reached[local]        # globals alone miss it
    r = reach_of(gp)
    assert r.reached[local]
    root, path = r.path(local)
    assert len(path) == 1 and root.startswith("main.parkLocalOnly")   # goroutine: below
    holders = [s for s in stack_roots(gp) if heap.find_one(s.ptr) == local]
    assert holders
    for s in holders:
        assert (s.kind, s.goid, s.func, s.precise) == ("frame", goid, "main.parkLocalOnly", True)
        assert s.area in ("locals", "stack object")


@pytest.mark.parametrize("entry", CASES)
def test_stack_roots_close_the_live_gap(entry):
    case, gp = _gp(entry)
    heap = heap_of(gp)
    want = case.manifest["memstats"]["HeapObjects"]
    before = _without_stacks(gp).live_count
    after = reach_of(gp).live_count
    assert after >= before + 1                            # at least the LocalOnly object
    assert abs(want - after) <= 0.02 * want, (before, after, want)
    # a crash allocates after ReadMemStats (the panic's error value, held by gopanic's
    # _panic stack object), so ``after`` may exceed HeapObjects by those few
    assert after <= heap.count


@pytest.mark.parametrize("entry", CASES)
def test_root_slots_lie_in_their_stacks_and_point_into_the_heap(entry):
    _, gp = _gp(entry)
    heap = heap_of(gp)
    t = stack_root_table(gp)
    assert len(t) > 0
    assert (heap.find(t.ptr) == t.obj).all() and (t.obj >= 0).all()
    bounds = {g.id: (g.stack_lo, g.stack_hi) for g in gp.goroutines()}
    roots = stack_roots(gp)
    assert len(roots) == len(t)
    for s in roots:
        assert isinstance(s, StackRoot) and s.area in AREAS
        if s.kind == "frame":
            lo, hi = bounds[s.goid]
            assert lo <= s.slot < hi, str(s)
            assert s.sp <= s.slot, str(s)
        if not s.precise:                                 # conservative only where allowed
            assert s.area in ("frame", "running frame", "register", "stack object"), str(s)


@pytest.mark.parametrize("entry", CASES)
def test_root_values_are_the_words_in_memory(entry):
    _, gp = _gp(entry)
    t = stack_root_table(gp)
    in_mem = np.flatnonzero(t.slot != 0)
    vals, ok = heap_of(gp).gather.words(t.slot[in_mem])
    assert ok.all() and (vals == t.ptr[in_mem]).all()


@pytest.mark.parametrize("entry", CASES)
def test_select_cases_are_a_live_stack_object(entry):
    """parkSelect's ``[3]scase`` is a stack object that selectgo's ``cas0`` points at."""
    case, gp = _gp(entry)
    goid = case.manifest["goroutines"]["main.parkSelect"]["goid"]
    objs = [s for s in stack_roots(gp) if s.goid == goid and s.area == "stack object"]
    assert objs and all(s.func == "main.parkSelect" and s.precise for s in objs)


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",)))
def test_panic_record_is_reached_through_g_panic(entry):
    """gopanic's ``_panic`` record is a stack object, scanned because ``g._panic`` (and
    its callees' arguments) point at it; its ``arg`` holds the runtime error."""
    _, gp = _gp(entry)
    crashing = [g.id for g in gp.goroutines() if any(f.func == "runtime.gopanic" for f in g.physical)]
    assert crashing
    held = [s for s in stack_roots(gp) if s.goid in crashing and s.area == "stack object"
            and s.func == "runtime.gopanic"]
    assert held and all(s.precise for s in held)


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",), stripped=False))
def test_running_goroutine_is_scanned_conservatively_only_at_its_top(entry):
    """The crashing goroutine stopped at a trap: only its innermost frame and registers
    may give conservative roots; the frames above are precise."""
    _, gp = _gp(entry)
    running = [g for g in gp.goroutines() if g.status == "running" and g.physical]
    assert running
    for g in running:
        top = g.physical[0]
        for s in stack_roots(gp):
            if s.goid == g.id and not s.precise:
                assert s.area == "register" or (s.func, s.sp) == (top.func, top.sp), str(s)


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",)))
def test_frame_plans_of_the_crashing_goroutine(entry):
    """Top frame (stopped by a signal): conservative; the frame below sigpanic uses its
    deferreturn site or is dead (no maps); the other frames are precise."""
    _, gp = _gp(entry)
    gs = [g for g in gp.goroutines() if g.status != "dead"]
    frames = _Frames(_Ctx(gp), gs)
    gi = next(i for i, g in enumerate(gs) if g.status == "running" and g.physical)
    rows = np.flatnonzero(frames.g == gi)
    phys = gs[gi].physical
    assert len(rows) == len(phys)
    for n, (row, fr) in enumerate(zip(rows, phys)):
        plan = frames.plans[frames.plan[row]]
        assert plan.func == fr.func and plan.problem is None
        areas = {AREAS[a] for chunk in plan.area for a in chunk}
        precise = all(chunk.all() for chunk in plan.precise)
        if n == 0 and fr.trap:
            assert areas <= {"running frame"} and not any(chunk.any() for chunk in plan.precise)
        elif n and phys[n - 1].func == "runtime.sigpanic":
            f = gp.pclntab.find_func(fr.pc - gp.process.exe_bias)
            if not f.deferreturn:
                assert not areas and not plan.objs        # a dead frame
        else:
            assert areas <= {"locals", "args"} and precise
