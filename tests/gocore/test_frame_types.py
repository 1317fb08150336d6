"""Function bodies from DWARF (on demand), typed frame slots and closure contexts.

Truth comes from Go: the ELF symbol table (function entries), the fixture program's
manifest (the funcval's address, ``unsafe.Sizeof(Captured{})``, the magic it stored in
``Captured.X``, the LocalOnly object's address) and the dump's memory and goroutines.
"""

from __future__ import annotations

import numpy as np
import pytest

from gocore.binary.dwarf import Piece, location_pieces
from gocore.goroutines.stackroots import stack_root_table

from ..conftest import dump_cases, go_case

DWARF = dump_cases(kinds=("crash", "gcore", "sigquit"), stripped=False)
def _gp(entry):
    case, gp = go_case(entry)
    return case, gp.process, gp


def _minor(v: str) -> int:
    return int(v.split(".")[1])


def test_location_pieces():
    # DW_OP_call_frame_cfa; DW_OP_fbreg -56; regs; pieces with an optimized-out part
    assert location_pieces(bytes([0x9C])) == (Piece("cfa", 0, None),)
    assert location_pieces(bytes([0x91, 0x48])) == (Piece("cfa", -56, None),)
    assert location_pieces(bytes([0x9C, 0x11, 0x70, 0x22])) == (Piece("cfa", -16, None),)
    assert location_pieces(bytes([0x50])) == (Piece("reg", 0, None),)
    assert location_pieces(bytes([0x52, 0x93, 0x08, 0x93, 0x08, 0x91, 0x10, 0x93, 0x08])) == (
        Piece("reg", 2, 8), Piece("none", 0, 8), Piece("cfa", 16, 8))
    assert location_pieces(bytes([0x9F])) is None          # DW_OP_stack_value: not memory
    assert location_pieces(bytes([0x70, 0x00])) is None    # DW_OP_breg0: not a frame slot


@pytest.mark.parametrize("entry", DWARF[:1] + DWARF[3::3])
def test_functions_by_name_and_pc_match_the_symbol_table(entry):
    case, proc, gp = _gp(entry)
    syms = proc.exe.symbols
    for name in ("main.parkLocalOnly", "main.buildHeap.func1", "runtime.chanrecv"):
        f = gp.dwarf.function(name=name)
        addr, size = syms[name]
        assert (f.name, f.low_pc) == (name, addr)
        assert f.high_pc - f.low_pc <= size or size == 0
        assert gp.dwarf.function(pc=addr + (f.high_pc - f.low_pc) - 1) == f
        for v in f.vars:
            for lo, hi, _ in v.loclist or ():
                assert f.low_pc <= lo < hi <= f.high_pc, (name, v.name)
    assert gp.dwarf.function(name="no.such.func") is None


@pytest.mark.parametrize("entry", DWARF)
def test_closure_offset_of_the_captured_pointer(entry):
    """``c`` of main.buildHeap.func1 is a *main.Captured; from go1.23 DWARF gives its offset
    in the context, and the word there points at the Captured object whose X is the magic."""
    case, proc, gp = _gp(entry)
    m = case.manifest
    f = gp.dwarf.function(name="main.buildHeap.func1")
    c = next(v for v in f.vars if v.name == "c")
    T = gp.dwarf.types
    assert T[c.type].name == "*main.Captured"
    assert T[T[c.type].elem].size == m["type_sizes"]["main.Captured"]
    closure = m["objects"]["closure"]
    bias = proc.exe_bias
    assert proc.read_ptr(closure) == proc.exe.symbols["main.buildHeap.func1"][0] + bias
    if _minor(m["go_version"]) < 23:
        assert not f.closure_vars
        return
    assert [v.name for v in f.closure_vars] == ["c"]
    captured = proc.read_ptr(closure + c.closure_offset)
    assert proc.read_ptr(captured) == m["magic"]["captured"]
    hi = gp.heap_index()
    i = hi.find(closure)
    assert hi.name_of(i) == "closure for main.buildHeap.func1"
    assert hi.name_of(hi.find(captured)) == "main.Captured"
    fields, _ = hi.fields(i)
    by = {x.path: x for x in fields}
    assert by["c"].pointer == captured and by["c"].target_type == "main.Captured"


@pytest.mark.parametrize("entry", DWARF)
def test_local_only_slot_has_no_located_variable(entry):
    """The gap behind KNOWN_GAPS["main.LocalOnly"]: the precise root for the LocalOnly object
    is in main.parkLocalOnly's frame, but `lo`'s location list does not cover the frame's pc,
    so the slot gets no type and the object stays unknown (never guessed)."""
    case, proc, gp = _gp(entry)
    t = stack_root_table(gp)
    want = case.manifest["objects"]["local_only"]
    rows = [i for i in range(len(t)) if int(t.ptr[i]) == want and t.frame[i] >= 0
            and t.func_names[int(t.frame_func[int(t.frame[i])])] == "main.parkLocalOnly"]
    assert rows and all(t.precise[i] for i in rows)
    f = gp.dwarf.function(name="main.parkLocalOnly")
    lo = next(v for v in f.vars if v.name == "lo")
    assert gp.dwarf.types[lo.type].name == "*main.LocalOnly"
    for i in rows:
        pc = int(t.frame_pc[int(t.frame[i])]) - proc.exe_bias
        assert f.low_pc <= pc < f.high_pc
        assert lo.pieces_at(pc) is None
    hi = gp.heap_index()
    assert hi.name_of(hi.find(want)) == "unknown"


@pytest.mark.parametrize("entry", DWARF)
def test_typed_frame_roots_agree_with_the_dump(entry):
    """Every frame root typed *runtime.g holds its own goroutine's g (runtime code keeps
    ``gp := getg()``); a chanrecv parked by main.parkChanRecv holds main.chRecv's channel."""
    case, proc, gp = _gp(entry)
    hi = gp.heap_index()
    g_of = {g.id: g.address for g in gp.goroutines()}
    recv = proc.read_ptr(case.manifest["globals"]["main.chRecv"])
    parked = {g.id for g in gp.goroutines() if any(f.func == "main.parkChanRecv" for f in g.frames)}
    roots = hi.roots
    typed = [(roots.describe(r), hi.root_info(r))
             for r in np.flatnonzero((roots.type >= 0) & (roots.name < 0)).tolist()]
    for desc, f in typed:
        assert f.kind == "frame" and ", conservative" not in desc
        ptr = proc.read_ptr(f.address)
        if f.type == "*runtime.g":
            assert ptr == g_of[f.goroutine], desc
        if f.type == "*runtime.hchan" and "runtime.chanrecv: args" in desc \
                and f.goroutine in parked:
            assert ptr == recv, desc
    if _minor(case.manifest["go_version"]) >= 21:
        assert any(f.type == "*runtime.g" for _, f in typed)
