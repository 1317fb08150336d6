"""Corrupt and truncated inputs to the readers in core/: one-line errors or partial answers.

Each case mutates a copy of a shipped fixture (go1.22.10: the kernel crash core and its
ELF executable, the wine full-memory minidump and its PE executable) in ``tmp_path`` and
checks the error's one line or the warning, and that the reader is bounded by the bytes it
has: every case finishes in seconds (``LIMIT``), however large the count it was given.
Expected values (the pid) come from the fixture's manifest, written by the Go runtime.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest
import zstandard

import core
from core.errors import CorruptDump, DumpError, ExecutableError
from core.process import Process
from tests.conftest import DUMPS, WINDOWS_DUMPS, run_cli

LIMIT = 10.0  # seconds: each bad input must be answered well within this
VERSION = "go1.22.10"
PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD, PT_NOTE = 1, 4
NT_FILE = 0x46494C45


def _unzstd(src: Path, dest: Path) -> Path:
    with open(src, "rb") as f, open(dest, "wb") as out:
        zstandard.ZstdDecompressor().copy_stream(f, out)
    return dest


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, Path]:
    """The fixture files, decompressed once for every test here."""
    d = tmp_path_factory.mktemp("originals")
    linux, windows = DUMPS / VERSION, WINDOWS_DUMPS / VERSION
    if not (linux / "crash.core.zst").exists() or not (windows / "full.dmp.zst").exists():
        pytest.skip(f"no {VERSION} fixtures")
    return {"core": _unzstd(linux / "crash.core.zst", d / "crash.core"),
            "exe": _unzstd(linux / "exe.zst", d / "exe"),
            "dmp": _unzstd(windows / "full.dmp.zst", d / "full.dmp"),
            "pe": _unzstd(windows / "exe.zst", d / "exe.exe")}


def _manifest_pid() -> int:
    return json.loads((DUMPS / VERSION / "crash.manifest.json").read_text())["pid"]


def _mutant(tmp_path: Path, src: Path, name: str, edit) -> Path:
    data = bytearray(src.read_bytes())
    data = edit(data) or data
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _timed(fn, *args, **kw):
    t = time.monotonic()
    try:
        return fn(*args, **kw)
    finally:
        assert time.monotonic() - t < LIMIT, f"{fn.__name__} took {time.monotonic() - t:.1f} s"


def _open(dump: Path, exe: Path | None = None) -> Process:
    return _timed(core.open_dump, dump, exe=exe, use_cache=False)


def _error(cls, dump: Path, exe: Path | None = None) -> str:
    with pytest.raises(cls) as info:
        _open(dump, exe)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


def _phdrs(data) -> list[tuple[int, tuple]]:
    """Return ``[(file offset, Elf64_Phdr fields)]`` of an ELF file."""
    phoff, = struct.unpack_from("<Q", data, 32)
    phnum, = struct.unpack_from("<H", data, 56)
    return [(phoff + i * PHDR.size, PHDR.unpack_from(data, phoff + i * PHDR.size)) for i in range(phnum)]


def _first(data, p_type: int) -> tuple[int, tuple]:
    return next((at, ph) for at, ph in _phdrs(data) if ph[0] == p_type)


def _notes(data) -> list[tuple[int, int, int]]:
    """Return ``[(note offset, type, desc offset)]`` of the core's first PT_NOTE."""
    _at, ph = _first(data, PT_NOTE)
    at, end, out = ph[2], ph[2] + ph[5], []
    while at + 12 <= end:
        namesz, descsz, kind = struct.unpack_from("<III", data, at)
        desc = at + 12 + (namesz + 3 & ~3)
        out.append((at, kind, desc))
        at = desc + (descsz + 3 & ~3)
    return out


# ---- ELF executables ------------------------------------------------------------------

def test_truncated_elf_executable_names_what_is_missing(tmp_path, originals):
    """pyelftools' ValueError (seek out of range) must not escape: the cut executable is
    refused in one line naming the file and the section names past its end."""
    exe = _mutant(tmp_path, originals["exe"], "exe", lambda d: d[:1_000_000])
    msg = _error(ExecutableError, originals["core"], exe)
    assert str(exe) in msg and "truncated ELF" in msg and "file ends at 0xf4240" in msg


