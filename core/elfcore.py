"""Linux ELF core files (kernel cores and gdb's gcore), read over an mmap.

The ELF header, program headers and notes are read with ``struct`` from the bytes the file
holds: every count and length is checked against the file (or the note segment) before
it drives a loop, so a corrupt or truncated core gives an error or a partial answer, never
a parse that runs on past its bytes.
"""

from __future__ import annotations

import bisect
import os
import struct
from dataclasses import dataclass

from .elfarch import ElfArch, arch_of
from .errors import CorruptDump, TruncatedDump, UnknownFormat
from .exe import Executable, open_executable
from .memory import ADDRESS_SPACE_END, Memory, Segment, overlay
from .process import Mapping, Process, Thread, check_image_bytes

# Fixed widths, little-endian: _read_header accepts only ELFCLASS64 little-endian cores
# (machine layouts: core/elfarch.py).
PRPSINFO_PID = struct.Struct("<24xi")  # struct elf_prpsinfo: pr_pid after state, flag, uid, gid
ELF64_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
ELF64_HEADER_SIZE = ELF64_HEADER.size
PHDR = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr
NHDR = struct.Struct("<III")  # Elf64_Nhdr: namesz, descsz, type
NT_FILE_HEADER = struct.Struct("<QQ")  # count, page size; then count (start, end, page offset)
NT_FILE_ENTRY = struct.Struct("<QQQ")

ET_CORE = 4
_ET_NAMES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_EM_NAMES = {3: "EM_386", 40: "EM_ARM", 62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV"}
PT_LOAD, PT_NOTE = 1, 4
NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE = 1, 3, 6, 0x46494C45
AT_ENTRY = 9
# More notes than this is no process (a 10000-thread Go program writes about 50 000): the
# rest is not read, with a warning, so a corrupt note segment cannot take minutes.
MAX_NOTES = 1 << 18


@dataclass(frozen=True)
class Phdr:
    """One Elf64_Phdr of the core."""

    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


def _perms(flags: int) -> str:
    return ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 1 else "-")


def _parse_auxv(desc: bytes) -> dict[int, int]:
    words = [int.from_bytes(desc[i:i + 8], "little") for i in range(0, len(desc) - 7, 8)]
    return {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2) if words[i] != 0}


def _parse_thread(desc: bytes, arch: ElfArch) -> Thread:
    layout = arch.prstatus
    if len(desc) < layout.size:
        raise CorruptDump(f"NT_PRSTATUS note is malformed: {len(desc)} bytes, expected "
                          f"{layout.size}")
    st = layout.unpack_from(desc)
    cursig, pid = st[3], st[6]
    regs = dict(zip(arch.regs, st[-len(arch.regs):]))
    tls = regs[arch.tls_reg] if arch.tls_reg else None
    return Thread(tid=pid, regs=regs, tls_base=tls, signal=cursig or None, arch=arch.goarch)


def _set_tls(thread: Thread, desc: bytes) -> None:
    """Set the thread pointer from a machine's TLS note (NT_ARM_TLS: TPIDR_EL0 first)."""
    if len(desc) < 8:
        raise CorruptDump(f"TLS note is malformed: {len(desc)} bytes, expected at least 8")
    thread.tls_base = int.from_bytes(desc[:8], "little")


def _parse_nt_file(desc: bytes) -> list[tuple[int, int, int, str]]:
    """Return the NT_FILE entries ``(start, end, file offset, name)``; the count is checked
    against the note's own size before any entry is read."""
    if len(desc) < NT_FILE_HEADER.size:
        raise CorruptDump(f"NT_FILE note is malformed: {len(desc)} bytes, expected at least "
                          f"{NT_FILE_HEADER.size}")
    count, page = NT_FILE_HEADER.unpack_from(desc)
    names_at = NT_FILE_HEADER.size + count * NT_FILE_ENTRY.size
    if names_at + count > len(desc):  # each name takes at least its NUL
        raise CorruptDump(f"NT_FILE note is malformed: {count} entries need more than "
                          f"{names_at + count} bytes, the note has {len(desc)}")
    names = bytes(desc[names_at:]).split(b"\0", count)[:count]
    if len(names) < count:
        raise CorruptDump(f"NT_FILE note is malformed: {count} entries, {len(names)} file names")
    out = []
    for (start, end, pgoff), name in zip(NT_FILE_ENTRY.iter_unpack(desc[NT_FILE_HEADER.size:names_at]),
                                         names):
        out.append((start, end, pgoff * page, name.decode(errors="replace")))
    return out


