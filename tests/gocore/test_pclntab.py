"""pclntab, moduledata, build info and runtime globals against the Go toolchain's own output.

Ground truth, never our own output: the ELF ``.symtab`` (function names and entries, the
``runtime.*`` section-boundary symbols, ``runtime.firstmoduledata``), DWARF line tables,
``DW_TAG_inlined_subroutine`` and ``.debug_frame`` CFA rules (pyelftools), the tracebacks the
runtime printed when the fixture died (``*.stderr.txt``), and each fixture's manifest.
Fixtures: ``fixtures/dumps/index.json`` (exe.zst with DWARF+symbols, exe-stripped.zst).
"""

from __future__ import annotations

import json
import re
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import core
from gocore.binary.buildinfo import (BuildInfoError, MAGIC, parse_go_version, read_build_info)
from gocore.binary.moduledata import (LAYOUTS, RUNTIME_GLOBALS, ModuleDataError, _build_version_by_content,
                               find_moduledata, find_runtime_globals, load_module)
from gocore.binary.pclntab import (FUNCDATA_INL_TREE, Pclntab, PclntabError, _decode_pcvalue,
                            find_pclntab, parse_header)

ROOT = Path(__file__).resolve().parents[2]
DUMPS = ROOT / "fixtures" / "dumps"
INDEX = DUMPS / "index.json"


def _index() -> list[dict]:
    if not INDEX.exists():
        return []
    return json.loads(INDEX.read_text())


ENTRIES = _index()
VERSIONS = sorted({e["go_version"] for e in ENTRIES}, key=lambda v: parse_go_version(v) or (0, 0, 0))
needs_fixtures = pytest.mark.skipif(not ENTRIES, reason=f"{INDEX} is absent: run fixtures/make_dumps.py")


def _exe_path(version: str, stripped: bool) -> Path:
    for e in ENTRIES:
        if e["go_version"] == version and e["stripped"] == stripped:
            return DUMPS / e["exe"]
    pytest.skip(f"no {'stripped ' if stripped else ''}executable for {version} in {INDEX}")


@lru_cache(maxsize=None)
def _load(version: str, stripped: bool = False):
    """Return (exe, pclntab, moduledata) for a fixture executable (cached per session)."""
    exe = core.open_executable(_exe_path(version, stripped))
    tab, md = load_module(exe)
    return exe, tab, md


def _elf_func_symbols(exe) -> dict[tuple[str, int], int]:
    """Return {(name, addr): size} of STT_FUNC symbols inside .text, from the ELF symtab."""
    from elftools.elf.sections import SymbolTableSection
    table = exe.elf.get_section_by_name(".symtab")
    assert isinstance(table, SymbolTableSection), "fixture exe has no .symtab"
    text = exe.sections[".text"]
    out = {}
    for sym in table.iter_symbols():
        if sym["st_info"]["type"] == "STT_FUNC" and text.addr <= sym["st_value"] < text.addr + text.size:
            out[(sym.name, sym["st_value"])] = sym["st_size"]
    return out


# ---------------------------------------------------------------------------------------
# Synthetic inputs (no fixtures needed)
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, want", [
    ("go1.22.10", (1, 22, 10)),
    ("go1.21", (1, 21, 0)),
    ("go1.23rc1", (1, 23, 0)),
    ("go1.25.5 X:nodwarf5", (1, 25, 5)),
    ("devel go1.26-abcdef Mon Jan 1 2026", (1, 26, 0)),
    ("devel +abcdef", None),
    ("", None),
])
def test_parse_go_version(text, want):
    assert parse_go_version(text) == want


class _FakeExe:
    """Just enough of core.exe.Executable for buildinfo: one RW segment of bytes."""

    def __init__(self, base: int, blob: bytes):
        import mmap
        self.path = "fake"
        self.base = base
        self.sections = {}
        self.data = mmap.mmap(-1, len(blob))
        self.data.write(blob)
        self.segments = [core.exe.LoadSegment(base, len(blob), 0, len(blob), "rw-")]
        self.symbols = {}

    def read_static(self, vaddr, n):
        off = vaddr - self.base
        return bytes(self.data[off: off + n]) if 0 <= off and off + n <= len(self.data) else None


