"""Minidump reader: synthetic dumps (tests/synth/minidump.py) and real wine dumps.

Every bad input checks the error class and that the message is one line.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

import core
from core import minidump as mdr
from core.errors import CorruptDump, DumpError, ExecutableError, TruncatedDump, UnknownFormat
from tests.synth.minidump import (EXCEPTION, MEMORY64_LIST, MEMORY_LIST, MODULE_LIST, SYSTEM_INFO,
                                  THREAD_LIST, SynthMinidump, context_amd64)

ROOT = Path(__file__).resolve().parents[2]
WIN_DUMPS = ROOT / "fixtures" / "dumps-windows"
EXE_NAME = r"C:\work\prog.exe"


def basic(flags: int = 0x2) -> SynthMinidump:
    d = SynthMinidump(flags=flags)
    d.system_info()
    d.thread(100, teb=0x7FFDE000, rip=0x401000, rsp=0xC000040F00, rbp=0xC000040F80, r14=0xC000000180)
    d.thread(101, teb=0x7FFDD000, rip=0x402000, rsp=0xC000050F00, r14=0xC000000500)
    d.module(0x400000, 0x3000, EXE_NAME, timestamp=0x12345678, checksum=7)
    d.module(0x7FF800000000, 0x10000, r"C:\windows\system32\ntdll.dll",
             cv=b"RSDS" + bytes(range(16)) + struct.pack("<I", 3) + b"ntdll.pdb\0")
    d.module(0x7FF810000000, 0x20000, r"C:\windows\system32\kernel32.dll")
    d.memory64(0xC000000000, b"\x11" * 0x1000)
    d.memory64(0xC000001000, b"\x22" * 0x1000)
    d.memory64(0xC000040000, bytes(range(256)) * 16)
    d.misc_info(4321)
    return d


def open_synth(tmp_path: Path, d: SynthMinidump, name: str = "t.dmp", **kw) -> core.Process:
    p = tmp_path / name
    d.write(p)
    return core.open_dump(p, use_cache=False, **kw)


def expect_error(tmp_path: Path, data: bytes, cls: type[Exception], *needles: str) -> str:
    p = tmp_path / "bad.dmp"
    p.write_bytes(data)
    with pytest.raises(cls) as info:
        core.open_dump(p, use_cache=False)
    msg = str(info.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, msg
    return msg


# --- a well-formed full-memory dump ----------------------------------------------------

def test_threads_registers_and_teb(tmp_path):
    proc = open_synth(tmp_path, basic())
    assert proc.dump_format == "minidump" and proc.goos == "windows" and proc.goarch == "amd64"
    assert [t.tid for t in proc.threads] == [100, 101]
    t = proc.threads[0]
    assert (t.pc, t.sp, t.fp, t.regs["r14"]) == (0x401000, 0xC000040F00, 0xC000040F80, 0xC000000180)
    assert t.tls_base == 0x7FFDE000
    assert proc.threads[1].regs["r14"] == 0xC000000500
    assert proc.pid == 4321
    assert proc.full_memory is True
    assert proc.signal is None and proc.crash_thread is None


def test_modules_are_108_bytes_apart(tmp_path):
    proc = open_synth(tmp_path, basic())
    names = [m.name for m in proc.modules]
    assert names == [EXE_NAME, r"C:\windows\system32\ntdll.dll", r"C:\windows\system32\kernel32.dll"]
    assert [m.base for m in proc.modules] == [0x400000, 0x7FF800000000, 0x7FF810000000]
    assert [m.size for m in proc.modules] == [0x3000, 0x10000, 0x20000]
    assert (proc.modules[0].timestamp, proc.modules[0].checksum) == (0x12345678, 7)
    ntdll = proc.modules[1]
    assert ntdll.debug_file == "ntdll.pdb"
    assert ntdll.debug_id == "03020100050407060809" "0A0B0C0D0E0F" "3"


def test_memory64_ranges_are_contiguous_from_base_rva(tmp_path):
    proc = open_synth(tmp_path, basic())
    assert proc.read(0xC000000FFE, 4) == b"\x11\x11\x22\x22"
    assert proc.read(0xC000040010, 4) == bytes([16, 17, 18, 19])
    assert not proc.readable(0xC000002000)
    seg = proc.memory.find(0xC000040000)
    assert seg.source == "minidump" and seg.present
    # zero-copy: the segment's buffer is the mapped file itself
    assert not isinstance(seg.buf, (bytes, bytearray))


def test_mappings_without_memory_info(tmp_path):
    proc = open_synth(tmp_path, basic())
    spans = [(m.start, m.end) for m in proc.mappings]
    assert (0xC000000000, 0xC000002000) in spans  # contiguous ranges become one mapping
    assert (0xC000040000, 0xC000041000) in spans
    assert all(m.present for m in proc.mappings)


def test_memory_info_list_gives_perms_and_absent_ranges(tmp_path):
    d = basic()
    d.memory_info(0xC000000000, 0x2000, protect=0x04)
    d.memory_info(0xC000002000, 0x3E000, state=0x2000, protect=0)  # reserved, not saved
    d.memory_info(0xC000040000, 0x1000, protect=0x02)
    d.memory_info(0x10000000, 0x1000, state=0x10000, protect=1)  # free: ignored
    proc = open_synth(tmp_path, d)
    seg = proc.memory.find(0xC000003000)
    assert seg is not None and not seg.present and seg.perms == "---"
    assert proc.memory.find(0xC000040000).perms == "r--"
    assert proc.memory.find(0x10000000) is None
    with pytest.raises(core.UnmappedAddress, match="not saved"):
        proc.read(0xC000003000, 8)
    maps = {(m.start, m.end): m for m in proc.mappings}
    assert maps[(0xC000002000, 0xC000040000)].present is False
    assert maps[(0xC000000000, 0xC000002000)].perms == "rw-"


def test_thread_list_with_padded_count(tmp_path):
    body = struct.pack("<II", 1, 0)  # count then 4 bytes of padding, as some writers do
    d = SynthMinidump()
    ctx = d.blob(context_amd64(rip=0x1234, rsp=0x5678))
    from tests.synth.minidump import Section
    sec = Section().raw(body).pack("IIIIQ", 77, 0, 0, 0, 0x9000).pack("QII", 0, 0, 0)
    sec.pack("I", 1232).ref("I", ctx)
    d.add_stream(THREAD_LIST, sec)
    proc = open_synth(tmp_path, d)
    assert [(t.tid, t.pc, t.sp, t.tls_base) for t in proc.threads] == [(77, 0x1234, 0x5678, 0x9000)]


def test_xstate_context_larger_than_1232(tmp_path):
    d = SynthMinidump()
    d.thread(5, context=context_amd64(size=1232 + 0x340, rip=0xAA, rsp=0xBB, r14=0xCC))
    proc = open_synth(tmp_path, d)
    assert (proc.threads[0].pc, proc.threads[0].sp, proc.threads[0].regs["r14"]) == (0xAA, 0xBB, 0xCC)


def test_short_context_warns_and_keeps_thread(tmp_path):
    d = SynthMinidump()
    d.thread(5, context=bytes(716))  # an x86 CONTEXT
    proc = open_synth(tmp_path, d)
    assert proc.threads[0].tid == 5 and proc.threads[0].regs == {}
    assert any("context is 716 bytes" in w for w in proc.warnings)


def test_misc_info_pid_only_when_flagged(tmp_path):
    d = SynthMinidump()
    d.misc_info(999, flags1=0x2)  # process times only
    assert open_synth(tmp_path, d).pid is None


def test_exception_stream_sets_signal_and_crash_context(tmp_path):
    d = basic()
    d.exception(101, 0xC0000005, 0x402010, rip=0x402010, rsp=0xC000050E00, r14=0xC000000500,
                params=(0, 0x0))
    proc = open_synth(tmp_path, d)
    assert proc.signal == 0xC0000005
    assert proc.crash_thread is not None and proc.crash_thread.tid == 101
    assert proc.crash_thread.signal == 0xC0000005
    assert (proc.crash_thread.pc, proc.crash_thread.sp) == (0x402010, 0xC000050E00)
    assert proc.threads[0].signal is None
    assert proc.minidump.exception().name == "EXCEPTION_ACCESS_VIOLATION"


def test_exception_for_unknown_thread_warns(tmp_path):
    d = basic()
    d.exception(555, 0x80000003, 0x401000)
    proc = open_synth(tmp_path, d)
    assert proc.signal == 0x80000003 and proc.crash_thread is None
    assert any("thread 555" in w for w in proc.warnings)


def test_unknown_and_duplicate_streams(tmp_path):
    d = basic()
    d.add_stream(0x47670007, b"linux-ish vendor stream")
    d.add_stream(0xFFF0, b"wine private")
    d.misc_info(1)  # a second MiscInfo: the first one is used
    d.comment("made by a test")
    d.comment("wide too", wide=True)
    proc = open_synth(tmp_path, d)
    assert proc.pid == 4321
    assert any("more than one MiscInfo" in w for w in proc.warnings)
    assert {e.type for e in proc.minidump.unknown_streams} == {0x47670007, 0xFFF0}
    assert proc.minidump.comments() == ["made by a test", "wide too"]


def test_missing_streams(tmp_path):
    d = SynthMinidump(flags=0x2)
    proc = open_synth(tmp_path, d)
    assert proc.threads == [] and proc.modules == [] and proc.exe is None
    assert any("no ThreadList" in w for w in proc.warnings)
    assert any("no SystemInfo" in w for w in proc.warnings)


def test_region_at_the_top_of_the_address_space(tmp_path):
    d = SynthMinidump()
    d.memory64((1 << 64) - 0x1000, b"\x7f" * 0x1000)
    proc = open_synth(tmp_path, d)
    assert proc.read((1 << 64) - 8, 8) == b"\x7f" * 8


def test_region_wrapping_the_address_space(tmp_path):
    d = SynthMinidump()
    d.memory64((1 << 64) - 0x800, b"\x7f" * 0x1000)
    p = tmp_path / "wrap.dmp"
    d.write(p)
    with pytest.raises(CorruptDump, match="past the end of the address space"):
        core.open_dump(p, use_cache=False)


# --- overlaps ------------------------------------------------------------------------

def test_overlapping_ranges_later_wins(tmp_path):
    d = basic()
    d.memory(0xC000000800, b"\xaa" * 0x1000)  # MemoryList is read first ...
    proc = open_synth(tmp_path, d)  # ... so Memory64List wins where they overlap
    assert proc.read(0xC000000800, 1) == b"\x11"
    assert proc.read(0xC000001800, 1) == b"\x22"
    warns = [w for w in proc.warnings if "overlap" in w]
    assert len(warns) == 1 and "later range wins" in warns[0]


def test_overlap_within_memory64(tmp_path):
    d = SynthMinidump()
    d.memory64(0x10000, b"A" * 0x100)
    d.memory64(0x10080, b"B" * 0x100)
    proc = open_synth(tmp_path, d)
    assert proc.read(0x1007F, 2) == b"AB"
    assert proc.read(0x10100, 0x80) == b"B" * 0x80


def test_identical_duplicate_ranges_do_not_warn(tmp_path):
    d = SynthMinidump(flags=0)
    d.memory(0x5000, b"same")
    d.memory(0x5000, b"same")
    proc = open_synth(tmp_path, d)
    assert not [w for w in proc.warnings if "overlap" in w]


# --- dumps without full memory ---------------------------------------------------------

def normal_dump() -> SynthMinidump:
    d = SynthMinidump(flags=0x0)
    d.system_info()
    d.thread(100, teb=0x7FFDE000, rip=0x401000, rsp=0xC000040F00,
             stack=(0xC000040F00, b"\x01" * 0x100))
    d.module(0x400000, 0x3000, EXE_NAME)
    d.memory(0x7FFDE000, b"\x02" * 0x40)
    return d


def test_memory_list_only_dump_lists_threads_and_modules(tmp_path):
    proc = open_synth(tmp_path, normal_dump())
    assert proc.full_memory is False
    assert [t.tid for t in proc.threads] == [100]
    assert [m.name for m in proc.modules] == [EXE_NAME]
    assert proc.read(0xC000040F00, 4) == b"\x01" * 4  # the thread's stack descriptor
    assert proc.read(0x7FFDE000, 4) == b"\x02" * 4


def test_no_full_memory_gives_one_line(tmp_path):
    proc = open_synth(tmp_path, normal_dump())
    msgs = [w for w in proc.warnings if "without full memory" in w]
    assert len(msgs) == 1
    msg = msgs[0]
    assert "\n" not in msg and "procdump -ma" in msg and "MiniDumpWithFullMemory" in msg
    with pytest.raises(mdr.NoFullMemory) as info:
        mdr.require_full_memory(proc)
    assert str(info.value) == msg
    assert isinstance(info.value, DumpError)
    # any read the dump cannot answer says the same, still as an UnmappedAddress
    with pytest.raises(core.UnmappedAddress) as info:
        proc.read_ptr(0xC000000000)
    assert isinstance(info.value, mdr.NotInPartialDump)
    text = str(info.value)
    assert "\n" not in text and "without full memory" in text and "procdump -ma" in text
    assert proc.read(0xC000040F00, 2) == b"\x01\x01"


def test_memory64_without_the_flag_is_full(tmp_path):
    d = basic(flags=0)
    proc = open_synth(tmp_path, d)
    assert proc.full_memory is True
    mdr.require_full_memory(proc)


# --- structural errors -----------------------------------------------------------------

def test_bad_magic(tmp_path):
    data = bytearray(basic().data())
    data[:4] = b"MDMX"
    with pytest.raises(UnknownFormat):
        mdr.read_minidump("x.dmp", bytes(data), None)
    expect_error(tmp_path, bytes(data), UnknownFormat, "magic")


def test_bad_version(tmp_path):
    d = basic()
    d.version = 0x1234
    with pytest.raises(UnknownFormat, match="version 0x1234"):
        mdr.read_minidump("x.dmp", d.data(), None)


def test_not_amd64(tmp_path):
    d = SynthMinidump()
    d.system_info(arch=12)
    expect_error(tmp_path, d.data(), UnknownFormat, "arm64", "amd64 only")


def test_directory_past_the_end(tmp_path):
    d = basic()
    d.directory_rva_override = 0x7FFFFFF0
    expect_error(tmp_path, d.data(), TruncatedDump, "stream directory", "file ends at")


def test_stream_rva_past_the_end(tmp_path):
    d = basic()
    d.override(MODULE_LIST, rva=0x10000000)
    expect_error(tmp_path, d.data(), TruncatedDump, "ModuleList stream", "0x10000000")


def test_stream_size_too_small(tmp_path):
    d = basic()
    d.override(THREAD_LIST, size=4 + 48)  # two threads declared, room for one
    expect_error(tmp_path, d.data(), CorruptDump, "ThreadList stream size mismatch",
                 "expected 100 bytes", "found 52")


@pytest.mark.parametrize("stream,needle", [(SYSTEM_INFO, "SystemInfo"), (EXCEPTION, "Exception"),
                                           (MEMORY64_LIST, "Memory64List"), (MEMORY_LIST, "MemoryList")])
def test_other_streams_too_small(tmp_path, stream, needle):
    d = basic()
    d.memory(0x9000, b"x" * 16)
    d.exception(100, 0xC0000005, 0)
    d.override(stream, size=3)
    expect_error(tmp_path, d.data(), CorruptDump, f"{needle} stream size mismatch")


def test_memory_range_past_the_end(tmp_path):
    data = basic().data()
    expect_error(tmp_path, data[:-1], TruncatedDump, "Memory64List range 2", "file ends at")


def test_memory_list_rva_past_the_end(tmp_path):
    d = SynthMinidump(flags=0)
    d.add_stream(MEMORY_LIST, struct.pack("<IQII", 1, 0x1000, 0x100, 0x40000000))
    expect_error(tmp_path, d.data(), TruncatedDump, "MemoryList range 0")


def test_truncated_at_every_boundary(tmp_path):
    """Cut the file at every 4-byte step of the header and directory and at every stream edge."""
    d = basic()
    d.exception(100, 0xC0000005, 0x401000)
    data = d.data()
    md = mdr.Minidump.read("full", data)
    cuts = set(range(0, 32 + 12 * len(d.streams) + 12 * 6, 4))
    for e in md.streams.values():
        cuts |= {e.rva, e.rva + 1, e.rva + e.size - 1}
    cuts = sorted(c for c in cuts if 0 <= c < len(data))
    assert len(cuts) > 40
    for cut in cuts:
        p = tmp_path / "cut.dmp"
        p.write_bytes(data[:cut])
        with pytest.raises(DumpError) as info:
            core.open_dump(p, use_cache=False)
        assert "\n" not in str(info.value)
        if cut >= 4:
            assert isinstance(info.value, TruncatedDump), (cut, info.value)


def test_data_beyond_4gib_sparse(tmp_path):
    d = basic()
    d.memory64_at = (5 << 30) + 0x123
    p = tmp_path / "big.dmp"
    size = d.write(p)
    st = os.stat(p)
    if st.st_blocks * 512 > 64 << 20:
        pytest.skip("the filesystem does not keep sparse files")
    assert size > 1 << 32
    proc = core.open_dump(p, use_cache=False)
    seg = proc.memory.find(0xC000000000)
    assert seg.offset == (5 << 30) + 0x123
    assert proc.read(0xC000000FFE, 4) == b"\x11\x11\x22\x22"
    assert proc.read(0xC000040010, 2) == bytes([16, 17])


# --- the executable ------------------------------------------------------------------

def _windows_fixture_exe() -> Path | None:
    for p in sorted(WIN_DUMPS.glob("go*/exe.zst")):
        return p
    return None


@pytest.fixture(scope="module")
def pe_exe():
    p = _windows_fixture_exe()
    if p is None:
        pytest.skip("no Windows fixture executable (run fixtures/make_minidumps.py)")
    return core.open_executable(p)


def _image_dump(exe, base: int, *, with_text: bool) -> SynthMinidump:
    d = SynthMinidump()
    d.system_info()
    d.thread(1, rip=exe.sections[".text"].addr)
    d.module(base, exe.size_of_image, r"Z:\nowhere\heapkeeper.exe", timestamp=exe.time_date_stamp)
    if with_text:
        text = exe.sections[".text"]
        d.memory64(text.addr - exe.image_base + base, exe.section_data(".text")[:0x2000])
    d.memory64(0xC000000000, b"\0" * 0x1000)
    return d


def test_exe_fills_read_only_image(tmp_path, pe_exe):
    d = _image_dump(pe_exe, pe_exe.image_base, with_text=False)
    proc = open_synth(tmp_path, d, exe=pe_exe.path)
    assert proc.exe_bias == 0
    rdata = pe_exe.sections[".rdata"]
    assert proc.read(rdata.addr, 64) == pe_exe.section_data(".rdata")[:64]
    assert proc.memory.find(rdata.addr).source == "exe"
    assert any("could not verify" in w for w in proc.warnings)


def test_exe_relocated_when_loaded_elsewhere(tmp_path, pe_exe):
    bias = 0x10000000
    d = _image_dump(pe_exe, pe_exe.image_base + bias, with_text=True)
    proc = open_synth(tmp_path, d, exe=pe_exe.path)
    assert proc.exe_bias == bias
    ro = [s for s in pe_exe.segments if "w" not in s.perms]
    relocs = [(rva, w) for rva, w in pe_exe.base_relocations
              if any(s.vaddr - pe_exe.image_base <= rva < s.vaddr - pe_exe.image_base + s.filesz for s in ro)]
    if not relocs:
        pytest.skip("no base relocations in read-only sections")
    rva, width = relocs[0]
    link = pe_exe.read_static(pe_exe.image_base + rva, width)
    got = proc.read(pe_exe.image_base + bias + rva, width)
    assert int.from_bytes(got, "little") == int.from_bytes(link, "little") + bias
    assert not any("could not verify" in w for w in proc.warnings)


def test_wrong_exe_is_refused(tmp_path, pe_exe):
    d = _image_dump(pe_exe, pe_exe.image_base, with_text=True)
    d._modules[0] = (pe_exe.image_base, pe_exe.size_of_image + 0x1000, r"Z:\x\heapkeeper.exe", 0, 0, None)
    p = tmp_path / "w.dmp"
    d.write(p)
    with pytest.raises(ExecutableError, match="does not match the dump"):
        core.open_dump(p, exe=pe_exe.path, use_cache=False)


def test_text_bytes_mismatch_is_refused(tmp_path, pe_exe):
    d = _image_dump(pe_exe, pe_exe.image_base, with_text=False)
    d.memory64(pe_exe.sections[".text"].addr, b"\xcc" * 0x100)
    p = tmp_path / "w.dmp"
    d.write(p)
    with pytest.raises(ExecutableError, match="bytes at"):
        core.open_dump(p, exe=pe_exe.path, use_cache=False)


def test_module_path_under_wine_is_found(tmp_path, pe_exe):
    plain = tmp_path / "heapkeeper.exe"
    plain.write_bytes(bytes(pe_exe.data))
    d = _image_dump(pe_exe, pe_exe.image_base, with_text=True)
    d._modules[0] = (pe_exe.image_base, pe_exe.size_of_image, "Z:" + str(plain).replace("/", "\\"),
                     pe_exe.time_date_stamp, 0, None)
    notes = []
    proc = open_synth(tmp_path, d, notify=notes.append)
    assert proc.exe is not None and proc.exe.path == str(plain)
    assert any("recorded in the minidump" in n for n in notes)


def test_missing_module_path_warns(tmp_path):
    proc = open_synth(tmp_path, basic())
    assert proc.exe is None
    assert any("pass it with --exe" in w for w in proc.warnings)


# --- real dumps written by wine's dbghelp ------------------------------------------------

def _win_index() -> list[dict]:
    idx = WIN_DUMPS / "index.json"
    return json.loads(idx.read_text()) if idx.exists() else []


@pytest.mark.parametrize("entry", _win_index(), ids=lambda e: f"{e['go_version']}-{e['kind']}")
def test_wine_minidump(entry):
    manifest = json.loads((WIN_DUMPS / entry["manifest"]).read_text())
    proc = core.open_dump(WIN_DUMPS / entry["core"], exe=WIN_DUMPS / entry["exe"])
    assert proc.pid == manifest["pid"]
    assert proc.threads and all(t.tls_base for t in proc.threads)
    assert proc.modules[0].name.lower().endswith("heapkeeper.exe")
    assert proc.exe is not None and proc.exe.goos == "windows"
    assert proc.exe_bias == proc.modules[0].base - proc.exe.image_base
    syms = proc.exe.symbols
    if entry["kind"] == "minidump-full":
        assert proc.full_memory is True
        assert not [w for w in proc.warnings if "overlap" in w or "full memory" in w]
        # every global the program printed holds the pointer it printed
        for name, addr in manifest.get("globals", {}).items():
            if isinstance(addr, int) and name in syms:
                assert syms[name][0] + proc.exe_bias == addr, name
        assert proc.readable(syms["runtime.mheap_"][0] + proc.exe_bias, 64)
        assert all(proc.readable(t.sp, 8) for t in proc.threads if t.sp)
        # the heap is there: walk main.list (node i holds i*7+3) from the global
        node = proc.read_ptr(manifest["globals"]["main.list"])
        assert node == manifest["objects"]["list_head"]
        for i in range(manifest["list"]["length"]):
            assert proc.read_uint(node, 8) == i * 7 + 3
            node = proc.read_ptr(node + 8)
        assert node == 0
    else:
        assert proc.full_memory is False
        with pytest.raises(mdr.NoFullMemory, match="procdump -ma"):
            mdr.require_full_memory(proc)
        # read-only image bytes still come from the executable
        rdata = proc.exe.sections[".rdata"]
        assert proc.readable(rdata.addr + proc.exe_bias, 4096)