def _read_header(path: str, data, size: int) -> tuple[ElfArch, list[Phdr]]:
    """Check the ELF header and return the machine's layout and the program headers, all
    inside the file."""
    if size < ELF64_HEADER_SIZE:
        raise TruncatedDump(f"truncated core: the ELF header needs {ELF64_HEADER_SIZE} bytes, "
                            f"file ends at {size:#x}")
    (ident, e_type, machine, _version, _entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum,
     _shentsize, _shnum, _shstrndx) = ELF64_HEADER.unpack_from(data, 0)
    if ident[4] != 2 or ident[5] != 1:
        raise UnknownFormat(f"{path}: {'32-bit' if ident[4] == 1 else 'big-endian' if ident[5] == 2 else 'unknown-class'}"
                            " ELF cores are not supported (little-endian 64-bit only)")
    if e_type != ET_CORE:
        raise UnknownFormat(f"{path} is an ELF {_ET_NAMES.get(e_type, hex(e_type))} file, not a core dump")
    arch = arch_of(machine)
    if arch is None:
        raise UnknownFormat(f"{path}: {_EM_NAMES.get(machine, f'machine {machine:#x}')} cores are not "
                            "supported (amd64 and arm64 only)")
    if phnum and phentsize != PHDR.size:
        raise CorruptDump(f"{path}: corrupt core: program headers are {phentsize} bytes each, "
                          f"expected {PHDR.size}")
    if phoff + phnum * PHDR.size > size:
        raise TruncatedDump(f"truncated core: program headers end at {phoff + phnum * PHDR.size:#x}, "
                            f"file ends at {size:#x}")
    out = []
    for i in range(phnum):
        p_type, flags, offset, vaddr, _paddr, filesz, memsz, _align = PHDR.unpack_from(data, phoff + i * PHDR.size)
        out.append(Phdr(p_type, flags, offset, vaddr, filesz, memsz))
    return arch, out


def _clip_to_address_space(loads: list[Phdr]) -> tuple[list[Phdr], str | None]:
    """Return the PT_LOADs with any that runs past 2**64 cut at the end of the address
    space, and the warning saying so (None when none did)."""
    out, cut = [], []
    for seg in loads:
        end = seg.vaddr + max(seg.memsz, seg.filesz)
        if end > ADDRESS_SPACE_END:
            cut.append(seg)
            room = ADDRESS_SPACE_END - seg.vaddr
            seg = Phdr(seg.type, seg.flags, seg.offset, seg.vaddr, min(seg.filesz, room), min(seg.memsz, room))
        out.append(seg)
    if not cut:
        return out, None
    return out, (f"corrupt core: {len(cut)} PT_LOAD segment(s) run past the end of the address "
                 f"space (e.g. {cut[0].memsz:#x} bytes at {cut[0].vaddr:#x}); cut at 2**64")


def read_elf_core(path: str, data, exe_path: str | None, *, use_cache: bool = True,
                  notify=None) -> Process:
    """Return the Process in the ELF core ``data`` (an mmap of ``path``)."""
    size = len(data)
    arch, segments = _read_header(path, data, size)
    loads, wrap_problem = _clip_to_address_space([s for s in segments if s.type == PT_LOAD])
    cut_loads = _truncated_loads(loads, size)
    threads, files, auxv, pid, notes_problem = _read_notes(path, data, segments, size, arch)
    if not threads and notes_problem is None:
        raise CorruptDump(f"{path}: core has no NT_PRSTATUS (no threads)")
    if pid is None and threads:
        pid = threads[0].tid

    exe = _find_executable(path, exe_path, files, auxv, use_cache=use_cache, notify=notify)
    bias = 0
    if exe is not None and getattr(exe, "pie", False) and AT_ENTRY in auxv:
        bias = auxv[AT_ENTRY] - exe.elf.header["e_entry"]

    # Lowest priority first: each PT_LOAD's range (absent), what a cut-short file lost.
    layers = []
    for seg in loads:
        start, held = seg.vaddr, _bytes_in_file(seg, size)
        layers.append(Segment(start, start + seg.memsz, None, 0, _perms(seg.flags), "core"))
        if held < seg.filesz:
            layers.append(Segment(start + held, start + seg.filesz, None, 0, _perms(seg.flags),
                                  "truncated"))
    if exe is not None:
        layers += _executable_layers(exe, bias, loads, files, auxv)
    for seg in loads:
        held = _bytes_in_file(seg, size)
        if held:
            layers.append(Segment(seg.vaddr, seg.vaddr + held, data, seg.offset, _perms(seg.flags), "core"))
    memory = overlay(layers)

    proc = Process(path=path, dump_format="elf-core", goos="linux", goarch=arch.goarch, memory=memory,
                   threads=threads, mappings=[], exe=exe, exe_bias=bias, pid=pid, auxv=auxv)
    crash = threads[0] if threads else None
    if crash is not None and crash.signal:
        proc.signal = crash.signal
        proc.crash_thread = crash
    proc.mappings = _mappings(loads, files, memory)
    if wrap_problem is not None:
        proc.warn(wrap_problem)
    if cut_loads:
        proc.warn(_truncation_warning(loads, cut_loads, size))
    if notes_problem is not None:
        proc.warn(notes_problem)
    if exe is not None:
        check_image_bytes(proc, exe, bias, "core")
    return proc