_MOD = ("path\texample.com/x\nmod\texample.com/x\t(devel)\t\ndep\tgolang.org/x/sys\tv0.1.0\th1:abc=\n"
        "build\tGOOS=linux\nbuild\t-ldflags=\"-s -w\"\n")
_SENT_A = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
_SENT_B = bytes.fromhex("f932433186182072008242104116d8f2")


def test_build_info_pointer_format():
    """Pre-1.18 layout: two pointers to Go string headers (written here by hand)."""
    base = 0x500000
    vers, mod = b"go1.17.13", _SENT_A + _MOD.encode() + _SENT_B
    blob = bytearray(0x200)
    blob[0x10:0x10 + 14] = MAGIC
    blob[0x10 + 14] = 8
    blob[0x10 + 15] = 0
    struct.pack_into("<QQ", blob, 0x20, base + 0x40, base + 0x50)  # -> string headers
    struct.pack_into("<QQ", blob, 0x40, base + 0x80, len(vers))
    struct.pack_into("<QQ", blob, 0x50, base + 0xA0, len(mod))
    blob[0x80:0x80 + len(vers)] = vers
    blob[0xA0:0xA0 + len(mod)] = mod
    bi = read_build_info(_FakeExe(base, bytes(blob)))
    assert (bi.go_version, bi.path, bi.main.path, bi.addr) == ("go1.17.13", "example.com/x", "example.com/x", base + 0x10)
    assert bi.settings == {"GOOS": "linux", "-ldflags": "-s -w"}


def test_build_info_inline_format_by_scan():
    """1.18+ layout found by scanning (no .go.buildinfo section, as in PE files)."""
    base = 0x600000
    mod = _SENT_A + _MOD.encode() + _SENT_B
    blob = bytearray(0x20) + bytearray(MAGIC + bytes([8, 2])) + bytearray(16)
    assert 128 <= len(mod) < 1 << 14
    blob += bytes([9]) + b"go1.22.10" + bytes([len(mod) & 0x7F | 0x80, len(mod) >> 7]) + mod
    bi = read_build_info(_FakeExe(base, bytes(blob)))
    assert (bi.go_version, bi.version_tuple, bi.addr) == ("go1.22.10", (1, 22, 10), base + 0x20)
    assert bi.main.version == "(devel)"


def test_build_info_absent():
    with pytest.raises(BuildInfoError, match="no Go build information"):
        read_build_info(_FakeExe(0x1000, bytes(64)))


def test_pcheader_bad_magic_is_one_line_error():
    with pytest.raises(PclntabError) as e:
        parse_header(struct.pack("<IBBBB", 0xFFFFFFFB, 0, 0, 1, 8) + bytes(64), 0x4000)
    assert str(e.value) == "pclntab at 0x4000: unsupported magic 0xfffffffb" and "\n" not in str(e.value)


def test_pcvalue_decoding_by_hand():
    # value +2 (zigzag 4) for 3 pcs, then -1 (zigzag 1) for 5 pcs, then end (0).
    tab = bytes([4, 3, 1, 5, 0])
    assert _decode_pcvalue(tab, 0, 0x100, 1) == ([0x103, 0x108], [1, 0])
    # a value delta needing two varint bytes: +100 -> zigzag 200 = 0xc8 0x01
    assert _decode_pcvalue(bytes([0xC8, 0x01, 2, 0]), 0, 0, 1) == ([2], [99])


def test_moduledata_layout_families():
    """Field offsets come from the per-family field lists (runtime/symtab.go)."""
    from gocore.binary.moduledata import OFFSETS
    assert OFFSETS["go1.18"]["text"] == 176 and OFFSETS["go1.18"]["gofunc"] == 304
    assert OFFSETS["go1.20"]["gofunc"] == 320 and OFFSETS["go1.20"]["typelinks"] == 352
    assert OFFSETS["go1.26"]["textsectmap"] == 336
    assert "typelinks" not in OFFSETS["go1.27"] and OFFSETS["go1.27"]["gofunc"] == 344
    assert list(LAYOUTS) == ["go1.18", "go1.20", "go1.26", "go1.27"]


# ---------------------------------------------------------------------------------------
# Real executables, one parameter per Go version
# ---------------------------------------------------------------------------------------

