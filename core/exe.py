"""The executable a dump was made from: load segments, sections, symbols, DWARF, build ids.

Addresses here are link-time addresses; a PIE or a relocated PE image is shifted by the
process (``Process.exe_bias``). ``open_executable`` picks the ELF or PE reader by content.
"""

from __future__ import annotations

import mmap
import os
import zlib
from dataclasses import dataclass
from functools import cached_property

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection, SymbolTableSection

from .errors import ExecutableError
from .source import map_readonly, materialize


@dataclass(frozen=True)
class Section:
    """A named section of the executable (link-time address, file offset)."""

    name: str
    addr: int
    size: int
    offset: int
    compressed: bool = False
    nobits: bool = False


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

    def section_data(self, name: str) -> bytes | None:
        """Return the (decompressed) bytes of section ``name``, or None if absent."""
        sec = self.sections.get(name)
        if sec is None or sec.nobits:
            return None
        raw = self.data[sec.offset: sec.offset + sec.size]
        if sec.compressed:
            return self._decompress_section(sec, raw)
        return bytes(raw)

    def _decompress_section(self, sec: Section, raw: bytes) -> bytes:
        raise NotImplementedError

    def read_static(self, vaddr: int, n: int) -> bytes | None:
        """Return ``n`` bytes at link-time address ``vaddr`` from the file, or None.

        Bytes past a segment's file size read as zeros (bss), as the loader makes them.
        """
        for seg in self.segments:
            if seg.vaddr <= vaddr and vaddr + n <= seg.vaddr + seg.memsz:
                start = vaddr - seg.vaddr
                have = max(0, min(n, seg.filesz - start))
                out = bytes(self.data[seg.offset + start: seg.offset + start + have])
                return out + bytes(n - have)
        return None

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


def _note_payloads(elf: ELFFile, section_name: str) -> list[tuple[str, bytes]]:
    sec = elf.get_section_by_name(section_name)
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
        try:
            self.elf = ELFFile(data)  # an mmap is a seekable stream
            if self.elf.header["e_type"] == "ET_CORE":
                raise ExecutableError(f"{path} is a core file, not an executable")
            machine = self.elf.header["e_machine"]
            self.goarch = {"EM_X86_64": "amd64", "EM_AARCH64": "arm64", "EM_386": "386"}.get(machine, machine)
            self.goos = "linux"
            self.pie = self.elf.header["e_type"] == "ET_DYN"
            self.sections = {}
            for s in self.elf.iter_sections():
                if not s.name:
                    continue
                self.sections[s.name] = Section(
                    name=s.name, addr=s["sh_addr"], size=s["sh_size"], offset=s["sh_offset"],
                    compressed=bool(s["sh_flags"] & 0x800) or s.name.startswith(".zdebug"),
                    nobits=s["sh_type"] == "SHT_NOBITS")
            self.segments = []
            for seg in self.elf.iter_segments():
                if seg["p_type"] != "PT_LOAD":
                    continue
                flags = seg["p_flags"]
                perms = ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 1 else "-")
                self.segments.append(LoadSegment(seg["p_vaddr"], seg["p_memsz"], seg["p_offset"],
                                                 seg["p_filesz"], perms))
        except ELFError as e:
            raise ExecutableError(f"{path}: not a readable ELF executable: {e}") from e
        if not self.segments:
            raise ExecutableError(f"{path}: ELF file has no loadable segments")
        self.image_base = min(s.vaddr for s in self.segments)

    def _decompress_section(self, sec: Section, raw: bytes) -> bytes:
        try:
            if sec.name.startswith(".zdebug"):
                # "ZLIB" + 8-byte big-endian size, then a zlib stream.
                return zlib.decompress(raw[12:])
            # Elf64_Chdr: ch_type u32, reserved u32, ch_size u64, ch_addralign u64.
            return zlib.decompress(raw[24:])
        except zlib.error as e:
            raise ExecutableError(f"{self.path}: section {sec.name} is corrupt: {e}") from e

    @cached_property
    def symbols(self) -> dict[str, tuple[int, int]]:
        table = self.elf.get_section_by_name(".symtab")
        if not isinstance(table, SymbolTableSection):
            return {}
        return {sym.name: (sym["st_value"], sym["st_size"]) for sym in table.iter_symbols() if sym.name}

    def dwarf(self):
        if not self.has_dwarf:
            return None
        try:
            return self.elf.get_dwarf_info(relocate_dwarf_sections=False)
        except (ELFError, Exception) as e:  # pyelftools raises assorted errors on bad DWARF
            raise ExecutableError(f"{self.path}: unreadable DWARF: {e}") from e

    @cached_property
    def build_id(self) -> str | None:
        for name, desc in _note_payloads(self.elf, ".note.go.buildid"):
            if name == "Go":
                return desc.rstrip(b"\0").decode(errors="replace")
        for name, desc in _note_payloads(self.elf, ".note.gnu.build-id"):
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
