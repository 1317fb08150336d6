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


# ---- gocore/pclntab.py ----

def pclntab_funcoff_past_table() -> Recipe:
    """A functab entry whose funcoff is 0x80000000: numpy IndexError from
    ``Pclntab._gather_u32`` (names) instead of PclntabError."""
    return Recipe("pclntab", "elf-exe-go119", [Op(field="functab[4].funcoff", value=0x80000000)])


#: every regression recipe maker, by name
ALL = {f.__name__: f for f in (
    elf_section_headers_cut_off, elf_section_name_past_strtab, elf_symtab_cut_off,
    pe_section_virtual_size_huge, pe_section_alignment_huge, pe_section_virtual_size_past_file,
    pclntab_funcoff_past_table,
)}
