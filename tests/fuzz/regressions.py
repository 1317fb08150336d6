"""Fuzz findings kept as regression inputs: one function per class of crash, each making
its input from a fixture seed by a few named changes (a recipe, never a committed blob).

Every function returns a ``Recipe``; ``test_regressions.py`` runs each in a worker process
and expects the readers to end with a project error (one line) or an answer, never
another exception, a hang or a memory peak. The docstring says what the input is, what
happened when it was found and which module is at fault.
"""

from __future__ import annotations

from .mutate import Op, Recipe
from .seeds import load_seed


def _start(seed: str, field: str) -> int:
    return load_seed(seed).by_name[field].offset


def _shdr(seed: str, section: str) -> str:
    """Return the field prefix (``shdr[i]``) of the section header of ``section``."""
    s = load_seed(seed)
    want = s.by_name[f"section[{section}]"].offset
    i = 0
    while f"shdr[{i}].sh_offset" in s.by_name:
        f = s.by_name[f"shdr[{i}].sh_offset"]
        if int.from_bytes(s.original[f.offset:f.end], "little") == want:
            return f"shdr[{i}]"
        i += 1
    raise KeyError(section)


def _note(seed: str, ntype_field_suffix: str) -> str:
    """Return the first note field whose name ends with ``ntype_field_suffix``."""
    return next(f.name for f in load_seed(seed).fields if f.name.endswith(ntype_field_suffix))


# ---- core/elfcore.py ----

def core_nt_file_count_huge() -> Recipe:
    """A kernel core whose NT_FILE note says it has 2^64-1 entries: ``_read_notes`` ran
    pyelftools' NT_FILE parser over them for more than 10 s of CPU (a hang) instead of
    checking the count against the note's size."""
    return Recipe("elfcore", "linux-core", [Op(field=_note("linux-core", ".nt_file.count"), value=(1 << 64) - 1)])


def core_note_namesz_one() -> Recipe:
    """The second note of a kernel core with n_namesz 1: the name is then one byte of
    "CORE" with no NUL, and construct's ArrayError "missing terminator" escaped from
    ``_read_notes`` (pyelftools iter_notes) instead of CorruptDump or a warning."""
    return Recipe("elfcore", "linux-core-stripped", [Op(field="note@0[1].n_namesz", value=1)])


# ---- core/exe.py (ELF executables) ----

def elf_section_headers_cut_off() -> Recipe:
    """A stripped ELF executable cut at the start of its .gopclntab: the section headers
    (at the end of the file) are gone. pyelftools raised ValueError "seek out of range"
    from ``ElfExecutable.__init__`` (iter_sections) instead of ExecutableError."""
    return Recipe("elfexe", "elf-exe-stripped", [Op(truncate=_start("elf-exe-stripped", "section[.gopclntab]"))])


def elf_section_name_past_strtab() -> Recipe:
    """A section header whose sh_name points past the end of the file: ValueError "seek
    out of range" from ``ElfExecutable.__init__`` (the section's name)."""
    return Recipe("elfexe", "elf-exe-stripped", [Op(field="shdr[13].sh_name", value=0x1570A0)])