def _bytes_in_file(seg: Phdr, size: int) -> int:
    """Return how many of the segment's ``p_filesz`` bytes the file of ``size`` bytes holds."""
    return max(0, min(seg.filesz, size - seg.offset))


def _truncated_loads(loads: list[Phdr], size: int) -> list[int]:
    """Return the indexes (among ``loads``) of the PT_LOADs whose bytes run past the file's end."""
    return [i for i, seg in enumerate(loads) if _bytes_in_file(seg, size) < seg.filesz]


def _truncation_warning(loads: list[Phdr], cut: list[int], size: int) -> str:
    """Return the one warning naming what a core cut short lacks."""
    with_data = sum(1 for seg in loads if seg.filesz)
    missing = sum(loads[i].filesz - _bytes_in_file(loads[i], size) for i in cut)
    return (f"truncated core: file ends at {size:#x}, {len(cut)} of {with_data} PT_LOAD segments "
            f"({missing / (1 << 20):.1f} MiB) missing; their bytes read as absent")


def _split_notes(buf: memoryview, limit: int) -> tuple[list[tuple[int, memoryview]], int | None]:
    """Return ``([(type, desc)], stop)``: the notes wholly inside ``buf`` (the held bytes of
    one PT_NOTE), at most ``limit`` of them, and the offset in ``buf`` of the note that runs
    past its end (None when every note is whole)."""
    notes: list[tuple[int, memoryview]] = []
    at, end = 0, len(buf)
    while at + NHDR.size <= end and len(notes) < limit:
        namesz, descsz, kind = NHDR.unpack_from(buf, at)
        desc_at = at + NHDR.size + ((namesz + 3) & ~3)
        if desc_at + descsz > end:
            return notes, at
        notes.append((kind, buf[desc_at: desc_at + descsz]))
        at = desc_at + ((descsz + 3) & ~3)
    return notes, None


