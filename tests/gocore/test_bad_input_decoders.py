"""Corrupt executables reach the Go-layer decoders: one-line errors or warned partial answers.

Each test mutates a copy of a fixture executable in ``tmp_path`` (pclntab, moduledata, build
info, GC programs, type descriptors, DWARF) and runs the real command line in-process: exit 1
with one ``viewcore: error:`` line, or exit 0 with a warning and ``partial``, and never a
traceback, an "internal error", a hang or a large allocation. Where the answer survives, it is
compared with the truth the Go runtime recorded (the fixture's manifest and traceback).
"""

from __future__ import annotations

import json
import struct
import time

import pytest

import core
from core.source import materialize
from gocore.binary.pclntab import parse_header
from tests.conftest import Case, fixture_index, run_cli
from tests.gotraceback import parse

TIME_LIMIT = 60          # seconds per command: far above a normal run, far below a blow-up


def _case(version: str, stripped: bool = False, kind: str = "crash") -> Case:
    entry = next((e for e in fixture_index() if e["go_version"] == version and e["kind"] == kind
                  and bool(e["stripped"]) == stripped), None)
    if entry is None:
        pytest.skip(f"no {version} {kind} fixture")
    return Case(entry)


def _exe_copy(case: Case, tmp_path) -> tuple[str, bytearray]:
    """Return (path of a private copy of the case's executable, its bytes)."""
    data = bytearray(open(materialize(case.exe), "rb").read())
    dst = tmp_path / "exe"
    dst.write_bytes(bytes(data))
    return str(dst), data


def _write(path: str, data: bytearray) -> None:
    with open(path, "wb") as f:
        f.write(bytes(data))


def _cli(capsys, case: Case, exe: str, *cmd: str) -> tuple[int, str, str]:
    t0 = time.monotonic()
    status, out, err = run_cli(capsys, case.core, "--exe", exe, "--no-cache", "--json", *cmd)
    assert time.monotonic() - t0 < TIME_LIMIT
    assert "Traceback" not in err and "internal error" not in err, err
    return status, out, err


def _one_error(status: int, err: str, *words: str) -> None:
    """Assert exit 1 with exactly one ``viewcore: error:`` line holding ``words``."""
    lines = [ln for ln in err.splitlines() if ln.startswith("viewcore: error:")]
    assert status == 1 and len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]


