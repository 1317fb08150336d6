"""Windows PE executables (as Go links them), read with pefile over an mmap.

Go writes long section names (``.zdebug_info``, ``.debug_gdb_scripts``) as ``/N``, an
offset into the COFF string table that follows the COFF symbol table; the symbol table
itself stays in the file unless linked with ``-s``. Symbol values are offsets into their
section, so a symbol's link-time address is ImageBase + section RVA + value. COFF symbols
have no size: the size given here runs to the next symbol of the same section.
"""

from __future__ import annotations

import bisect
import io
import mmap
import re
import struct
import zlib
from functools import cached_property

import pefile
from elftools.dwarf.dwarfinfo import DebugSectionDescriptor, DWARFInfo, DwarfConfig

from .errors import ExecutableError
from .exe import Executable, LoadSegment, Section, reading_elf

IMAGE_SCN_CNT_UNINITIALIZED_DATA = 0x00000080
IMAGE_SCN_MEM_DISCARDABLE = 0x02000000
IMAGE_SCN_MEM_EXECUTE = 0x20000000
IMAGE_SCN_MEM_READ = 0x40000000
IMAGE_SCN_MEM_WRITE = 0x80000000

IMAGE_REL_BASED_ABSOLUTE = 0
IMAGE_REL_BASED_HIGHLOW = 3
IMAGE_REL_BASED_DIR64 = 10

# What pefile raises besides PEFormatError on bytes it cannot make sense of.
PE_LIBRARY_ERRORS = (struct.error, ValueError, IndexError, KeyError, OverflowError)

_MACHINES = {0x8664: "amd64", 0x14C: "386", 0xAA64: "arm64", 0x1C4: "arm"}
_SYMBOL_SIZE = 18
_GO_BUILD_ID = re.compile(rb'\xff Go build ID: "([^"\n]*)"')

# The DWARFInfo argument for each .debug_* section pyelftools knows.
_DWARF_SECTIONS = {
    "info": "debug_info_sec", "aranges": "debug_aranges_sec", "abbrev": "debug_abbrev_sec",
    "frame": "debug_frame_sec", "str": "debug_str_sec", "loc": "debug_loc_sec",
    "ranges": "debug_ranges_sec", "line": "debug_line_sec", "pubtypes": "debug_pubtypes_sec",
    "pubnames": "debug_pubnames_sec", "addr": "debug_addr_sec",
    "str_offsets": "debug_str_offsets_sec", "line_str": "debug_line_str_sec",
    "loclists": "debug_loclists_sec", "rnglists": "debug_rnglists_sec",
    "sup": "debug_sup_sec", "types": "debug_types_sec",
}


def _perms(characteristics: int) -> str:
    return (("r" if characteristics & IMAGE_SCN_MEM_READ else "-")
            + ("w" if characteristics & IMAGE_SCN_MEM_WRITE else "-")
            + ("x" if characteristics & IMAGE_SCN_MEM_EXECUTE else "-"))


# The most zeros section_data makes past a section's file bytes: a bigger .bss tail in
# a section read whole (DWARF, build info) is a corrupt header, not a program's globals.
MAX_SECTION_ZEROS = 1 << 30


