"""Linux ELF core files (kernel cores and gdb's gcore), read with pyelftools over an mmap."""

from __future__ import annotations

import os

from construct import Array, ConstructError, Int16sl, Int32sl, Int64ul, Padding, Struct
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.notes import iter_notes

from .errors import CorruptDump, TruncatedDump, UnknownFormat
from .exe import Executable, open_executable
from .memory import Memory, Segment
from .process import Mapping, Process, Thread, check_image_bytes

# struct elf_prstatus for x86-64 (include/uapi/linux/elfcore.h); registers are
# struct user_regs_struct in kernel order.
_USER_REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
              "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss", "fs_base",
              "gs_base", "ds", "es", "fs", "gs")
PRSTATUS_AMD64 = Struct(
    "si_signo" / Int32sl, "si_code" / Int32sl, "si_errno" / Int32sl,
    "pr_cursig" / Int16sl, Padding(2),
    "pr_sigpend" / Int64ul, "pr_sighold" / Int64ul,
    "pr_pid" / Int32sl, "pr_ppid" / Int32sl, "pr_pgrp" / Int32sl, "pr_sid" / Int32sl,
    Padding(64),  # four struct timevals
    "pr_reg" / Array(len(_USER_REGS), Int64ul),
)
AT_ENTRY = 9
ELF64_HEADER_SIZE = 64
NT_PRSTATUS = "NT_PRSTATUS"


def _perms(flags: int) -> str:
    return ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 1 else "-")


def _parse_auxv(desc: bytes) -> dict[int, int]:
    words = [int.from_bytes(desc[i:i + 8], "little") for i in range(0, len(desc) - 7, 8)]
    return {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2) if words[i] != 0}


def _parse_thread(desc: bytes) -> Thread:
    try:
        st = PRSTATUS_AMD64.parse(desc)
    except ConstructError as e:
        raise CorruptDump(f"NT_PRSTATUS note is malformed: {e}") from e
    regs = dict(zip(_USER_REGS, st.pr_reg))
    return Thread(tid=st.pr_pid, regs=regs, tls_base=regs["fs_base"], signal=st.pr_cursig or None)


def read_elf_core(path: str, data, exe_path: str | None, *, use_cache: bool = True,
                  notify=None) -> Process:
    """Return the Process in the ELF core ``data`` (an mmap of ``path``)."""
    size = len(data)
    if size < ELF64_HEADER_SIZE:
        raise TruncatedDump(f"truncated core: the ELF header needs {ELF64_HEADER_SIZE} bytes, "
                            f"file ends at {size:#x}")
    try:
        elf = ELFFile(data)
        if elf.header["e_type"] != "ET_CORE":
            raise UnknownFormat(f"{path} is an ELF {elf.header['e_type']} file, not a core dump")
        if elf.header["e_machine"] != "EM_X86_64":
            raise UnknownFormat(f"{path}: {elf.header['e_machine']} cores are not supported (amd64 only)")
        phoff, phnum = elf.header["e_phoff"], elf.header["e_phnum"]
        if phoff + phnum * elf.header["e_phentsize"] > size:
            raise TruncatedDump(f"truncated core: program headers end at {phoff + phnum * 56:#x}, "
                                f"file ends at {size:#x}")
        segments = list(elf.iter_segments())
    except ELFError as e:
        raise CorruptDump(f"{path}: unreadable ELF core: {e}") from e

    loads = [s for s in segments if s["p_type"] == "PT_LOAD"]
    cut_loads = _truncated_loads(loads, size)
    threads, files, auxv, pid, notes_problem = _read_notes(path, elf, segments, size)
    if not threads and notes_problem is None:
        raise CorruptDump(f"{path}: core has no NT_PRSTATUS (no threads)")
    if pid is None and threads:
        pid = threads[0].tid

    exe = _find_executable(path, exe_path, files, auxv, use_cache=use_cache, notify=notify)
    bias = 0
    if exe is not None and getattr(exe, "pie", False) and AT_ENTRY in auxv:
        bias = auxv[AT_ENTRY] - exe.elf.header["e_entry"]

    memory = Memory()
    for seg in loads:
        start, held = seg["p_vaddr"], _bytes_in_file(seg, size)
        memory.add(Segment(start, start + seg["p_memsz"], None, 0, _perms(seg["p_flags"]), "core"))
        if held < seg["p_filesz"]:
            memory.add(Segment(start + held, start + seg["p_filesz"], None, 0, _perms(seg["p_flags"]),
                               "truncated"))
    if exe is not None:
        _fill_from_executable(memory, exe, bias, loads, files, auxv)
    for seg in loads:
        held = _bytes_in_file(seg, size)
        if held:
            start = seg["p_vaddr"]
            memory.add(Segment(start, start + held, data, seg["p_offset"],
                               _perms(seg["p_flags"]), "core"))

    proc = Process(path=path, dump_format="elf-core", goos="linux", goarch="amd64", memory=memory,
                   threads=threads, mappings=[], exe=exe, exe_bias=bias, pid=pid, auxv=auxv)
    crash = threads[0] if threads else None
    if crash is not None and crash.signal:
        proc.signal = crash.signal
        proc.crash_thread = crash
    proc.mappings = _mappings(loads, files, memory)
    if cut_loads:
        proc.warn(_truncation_warning(loads, cut_loads, size))
    if notes_problem is not None:
        proc.warn(notes_problem)
    if exe is not None:
        check_image_bytes(proc, exe, bias, "core")
    return proc