pytestmark_versions = pytest.mark.parametrize("version", VERSIONS or ["none"])


@needs_fixtures
@pytestmark_versions
def test_build_info_version_matches_manifest(version):
    manifests = {json.loads((DUMPS / e["manifest"]).read_text())["go_version"]
                 for e in ENTRIES if e["go_version"] == version}
    assert manifests == {version}
    for stripped in (False, True):
        exe = core.open_executable(_exe_path(version, stripped))
        bi = read_build_info(exe)
        assert bi.go_version == version
        assert bi.path == "heapkeeper" and bi.settings.get("GOARCH") == "amd64"


@needs_fixtures
@pytestmark_versions
def test_functab_matches_symtab(version):
    """Every STT_FUNC symbol in .text is a table entry with the same name and address.

    Normalisations, each a fact of the linker's symbol naming: ABI0 wrappers carry a
    ``.abi0`` suffix in .symtab only; ``runtime.text``/``runtime.etext`` are marker
    symbols; ELF names spell the middle dot ``·`` as ``.``; Go 1.19 shortens array lengths to ``[...]`` in ``type..eq.`` func names.
    """
    exe, tab, _ = _load(version)
    ours = {(n.replace("\u00b7", "."), int(a)) for n, a in zip(tab.names, tab.entries[:-1])}
    assert len(ours) == tab.nfunc
    syms = set()
    for name, addr in _elf_func_symbols(exe):
        if name in ("runtime.text", "runtime.etext"):
            continue
        name = name.removesuffix(".abi0")
        if name.startswith("type..eq."):
            name = re.sub(r"\[\d+\]", "[...]", name)
        syms.add((name, addr))
    assert ours == syms
    # the table's end sentinel is the last function's end; etext may add alignment padding
    assert 0 <= exe.symbols["runtime.etext"][0] - tab.max_pc < 64


@needs_fixtures
@pytestmark_versions
def test_stripped_functab_equals_unstripped(version):
    """The link is deterministic: -s -w changes no code, so the function tables are equal."""
    _, tab, md = _load(version)
    exe_s, tab_s, md_s = _load(version, stripped=True)
    assert exe_s.symbols == {} and not exe_s.has_dwarf
    assert tab_s.names == tab.names
    assert np.array_equal(tab_s.entries, tab.entries)
    assert (md_s.family, md_s.text, md_s.etext) == (md.family, md.text, md.etext)


@needs_fixtures
@pytestmark_versions
def test_moduledata_matches_symbols(version):
    exe, tab, md = _load(version)
    sym = exe.symbols
    assert md.addr == sym["runtime.firstmoduledata"][0]
    assert md.pc_header == tab.addr == exe.sections[".gopclntab"].addr
    for field in ("text", "etext", "noptrdata", "enoptrdata", "data", "edata", "bss", "ebss",
                  "noptrbss", "enoptrbss", "end", "types", "etypes", "gcdata", "gcbss"):
        assert getattr(md, field) == sym["runtime." + field][0], field
    gofunc = sym.get("go:func.*", sym.get("go.func.*"))
    assert gofunc is not None and md.gofunc == gofunc[0]
    if "runtime.epclntab" in sym and md.epclntab is not None:
        assert md.epclntab == sym["runtime.epclntab"][0]
    if md.typelinks is not None:
        assert md.typelinks[0] == sym["runtime.typelink"][0]
        assert md.typelinks[1] * 4 == exe.sections[".typelink"].size
        assert md.itablinks[0] == sym["runtime.itablink"][0]
    assert (md.minpc, md.maxpc) == (tab.min_pc, tab.max_pc)
    assert md.textsectmap[1] == 1
    # the stripped build is found by shape alone
    exe_s, _, md_s = _load(version, stripped=True)
    assert md_s.family == md.family and md_s.pc_header == find_pclntab(exe_s)