def elf_symtab_cut_off() -> Recipe:
    """An ELF executable cut inside its .symtab: ValueError "seek out of range" from
    ``ElfExecutable.symbols`` (pyelftools iter_symbols) instead of ExecutableError."""
    seed = load_seed("elf-exe-go119")
    sym = seed.by_name["section[.symtab]"]
    return Recipe("elfexe", "elf-exe-go119", [Op(truncate=sym.offset + sym.size // 2 + 7)])


def elf_shstrtab_offset_2_63() -> Recipe:
    """The section-name table's sh_offset set to 2^63: OverflowError "Python int too large
    to convert to C ssize_t" from ``ElfExecutable.__init__`` (pyelftools' seek)."""
    shdr = _shdr("elf-exe", ".shstrtab")
    return Recipe("elfexe", "elf-exe", [Op(field=f"{shdr}.sh_offset", value=1 << 63)])


def elf_symtab_offset_2_63() -> Recipe:
    """The .symtab section header's sh_offset set to 2^63: OverflowError "Python int too
    large to convert to C ssize_t" from ``ElfExecutable.symbols`` (pyelftools' seek)."""
    shdr = _shdr("elf-exe-go119", ".symtab")
    return Recipe("elfexe", "elf-exe-go119", [Op(field=f"{shdr}.sh_offset", value=1 << 63)])


def elf_note_section_offset_huge() -> Recipe:
    """The .note.go.buildid section header's sh_offset set far past the file: ValueError
    "seek out of range" from ``_note_payloads`` (build id) instead of ExecutableError."""
    shdr = _shdr("elf-exe-go119", ".note.go.buildid")
    return Recipe("elfexe", "elf-exe-go119", [Op(field=f"{shdr}.sh_offset", value=0x374356FF4CFB44B8)])


def elf_note_section_offset_inside_file() -> Recipe:
    """The .note.go.buildid section header's sh_offset moved to 0x280874 (inside the file,
    onto other bytes): pyelftools' ELFParseError from ``_note_payloads`` (build id), which
    is read outside the ELFError handler of ``ElfExecutable.__init__``."""
    shdr = _shdr("elf-exe-go119", ".note.go.buildid")
    return Recipe("elfexe", "elf-exe-go119", [Op(field=f"{shdr}.sh_offset", value=0x280874)])


def elf_note_name_unterminated() -> Recipe:
    """The name of the .note.go.buildid note ("Go\\0\\0", at +12) overwritten with four
    0xff bytes: construct's ArrayError "missing terminator" from ``_note_payloads``."""
    return Recipe("elfexe", "elf-exe-stripped",
                  [Op(field="section[.note.go.buildid]", rel=12, data=b"\xff\xff\xff\xff")])


# ---- core/pe.py (PE executables) ----

def pe_section_virtual_size_huge() -> Recipe:
    """A PE section (a DWARF one) whose VirtualSize is 2 GiB: ``PeExecutable.section_data``
    allocated it (MemoryError under the fuzz worker's address-space cap) instead of
    bounding what it reads by the file."""
    return Recipe("peexe", "pe-exe", [Op(field="sec[13].VirtualSize", value=0x80000000)])


def pe_section_alignment_huge() -> Recipe:
    """A PE optional header with SectionAlignment 0x7fffffff: pefile's PEFormatError
    "data at RVA ... can't be fetched" escaped from ``PeExecutable.base_relocations``."""
    return Recipe("peexe", "pe-exe-stripped", [Op(field="opt.SectionAlignment", value=0x7FFFFFFF)])


def pe_section_virtual_size_past_file() -> Recipe:
    """A PE section whose VirtualSize runs far past the file: numpy's ValueError "offset
    must be non-negative and no greater than buffer length" from ``Executable.loaded``."""
    return Recipe("peexe", "pe-exe-stripped", [Op(field="sec[1].VirtualSize", value=0x19DA0A52)])


def pe_section_moved_past_file() -> Recipe:
    """A PE section whose VirtualAddress moves it so that none of a read lies in the file
    (found by the session-21 long run, 52 inputs): numpy's ValueError "offset must be
    non-negative and no greater than buffer length" from ``Executable.loaded``, which
    sliced zero stored bytes at an offset past the file."""
    return Recipe("peexe", "pe-exe-stripped", [Op(field="sec[5].VirtualAddress", value=0x228800)])


def elf_compressed_size_huge() -> Recipe:
    """Section flags 0xffffffff (SHF_COMPRESSED among them) on a section whose "header"
    then gives a size near 2**64 (session-21 long run, 8 inputs): zlib's OverflowError
    from ``_decompress_section``'s max_length instead of an ExecutableError."""
    return Recipe("elfexe", "elf-exe-stripped", [Op(field="shdr[3].sh_flags", value=0xFFFFFFFF),
                                                 Op(field="shdr[13].sh_name", value=1)])


def pe_section_zero_tail_huge() -> Recipe:
    """A PE section whose VirtualSize is 2 GiB while SizeOfImage allows it (session-21 long
    run): ``PeExecutable.section_data`` zero-filled all of it (MemoryError under the
    worker's cap) although a DWARF section's tail past its file bytes is only padding."""
    return Recipe("peexe", "pe-exe-stripped", [Op(field="sec[4].VirtualSize", value=0x7FFFFFFF),
                                               Op(field="opt.SizeOfImage", value=0xFFFFFFFF)])


def core_load_at_top_of_address_space() -> Recipe:
    """A PT_LOAD at p_vaddr 2**64-1 (session-21 long run): its end, 2**64, did not fit the
    uint64 array of segment ends in ``core.memory.Gather`` (OverflowError)."""
    return Recipe("e2e", "linux-core-stripped", [Op(field="phdr[19].p_vaddr", value=(1 << 64) - 1)])


# ---- gocore/binary/pclntab.py ----

def pclntab_funcoff_past_table() -> Recipe:
    """A functab entry whose funcoff is 0x80000000: numpy IndexError from
    ``Pclntab._gather_u32`` (names) instead of PclntabError."""
    return Recipe("pclntab", "elf-exe-go119", [Op(field="functab[4].funcoff", value=0x80000000)])


def pclntab_npcdata_huge() -> Recipe:
    """A ``_func`` whose npcdata is 0xffffffff: struct.error "unpack_from requires a
    buffer of at least ..." from ``Pclntab.filename`` (via ``file_line``)."""
    return Recipe("pclntab", "elf-exe-go119", [Op(field="func[1].npcdata", value=0xFFFFFFFF)])


def pclntab_pcln_offset_huge() -> Recipe:
    """A ``_func`` whose pcln offset is 0xc419ec8c: struct.error from
    ``Func.funcdata_offset`` (via ``inlined_frames``)."""
    return Recipe("pclntab", "elf-exe", [Op(field="func[1].pcln", value=0xC419EC8C)])


#: every regression recipe maker, by name
ALL = {f.__name__: f for f in (
    core_nt_file_count_huge, core_note_namesz_one,
    elf_section_headers_cut_off, elf_section_name_past_strtab, elf_symtab_cut_off,
    elf_shstrtab_offset_2_63, elf_symtab_offset_2_63, elf_note_section_offset_huge,
    elf_note_section_offset_inside_file, elf_note_name_unterminated,
    pe_section_virtual_size_huge, pe_section_alignment_huge, pe_section_virtual_size_past_file,
    pe_section_moved_past_file, elf_compressed_size_huge, pe_section_zero_tail_huge,
    core_load_at_top_of_address_space,
    pclntab_funcoff_past_table, pclntab_npcdata_huge, pclntab_pcln_offset_huge,
)}
