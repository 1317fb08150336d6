"""Where the fields are: named offsets of the headers and tables the fuzz mutates.

Read with ``struct`` straight from the seed bytes, independently of the project's readers
(a reader bug must not hide a field from the fuzzer). Each ``Field`` names one integer
(``phdr[2].p_filesz``) or one byte region (``section[.gopclntab]``); mutations and the
regression recipes refer to fields by these names, so a recipe still means the same thing
when a fixture is regenerated.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """A named integer field (``width`` 1/2/4/8 bytes, little-endian) or a byte region
    (``width`` 0, ``size`` bytes) at file offset ``offset``."""

    name: str
    offset: int
    width: int = 0
    size: int = 0

    @property
    def end(self) -> int:
        """Return the offset just past the field."""
        return self.offset + (self.width or self.size)


def _u(data, off: int, width: int) -> int:
    if off < 0 or off + width > len(data):
        return 0
    return int.from_bytes(data[off:off + width], "little")


def _fields(prefix: str, base: int, spec: tuple[tuple[str, int, int], ...]) -> list[Field]:
    return [Field(f"{prefix}.{name}", base + off, width) for name, off, width in spec]


_EHDR = (("e_type", 16, 2), ("e_machine", 18, 2), ("e_entry", 24, 8), ("e_phoff", 32, 8),
         ("e_shoff", 40, 8), ("e_phentsize", 54, 2), ("e_phnum", 56, 2),
         ("e_shentsize", 58, 2), ("e_shnum", 60, 2), ("e_shstrndx", 62, 2))
_PHDR = (("p_type", 0, 4), ("p_flags", 4, 4), ("p_offset", 8, 8), ("p_vaddr", 16, 8),
         ("p_filesz", 32, 8), ("p_memsz", 40, 8), ("p_align", 48, 8))
_SHDR = (("sh_name", 0, 4), ("sh_type", 4, 4), ("sh_flags", 8, 8), ("sh_addr", 16, 8),
         ("sh_offset", 24, 8), ("sh_size", 32, 8), ("sh_link", 40, 4), ("sh_entsize", 56, 8))
PT_LOAD, PT_NOTE = 1, 4


def elf_fields(data) -> list[Field]:
    """Return the ELF header, program and section headers, notes (NT_PRSTATUS, NT_FILE,
    NT_AUXV descriptors) and the contents of named sections of an ELF file."""
    out = _fields("ehdr", 0, _EHDR)
    phoff, phnum = _u(data, 32, 8), _u(data, 56, 2)
    shoff, shnum, shstrndx = _u(data, 40, 8), _u(data, 60, 2), _u(data, 62, 2)
    for i in range(phnum):
        base = phoff + 56 * i
        out += _fields(f"phdr[{i}]", base, _PHDR)
        ptype, off, filesz = _u(data, base, 4), _u(data, base + 8, 8), _u(data, base + 32, 8)
        if ptype == PT_NOTE:
            out += _note_fields(data, off, min(off + filesz, len(data)), f"note@{i}")
    strtab = shoff + 64 * shstrndx
    names_at = _u(data, strtab + 24, 8) if shstrndx < shnum else 0
    for i in range(shnum):
        base = shoff + 64 * i
        out += _fields(f"shdr[{i}]", base, _SHDR)
        name_off = names_at + _u(data, base, 4)
        end = bytes(data[name_off:name_off + 64]).find(b"\0")
        name = bytes(data[name_off:name_off + max(end, 0)]).decode(errors="replace")
        off, size, stype = _u(data, base + 24, 8), _u(data, base + 32, 8), _u(data, base + 4, 4)
        if name and stype != 8 and size and off + size <= len(data):  # not SHT_NOBITS
            out.append(Field(f"section[{name}]", off, 0, size))
            if name == ".gopclntab":
                out += _pclntab_fields(data, off)
            elif name == ".debug_info":
                out += _cu_fields(data, off, size)
    return out


def _note_fields(data, pos: int, end: int, prefix: str) -> list[Field]:
    out = []
    k = 0
    while pos + 12 <= end and k < 512:
        namesz, descsz, ntype = _u(data, pos, 4), _u(data, pos + 4, 4), _u(data, pos + 8, 4)
        p = f"{prefix}[{k}]"
        out += [Field(f"{p}.n_namesz", pos, 4), Field(f"{p}.n_descsz", pos + 4, 4),
                Field(f"{p}.n_type", pos + 8, 4)]
        desc = pos + 12 + ((namesz + 3) & ~3)
        if desc + descsz > end:
            break
        out.append(Field(f"{p}.desc", desc, 0, descsz))
        if ntype == 0x46494C45:  # NT_FILE: count, page size, then (start, end, offset) triples
            out += [Field(f"{p}.nt_file.count", desc, 8), Field(f"{p}.nt_file.page_size", desc + 8, 8)]
            for j in range(min(_u(data, desc, 8), 64)):
                out += [Field(f"{p}.nt_file[{j}].start", desc + 16 + 24 * j, 8),
                        Field(f"{p}.nt_file[{j}].end", desc + 24 + 24 * j, 8),
                        Field(f"{p}.nt_file[{j}].offset", desc + 32 + 24 * j, 8)]
        elif ntype == 1:  # NT_PRSTATUS: pid, cursig, registers (rip at 112+16*8, rsp 112+19*8)
            out += [Field(f"{p}.pr_cursig", desc + 12, 2), Field(f"{p}.pr_pid", desc + 32, 4),
                    Field(f"{p}.rip", desc + 112 + 16 * 8, 8), Field(f"{p}.rsp", desc + 112 + 19 * 8, 8),
                    Field(f"{p}.fs_base", desc + 112 + 21 * 8, 8)]
        elif ntype == 6:  # NT_AUXV: (key, value) words
            for j in range(0, min(descsz // 16, 40)):
                out.append(Field(f"{p}.auxv[{j}].value", desc + 16 * j + 8, 8))
        pos = desc + ((descsz + 3) & ~3)
        k += 1
    return out


_PCHEADER = (("magic", 0, 4), ("minLC", 6, 1), ("ptrSize", 7, 1), ("nfunc", 8, 8),
             ("nfiles", 16, 8), ("textStart", 24, 8), ("funcnameOffset", 32, 8),
             ("cuOffset", 40, 8), ("filetabOffset", 48, 8), ("pctabOffset", 56, 8),
             ("pclnOffset", 64, 8))


def _cu_fields(data, off: int, size: int) -> list[Field]:
    """Return the unit headers of the first 64 compilation units in .debug_info (DWARF 4/5)."""
    out = []
    pos, end = off, off + size
    for i in range(64):
        if pos + 12 > end:
            break
        length, version = _u(data, pos, 4), _u(data, pos + 4, 2)
        p = f"cu[{i}]"
        out += [Field(f"{p}.unit_length", pos, 4), Field(f"{p}.version", pos + 4, 2)]
        if version >= 5:
            out += [Field(f"{p}.unit_type", pos + 6, 1), Field(f"{p}.address_size", pos + 7, 1),
                    Field(f"{p}.abbrev_offset", pos + 8, 4)]
        else:
            out += [Field(f"{p}.abbrev_offset", pos + 6, 4), Field(f"{p}.address_size", pos + 10, 1)]
        out.append(Field(f"{p}.dies", pos + 11, 0, max(min(length - 7, 4096), 0)))
        if length == 0 or length >= 0xFFFFFFF0:
            break
        pos += 4 + length
    return out


def _pclntab_fields(data, off: int) -> list[Field]:
    """Return the pcHeader fields and the first functab entries of a pclntab at ``off``."""
    out = _fields("pclntab", off, _PCHEADER)
    nfunc, pcln = _u(data, off + 8, 8), _u(data, off + 64, 8)
    for i in list(range(min(nfunc, 16))) + [nfunc // 2, nfunc - 1, nfunc]:
        base = off + pcln + 8 * i
        out += [Field(f"functab[{i}].entryoff", base, 4), Field(f"functab[{i}].funcoff", base + 4, 4)]
        if i < nfunc:
            func = off + pcln + _u(data, base + 4, 4)
            out += [Field(f"func[{i}].nameOff", func + 4, 4), Field(f"func[{i}].args", func + 8, 4),
                    Field(f"func[{i}].pcsp", func + 20, 4), Field(f"func[{i}].pcfile", func + 24, 4),
                    Field(f"func[{i}].pcln", func + 28, 4), Field(f"func[{i}].npcdata", func + 32, 4),
                    Field(f"func[{i}].cuOffset", func + 36, 4), Field(f"func[{i}].nfuncdata", func + 43, 1)]
    return [f for f in out if f.end <= len(data)]


def find_pclntab(data) -> int | None:
    """Return the file offset of the first Go 1.18+ pclntab magic followed by a plausible
    header (minLC 1, ptrSize 8), or None."""
    for magic in (b"\xf1\xff\xff\xff", b"\xf0\xff\xff\xff"):
        pos = bytes(data).find(magic + b"\x00\x00\x01\x08")
        if pos >= 0:
            return pos
    return None


# ---- minidumps ----

_MDHDR = (("NumberOfStreams", 8, 4), ("StreamDirectoryRva", 12, 4), ("Flags", 24, 8))


def minidump_fields(data) -> list[Field]:
    """Return the header, directory entries and the headers of the thread, module, memory,
    Memory64 and memory-info lists of a minidump."""
    out = _fields("hdr", 0, _MDHDR)
    n, rva = _u(data, 8, 4), _u(data, 12, 4)
    for i in range(min(n, 64)):
        base = rva + 12 * i
        stype, size, srva = _u(data, base, 4), _u(data, base + 4, 4), _u(data, base + 8, 4)
        out += [Field(f"dir[{i}].StreamType", base, 4), Field(f"dir[{i}].DataSize", base + 4, 4),
                Field(f"dir[{i}].Rva", base + 8, 4)]
        if srva + size <= len(data) and size:
            out.append(Field(f"stream{stype}", srva, 0, size))
        out += _stream_fields(data, stype, srva, size)
    return [f for f in out if f.end <= len(data)]


def _stream_fields(data, stype: int, rva: int, size: int) -> list[Field]:
    out: list[Field] = []
    if stype == 3:  # ThreadList: count u32, MINIDUMP_THREAD (48 bytes) each
        out.append(Field("threads.count", rva, 4))
        for j in range(min(_u(data, rva, 4), 32)):
            b = rva + 4 + 48 * j
            out += [Field(f"thread[{j}].Teb", b + 16, 8), Field(f"thread[{j}].Stack.Start", b + 24, 8),
                    Field(f"thread[{j}].Stack.DataSize", b + 32, 4), Field(f"thread[{j}].Stack.Rva", b + 36, 4),
                    Field(f"thread[{j}].Context.DataSize", b + 40, 4), Field(f"thread[{j}].Context.Rva", b + 44, 4)]
            ctx = _u(data, b + 44, 4)
            out += [Field(f"thread[{j}].ctx.ContextFlags", ctx + 0x30, 4), Field(f"thread[{j}].ctx.Rsp", ctx + 0x98, 8),
                    Field(f"thread[{j}].ctx.Rip", ctx + 0xF8, 8)]
    elif stype == 4:  # ModuleList: count u32, MINIDUMP_MODULE (108 bytes) each
        out.append(Field("modules.count", rva, 4))
        for j in range(min(_u(data, rva, 4), 32)):
            b = rva + 4 + 108 * j
            out += [Field(f"module[{j}].BaseOfImage", b, 8), Field(f"module[{j}].SizeOfImage", b + 8, 4),
                    Field(f"module[{j}].ModuleNameRva", b + 20, 4), Field(f"module[{j}].CvRecord.DataSize", b + 76, 4),
                    Field(f"module[{j}].CvRecord.Rva", b + 80, 4)]
            name = _u(data, b + 20, 4)
            out.append(Field(f"module[{j}].name.Length", name, 4))
    elif stype == 5:  # MemoryList: count u32, (start u64, size u32, rva u32) each
        out.append(Field("memlist.count", rva, 4))
        for j in range(min(_u(data, rva, 4), 64)):
            b = rva + 4 + 16 * j
            out += [Field(f"memlist[{j}].Start", b, 8), Field(f"memlist[{j}].DataSize", b + 8, 4),
                    Field(f"memlist[{j}].Rva", b + 12, 4)]
    elif stype == 9:  # Memory64List: count u64, BaseRva u64, (start u64, size u64) each
        out += [Field("mem64.count", rva, 8), Field("mem64.BaseRva", rva + 8, 8)]
        count = _u(data, rva, 8)
        for j in list(range(min(count, 32))) + ([count - 1] if count > 32 else []):
            b = rva + 16 + 16 * j
            out += [Field(f"mem64[{j}].Start", b, 8), Field(f"mem64[{j}].DataSize", b + 8, 8)]
    elif stype == 16:  # MemoryInfoList: SizeOfHeader u32, SizeOfEntry u32, count u64
        out += [Field("meminfo.SizeOfHeader", rva, 4), Field("meminfo.SizeOfEntry", rva + 4, 4),
                Field("meminfo.count", rva + 8, 8)]
        for j in range(min(_u(data, rva + 8, 8), 32)):
            b = rva + 16 + 48 * j
            out += [Field(f"meminfo[{j}].BaseAddress", b, 8), Field(f"meminfo[{j}].RegionSize", b + 24, 8),
                    Field(f"meminfo[{j}].State", b + 32, 4), Field(f"meminfo[{j}].Protect", b + 36, 4)]
    elif stype == 7:  # SystemInfo
        out += [Field("sysinfo.ProcessorArchitecture", rva, 2), Field("sysinfo.CSDVersionRva", rva + 24, 4)]
    elif stype == 6:  # Exception: ThreadId, pad, ExceptionCode, ..., ThreadContext at 160
        out += [Field("exception.ThreadId", rva, 4), Field("exception.Code", rva + 8, 4),
                Field("exception.NumberParameters", rva + 32, 4),
                Field("exception.Context.DataSize", rva + 160, 4), Field("exception.Context.Rva", rva + 164, 4)]
    elif stype == 15:  # MiscInfo
        out += [Field("misc.SizeOfInfo", rva, 4), Field("misc.Flags1", rva + 4, 4), Field("misc.ProcessId", rva + 8, 4)]
    return out


# ---- PE ----

_COFF = (("Machine", 4, 2), ("NumberOfSections", 6, 2), ("PointerToSymbolTable", 12, 4),
         ("NumberOfSymbols", 16, 4), ("SizeOfOptionalHeader", 20, 2))
_OPT64 = (("Magic", 0, 2), ("ImageBase", 24, 8), ("SectionAlignment", 32, 4),
          ("FileAlignment", 36, 4), ("SizeOfImage", 56, 4), ("SizeOfHeaders", 60, 4),
          ("DllCharacteristics", 70, 2), ("NumberOfRvaAndSizes", 108, 4))
_SECHDR = (("VirtualSize", 8, 4), ("VirtualAddress", 12, 4), ("SizeOfRawData", 16, 4),
           ("PointerToRawData", 20, 4), ("Characteristics", 36, 4))


def pe_fields(data) -> list[Field]:
    """Return the DOS, COFF and optional headers, data directories, section headers, the
    COFF symbol table's first entries and the contents of each section of a PE file."""
    out = [Field("dos.e_lfanew", 0x3C, 4)]
    pe = _u(data, 0x3C, 4)
    out += _fields("coff", pe, _COFF)
    opt = pe + 24
    out += _fields("opt", opt, _OPT64)
    for i, name in enumerate(("export", "import", "resource", "exception", "security", "basereloc",
                              "debug", "arch", "globalptr", "tls", "loadconfig", "boundimport",
                              "iat", "delayimport", "clr", "reserved")):
        out += [Field(f"datadir[{name}].VirtualAddress", opt + 112 + 8 * i, 4),
                Field(f"datadir[{name}].Size", opt + 116 + 8 * i, 4)]
    nsec, optsize = _u(data, pe + 6, 2), _u(data, pe + 20, 2)
    symtab, nsym = _u(data, pe + 12, 4), _u(data, pe + 16, 4)
    strtab = symtab + 18 * nsym
    for i in range(min(nsec, 96)):
        base = opt + optsize + 40 * i
        out += _fields(f"sec[{i}]", base, _SECHDR)
        raw = bytes(data[base:base + 8]).rstrip(b"\0")
        name = raw.decode(errors="replace")
        if raw.startswith(b"/") and raw[1:].isdigit() and symtab:
            s = strtab + int(raw[1:])
            end = bytes(data[s:s + 64]).find(b"\0")
            name = bytes(data[s:s + max(end, 0)]).decode(errors="replace")
            out.append(Field(f"sec[{i}].longname", base + 1, 0, 7))
        off, size = _u(data, base + 20, 4), _u(data, base + 16, 4)
        if size and off + size <= len(data):
            out.append(Field(f"section[{name}]", off, 0, size))
            if name == ".debug_info":
                out += _cu_fields(data, off, size)
    if symtab:
        for j in range(min(nsym, 64)):
            b = symtab + 18 * j
            out += [Field(f"sym[{j}].Value", b + 8, 4), Field(f"sym[{j}].SectionNumber", b + 12, 2),
                    Field(f"sym[{j}].NumberOfAux", b + 17, 1)]
        out.append(Field("strtab.size", strtab, 4))
    pcln = find_pclntab(data)
    if pcln is not None:
        out += _pclntab_fields(data, pcln)
    return [f for f in out if f.end <= len(data)]


def fields_of(data) -> list[Field]:
    """Return the fields of ``data`` by its magic (ELF, minidump or PE)."""
    head = bytes(data[:4])
    if head == b"\x7fELF":
        return elf_fields(data)
    if head == b"MDMP":
        return minidump_fields(data)
    if head[:2] == b"MZ":
        return pe_fields(data)
    return []