@pytest.mark.parametrize("cut", [100, 1000, 50_000, 2_000_000])
def test_elf_executable_cut_anywhere_is_one_line(tmp_path, originals, cut):
    exe = _mutant(tmp_path, originals["exe"], "exe", lambda d: d[:cut])
    msg = _error(ExecutableError, originals["core"], exe)
    assert str(exe) in msg and "truncated ELF" in msg


def test_symbol_table_with_wrong_entry_size(tmp_path, originals):
    """A .symtab of 1-byte entries: pyelftools would read a symbol at every byte (24 times
    as many, each overlapping the next) and return garbage names."""
    def edit(d):
        shoff, = struct.unpack_from("<Q", d, 40)
        shnum, = struct.unpack_from("<H", d, 60)
        for i in range(shnum):
            sh = shoff + 64 * i
            if struct.unpack_from("<I", d, sh + 4)[0] == 2:  # SHT_SYMTAB
                struct.pack_into("<Q", d, sh + 56, 1)
    exe = _mutant(tmp_path, originals["exe"], "exe", edit)
    e = core.open_executable(exe, use_cache=False)
    with pytest.raises(ExecutableError, match=r"\.symtab entries are 1 bytes, expected 24"):
        _timed(lambda: e.symbols)


# ---- PE executables ---------------------------------------------------------------------

def _pe_dir(d, index: int) -> int:
    """Return the file offset of data directory ``index`` of a PE32+ file."""
    lfanew, = struct.unpack_from("<I", d, 0x3C)
    return lfanew + 24 + 112 + 8 * index


def test_base_relocations_outside_every_section(tmp_path, originals):
    """pefile's PEFormatError from get_offset_from_rva must become ExecutableError."""
    exe = _mutant(tmp_path, originals["pe"], "exe.exe",
                  lambda d: struct.pack_into("<I", d, _pe_dir(d, 5), 0x7FFF0000))
    msg = _error(ExecutableError, originals["dmp"], exe)
    assert str(exe) in msg and "base relocation directory at RVA 0x7fff0000" in msg


def test_coff_symbol_count_past_the_file(tmp_path, originals):
    """NumberOfSymbols bounds a loop: checked against the file first."""
    def edit(d):
        lfanew, = struct.unpack_from("<I", d, 0x3C)
        struct.pack_into("<I", d, lfanew + 4 + 12, 0x7FFFFFFF)  # NumberOfSymbols
    exe = _mutant(tmp_path, originals["pe"], "exe.exe", edit)
    e = core.open_executable(exe, use_cache=False)
    with pytest.raises(ExecutableError, match="COFF symbol table .* past the end of the file"):
        _timed(lambda: e.symbols)


# ---- ELF cores ------------------------------------------------------------------------------

def test_note_name_without_terminator(tmp_path, originals):
    """pyelftools parses a note's name with its vendored construct's CString, which raises
    that construct's ArrayError on a name without NUL (what a PT_NOTE of 0xfffffff8 bytes
    reads past the real notes); only PyPI construct's ConstructError was caught. The name
    is not needed: the notes still give the pid the runtime printed."""
    def edit(d):
        at, _kind, _desc = _notes(d)[0]
        namesz, = struct.unpack_from("<I", d, at)
        d[at + 12: at + 12 + (namesz + 3 & ~3)] = b"X" * (namesz + 3 & ~3)  # padding too
    proc = _open(_mutant(tmp_path, originals["core"], "core", edit), originals["exe"])
    assert proc.pid == _manifest_pid() and proc.threads


def test_build_id_note_name_without_terminator(tmp_path, originals):
    """The same vendored ArrayError from the executable's .note.go.buildid."""
    def edit(d):
        shoff, = struct.unpack_from("<Q", d, 40)
        shnum, shstrndx = struct.unpack_from("<HH", d, 60)
        names, = struct.unpack_from("<Q", d, shoff + 64 * shstrndx + 24)
        for i in range(shnum):
            sh = shoff + 64 * i
            name_at = names + struct.unpack_from("<I", d, sh)[0]
            if bytes(d[name_at: name_at + 17]) == b".note.go.buildid\0":
                off, = struct.unpack_from("<Q", d, sh + 24)
                namesz, = struct.unpack_from("<I", d, off)
                d[off + 12: off + 12 + (namesz + 3 & ~3)] = b"X" * (namesz + 3 & ~3)
    exe = core.open_executable(_mutant(tmp_path, originals["exe"], "exe", edit), use_cache=False)
    with pytest.raises(ExecutableError, match="cannot read notes of .note.go.buildid"):
        _timed(lambda: exe.build_id)


