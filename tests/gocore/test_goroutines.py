"""Goroutines against the traceback the Go runtime printed when the dump was made.

How frames are compared (the rule, stated once):
- Every goroutine the traceback lists (goroutine 0, an M's system stack, excluded) is
  listed by us with the same id, and we list no other.
- The bracketed status equals ours: the wait reason for waiting goroutines, else the
  status name.
- Frames, innermost first, have the same printed function names and file:line. The
  crashing goroutine is the exception: the runtime printed it from inside the panic, we
  read it after the crash, so our list has extra innermost runtime frames (raise,
  dieFromSignal, crash, fatalpanic) and the traceback's frames are exactly its tail.
- ``created by`` names the same function, and since Go 1.21 the same creator goroutine.
- gcore dumps were taken moments before the SIGQUIT that printed their traceback; the
  runtime's own goroutines (scavenger, GC workers) may have moved in between, so for
  them only the user goroutines' status and frames are compared.
"""

from __future__ import annotations

import pytest

import gocore
from tests.conftest import dump_cases, go_case, open_case
from tests.gotraceback import parse


def _load(entry):
    case, proc = open_case(entry)
    gp = gocore.load(proc)
    return case, gp, parse(case.traceback)


def _compared(entry, tb, ours):
    """Yield (traceback goroutine, ours) pairs whose state must match exactly."""
    for gid, t in tb.items():
        if entry["kind"] == "gcore" and ours[gid].system:
            continue
        yield t, ours[gid]


def _printed_status(g) -> str:
    if g.status == "waiting" and g.wait_reason:
        return g.wait_reason
    return g.status


@pytest.mark.parametrize("entry", dump_cases())
def test_goroutine_ids(entry):
    case, gp, tb = _load(entry)
    assert tb, "the traceback lists goroutines"
    assert {g.id for g in gp.goroutines()} == set(tb)


@pytest.mark.parametrize("entry", dump_cases())
def test_status_and_wait_reason(entry):
    case, gp, tb = _load(entry)
    ours = {g.id: g for g in gp.goroutines()}
    for t, g in _compared(entry, tb, ours):
        assert _printed_status(g) == t.status.removesuffix(" (scan)"), t.id
    for name, info in case.manifest["goroutines"].items():
        assert ours[info["goid"]].wait_reason == info["state"], name


@pytest.mark.parametrize("entry", dump_cases())
def test_frames_match_traceback(entry):
    case, gp, tb = _load(entry)
    ours = {g.id: g for g in gp.goroutines()}
    for t, g in _compared(entry, tb, ours):
        gid = t.id
        if t.stack_unavailable:
            continue
        assert not g.partial, (gid, g.problem)
        mine = [(f.func, f.file, f.line) for f in g.frames]
        theirs = [(f.func, f.file, f.line) for f in t.frames]
        if t.elided:
            mine = mine[:len(theirs)]
        if g.status == "running":
            assert mine[len(mine) - len(theirs):] == theirs, gid
        else:
            assert mine == theirs, gid


@pytest.mark.parametrize("entry", dump_cases())
def test_created_by(entry):
    case, gp, tb = _load(entry)
    ours = {g.id: g for g in gp.goroutines()}
    for gid, t in tb.items():
        g = ours[gid]
        assert g.created_by == t.created_by, gid
        if t.creator_id is not None:
            assert g.creator_id == t.creator_id, gid


@pytest.mark.parametrize("entry", dump_cases())
def test_user_goroutines_match_num_goroutine(entry):
    case, gp, _tb = _load(entry)
    user = [g for g in gp.goroutines() if not g.system]
    assert len(user) == case.manifest["num_goroutine"]


def test_garbage_stack_pointer_marks_one_goroutine_partial(tmp_path):
    """A g whose saved SP is garbage: that goroutine is partial, the others are intact."""
    import shutil

    import core
    from core.source import materialize

    entry = next(e for e in dump_cases(kinds=("crash",), stripped=False))
    entry = entry.values[0]
    case, proc = open_case(entry)
    gp = gocore.load(proc)
    victim = case.manifest["goroutines"]["main.parkChanRecv"]["goid"]
    g = next(g for g in gp.goroutines() if g.id == victim)
    field = g.address + gp.layout.offset("runtime.g", "sched.sp")
    seg = proc.memory.find(field)
    assert seg.source == "core"
    copy = tmp_path / "core"
    shutil.copyfile(materialize(case.core), copy)
    with open(copy, "r+b") as f:
        f.seek(seg.offset + (field - seg.start))
        f.write((0xdead0000beef).to_bytes(8, "little"))
    bad = gocore.load(core.open_dump(copy, exe=case.exe))
    by_id = {x.id: x for x in bad.goroutines()}
    assert by_id[victim].partial and by_id[victim].problem
    assert any(f"goroutine {victim}" in w for w in bad.warnings)
    good = {x.id for x in bad.goroutines() if not x.partial}
    assert good == {x.id for x in gp.goroutines()} - {victim}


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash", "gcore")))
def test_thread_g_from_tls(entry):
    """Each thread's g (fs_base - 8) belongs to the M whose procid is that thread; the
    crashing thread was running goroutine 1 (main), the one that crashed."""
    from gocore.goroutines.goroutines import current_g

    _case, proc = open_case(entry)
    gp = gocore.load(proc)
    L = gp.layout
    for t in gp.threads():
        g = current_g(gp, t)
        m = proc.read_ptr(g + L.offset("runtime.g", "m"))
        assert proc.read_uint(m + L.offset("runtime.m", "procid"), 8) == t.tid
    if gp.crash_thread() is not None:
        by_addr = {g.address: g.id for g in gp.goroutines()}
        assert by_addr.get(current_g(gp, gp.crash_thread())) == 1


def test_print_names_follow_the_runtime():
    from gocore.goroutines.goroutines import print_name
    assert print_name("runtime.gopanic") == "panic"
    assert print_name("main.Map[go.shape.int,go.shape.string]") == "main.Map[...]"
    assert print_name("main.(*List[go.shape.int]).Push") == "main.(*List[...]).Push"
    assert print_name("main.main.func1") == "main.main.func1"


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash", "panic")))
def test_frame_offsets_match_traceback(entry):
    """Every machine frame the traceback printed with ``+0x…`` and ``pc=`` has that offset
    in ours (the frame with the same pc and sp); inlined frames have none, as printed."""
    from tests.gotraceback import FILELINE
    case, gp = go_case(entry)
    ours = {(f.pc, f.sp): f for g in gp.goroutines() for f in g.frames if not f.inlined}
    printed = [m for line in case.traceback.splitlines() if (m := FILELINE.match(line)) and m.group(3) and m.group(6)]
    assert printed
    matched = [m for m in printed if (int(m.group(6), 16), int(m.group(5), 16)) in ours]
    assert len(matched) >= 20
    for m in matched:
        assert ours[(int(m.group(6), 16), int(m.group(5), 16))].offset == int(m.group(3), 16), m.group(0)
    assert all(f.offset is None for g in gp.goroutines() for f in g.frames if f.inlined)
