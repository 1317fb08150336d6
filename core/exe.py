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

import numpy as np
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection, SymbolTableSection

from .errors import ExecutableError
from .source import map_readonly, materialize


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
        if have == n:
            return np.frombuffer(self.data, dtype=dt, count=n // dt.itemsize, offset=off)
        out = np.zeros(n, dtype=np.uint8)
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
                    nobits=s["sh_type"] == "SHT_NOBITS",
                    filesz=0 if s["sh_type"] == "SHT_NOBITS" else s["sh_size"])
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
        for seg in self.segments:
            if seg.offset + seg.filesz > len(data):
                raise ExecutableError(f"{path}: truncated ELF: segment at {seg.vaddr:#x} needs "
                                      f"{seg.filesz:#x} bytes at {seg.offset:#x}, file ends at "
                                      f"{len(data):#x}")
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