class PeExecutable(Executable):
    """A PE32+ (or PE32) executable: sections, load segments, COFF symbols, DWARF, build id."""

    format = "pe"

    def __init__(self, path: str, data: mmap.mmap):
        self.path = path
        self.data = data
        try:
            self.pe = pefile.PE(data=data, fast_load=True)
        except pefile.PEFormatError as e:
            raise ExecutableError(f"{path}: not a readable PE executable: {e.value}") from e
        except PE_LIBRARY_ERRORS as e:
            raise ExecutableError(f"{path}: not a readable PE executable: {type(e).__name__}: {e}") from e
        fh, oh = self.pe.FILE_HEADER, self.pe.OPTIONAL_HEADER
        if fh is None or oh is None:
            raise ExecutableError(f"{path}: not a readable PE executable: no "
                                  f"{'COFF' if fh is None else 'optional'} header")
        machine = fh.Machine
        self.goarch = _MACHINES.get(machine, f"machine-{machine:#x}")
        self.goos = "windows"
        self.image_base = oh.ImageBase
        # PE is little-endian by definition; PE32+ (the optional header's magic) has 8-byte pointers
        self.ptr_size = 8 if self.pe.PE_TYPE == pefile.OPTIONAL_HEADER_MAGIC_PE_PLUS else 4
        self.size_of_image = oh.SizeOfImage
        self.time_date_stamp = fh.TimeDateStamp
        self.checksum = oh.CheckSum
        self.pie = bool(oh.DllCharacteristics & 0x40)  # IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE
        self._strtab_off = fh.PointerToSymbolTable + _SYMBOL_SIZE * fh.NumberOfSymbols \
            if fh.PointerToSymbolTable else None
        self.sections = {}
        self.segments = []
        self._section_list: list[tuple[str, int, int]] = []  # (name, rva, virtual size) by COFF index
        for s in self.pe.sections:
            name = self._section_name(s.Name)
            vsize = s.Misc_VirtualSize or s.SizeOfRawData
            raw = min(s.SizeOfRawData, vsize) if s.PointerToRawData else 0
            if s.PointerToRawData + raw > len(data):
                raise ExecutableError(f"{path}: truncated PE: section {name} needs {raw:#x} bytes "
                                      f"at {s.PointerToRawData:#x}, file ends at {len(data):#x}")
            if s.VirtualAddress + vsize > self.size_of_image:
                raise ExecutableError(f"{path}: corrupt PE: section {name} at RVA {s.VirtualAddress:#x} "
                                      f"of {vsize:#x} bytes ends past SizeOfImage {self.size_of_image:#x}")
            ch = s.Characteristics
            self._section_list.append((name, s.VirtualAddress, vsize))
            self.sections[name] = Section(
                name=name, addr=self.image_base + s.VirtualAddress, size=vsize,
                offset=s.PointerToRawData, compressed=name.startswith(".zdebug_"),
                nobits=raw == 0, filesz=raw)
            if not ch & IMAGE_SCN_MEM_DISCARDABLE and ch & (IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_EXECUTE):
                self.segments.append(LoadSegment(self.image_base + s.VirtualAddress, vsize,
                                                 s.PointerToRawData, raw, _perms(ch)))
        if not self.segments:
            raise ExecutableError(f"{path}: PE file has no loadable sections")
        headers = oh.SizeOfHeaders
        if headers and headers <= len(data):
            self.segments.insert(0, LoadSegment(self.image_base, headers, 0, headers, "r--"))

    def _section_name(self, raw: bytes) -> str:
        name = raw.rstrip(b"\0")
        if name.startswith(b"/") and name[1:].isdigit() and self._strtab_off is not None:
            start = self._strtab_off + int(name[1:])
            end = self.data.find(b"\0", start, start + 4096)
            if 0 <= start < len(self.data) and end > start:
                return self.data[start:end].decode(errors="replace")
        return name.decode(errors="replace")

    def section_data(self, name: str) -> bytes | None:
        """Return section ``name`` as loaded (zero-filled past its file bytes), decompressed."""
        sec = self.sections.get(name)
        if sec is None:
            return None
        raw = bytes(self.data[sec.offset: sec.offset + sec.stored])
        if sec.compressed:
            return self._decompress_section(sec, raw)
        zeros = sec.size - sec.stored
        if zeros > MAX_SECTION_ZEROS:
            raise ExecutableError(f"{self.path}: section {name} claims {zeros:#x} bytes past its "
                                  "file data (a corrupt VirtualSize)")
        return raw + bytes(zeros)

    def _decompress_section(self, sec: Section, raw: bytes) -> bytes:
        # "ZLIB", an 8-byte big-endian uncompressed size, then a zlib stream.
        if raw[:4] != b"ZLIB" or len(raw) < 12:
            raise ExecutableError(f"{self.path}: section {sec.name} lacks its ZLIB header")
        want = int.from_bytes(raw[4:12], "big")
        try:
            out = zlib.decompressobj().decompress(raw[12:])
        except zlib.error as e:
            raise ExecutableError(f"{self.path}: section {sec.name} is corrupt: {e}") from e
        if len(out) != want:
            raise ExecutableError(f"{self.path}: section {sec.name} decompresses to {len(out)} "
                                  f"bytes, header says {want}")
        return out

    @property
    def has_dwarf(self) -> bool:
        return ".debug_info" in self.sections or ".zdebug_info" in self.sections

    def dwarf(self) -> DWARFInfo | None:
        """Return pyelftools ``DWARFInfo`` built from the ``.debug_*``/``.zdebug_*`` sections."""
        if not self.has_dwarf:
            return None
        args: dict[str, DebugSectionDescriptor | None] = {v: None for v in _DWARF_SECTIONS.values()}
        args["eh_frame_sec"] = None
        args["gnu_debugaltlink_sec"] = None
        for name, sec in self.sections.items():
            for prefix in (".debug_", ".zdebug_"):
                if name.startswith(prefix) and name[len(prefix):] in _DWARF_SECTIONS:
                    payload = self.section_data(name)
                    key = _DWARF_SECTIONS[name[len(prefix):]]
                    args[key] = DebugSectionDescriptor(
                        stream=io.BytesIO(payload), name=".debug_" + name[len(prefix):],
                        global_offset=sec.offset, size=len(payload), address=0)
        ptr_size = self.ptr_size
        arch = {"amd64": "x64", "386": "x86"}.get(self.goarch, self.goarch)
        config = DwarfConfig(little_endian=True, machine_arch=arch, default_address_size=ptr_size)
        with reading_elf(self.path, "the DWARF sections"):
            return DWARFInfo(config=config, **args)

    @cached_property
    def symbols(self) -> dict[str, tuple[int, int]]:
        """Return ``{name: (link-time address, size)}`` from the COFF symbol table."""
        fh = self.pe.FILE_HEADER
        if not fh.PointerToSymbolTable or not fh.NumberOfSymbols or self._strtab_off is None:
            return {}
        base, count = fh.PointerToSymbolTable, fh.NumberOfSymbols
        if self._strtab_off + 4 > len(self.data):
            raise ExecutableError(f"{self.path}: COFF symbol table ({count} symbols at {base:#x}) and "
                                  f"its string table run past the end of the file at {len(self.data):#x}")
        table = self.data[base: self._strtab_off]
        strtab = self._strtab_off
        # The string table's u32 size (counting itself) bounds every name read from it.
        strtab_end = min(len(self.data), strtab + struct.unpack_from("<I", self.data, strtab)[0])
        by_section: dict[int, list[tuple[int, str]]] = {}
        i = 0
        while i < count:
            name, value, secnum, _typ, _cls, naux = struct.unpack_from("<8sIhHBB", table, i * _SYMBOL_SIZE)
            i += 1 + naux
            if secnum <= 0 or secnum > len(self._section_list):
                continue
            if name[:4] == b"\0\0\0\0":
                off = strtab + struct.unpack_from("<I", name, 4)[0]
                end = self.data.find(b"\0", off, strtab_end)
                name = self.data[off:end] if end >= 0 else b""
            else:
                name = name.rstrip(b"\0")
            if name:
                by_section.setdefault(secnum, []).append((value, name.decode(errors="replace")))
        out: dict[str, tuple[int, int]] = {}
        for secnum, syms in by_section.items():
            _name, rva, vsize = self._section_list[secnum - 1]
            syms.sort()
            values = [v for v, _ in syms]
            for value, name in syms:
                nxt = bisect.bisect_right(values, value)
                end = values[nxt] if nxt < len(values) else max(vsize, value)
                out.setdefault(name, (self.image_base + rva + value, end - value))
        return out

    @cached_property
    def build_id(self) -> str | None:
        """Return the Go build id written at the start of .text, or None."""
        sec = self.sections.get(".text")
        if sec is None:
            return None
        head = bytes(self.data[sec.offset: sec.offset + min(sec.stored, 4096)])
        m = _GO_BUILD_ID.search(head)
        return m.group(1).decode(errors="replace") if m else None

    @cached_property
    def base_relocations(self) -> list[tuple[int, int]]:
        """Return the base relocations as sorted ``(rva, width)``; width 8 (DIR64) or 4."""
        oh = self.pe.OPTIONAL_HEADER
        if len(oh.DATA_DIRECTORY) <= 5:
            return []
        d = oh.DATA_DIRECTORY[5]  # IMAGE_DIRECTORY_ENTRY_BASERELOC
        if not d.VirtualAddress or not d.Size:
            return []
        try:
            off = self.pe.get_offset_from_rva(d.VirtualAddress)
        except pefile.PEFormatError as e:
            raise ExecutableError(f"{self.path}: corrupt PE: the base relocation directory at RVA "
                                  f"{d.VirtualAddress:#x} is in no section: {e.value}") from e
        if off is None or off >= len(self.data):
            raise ExecutableError(f"{self.path}: corrupt PE: the base relocation directory at RVA "
                                  f"{d.VirtualAddress:#x} is past the end of the file")
        end = min(off + d.Size, len(self.data))
        out = []
        while off + 8 <= end:
            page, size = struct.unpack_from("<II", self.data, off)
            if size < 8:
                break
            count = (min(size, end - off) - 8) // 2
            for (entry,) in struct.iter_unpack("<H", self.data[off + 8: off + 8 + 2 * count]):
                kind, rel = entry >> 12, entry & 0xFFF
                if kind == IMAGE_REL_BASED_DIR64:
                    out.append((page + rel, 8))
                elif kind == IMAGE_REL_BASED_HIGHLOW:
                    out.append((page + rel, 4))
            off += size
        out.sort()
        return out

    def relocated(self, seg: LoadSegment, bias: int) -> tuple[bytes | mmap.mmap, int]:
        """Return ``(buf, offset)`` holding ``seg``'s file bytes as loaded ``bias`` bytes away.

        Without relocations in the segment (or with ``bias`` 0) that is the file itself at
        ``seg.offset``, copying nothing; otherwise a relocated copy at offset 0.
        """
        rva0, rva1 = seg.vaddr - self.image_base, seg.vaddr - self.image_base + seg.filesz
        relocs = self.base_relocations
        lo = bisect.bisect_left(relocs, (rva0, 0))
        hi = bisect.bisect_left(relocs, (rva1, 0))
        if bias == 0 or lo == hi:
            return self.data, seg.offset
        buf = bytearray(self.data[seg.offset: seg.offset + seg.filesz])
        for rva, width in relocs[lo:hi]:
            at = rva - rva0
            if at + width > len(buf):
                continue
            fmt = "<Q" if width == 8 else "<I"   # PE is little-endian by definition
            (v,) = struct.unpack_from(fmt, buf, at)
            struct.pack_into(fmt, buf, at, (v + bias) & ((1 << (8 * width)) - 1))
        return bytes(buf), 0