def _read_notes(path: str, data, segments: list[Phdr], size: int, arch: ElfArch):
    """Return (threads, files, auxv, pid, problem) from the PT_NOTE segments.

    A note segment that runs past the end of the file (a core cut short) gives the notes
    that are whole; so does one whose last note claims more bytes than the segment has, or
    that holds more than ``MAX_NOTES`` notes; a malformed thread or file list is skipped.
    ``problem`` is then the warning saying what was lost (None otherwise).
    """
    threads: list[Thread] = []
    files: list[tuple[int, int, int, str]] = []
    auxv: dict[int, int] = {}
    pid = None
    problem = None
    budget = MAX_NOTES
    bad, malformed = 0, None  # notes that could not be read, and the first one's error
    for seg in segments:
        if seg.type != PT_NOTE:
            continue
        offset, want = seg.offset, seg.filesz
        held = max(0, min(want, size - offset))
        buf = memoryview(data)[offset: offset + held] if held else memoryview(b"")
        notes, stop = _split_notes(buf, budget)
        budget -= len(notes)
        for kind, desc in notes:
            try:
                if kind == NT_PRSTATUS:
                    threads.append(_parse_thread(desc, arch))
                elif kind == arch.tls_note and threads:  # follows its thread's NT_PRSTATUS
                    _set_tls(threads[-1], desc)
                elif kind == NT_PRPSINFO and len(desc) >= PRPSINFO_PID.size:
                    pid = PRPSINFO_PID.unpack_from(desc)[0]
                elif kind == NT_AUXV:
                    auxv = _parse_auxv(bytes(desc))
                elif kind == NT_FILE:
                    files = _parse_nt_file(desc)
            except CorruptDump as e:  # that note is lost, not the others
                bad += 1
                malformed = malformed or str(e)
        lost = ("" if files else ", no mapped-file list") + ("" if auxv else ", no auxiliary vector")
        if held == 0 < want:
            problem = (f"truncated core: the notes (threads, registers, mapped files) are not in "
                       f"the file, which ends at {size:#x}")
        elif held < want:
            problem = (f"truncated core: the notes end early (file ends at {size:#x}): "
                       f"{len(threads)} threads' registers read" + lost)
        elif stop is not None:
            problem = (f"corrupt core: the note at {offset + stop:#x} runs past its PT_NOTE segment's "
                       f"end at {offset + held:#x}; {len(threads)} threads' registers read" + lost)
        if budget <= 0:
            problem = (f"corrupt core: {MAX_NOTES} notes or more; the rest are not read "
                       f"({len(threads)} threads' registers read)")
            break
    if malformed is not None:
        problem = (f"corrupt core: {malformed}" + (f" (and {bad - 1} more malformed notes)" if bad > 1 else "")
                   + "; ignored" + (f"; {problem}" if problem else ""))
    return threads, files, auxv, pid, problem


def _executable_layers(exe: Executable, bias: int, loads: list[Phdr], files, auxv) -> list[Segment]:
    """Return the executable's read-only mappings that fill what the core left out, lowest
    priority first (the first mapping named wins where two overlap).

    Only read-only mappings: writable ones changed while the process ran. NT_FILE says
    which file offset each mapping shows (a page may hold the tail of one section and the
    head of the next); without NT_FILE the executable's own segments are used.
    """
    writable = _union([(s.vaddr, s.vaddr + s.memsz) for s in loads if s.flags & 2])
    entry = auxv.get(AT_ENTRY)
    exe_name = next((name for vs, ve, _o, name in files if entry is not None and vs <= entry < ve), None)
    filesize = len(exe.data)
    out = []
    if exe_name is not None:
        for vs, ve, off, name in files:
            if name != exe_name or off >= filesize or ve <= vs or _overlaps(writable, vs, ve):
                continue
            end = min(ve, vs + (filesize - off))
            out.append(Segment(vs, end, exe.data, off, "r--", "exe"))
    else:
        for es in exe.segments:
            if "w" not in es.perms and es.filesz:
                start = es.vaddr + bias
                out.append(Segment(start, start + es.filesz, exe.data, es.offset, es.perms, "exe"))
    return out[::-1]


def _union(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the sorted, disjoint union of ``[start, end)`` ranges."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        elif hi > lo:
            out.append((lo, hi))
    return out


def _overlaps(disjoint: list[tuple[int, int]], lo: int, hi: int) -> bool:
    """Return whether ``[lo, hi)`` meets any of the sorted, disjoint ranges."""
    i = bisect.bisect_right(disjoint, (hi,)) - 1  # the last range starting before hi
    return i >= 0 and disjoint[i][1] > lo


def _mappings(loads: list[Phdr], files, memory: Memory) -> list[Mapping]:
    by_start = sorted(range(len(files)), key=lambda i: (files[i][0], i))
    starts = [files[i][0] for i in by_start]
    out = []
    for seg in loads:
        start, end = seg.vaddr, seg.vaddr + seg.memsz
        fname, foff = None, 0
        k = bisect.bisect_right(starts, start) - 1
        if k >= 0:
            vs, ve, off, name = files[by_start[k]]
            if start < ve:
                fname, foff = name, off + (start - vs)
        out.append(Mapping(start, end, _perms(seg.flags), fname, foff,
                           present=memory.readable(start, end - start)))
    return out


def _find_executable(path, exe_path, files, auxv, *, use_cache, notify) -> Executable | None:
    if exe_path is not None:
        return open_executable(exe_path, use_cache=use_cache, notify=notify)
    entry = auxv.get(AT_ENTRY)
    for vs, ve, _off, name in files:
        if entry is not None and vs <= entry < ve and os.path.exists(name):
            if notify:
                notify(f"using executable {name} recorded in the core")
            return open_executable(name, use_cache=use_cache, notify=notify)
    return None