def test_note_segment_length_past_the_file(tmp_path, originals):
    """A PT_NOTE of 0xfffffff8 bytes reads as a note segment the file cuts short: the whole
    notes still count (the pid the runtime printed), with the warning."""
    def edit(d):
        at, _ph = _first(d, PT_NOTE)
        struct.pack_into("<Q", d, at + 32, 0xFFFFFFF8)
    proc = _open(_mutant(tmp_path, originals["core"], "core", edit), originals["exe"])
    assert proc.pid == _manifest_pid()
    assert any("notes end early" in w for w in proc.warnings), proc.warnings


def test_nt_file_count_checked_against_the_note(tmp_path, originals):
    """NT_FILE's count 0x7fffff parsed entries on to the end of the file (about 50 GB of
    Python objects for a 4 GB core). Now the note is skipped with a warning; the rest of
    the notes (the threads, the pid) still count."""
    def edit(d):
        at, _kind, desc = next(n for n in _notes(d) if n[1] == NT_FILE)
        struct.pack_into("<Q", d, desc, 0x7FFFFF)
    proc = _open(_mutant(tmp_path, originals["core"], "core", edit), originals["exe"])
    assert proc.pid == _manifest_pid() and proc.threads
    assert any("NT_FILE note is malformed: 8388607 entries" in w for w in proc.warnings), proc.warnings


def test_last_note_past_its_segment_is_partial(tmp_path, originals):
    def edit(d):
        at, _kind, _desc = _notes(d)[-1]
        struct.pack_into("<I", d, at + 4, 0x7FFFFFF0)  # its descsz
    proc = _open(_mutant(tmp_path, originals["core"], "core", edit), originals["exe"])
    assert proc.pid == _manifest_pid()
    assert any("runs past its PT_NOTE segment's end" in w for w in proc.warnings), proc.warnings


def test_load_past_the_address_space_is_cut_with_a_warning(tmp_path, originals, capsys):
    """A PT_LOAD ending past 2**64 overflowed the gather's uint64 bounds (core/memory.py Gather)."""
    def edit(d):
        at, ph = next((at, ph) for at, ph in _phdrs(d) if ph[0] == PT_LOAD and ph[5] == 0)
        struct.pack_into("<QQ", d, at + 16, 0xFFFFFFFFFFFFF000, 0)  # p_vaddr, p_paddr
        struct.pack_into("<Q", d, at + 40, 0x10000)  # p_memsz
    dump = _mutant(tmp_path, originals["core"], "core", edit)
    status, out, err = _timed(run_cli, capsys, dump, "--exe", originals["exe"], "--no-cache",
                              "--json", "overview")
    assert status == 0, err
    assert "run past the end of the address space" in err and "internal error" not in err
    assert json.loads(out)["partial"] is True


def test_program_header_entry_size_is_checked(tmp_path, originals):
    msg = _error(CorruptDump, _mutant(tmp_path, originals["core"], "core",
                                      lambda d: struct.pack_into("<H", d, 54, 32)), originals["exe"])
    assert "program headers are 32 bytes each, expected 56" in msg


def test_many_program_headers_take_seconds(tmp_path, originals):
    """Memory.add's overlay costs O(n) a call: 20 000 PT_LOADs (an ELF file may hold 65 535)
    took minutes. Here a new table repeats the core's own headers, then tiny absent PT_LOADs;
    the core still opens with its pid and every mapping."""
    count = 20_000
    def edit(d):
        phdrs = [bytes(d[at: at + PHDR.size]) for at, _ph in _phdrs(d)]
        extra = [PHDR.pack(PT_LOAD, 4, 0, 0x100000000000 + 0x2000 * i, 0, 0, 0x1000, 0x1000)
                 for i in range(count)]
        table = len(d)
        d += b"".join(phdrs + extra)
        struct.pack_into("<Q", d, 32, table)
        struct.pack_into("<H", d, 56, len(phdrs) + count)
    proc = _open(_mutant(tmp_path, originals["core"], "core", edit), originals["exe"])
    assert proc.pid == _manifest_pid()
    assert len(proc.mappings) > count


