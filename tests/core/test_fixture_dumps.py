"""core/ against real dumps: what the Go program printed at dump time is what we read."""

from __future__ import annotations

import struct

import pytest
from elftools.elf.elffile import ELFFile

from core.source import materialize
from tests.conftest import dump_cases, open_case


@pytest.mark.parametrize("entry", dump_cases())
def test_pid_and_threads(entry):
    case, proc = open_case(entry)
    assert proc.pid == case.manifest["pid"]
    assert proc.dump_format == "elf-core"
    assert len(proc.threads) >= 1


@pytest.mark.parametrize("entry", dump_cases())
def test_slice_headers_point_at_printed_arrays(entry):
    case, proc = open_case(entry)
    g, objs, counts = case.manifest["globals"], case.manifest["objects"], case.manifest["counts"]
    for var, array, count in (("main.leak", "leak_array", "main.Leak"),
                              ("main.arrSmall", "arr_small_array", "main.ElemS"),
                              ("main.arrMid", "arr_mid_array", "main.ElemM"),
                              ("main.arrLarge", "arr_large_array", "main.ElemL")):
        data, length, cap = struct.unpack("<QQQ", proc.read(g[var], 24))
        assert data == objs[array], var
        assert length == counts[count], var
        assert cap >= length


@pytest.mark.parametrize("entry", dump_cases())
def test_linked_list_walk(entry):
    case, proc = open_case(entry)
    spec = case.manifest["list"]
    node = proc.read_ptr(case.manifest["globals"]["main.list"])
    assert node == case.manifest["objects"]["list_head"]
    values = []
    while node and len(values) <= spec["length"]:
        values.append(struct.unpack("<q", proc.read(node + spec["value_offset"], 8))[0])
        node = proc.read_ptr(node + spec["next_offset"])
    assert values == [i * 7 + 3 for i in range(spec["length"])]


@pytest.mark.parametrize("entry", dump_cases())
def test_every_pt_load_is_a_mapping(entry):
    case, proc = open_case(entry)
    with open(materialize(case.core), "rb") as f:
        loads = [(s["p_vaddr"], s["p_vaddr"] + s["p_memsz"])
                 for s in ELFFile(f).iter_segments() if s["p_type"] == "PT_LOAD"]
    spans = {(m.start, m.end) for m in proc.mappings}
    assert set(loads) <= spans


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash", "panic", "sigquit")))
def test_crashing_thread_pc_in_text(entry):
    case, proc = open_case(entry)
    text = proc.exe.sections[".text"]
    assert proc.crash_thread is not None
    pc = proc.crash_thread.pc - proc.exe_bias
    assert text.addr <= pc < text.addr + text.size
    # The code at the crashing PC is readable (filled from the executable in kernel cores).
    assert proc.read(proc.crash_thread.pc, 16) == proc.exe.read_static(pc, 16)
