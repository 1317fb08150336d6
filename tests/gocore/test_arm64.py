"""linux/arm64 cores (fixtures/dumps-arm64: heapkeeper cross-built with GOARCH=arm64, run
under qemu-aarch64-static, the guest core qemu wrote) checked with the amd64 suite's own
tests, parametrized by the arm64 fixtures rather than copied.

Truth is what the program and its runtime printed when the core was written: the
GOTRACEBACK=crash traceback (goroutine ids, wait reasons, frames, creators), the MANIFEST
line (MemStats after runtime.GC(), per-type counts, addresses of globals and objects).
"""

from __future__ import annotations

import pytest

import gocore
from tests.conftest import ARM64_DUMPS, dump_cases, go_case, open_case
from tests.coreedit import type_counts
from tests.gocore import test_goroutines as goroutines
from tests.gocore import test_heap as heap
from tests.gocore import test_histogram as histogram
from tests.gocore import test_roots as roots

HEAP_KINDS = ("crash", "sigquit")  # the cores taken after runtime.GC() with the heap at rest
ALL = dump_cases(root=ARM64_DUMPS)
HEAP = dump_cases(kinds=HEAP_KINDS, root=ARM64_DUMPS)
DWARF = dump_cases(kinds=HEAP_KINDS, stripped=False, root=ARM64_DUMPS)
STRIPPED = dump_cases(kinds=HEAP_KINDS, stripped=True, root=ARM64_DUMPS)
CRASH = dump_cases(kinds=("crash",), stripped=False, root=ARM64_DUMPS)


# ---- the core itself ----

@pytest.mark.parametrize("entry", ALL)
def test_core_is_an_arm64_process(entry):
    """qemu's guest core: EM_AARCH64, the guest's pid, x0-x30/sp/pc/pstate registers, the
    crashing thread first with the SIGABRT that ended it."""
    case, proc = open_case(entry)
    assert (proc.goos, proc.goarch, proc.ptr_size, proc.byte_order) == ("linux", "arm64", 8, "little")
    assert proc.pid == case.manifest["pid"]
    assert set(proc.threads[0].regs) == {f"x{i}" for i in range(31)} | {"sp", "pc", "pstate"}
    assert proc.signal == 6 and proc.crash_thread is proc.threads[0]
    assert all(t.pc == t.regs["pc"] and t.sp == t.regs["sp"] for t in proc.threads)


@pytest.mark.parametrize("entry", ALL)
def test_running_goroutine_is_on_its_thread(entry):
    """The crashing thread's g (register R28, named back by its M) belongs to the M running
    goroutine 1, which crashed (crash, panic) or printed the SIGQUIT traceback's owner."""
    from gocore.goroutines.goroutines import current_g
    _case, proc = open_case(entry)
    gp = gocore.load(proc)
    assert any(current_g(gp, t) for t in gp.threads())
    if entry["kind"] in ("crash", "panic"):
        main = next(g for g in gp.goroutines() if g.id == 1)
        assert main.thread == proc.crash_thread.tid


# ---- goroutines: the amd64 tests on arm64 entries ----

@pytest.mark.parametrize("entry", ALL)
def test_goroutine_ids(entry):
    goroutines.test_goroutine_ids(entry)


@pytest.mark.parametrize("entry", ALL)
def test_status_and_wait_reason(entry):
    goroutines.test_status_and_wait_reason(entry)


@pytest.mark.parametrize("entry", ALL)
def test_frames_match_traceback(entry):
    goroutines.test_frames_match_traceback(entry)


@pytest.mark.parametrize("entry", ALL)
def test_frame_sp_and_fp_match_traceback(entry):
    """Every machine frame the traceback printed with ``sp=``/``fp=`` (arm64: fp = sp +
    frame size, the LR saved at 0(sp)) has the same sp and CFA in ours."""
    from tests.gotraceback import FILELINE
    case, gp = go_case(entry)
    ours = {(f.pc, f.sp): f.fp for g in gp.goroutines() for f in g.frames if not f.inlined}
    printed = [m for line in case.traceback.splitlines() if (m := FILELINE.match(line)) and m.group(4)]
    assert printed
    user = [m for m in printed if (int(m.group(6), 16), int(m.group(5), 16)) in ours]
    assert len(user) >= 20
    for m in user:
        assert ours[(int(m.group(6), 16), int(m.group(5), 16))] == int(m.group(4), 16)


@pytest.mark.parametrize("entry", ALL)
def test_created_by(entry):
    goroutines.test_created_by(entry)


@pytest.mark.parametrize("entry", ALL)
def test_user_goroutines_match_num_goroutine(entry):
    goroutines.test_user_goroutines_match_num_goroutine(entry)


# ---- heap ----

@pytest.mark.parametrize("entry", HEAP)
def test_runtime_counts_are_memstats(entry):
    heap.test_runtime_counts_are_memstats(entry)


@pytest.mark.parametrize("entry", HEAP)
def test_live_heap_as_exact_as_amd64(entry):
    """Live objects within 3 of MemStats.HeapObjects (the amd64 fixtures: 1-2), bytes
    within 1.5 % of HeapAlloc (amd64 and arm64 alike: about 16 KiB under it)."""
    case, gp = go_case(entry)
    ms = case.manifest["memstats"]
    objs, nbytes = gp.heap_figures()
    assert abs(objs - ms["HeapObjects"]) <= 3, (objs, ms["HeapObjects"])
    assert abs(nbytes - ms["HeapAlloc"]) <= 0.015 * ms["HeapAlloc"], (nbytes, ms["HeapAlloc"])
    histogram.test_live_heap_matches_memstats(entry)


@pytest.mark.parametrize("entry", HEAP)
def test_manifest_objects_are_allocated(entry):
    heap.test_manifest_objects_are_allocated(entry)


@pytest.mark.parametrize("entry", HEAP)
def test_pointer_arrays_in_every_size_band(entry):
    heap.test_pointer_arrays_in_every_size_band(entry)


@pytest.mark.parametrize("entry", HEAP)
def test_marking_from_globals(entry):
    heap.test_marking_from_globals(entry)


@pytest.mark.parametrize("entry", HEAP)
def test_breakdown_matches_memstats(entry):
    histogram.test_breakdown_matches_memstats(entry)


@pytest.mark.parametrize("entry,type_name", histogram.count_params(DWARF, "arm64"))
def test_histogram_counts_each_manifest_type(entry, type_name):
    case, gp = go_case(entry)
    assert type_counts(gp)[type_name] == case.manifest["counts"][type_name]


@pytest.mark.parametrize("entry", STRIPPED)
def test_stripped_names_what_the_runtime_recorded(entry):
    histogram.test_stripped_names_what_the_runtime_recorded(entry)


# ---- roots ----

@pytest.mark.parametrize("entry", CRASH)
def test_global_rows_are_the_programs_globals(entry):
    roots.test_global_rows_are_the_programs_globals(entry)


@pytest.mark.parametrize("entry", CRASH)
def test_frame_rows_are_the_tracebacks_goroutines(entry):
    roots.test_frame_rows_are_the_tracebacks_goroutines(entry)


@pytest.mark.parametrize("entry", HEAP)
def test_heap_index_marks_from_the_table(entry):
    roots.test_heap_index_marks_from_the_table(entry)