def _bytes_in_file(seg, size: int) -> int:
    """Return how many of the segment's ``p_filesz`` bytes the file of ``size`` bytes holds."""
    return max(0, min(seg["p_filesz"], size - seg["p_offset"]))


def _truncated_loads(loads, size: int) -> list[int]:
    """Return the indexes (among ``loads``) of the PT_LOADs whose bytes run past the file's end."""
    return [i for i, seg in enumerate(loads) if _bytes_in_file(seg, size) < seg["p_filesz"]]


def _truncation_warning(loads, cut: list[int], size: int) -> str:
    """Return the one warning naming what a core cut short lacks."""
    with_data = sum(1 for seg in loads if seg["p_filesz"])
    missing = sum(loads[i]["p_filesz"] - _bytes_in_file(loads[i], size) for i in cut)
    return (f"truncated core: file ends at {size:#x}, {len(cut)} of {with_data} PT_LOAD segments "
            f"({missing / (1 << 20):.1f} MiB) missing; their bytes read as absent")


def _read_notes(path: str, elf: ELFFile, segments, size: int):
    """Return (threads, files, auxv, pid, problem) from the PT_NOTE segments.

    A note segment that runs past the end of the file (a core cut short) gives the notes
    that are whole; ``problem`` is then the warning saying what was lost (None otherwise).
    Malformed notes inside the file raise CorruptDump.
    """
    threads: list[Thread] = []
    files: list[tuple[int, int, int, str]] = []
    auxv: dict[int, int] = {}
    pid = None
    problem = None
    for seg in segments:
        if seg["p_type"] != "PT_NOTE":
            continue
        offset, want = seg["p_offset"], seg["p_filesz"]
        held = max(0, min(want, size - offset))
        try:
            for note in iter_notes(elf, offset, held):
                if note["n_offset"] + note["n_size"] > offset + held or \
                        len(note["n_descdata"]) < note["n_descsz"]:
                    break  # the note the file ends in
                kind, desc = note["n_type"], note["n_desc"]
                if kind == NT_PRSTATUS:
                    threads.append(_parse_thread(desc))
                elif kind == "NT_PRPSINFO":
                    pid = desc.pr_pid
                elif kind == "NT_AUXV":
                    auxv = _parse_auxv(desc) if isinstance(desc, bytes) else {
                        e.a_type if isinstance(e.a_type, int) else 0: e.a_val for e in desc}
                elif kind == "NT_FILE":
                    page = desc.page_size
                    for entry, name in zip(desc.Elf_Nt_File_Entry, desc.filename):
                        fname = name.decode(errors="replace") if isinstance(name, bytes) else name
                        files.append((entry.vm_start, entry.vm_end, entry.page_offset * page, fname))
        except (ELFError, ConstructError, ValueError, CorruptDump) as e:
            if held == want:
                raise CorruptDump(f"{path}: malformed note: {e}") from e
        if held == 0 < want:
            problem = (f"truncated core: the notes (threads, registers, mapped files) are not in "
                       f"the file, which ends at {size:#x}")
        elif held < want:
            problem = (f"truncated core: the notes end early (file ends at {size:#x}): "
                       f"{len(threads)} threads' registers read"
                       + ("" if files else ", no mapped-file list")
                       + ("" if auxv else ", no auxiliary vector"))
    return threads, files, auxv, pid, problem


def _fill_from_executable(memory: Memory, exe: Executable, bias: int, loads, files, auxv) -> None:
    """Fill the executable's read-only mappings that the core left out from the file.

    Only read-only mappings: writable ones changed while the process ran. NT_FILE says
    which file offset each mapping shows (a page may hold the tail of one section and the
    head of the next); without NT_FILE the executable's own segments are used.
    """
    writable = [(s["p_vaddr"], s["p_vaddr"] + s["p_memsz"]) for s in loads if s["p_flags"] & 2]
    entry = auxv.get(AT_ENTRY)
    exe_name = next((name for vs, ve, _o, name in files if entry is not None and vs <= entry < ve), None)
    filesize = len(exe.data)
    if exe_name is not None:
        for vs, ve, off, name in files:
            if name != exe_name or off >= filesize or any(a < ve and vs < b for a, b in writable):
                continue
            end = min(ve, vs + (filesize - off))
            memory.fill(Segment(vs, end, exe.data, off, "r--", "exe"))
        return
    for es in exe.segments:
        if "w" not in es.perms and es.filesz:
            start = es.vaddr + bias
            memory.fill(Segment(start, start + es.filesz, exe.data, es.offset, es.perms, "exe"))


def _mappings(loads, files, memory: Memory) -> list[Mapping]:
    out = []
    for seg in loads:
        start, end = seg["p_vaddr"], seg["p_vaddr"] + seg["p_memsz"]
        fname, foff = None, 0
        for vs, ve, off, name in files:
            if vs <= start < ve:
                fname, foff = name, off + (start - vs)
                break
        out.append(Mapping(start, end, _perms(seg["p_flags"]), fname, foff,
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