@needs_fixtures
@pytestmark_versions
def test_find_func(version):
    _, tab, _ = _load(version)
    f = tab.lookup("main.main")
    assert f is not None and f.entry < f.end
    assert tab.find_func(f.entry) is f and tab.find_func(f.end - 1) is f
    assert tab.find_func(tab.min_pc - 1) is None and tab.find_func(tab.max_pc) is None
    pcs = np.array([tab.min_pc - 1, f.entry, f.end - 1, f.end, tab.max_pc - 1, tab.max_pc], dtype=np.uint64)
    idx = tab.find_index(pcs)
    assert idx[0] == -1 and idx[1] == idx[2] == f.index and idx[3] == f.index + 1
    assert idx[4] == tab.nfunc - 1 and idx[5] == -1
    g = tab.lookup("runtime.goexit")
    assert g.func_id_name == "goexit" and g.is_topframe
    assert tab.lookup("runtime.mstart").func_id_name == "mstart"
    assert tab.lookup("runtime.rt0_go").is_asm
    assert not f.is_asm and f.args == 0


def _dwarf_cu(exe, name: bytes):
    d = exe.dwarf()
    for cu in d.iter_CUs():
        if cu.get_top_DIE().attributes["DW_AT_name"].value == name:
            return d, cu
    raise AssertionError(f"no DWARF CU {name!r}")


def _file_name(lp, index: int) -> str:
    """Return the path of file ``index`` of a line program (1-based before DWARF 5)."""
    ver = lp.header.version
    fe = lp.header.file_entry[index if ver >= 5 else index - 1]
    name = fe.name.decode()
    if name.startswith("/") or (ver < 5 and fe.dir_index == 0):
        return name
    d = lp.header.include_directory[fe.dir_index if ver >= 5 else fe.dir_index - 1].decode()
    return name if d == "." else d + "/" + name


def _line_rows(d, cu) -> list[tuple[int, int, str, int]]:
    """Return the (address, end, file, line) rows of a CU's line program (pyelftools);
    ``end`` is the next row's address in the same sequence."""
    lp = d.line_program_for_CU(cu)
    rows: list[tuple[int, int, str, int]] = []
    prev = None
    for entry in lp.get_entries():
        st = entry.state
        if st is None:
            continue
        if prev is not None and st.address > prev[0]:
            rows.append((prev[0], st.address, prev[1], prev[2]))
        prev = None if st.end_sequence else (st.address, _file_name(lp, st.file), st.line)
    return rows