# ---- minidumps --------------------------------------------------------------------------

def test_directory_of_a_million_streams(tmp_path, originals):
    """NumberOfStreams of about a million: the directory fits the file, so it is read, but
    in one pass, with one warning for the duplicates (it took 80 s, a construct parse and a
    warning de-dup per entry)."""
    def edit(d):
        n, rva = struct.unpack_from("<II", d, 8)
        entries = bytes(d[rva: rva + 12 * n])
        misc = next(entries[i: i + 12] for i in range(0, len(entries), 12)
                    if struct.unpack_from("<I", entries, i)[0] == 15)  # MiscInfo
        at = len(d)
        d += entries + misc * 1_000_000
        struct.pack_into("<II", d, 8, n + 1_000_000, at)
    proc = _open(_mutant(tmp_path, originals["dmp"], "full.dmp", edit), originals["pe"])
    dup = [w for w in proc.warnings if "more than one" in w]
    assert dup == ["minidump has more than one MiscInfo stream (1000000 extra directory entries); "
                   "using the first"]


def test_directory_count_past_the_file(tmp_path, originals):
    msg = _error(DumpError, _mutant(tmp_path, originals["dmp"], "full.dmp",
                                    lambda d: struct.pack_into("<I", d, 8, 0xFFFFFFFF)), originals["pe"])
    assert "stream directory (4294967295 entries)" in msg


def _stream(d, type_: int) -> tuple[int, int, int]:
    """Return (directory entry offset, size, rva) of stream ``type_``."""
    n, rva = struct.unpack_from("<II", d, 8)
    for i in range(n):
        t, size, at = struct.unpack_from("<III", d, rva + 12 * i)
        if t == type_:
            return rva + 12 * i, size, at
    raise AssertionError(f"no stream {type_}")


def test_thread_list_of_many_zero_threads(tmp_path, originals):
    """A ThreadList whose count and size say 100 000 (zeroed) entries, all inside the file:
    read in seconds (a construct parse each took a minute), one warning for their missing
    contexts, not one per thread."""
    count = 100_000
    def edit(d):
        entry, _size, _rva = _stream(d, 3)
        at = len(d)
        d += struct.pack("<I", count) + bytes(48 * count)
        struct.pack_into("<II", d, entry + 4, 4 + 48 * count, at)
    proc = _open(_mutant(tmp_path, originals["dmp"], "full.dmp", edit), originals["pe"])
    assert len(proc.threads) == count
    short = [w for w in proc.warnings if "context is 0 bytes" in w]
    assert len(short) == 1 and f"{count - 1} more threads" in short[0], short


def test_memory_info_past_the_address_space(tmp_path):
    """A MemoryInfoList region ending past 2**64 (the wine fixtures have no MemoryInfoList:
    a synthetic dump)."""
    from tests.synth.minidump import SynthMinidump
    d = SynthMinidump(flags=0x2)
    d.system_info()
    d.memory64(0xC000000000, bytes(0x1000))
    d.memory_info(0xC000000000, 0x1000)
    d.memory_info(0xFFFFFFFFFFFF0000, 0x20000)
    p = tmp_path / "t.dmp"
    d.write(p)
    msg = _error(CorruptDump, p)
    assert "MemoryInfoList entry 1 at 0xffffffffffff0000 of 0x20000 bytes" in msg


# ---- the process ------------------------------------------------------------------------

def test_warn_is_constant_time(originals):
    proc = _open(originals["core"], originals["exe"])
    before = len(proc.warnings)
    _timed(lambda: [proc.warn(f"warning {i}") for i in range(200_000)] and None)
    proc.warn("warning 7")
    assert len(proc.warnings) == before + 200_000
