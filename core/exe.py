"""The executable a dump was made from: load segments, sections, symbols, DWARF, build ids.

Addresses here are link-time addresses; a PIE or a relocated PE image is shifted by the
process (``Process.exe_bias``). ``open_executable`` picks the ELF or PE reader by content.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from elftools.common.exceptions import DWARFError, ELFError
from elftools.construct.core import ConstructError as ElfConstructError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection, SymbolTableSection

from .errors import ExecutableError
from .source import map_readonly, materialize

# What pyelftools raises on bytes it cannot make sense of: its own errors, those of the
# construct it vendors (not PyPI's), and the stream's own (a seek past the end of the mmap
# is a ValueError, a short read a struct.error; a zero entry size divides by zero).
ELF_LIBRARY_ERRORS = (ELFError, DWARFError, ElfConstructError, ValueError, struct.error,
                      KeyError, IndexError, ZeroDivisionError, OverflowError)
ADDRESS_SPACE_END = 1 << 64
# deflate cannot expand input more than about 1032 times (RFC 1951 blocks of repeated
# bytes); a larger size in a compression header is corrupt
_ZLIB_MAX_RATIO = 1032


@dataclass(frozen=True)
class Section:
    """A named section of the executable (link-time address, file offset).

    ``size`` is its size as loaded; the file stores only its first ``filesz`` bytes (the
    rest is zero-filled by the loader: a PE section's .bss tail, an ELF NOBITS section).
    """

    name: str
    addr: int
    size: int
    offset: int
    compressed: bool = False
    nobits: bool = False
    filesz: int | None = None  # None: all of ``size`` (0 when ``nobits``)

    @property
    def stored(self) -> int:
        """Return how many of the section's bytes the file holds from ``offset``."""
        if self.nobits:
            return 0
        return self.size if self.filesz is None else self.filesz


@dataclass(frozen=True)
class LoadSegment:
    """A loadable segment: ``filesz`` bytes from ``offset``, zero-filled up to ``memsz``."""

    vaddr: int
    memsz: int
    offset: int
    filesz: int
    perms: str


class Executable:
    """Common face of ELF and PE executables."""

    path: str
    format: str  # "elf" or "pe"
    goos: str
    goarch: str
    data: mmap.mmap
    sections: dict[str, Section]
    segments: list[LoadSegment]
    image_base: int
    ptr_size: int = 8           # bytes of a pointer, from the file header
    byte_order: str = "little"  # "little" or "big", from the file header

    def read_words(self, vaddr: int, count: int) -> list[int] | None:
        """Return the ``count`` pointer-sized words at link-time ``vaddr`` (the file's byte
        order) as the loader maps them, or None when they are not inside one load segment."""
        raw = self.read_static(vaddr, count * self.ptr_size)
        if raw is None:
            return None
        w = self.ptr_size
        return [int.from_bytes(raw[i:i + w], self.byte_order) for i in range(0, len(raw), w)]

    @property
    def word_dtype(self) -> np.dtype:
        """Return the numpy dtype of a pointer-sized word in the file's byte order."""
        return np.dtype(f"{'<' if self.byte_order == 'little' else '>'}u{self.ptr_size}")

    def section_data(self, name: str) -> bytes | None:
        """Return the (decompressed) bytes of section ``name``, or None if absent."""
        sec = self.sections.get(name)
        if sec is None or sec.nobits:
            return None
        raw = self.data[sec.offset: sec.offset + sec.stored]
        if sec.compressed:
            return self._decompress_section(sec, raw)
        return bytes(raw)

    def _decompress_section(self, sec: Section, raw: bytes) -> bytes:
        raise NotImplementedError

    def _segment_of(self, vaddr: int, n: int) -> LoadSegment | None:
        """Return the load segment holding all of ``[vaddr, vaddr + n)``, or None."""
        for seg in self.segments:
            if seg.vaddr <= vaddr and vaddr + n <= seg.vaddr + seg.memsz:
                return seg
        return None

    def _stored_part(self, seg: LoadSegment, vaddr: int, n: int) -> tuple[int, int]:
        """Return ``(file offset, length)`` of the stored prefix of ``n`` bytes at ``vaddr``
        in ``seg``: never past the segment's file size nor the end of the file."""
        start = vaddr - seg.vaddr
        off = seg.offset + start
        return off, max(0, min(n, seg.filesz - start, len(self.data) - off))

    def read_static(self, vaddr: int, n: int) -> bytes | None:
        """Return ``n`` bytes at link-time address ``vaddr`` as the loader maps them, or None
        when they are not inside one load segment.

        Bytes past a segment's file size read as zeros (bss), as the loader makes them.
        """
        seg = self._segment_of(vaddr, n)
        if seg is None:
            return None
        off, have = self._stored_part(seg, vaddr, n)
        return bytes(self.data[off: off + have]) + bytes(n - have)

    def loaded(self, vaddr: int, n: int, dtype: str = "u1") -> np.ndarray | None:
        """Return the ``n`` bytes at link-time ``vaddr`` as the loader maps them, as a
        read-only numpy array of ``dtype`` (``n`` is rounded down to whole items), or None
        when they are not inside one load segment.

        Zero-copy over the file where it stores all of them; bytes past a segment's file
        size (a PE section's .bss tail, ELF NOBITS) are zeros in a copy.
        """
        dt = np.dtype(dtype)
        n -= n % dt.itemsize
        seg = self._segment_of(vaddr, n)
        if seg is None:
            return None
        off, have = self._stored_part(seg, vaddr, n)
        if have == n and n:
            return np.frombuffer(self.data, dtype=dt, count=n // dt.itemsize, offset=off)
        out = np.zeros(n, dtype=np.uint8)
        if have:      # none stored: ``off`` may lie past the file (a section moved off it)
            out[:have] = np.frombuffer(self.data, dtype=np.uint8, count=have, offset=off)
        out = out.view(dt)
        out.flags.writeable = False
        return out

    def relocated(self, seg: LoadSegment, bias: int) -> tuple[object, int]:
        """Return (buffer, offset) of ``seg``'s bytes as loaded ``bias`` bytes from its
        link-time address; formats whose code needs relocating override this."""
        return self.data, seg.offset

    @property
    def symbols(self) -> dict[str, tuple[int, int]]:
        """Return ``{name: (address, size)}`` from the symbol table; empty when stripped."""
        return {}

    def dwarf(self):
        """Return pyelftools ``DWARFInfo`` for the executable, or None without DWARF."""
        return None

    @property
    def has_dwarf(self) -> bool:
        """Return whether the executable carries DWARF."""
        return any(n.startswith((".debug_info", ".zdebug_info")) for n in self.sections)

    @property
    def build_id(self) -> str | None:
        """Return the Go build id (or the GNU one), or None."""
        return None


@contextmanager
def reading_elf(path: str, what: str) -> Iterator[None]:
    """Turn what pyelftools raises while reading ``what`` of ``path`` into ExecutableError
    (a context manager: the one place its exceptions become ours)."""
    try:
        yield
    except ELF_LIBRARY_ERRORS as e:
        raise ExecutableError(f"{path}: cannot read {what}: {type(e).__name__}: {e}") from e


def _note_payloads(exe: "ElfExecutable", section_name: str) -> list[tuple[str, bytes]]:
    with reading_elf(exe.path, f"notes of {section_name}"):
        sec = exe.elf.get_section_by_name(section_name)
        if not isinstance(sec, NoteSection):
            return []
        out = []
        for note in sec.iter_notes():
            desc = note["n_desc"]
            out.append((note["n_name"], desc if isinstance(desc, bytes) else str(desc).encode()))
        return out


class ElfExecutable(Executable):
    """An ELF executable read with pyelftools (headers, notes, DWARF) over an mmap."""

    format = "elf"

    def __init__(self, path: str, data: mmap.mmap):
        self.path = path
        self.data = data
        with reading_elf(path, "the ELF header"):
            self.elf = ELFFile(data)  # an mmap is a seekable stream
            header = self.elf.header
            if header["e_type"] == "ET_CORE":
                raise ExecutableError(f"{path} is a core file, not an executable")
            machine = header["e_machine"]
            self.goarch = {"EM_X86_64": "amd64", "EM_AARCH64": "arm64", "EM_386": "386"}.get(machine, machine)
            self.goos = "linux"
            self.pie = header["e_type"] == "ET_DYN"
            self.ptr_size = 8 if self.elf.elfclass == 64 else 4
            self.byte_order = "little" if self.elf.little_endian else "big"
            self._check_tables()
        with reading_elf(path, "the ELF section headers"):
            self.sections = {}
            for s in self.elf.iter_sections():
                if not s.name:
                    continue
                self.sections[s.name] = Section(
                    name=s.name, addr=s["sh_addr"], size=s["sh_size"], offset=s["sh_offset"],
                    compressed=bool(s["sh_flags"] & 0x800) or s.name.startswith(".zdebug"),
                    nobits=s["sh_type"] == "SHT_NOBITS",
                    filesz=0 if s["sh_type"] == "SHT_NOBITS" else s["sh_size"])
        with reading_elf(path, "the ELF program headers"):
            self.segments = []
            for seg in self.elf.iter_segments():
                if seg["p_type"] != "PT_LOAD":
                    continue
                flags = seg["p_flags"]
                perms = ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 1 else "-")
                self.segments.append(LoadSegment(seg["p_vaddr"], seg["p_memsz"], seg["p_offset"],
                                                 seg["p_filesz"], perms))
        if not self.segments:
            raise ExecutableError(f"{path}: ELF file has no loadable segments")
        for seg in self.segments:
            if seg.offset + seg.filesz > len(data):
                raise ExecutableError(f"{path}: truncated ELF: segment at {seg.vaddr:#x} needs "
                                      f"{seg.filesz:#x} bytes at {seg.offset:#x}, file ends at "
                                      f"{len(data):#x}")
            if seg.vaddr + max(seg.memsz, seg.filesz) > ADDRESS_SPACE_END:
                raise ExecutableError(f"{path}: corrupt ELF: segment at {seg.vaddr:#x} of "
                                      f"{seg.memsz:#x} bytes runs past the end of the address space")
        for sec in self.sections.values():
            if sec.stored and sec.offset + sec.stored > len(data):
                raise ExecutableError(f"{path}: truncated ELF: section {sec.name} needs "
                                      f"{sec.stored:#x} bytes at {sec.offset:#x}, file ends at "
                                      f"{len(data):#x}")
        self.image_base = min(s.vaddr for s in self.segments)

    def _check_tables(self) -> None:
        """Raise ExecutableError unless the program and section header tables lie in the file
        with entries of the size this ELF class has (so no loop runs on past the bytes)."""
        h, size = self.elf.header, len(self.data)
        tables = (("program headers", h["e_phoff"], h["e_phnum"], h["e_phentsize"],
                   self.elf.structs.Elf_Phdr.sizeof()),
                  ("section headers", h["e_shoff"], self.elf.num_sections() if h["e_shoff"] else 0,
                   h["e_shentsize"], self.elf.structs.Elf_Shdr.sizeof()))
        for what, off, count, entsize, want in tables:
            if not count:
                continue
            if entsize != want:
                raise ExecutableError(f"{self.path}: corrupt ELF: {what} are {entsize} bytes each, "
                                      f"expected {want}")
            if off + count * entsize > size:
                raise ExecutableError(f"{self.path}: truncated ELF: {count} {what} at {off:#x} end at "
                                      f"{off + count * entsize:#x}, file ends at {size:#x}")
        names = h["e_shstrndx"]  # every section's name is read from this one
        if h["e_shoff"] and isinstance(names, int) and 0 < names < tables[1][2]:
            at = h["e_shoff"] + names * h["e_shentsize"]
            sh = self.elf.structs.Elf_Shdr.parse(bytes(self.data[at: at + h["e_shentsize"]]))
            if sh["sh_offset"] + sh["sh_size"] > size:
                raise ExecutableError(f"{self.path}: truncated ELF: the section names need "
                                      f"{sh['sh_size']:#x} bytes at {sh['sh_offset']:#x}, file ends "
                                      f"at {size:#x}")

    def _decompress_section(self, sec: Section, raw: bytes) -> bytes:
        if sec.name.startswith(".zdebug"):
            # "ZLIB" + 8-byte big-endian size, then a zlib stream.
            header, want = 12, int.from_bytes(raw[4:12], "big")
        elif self.elf.elfclass == 64:
            # Elf64_Chdr: ch_type u32, reserved u32, ch_size u64, ch_addralign u64.
            header, want = 24, int.from_bytes(raw[8:16], self.byte_order)
        else:
            # Elf32_Chdr: ch_type, ch_size, ch_addralign, each u32.
            header, want = 12, int.from_bytes(raw[4:8], self.byte_order)
        if len(raw) < header:
            raise ExecutableError(f"{self.path}: section {sec.name} is shorter than its "
                                  "compression header")
        if want > _ZLIB_MAX_RATIO * (len(raw) - header) + 1024:
            raise ExecutableError(f"{self.path}: section {sec.name} says it decompresses to "
                                  f"{want} bytes, more than its {len(raw) - header} bytes can hold")
        try:
            # Never more than the header promises: a corrupt stream cannot blow up memory.
            out = zlib.decompressobj().decompress(raw[header:], want + 1)
        except zlib.error as e:
            raise ExecutableError(f"{self.path}: section {sec.name} is corrupt: {e}") from e
        if len(out) != want:
            raise ExecutableError(f"{self.path}: section {sec.name} decompresses to "
                                  f"{'more than ' if len(out) > want else ''}{len(out)} bytes, "
                                  f"its header says {want}")
        return out

    @cached_property
    def symbols(self) -> dict[str, tuple[int, int]]:
        with reading_elf(self.path, "the ELF symbol table .symtab"):
            table = self.elf.get_section_by_name(".symtab")
            if not isinstance(table, SymbolTableSection):
                return {}
            want = self.elf.structs.Elf_Sym.sizeof()
            if table["sh_entsize"] != want:
                raise ExecutableError(f"{self.path}: corrupt ELF: .symtab entries are "
                                      f"{table['sh_entsize']} bytes, expected {want}")
            return {sym.name: (sym["st_value"], sym["st_size"]) for sym in table.iter_symbols()
                    if sym.name}

    def dwarf(self):
        if not self.has_dwarf:
            return None
        with reading_elf(self.path, "the DWARF sections"):
            return self.elf.get_dwarf_info(relocate_dwarf_sections=False)

    @cached_property
    def build_id(self) -> str | None:
        for name, desc in _note_payloads(self, ".note.go.buildid"):
            if name == "Go":
                return desc.rstrip(b"\0").decode(errors="replace")
        for name, desc in _note_payloads(self, ".note.gnu.build-id"):
            if name == "GNU":
                return desc.hex() if isinstance(desc, bytes) else str(desc)
        return None


def open_executable(path: str | os.PathLike, *, use_cache: bool = True, notify=None) -> Executable:
    """Return the ELF or PE executable at ``path`` (compressed files are accepted)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ExecutableError(f"executable {path} does not exist")
    real = materialize(path, use_cache=use_cache, notify=notify)
    data = map_readonly(real)
    magic = data[:4]
    if magic == b"\x7fELF":
        return ElfExecutable(path, data)
    if magic[:2] == b"MZ":
        from .pe import PeExecutable
        return PeExecutable(path, data)
    raise ExecutableError(f"{path} is not an executable (neither ELF nor PE)")