@needs_fixtures
@pytestmark_versions
def test_file_line_matches_dwarf(version):
    """At every DWARF line-table row of package main (and one byte in), file:line agree."""
    exe, tab, _ = _load(version)
    d, cu = _dwarf_cu(exe, b"main")
    rows = _line_rows(d, cu)
    assert len(rows) > 100
    for addr, end, file, line in rows:
        f = tab.find_func(addr)
        assert f is not None, hex(addr)  # main.* and the instantiations/eq funcs in its CU
        for pc in {addr, (addr + end) // 2, end - 1}:
            assert f.file_line(pc) == (file, line), (f.name, hex(pc))


@needs_fixtures
@pytestmark_versions
def test_sp_delta_matches_dwarf_cfa(version):
    """.debug_frame's CFA is rsp + pcsp + 8 at every row of every main.* function."""
    exe, tab, _ = _load(version)
    from elftools.dwarf.callframe import FDE
    d = exe.dwarf()
    n = 0
    for entry in d.CFI_entries():
        if not isinstance(entry, FDE):
            continue
        f = tab.find_func(entry["initial_location"])
        if f is None or not f.name.startswith("main."):
            continue
        assert f.entry == entry["initial_location"]
        for row in entry.get_decoded().table:
            cfa = row["cfa"]
            assert cfa.reg == 7  # rsp
            assert f.sp_delta(row["pc"]) + 8 == cfa.offset, (f.name, hex(row["pc"]))
            n += 1
    assert n > 20


def _inlined_chains(d, cu):
    """Yield (pc, [(name, call_file, call_line), ...] innermost first, outer subprogram name)."""
    lp = d.line_program_for_CU(cu)

    def name_of(die):
        origin = die.get_DIE_from_attribute("DW_AT_abstract_origin")
        return origin.attributes["DW_AT_name"].value.decode()

    def addr_attr(die, name):
        attr = die.attributes.get(name)
        if attr is None:
            return None
        if attr.form.startswith("DW_FORM_addrx"):  # DWARF 5: an index into .debug_addr
            return d.get_addr(cu, attr.value)
        return attr.value

    def low_pc(die):
        """Return the lowest pc of ``die`` from DW_AT_low_pc or DW_AT_ranges (v4 or v5)."""
        lo = addr_attr(die, "DW_AT_low_pc")
        if lo is not None or "DW_AT_ranges" not in die.attributes:
            return lo
        from elftools.dwarf.ranges import BaseAddressEntry
        base = addr_attr(cu.get_top_DIE(), "DW_AT_low_pc") or 0
        starts = []
        for r in d.range_lists().get_range_list_at_offset(die.attributes["DW_AT_ranges"].value, cu=cu):
            if isinstance(r, BaseAddressEntry):
                base = r.base_address
            elif r.end_offset > r.begin_offset:
                starts.append(r.begin_offset if r.is_absolute else base + r.begin_offset)
        return min(starts) if starts else None

    def walk(die, stack, outer):
        for child in die.iter_children():
            if child.tag == "DW_TAG_inlined_subroutine":
                frame = (name_of(child), _file_name(lp, child.attributes["DW_AT_call_file"].value),
                         child.attributes["DW_AT_call_line"].value)
                chain = [frame] + stack
                pc = low_pc(child)
                if pc is not None:
                    yield pc, chain, outer, child
                yield from walk(child, chain, outer)
            elif child.tag == "DW_TAG_lexical_block":
                yield from walk(child, stack, outer)

    for die in cu.get_top_DIE().iter_children():
        if die.tag == "DW_TAG_subprogram" and "DW_AT_name" in die.attributes and "DW_AT_low_pc" in die.attributes:
            yield from walk(die, [], die.attributes["DW_AT_name"].value.decode())


@needs_fixtures
@pytestmark_versions
def test_inlined_frames_match_dwarf(version):
    """At the first pc of each DW_TAG_inlined_subroutine in package main, our logical
    frames are the DIE nesting (innermost first) and each caller's file:line is the
    inlined DIE's DW_AT_call_file:DW_AT_call_line."""
    exe, tab, _ = _load(version)
    d, cu = _dwarf_cu(exe, b"main")
    n = 0
    for pc, chain, outer, die in _inlined_chains(d, cu):
        f = tab.find_func(pc)
        assert f is not None and f.name == outer
        frames = f.inlined_frames(pc)
        # DWARF may nest an inlined body whose first pc also starts a deeper inline
        frames = frames[len(frames) - len(chain) - 1:]
        assert [fr.name for fr in frames[:-1]] == [c[0] for c in chain], hex(pc)
        assert frames[-1].name == outer
        for k, (_, call_file, call_line) in enumerate(chain):
            assert (frames[k + 1].file, frames[k + 1].line) == (call_file, call_line), (hex(pc), k)
        n += 1
    assert n >= 5, "the fixture program should have inlined calls in package main"


_FRAME_RE = re.compile(r"^(?P<name>\S.*)\((?P<args>[^()]*)\)$")
_POS_RE = re.compile(r"^\t(?P<file>.+):(?P<line>\d+)(?: \+0x[0-9a-f]+)?(?: fp=0x[0-9a-f]+ sp=0x[0-9a-f]+ pc=(?P<pc>0x[0-9a-f]+))?$")


def _traceback_blocks(text: str):
    """Yield, per physical frame the runtime printed, (pc, [(name, file, line), ...]).

    A physical frame is the run of ``name(args)`` / ``\\tfile:line`` pairs ending in one
    with ``pc=``; the inlined frames before it print ``(...)`` and no pc. A goroutine's
    frames are yielded in order, each with the name of the previous physical frame.
    """
    lines = text.splitlines()
    pending: list[tuple[str, str, int]] = []
    prev_phys = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("goroutine ") or not line:
            pending, prev_phys = [], None
        m = _FRAME_RE.match(line)
        if m and i + 1 < len(lines) and (p := _POS_RE.match(lines[i + 1])):
            pending.append((m["name"], p["file"], int(p["line"])))
            if p["pc"]:
                yield int(p["pc"], 16), pending, prev_phys
                prev_phys = m["name"]
                pending = []
            i += 2
            continue
        if line.startswith("created by"):
            pending = []
        i += 1


@needs_fixtures
@pytestmark_versions
def test_inlined_frames_match_runtime_traceback(version):
    """Every physical frame of every goroutine the runtime printed at crash time expands to
    the same (name, file, line) list, inlined frames included (GOTRACEBACK=crash)."""
    exe, tab, _ = _load(version)
    texts = [(DUMPS / e["traceback"]).read_text() for e in ENTRIES
             if e["go_version"] == version and not e["stripped"] and e.get("traceback")
             and (DUMPS / e["traceback"]).exists()]
    assert texts
    n = inl = 0
    for text in texts:
        for pc, printed, prev in _traceback_blocks(text):
            f = tab.find_func(pc)
            assert f is not None, hex(pc)
            # After sigpanic the frame faulted (unwindTrap): its own pc is looked up. A
            # goroutine's first frame, when traced from a signal context, is a trap frame
            # too; the text does not say which, so both are tried there.
            traps = [prev == "runtime.sigpanic"] + ([True] if prev is None else [])
            for trap in traps:
                frames = f.inlined_frames(Pclntab.sym_pc(pc, f.entry, innermost_trap=trap))
                # printFuncName (traceback.go) prints runtime.gopanic as "panic"
                got = [("panic" if fr.name == "runtime.gopanic" else fr.name, fr.file, fr.line)
                       for fr in frames]
                if got == printed:
                    break
            if len(got) > len(printed) and version.startswith("go1.19"):
                # 1.19's gentraceback elides inlined wrapper frames; we do not
                got = [g for g in got if g[0] in {p[0] for p in printed}]
            assert got == printed, hex(pc)
            n += 1
            inl += len(printed) > 1
    assert n > 50 and inl > 0


@needs_fixtures
@pytestmark_versions
def test_funcdata_and_pcdata(version):
    """FUNCDATA addresses resolve through moduledata.gofunc into go:func.* data."""
    exe, tab, md = _load(version)
    f = tab.lookup("main.main")
    assert f.nfuncdata > FUNCDATA_INL_TREE or f.funcdata(FUNCDATA_INL_TREE) is None
    args_map = f.funcdata(0)
    assert args_map is not None and md.gofunc <= args_map < md.etypes + (1 << 24)
    nbit_words = exe.read_static(args_map, 8)
    n, nbit = struct.unpack("<ii", nbit_words)  # runtime.stackmap header: n, nbit
    assert 0 < n < 10000 and 0 <= nbit < 1 << 16
    assert f.pcdata(1, f.entry) >= -1  # stack map index
    assert f.pcdata(99, f.entry) == -1


@needs_fixtures
@pytestmark_versions
def test_runtime_globals_by_disassembly_match_symbols(version):
    exe, tab, md = _load(version)
    want = {n: exe.symbols[n][0] for n in RUNTIME_GLOBALS}
    assert find_runtime_globals(exe, tab, md) == want
    assert find_runtime_globals(exe, tab, md, use_symbols=False) == want
    assert _build_version_by_content(exe, md, version) == want["runtime.buildVersion"]


@needs_fixtures
@pytestmark_versions
def test_runtime_globals_stripped(version):
    """Stripped: everything is found, in the same data/bss section at the same offset from
    its start as in the unstripped build, and buildVersion holds the version string."""
    exe, tab, md = _load(version)
    exe_s, tab_s, md_s = _load(version, stripped=True)
    got = find_runtime_globals(exe_s, tab_s, md_s)
    assert set(got) == set(RUNTIME_GLOBALS)
    for name in RUNTIME_GLOBALS:
        sec = md.section_of(exe.symbols[name][0])
        assert md_s.section_of(got[name]) == sec, name
        assert got[name] - getattr(md_s, sec) == exe.symbols[name][0] - getattr(md, sec), name
    ptr, n = struct.unpack("<QQ", exe_s.read_static(got["runtime.buildVersion"], 16))
    assert exe_s.read_static(ptr, n).decode() == version


def test_moduledata_error_is_one_line(tmp_path):
    exe = _FakeExe(0x1000, bytes(256))
    with pytest.raises((ModuleDataError, PclntabError)) as e:
        find_moduledata(exe)
    assert "\n" not in str(e.value)