def _answer_matches_truth(case: Case, doc: dict) -> None:
    """The overview's goroutines and live heap agree with what the runtime recorded."""
    assert doc["goroutines"] == len(parse(case.traceback))
    ms = case.manifest["memstats"]
    assert abs(doc["heap"]["objects"] - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"]


# ---- pclntab -------------------------------------------------------------------------------

class _Pcln:
    """File offsets of one executable's pclntab parts (from its header)."""

    def __init__(self, exe_path: str):
        exe = core.open_executable(exe_path)
        sec = exe.sections[".gopclntab"]
        self.base = sec.offset
        raw = bytes(exe.data[sec.offset: sec.offset + 72])
        self.h = parse_header(raw, sec.addr)
        self.ftab = self.base + self.h.pcln_offset

    def functab(self, i: int) -> int:
        """Return the file offset of functab entry ``i`` (entryoff, funcoff)."""
        return self.ftab + 8 * i

    def func_record(self, data: bytes, i: int) -> int:
        """Return the file offset of function ``i``'s ``_func``."""
        (funcoff,) = struct.unpack_from("<I", data, self.functab(i) + 4)
        return self.ftab + funcoff

    def index_of(self, data: bytes, name: str) -> int:
        """Return the table index of function ``name``."""
        want = name.encode() + b"\0"
        for i in range(self.h.nfunc):
            (nameoff,) = struct.unpack_from("<i", data, self.func_record(data, i) + 4)
            start = self.base + self.h.funcname_offset + nameoff
            if data[start: start + len(want)] == want:
                return i
        raise AssertionError(name)


def test_zeroed_functab_entry_degrades(capsys, tmp_path):
    """One functab entry zeroed: that function (and the one before) go unnamed, with a
    warning; before, "function table is not sorted" failed every command."""
    case = _case("go1.22.10")
    exe, data = _exe_copy(case, tmp_path)
    tab = _Pcln(exe)
    i = tab.index_of(data, "fmt.Sprintf")
    data[tab.functab(i): tab.functab(i) + 8] = bytes(8)
    _write(exe, data)
    status, out, err = _cli(capsys, case, exe, "overview")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["partial"] and any("func-table entries out of order" in w for w in doc["warnings"])
    _answer_matches_truth(case, doc)


def test_func_name_offset_outside_funcnametab_degrades(capsys, tmp_path):
    """A _func's nameOff past funcnametab: before, "unterminated name" failed everything."""
    case = _case("go1.22.10")
    exe, data = _exe_copy(case, tmp_path)
    tab = _Pcln(exe)
    rec = tab.func_record(data, tab.index_of(data, "fmt.Sprintf"))
    data[rec + 4: rec + 8] = struct.pack("<i", 0x7FFFFFF0)
    _write(exe, data)
    status, out, err = _cli(capsys, case, exe, "overview")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["partial"] and any("function names are unreadable" in w for w in doc["warnings"])
    _answer_matches_truth(case, doc)


def test_funcoff_outside_the_table_degrades(capsys, tmp_path):
    """A functab funcoff far past the table: before, an IndexError in the name gather."""
    case = _case("go1.22.10")
    exe, data = _exe_copy(case, tmp_path)
    tab = _Pcln(exe)
    i = tab.index_of(data, "fmt.Sprintf")
    data[tab.functab(i) + 4: tab.functab(i) + 8] = struct.pack("<I", 0xFFFFFF00)
    _write(exe, data)
    status, out, err = _cli(capsys, case, exe, "overview")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["partial"] and any("function records are unreadable" in w for w in doc["warnings"])
    _answer_matches_truth(case, doc)


def test_cu_offset_outside_cutab_names_file_unknown(capsys, tmp_path):
    """runtime.gopark's cuOffset past cutab: before, struct.error from ``filename``; now its
    frames show file "?" with a warning."""
    case = _case("go1.22.10")
    exe, data = _exe_copy(case, tmp_path)
    tab = _Pcln(exe)
    rec = tab.func_record(data, tab.index_of(data, "runtime.gopark"))
    data[rec + 32: rec + 36] = struct.pack("<I", 0x7FFFFFF0)
    _write(exe, data)
    status, out, err = _cli(capsys, case, exe, "goroutines")
    assert status == 0, err
    assert any(ln.startswith("viewcore: warning:") and "outside cutab" in ln
               for ln in err.splitlines()), err
    assert len(json.loads(out)) == len(parse(case.traceback))


# ---- GC programs ---------------------------------------------------------------------------

def test_gc_program_repeat_overrun_is_bounded(tmp_path):
    """The data section's GC program (moduledata.gcdata, go1.19) rewritten to repeat one bit
    2^40 times: with the section's size as the bound it is rejected before anything is
    expanded; with only a bits-wanted limit, the expansion stops at the limit. Before, the
    repeat was expanded by ``np.tile`` first (a 2^31 repeat took 4.2 GB and 10 s)."""
    from gocore.heap.gcprog import GCProgramError, gc_program_mask
    from gocore.binary.moduledata import find_moduledata
    case = _case("go1.19.8")
    path, data = _exe_copy(case, tmp_path)
    exe = core.open_executable(path)
    md = find_moduledata(exe)
    nwords = (md.edata - md.data) // 8
    seg = next(s for s in exe.segments if s.vaddr <= md.gcdata < s.vaddr + s.filesz)
    off = seg.offset + md.gcdata - seg.vaddr
    (plen,) = struct.unpack_from("<I", data, off)
    # literal 1 bit (1), then repeat the last 1 bit 2^40 times, then end
    count = 1 << 40
    varint = bytearray()
    while count >= 0x80:
        varint.append(count & 0x7F | 0x80)
        count >>= 7
    varint.append(count)
    prog = bytes([0x01, 0x01, 0x81]) + bytes(varint) + b"\0"
    assert len(prog) <= plen
    data[off: off + 4 + len(prog)] = struct.pack("<I", len(prog)) + prog
    _write(path, data)
    exe = core.open_executable(path)
    with pytest.raises(GCProgramError, match=r"GC program writes \d+ words, more than the type's"):
        gc_program_mask(exe.read_static, md.gcdata, nwords, max_bits=nwords)
    t0 = time.monotonic()
    bits = gc_program_mask(exe.read_static, md.gcdata, nwords)
    assert time.monotonic() - t0 < 1 and len(bits) == nwords and bits.all()


# ---- build info and moduledata -------------------------------------------------------------

def _file_offset(exe, addr: int) -> int:
    seg = next(s for s in exe.segments if s.vaddr <= addr < s.vaddr + s.filesz)
    return seg.offset + addr - seg.vaddr


def test_build_info_version_length_of_2_60(capsys, tmp_path):
    """The build info's version-length varint set to 2^60: the build info is refused with a
    warning naming the length, and the version comes from runtime.buildVersion."""
    from gocore.binary.buildinfo import find_build_info
    case = _case("go1.22.10")
    path, data = _exe_copy(case, tmp_path)
    off = _file_offset(core.open_executable(path), find_build_info(core.open_executable(path)))
    n, varint = 1 << 60, bytearray()
    while n >= 0x80:
        varint.append(n & 0x7F | 0x80)
        n >>= 7
    varint.append(n)
    data[off + 32: off + 32 + len(varint)] = varint
    _write(path, data)
    status, out, err = _cli(capsys, case, path, "overview")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["go_version"] == case.manifest["go_version"]
    assert doc["go_version_source"] == "runtime.buildVersion"
    assert doc["partial"] and any(f"version string of {1 << 60} bytes" in w for w in doc["warnings"])
    _answer_matches_truth(case, doc)


def test_moduledata_typelinks_length_of_2_31(capsys, tmp_path):
    """moduledata.typelinks len and cap set to 2^31 (within the old 2^32 cap check): the
    moduledata no longer validates, one error line names the slice; before, the typelinks
    array of 8 GiB was asked of the dump."""
    from gocore.binary.moduledata import OFFSETS, find_moduledata
    case = _case("go1.22.10")
    path, data = _exe_copy(case, tmp_path)
    exe = core.open_executable(path)
    md = find_moduledata(exe)
    off = _file_offset(exe, md.addr) + OFFSETS[md.family]["typelinks"]
    data[off + 8: off + 24] = struct.pack("<QQ", 1 << 31, 1 << 31)
    _write(path, data)
    status, out, err = _cli(capsys, case, path, "histogram")
    _one_error(status, err, "runtime.firstmoduledata not found", "typelinks of 2147483648 elements")


# ---- DWARF ---------------------------------------------------------------------------------

def _damage_dwarf(data: bytearray, exe_path: str, name: str, frac: float, n: int,
                  compressed_bytes: bool = False) -> None:
    """Overwrite ``n`` bytes of section ``name`` at fraction ``frac`` with 0xff.

    The fixtures' DWARF is zlib-compressed (SHF_COMPRESSED): the damage goes into the
    decompressed bytes, recompressed in place, unless ``compressed_bytes`` (then the
    stored stream itself is damaged).
    """
    import zlib
    sec = core.open_executable(exe_path).sections[name]
    raw = bytes(data[sec.offset: sec.offset + sec.stored])
    if compressed_bytes:
        at = sec.offset + int(sec.stored * frac)
        data[at: at + n] = b"\xff" * n
        return
    assert sec.compressed
    body = bytearray(zlib.decompress(raw[24:]))
    at = int(len(body) * frac)
    body[at: at + n] = b"\xff" * n
    z = zlib.compress(bytes(body), 9)
    assert 24 + len(z) <= sec.stored
    data[sec.offset + 24: sec.offset + 24 + len(z)] = z


@pytest.mark.parametrize("section,frac,compressed_bytes", [
    (".debug_info", 0.01, False), (".debug_info", 0.5, False), (".debug_abbrev", 0.5, False),
    (".debug_info", 0.5, True)], ids=["info-unit", "info-types", "abbrev", "info-zlib"])
def test_damaged_dwarf_falls_back_to_the_layout_tables(capsys, tmp_path, section, frac,
                                                       compressed_bytes):
    """Damaged DWARF is one warning; overview and histogram answer as for a stripped build,
    and their figures are the runtime's. Before, any bad DWARF byte failed every command."""
    case = _case("go1.19.8")
    path, data = _exe_copy(case, tmp_path)
    _damage_dwarf(data, path, section, frac, 64, compressed_bytes)
    _write(path, data)
    status, out, err = _cli(capsys, case, path, "overview")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["partial"]
    assert any(w.startswith("DWARF unreadable (") and w.endswith("): using the built-in layouts "
                                                                 "for go1.19") for w in doc["warnings"])
    _answer_matches_truth(case, doc)
    status, out, err = _cli(capsys, case, path, "histogram")
    assert status == 0, err
    assert "viewcore: warning: DWARF unreadable (" in err
    rows = json.loads(out)
    ms = case.manifest["memstats"]
    assert abs(sum(r["count"] for r in rows) - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"]
    assert abs(sum(r["bytes"] for r in rows) - ms["HeapAlloc"]) <= 0.02 * ms["HeapAlloc"]


# ---- runtime type descriptors --------------------------------------------------------------

def _array_type(case: Case):
    """Return (GoProcess, RuntimeTypes, the [256]string descriptor) of the unmutated case:
    an array whose GC mask Go 1.27 builds on demand from its element."""
    import gocore
    from gocore.binary.rtype import runtime_types
    gp = gocore.open(case.core, exe=case.exe)
    rts = runtime_types(gp)
    t = next((t for t in rts.all_types() if t.name == "[256]string"), None)
    if t is None or not t.gc_mask_on_demand or rts._ptr(t.gcdata):
        pytest.skip("no unbuilt on-demand [256]string descriptor")
    return gp, rts, t


def _mutated_types(case: Case, tmp_path, patches: list[tuple[int, bytes]]):
    """Return the RuntimeTypes of the case opened with a copy of its executable in which
    each (link-time address, bytes) patch is written."""
    import gocore
    from gocore.binary.rtype import runtime_types
    path, data = _exe_copy(case, tmp_path)
    exe = core.open_executable(path)
    for addr, raw in patches:
        off = _file_offset(exe, addr)
        data[off: off + len(raw)] = raw
    _write(path, data)
    return runtime_types(gocore.open(case.core, exe=path))


@pytest.mark.parametrize("what", ["len-2^62", "elem-cycle", "name-length"])
def test_garbage_type_descriptor_is_a_bad_type(tmp_path, what):
    """A type descriptor (in the executable's rodata) with an array length of 2^62, an
    element that is the array itself, or a name length past the type section is refused
    with a RuntimeTypeError naming it; before, the mask build asked numpy for 2^62 words,
    recursed without end, or read past the section."""
    from gocore.binary.rtype import RuntimeTypeError
    case = _case("go1.27.3")
    gp, rts, t = _array_type(case)
    bias = gp.process.exe_bias
    tail = t.addr - bias + rts.abi.hdr            # elem, slice, len
    if what == "len-2^62":
        rts2 = _mutated_types(case, tmp_path, [(tail + 16, struct.pack("<Q", 1 << 62))])
        match = "array of 4611686018427387904 elements"
    elif what == "elem-cycle":
        # the array is its own element: one element of its own size
        rts2 = _mutated_types(case, tmp_path, [(tail, struct.pack("<Q", t.addr)),
                                               (tail + 16, struct.pack("<Q", 1))])
        match = "contains itself"
    else:
        (str_off,) = struct.unpack("<i", gp.process.read(t.addr + rts.abi.off["str"], 4))
        name = rts.types_base - bias + str_off
        rts2 = _mutated_types(case, tmp_path, [(name + 1, b"\xff\xff\xff\xff\x0f")])
        match = "runs past the type section"
    t0 = time.monotonic()
    with pytest.raises(RuntimeTypeError, match=match):
        rts2.gc_mask(rts2.get(t.addr))
    assert time.monotonic() - t0 < 5


def test_inline_tree_name_outside_funcnametab_is_a_warning(tmp_path):
    """An inlinedCall whose nameOff is past funcnametab names that frame "?" and warns;
    before, the PclntabError ("unterminated name") ended the whole goroutine listing."""
    from gocore.binary.moduledata import load_module
    from gocore.binary.pclntab import FUNCDATA_INL_TREE
    case = _case("go1.22.10")
    path, data = _exe_copy(case, tmp_path)
    exe = core.open_executable(path)
    tab, _ = load_module(exe)
    f = next(tab.func(i) for i in range(tab.nfunc) if tab.func(i).funcdata(FUNCDATA_INL_TREE))
    tree = f.funcdata(FUNCDATA_INL_TREE)
    want = tab.inlined_call(tree, 0).name
    off = _file_offset(exe, tree) + 4            # go1.20+: funcID u8, pad[3], nameOff
    data[off: off + 4] = struct.pack("<i", 0x7FFFFFF0)
    _write(path, data)
    warnings: list[str] = []
    tab2, _ = load_module(core.open_executable(path), warn=warnings.append)
    assert want and tab2.inlined_call(tree, 0).name == "?"
    assert len(warnings) == 1 and "nameOff 0x7ffffff0 is outside funcnametab" in warnings[0]


def _origin_attribute(exe_path: str, function: str) -> int:
    """Return the .debug_info offset of the first DW_AT_abstract_origin of a variable inside
    ``function``'s DIE (an inlined callee's parameter), found with pyelftools."""
    from elftools.elf.elffile import ELFFile
    with open(exe_path, "rb") as f:
        dw = ELFFile(f).get_dwarf_info(relocate_dwarf_sections=False)
        for cu in dw.iter_CUs():
            for die in cu.iter_DIEs():
                if die.tag != "DW_TAG_subprogram" or die.attributes.get("DW_AT_name") is None \
                        or die.attributes["DW_AT_name"].value != function.encode():
                    continue
                stack = list(die.iter_children())
                while stack:
                    c = stack.pop(0)
                    if c.tag in ("DW_TAG_formal_parameter", "DW_TAG_variable") \
                            and "DW_AT_abstract_origin" in c.attributes:
                        return c.attributes["DW_AT_abstract_origin"].offset
                    stack[:0] = list(c.iter_children())
    raise AssertionError(function)


def test_damaged_function_entry_costs_only_that_function(capsys, tmp_path):
    """runtime.chanrecv's DWARF entry damaged where only its lazy reading meets it (an
    inlined parameter's abstract origin past the section): a warning names it, that
    function's frames are typed without DWARF variables, and the heap figures stay the
    runtime's. Before, every frame lost its DWARF variable types."""
    import zlib
    case = _case("go1.22.10")
    path, data = _exe_copy(case, tmp_path)
    at = _origin_attribute(path, "runtime.chanrecv")
    sec = core.open_executable(path).sections[".debug_info"]
    body = bytearray(zlib.decompress(bytes(data[sec.offset + 24: sec.offset + sec.stored])))
    body[at: at + 4] = b"\xff" * 4
    z = zlib.compress(bytes(body), 9)
    data[sec.offset + 24: sec.offset + 24 + len(z)] = z
    _write(path, data)
    status, out, err = _cli(capsys, case, path, "histogram")
    assert status == 0, err
    warned = [ln for ln in err.splitlines() if ln.startswith("viewcore: warning:")]
    assert any("is unreadable" in ln and "that function's frames are typed without DWARF "
               "variables" in ln for ln in warned), err
    assert not any("frame variables' types unavailable" in ln for ln in warned), err
    rows = json.loads(out)
    ms = case.manifest["memstats"]
    assert abs(sum(r["count"] for r in rows) - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"]


def test_build_info_version_that_is_no_version(capsys, tmp_path):
    """The build info's version bytes zeroed after its "g" (stripped go1.22): the version is
    read from runtime.buildVersion with a warning. Before: "missing debug info: a runtime
    layout for Go version 'g\\x00...'" ended every command."""
    from gocore.binary.buildinfo import find_build_info
    case = _case("go1.22.10", stripped=True)
    path, data = _exe_copy(case, tmp_path)
    exe = core.open_executable(path)
    off = _file_offset(exe, find_build_info(exe))
    n = data[off + 32]                                  # one-byte varint: len("go1.22.10")
    assert data[off + 33: off + 33 + n] == case.manifest["go_version"].encode()
    data[off + 34: off + 33 + n] = bytes(n - 1)
    _write(path, data)
    status, out, err = _cli(capsys, case, path, "overview")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["go_version"] == case.manifest["go_version"]
    assert doc["go_version_source"] == "runtime.buildVersion"
    assert doc["partial"] and any("which is none; the Go version is read from the runtime" in w
                                  for w in doc["warnings"])
    _answer_matches_truth(case, doc)
