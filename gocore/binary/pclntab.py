"""The runtime's pclntab: function table, names, pc-value tables, file:line, inlining.

Format (Go 1.18+, see ``src/runtime/symtab.go``, ``src/runtime/runtime2.go`` ``_func``,
``src/internal/abi/symtab.go`` and ``src/debug/gosym/pclntab.go`` in each GOROOT):

- ``pcHeader``: magic u32 (0xfffffff0 for 1.18/1.19, 0xfffffff1 for 1.20+), two pad bytes,
  minLC, ptrSize, then pointer-sized nfunc, nfiles, textStart (0 from Go 1.26: the text base
  comes from ``moduledata.text``), and the offsets of funcnametab, cutab, filetab, pctab and
  the func table ("pclntable"), all relative to the header.
- pclntable starts with ``nfunc + 1`` ``functab`` pairs ``(entryoff u32, funcoff u32)``; the
  last entry's entryoff is the end of text. ``funcoff`` locates an ``_func`` in pclntable.
- ``_func``: entryOff, nameOff, args, deferreturn, pcsp, pcfile, pcln, npcdata, cuOffset
  (u32 each), startLine i32 (Go 1.20+), funcID u8, flag u8, pad, nfuncdata u8, then
  ``pcdata[npcdata]`` (offsets into pctab, 0 = none) and ``funcdata[nfuncdata]`` (offsets
  from ``moduledata.gofunc``, ~0 = none).
- pc-value tables are pairs of varints (zig-zag value delta, pc delta * minLC).
- ``FUNCDATA_InlTree`` (3) holds ``inlinedCall`` records indexed by ``PCDATA_InlTreeIndex``
  (2): 20 bytes in 1.18/1.19 (parent, funcID, file, line, func_, parentPc), 16 bytes in 1.20+
  (funcID, nameOff, parentPc, startLine).

Addresses are link-time addresses. Functions live in one text section here (amd64); a
multi-section ``textsectmap`` (huge arm binaries) is not translated.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from functools import cached_property
from typing import NamedTuple

import numpy as np

from core.exe import Executable

from ..errors import GoCoreError
from .varint import uvarint

MAGIC_GO118 = 0xFFFFFFF0  # Go 1.18 and 1.19
MAGIC_GO120 = 0xFFFFFFF1  # Go 1.20 and later
_MAGICS = (MAGIC_GO118, MAGIC_GO120)

PCDATA_UNSAFE_POINT = 0
PCDATA_STACK_MAP_INDEX = 1
PCDATA_INL_TREE_INDEX = 2
PCDATA_ARG_LIVE_INDEX = 3

FUNCDATA_ARGS_POINTER_MAPS = 0
FUNCDATA_LOCALS_POINTER_MAPS = 1
FUNCDATA_STACK_OBJECTS = 2
FUNCDATA_INL_TREE = 3
FUNCDATA_OPEN_CODED_DEFER_INFO = 4
FUNCDATA_ARG_INFO = 5
FUNCDATA_ARG_LIVE_INFO = 6
FUNCDATA_WRAP_INFO = 7

FUNC_FLAG_TOPFRAME = 1
FUNC_FLAG_SPWRITE = 2
FUNC_FLAG_ASM = 4

# FuncID enumerations (src/runtime/symtab.go in 1.19, src/internal/abi/symtab.go later).
# They are picked by which runtime functions exist, not by version number.
_FUNCID_COMMON_HEAD = ["normal", "abort", "asmcgocall", "asyncPreempt", "cgocallback"]
_FUNCID_MID = ["debugCallV2", "gcBgMarkWorker", "goexit", "gogo", "gopanic",
               "handleAsyncEvent", "mcall", "morestack", "mstart", "panicwrap", "rt0_go"]
_FUNCID_TAIL = ["sigpanic", "systemstack", "systemstack_switch", "wrapper"]
FUNCID_NAMES_GO119 = _FUNCID_COMMON_HEAD + _FUNCID_MID + ["runfinq", "runtime_main"] + _FUNCID_TAIL
FUNCID_NAMES_GO122 = (_FUNCID_COMMON_HEAD + ["corostart"] + _FUNCID_MID
                      + ["runfinq", "runtime_main"] + _FUNCID_TAIL)
FUNCID_NAMES_GO125 = (_FUNCID_COMMON_HEAD + ["corostart"] + _FUNCID_MID
                      + ["runtime_main", "runFinalizers", "runCleanups"] + _FUNCID_TAIL)

_NO_FUNCDATA = 0xFFFFFFFF
_MAX_INLINE_DEPTH = 1024


class PclntabError(GoCoreError):
    """The pclntab is missing or malformed."""


class PcHeader(NamedTuple):
    """The decoded ``runtime.pcHeader`` (offsets are relative to ``addr``)."""

    addr: int
    magic: int
    min_lc: int
    ptr_size: int
    nfunc: int
    nfiles: int
    text_start: int
    funcname_offset: int
    cu_offset: int
    filetab_offset: int
    pctab_offset: int
    pcln_offset: int


class Frame(NamedTuple):
    """One (possibly inlined) frame as the runtime's traceback prints it."""

    name: str
    file: str
    line: int


class InlinedCall(NamedTuple):
    """One ``runtime.inlinedCall`` record (``start_line`` is 0 before Go 1.20)."""

    func_id: int
    name: str
    parent_pc: int
    start_line: int


def parse_header(buf: bytes | memoryview, addr: int = 0) -> PcHeader:
    """Return the ``PcHeader`` at the start of ``buf``; raise ``PclntabError`` if it is not one."""
    if len(buf) < 8:
        raise PclntabError(f"pclntab at {addr:#x}: {len(buf)} bytes is too short for a header")
    magic, pad1, pad2, min_lc, ptr_size = struct.unpack_from("<IBBBB", buf, 0)
    if magic not in _MAGICS:
        raise PclntabError(f"pclntab at {addr:#x}: unsupported magic {magic:#x}")
    if pad1 or pad2 or min_lc not in (1, 2, 4) or ptr_size not in (4, 8):
        raise PclntabError(f"pclntab at {addr:#x}: bad header (minLC {min_lc}, ptrSize {ptr_size})")
    fmt = "<8Q" if ptr_size == 8 else "<8I"
    if len(buf) < 8 + 8 * ptr_size:
        raise PclntabError(f"pclntab at {addr:#x}: header truncated")
    fields = struct.unpack_from(fmt, buf, 8)
    return PcHeader(addr, magic, min_lc, ptr_size, *fields)


def _header_plausible(h: PcHeader, size: int) -> bool:
    """Return whether the header's offsets are increasing and fit in ``size`` bytes."""
    offs = [h.funcname_offset, h.cu_offset, h.filetab_offset, h.pctab_offset, h.pcln_offset]
    hdr_size = 8 + 8 * h.ptr_size
    return (0 < h.nfunc < 1 << 24 and 0 < h.nfiles < 1 << 24 and offs[0] >= hdr_size
            and all(a <= b for a, b in zip(offs, offs[1:]))
            and h.pcln_offset + (h.nfunc + 1) * 8 <= size)


def find_pclntab(exe: Executable) -> int:
    """Return the link-time address of the pclntab header.

    Uses section ``.gopclntab`` (ELF), else symbol ``runtime.pclntab``, else scans the
    loaded data for a magic followed by a plausible header: read-only segments first,
    then writable ones, because an externally linked PIE keeps the pclntab in
    ``.data.rel.ro`` (RELRO: a writable PT_LOAD made read-only after relocation).
    """
    sec = exe.sections.get(".gopclntab")
    if sec is not None and not sec.nobits:
        return sec.addr
    sym = exe.symbols.get("runtime.pclntab")
    if sym is not None:
        return sym[0]
    for seg in sorted(exe.segments, key=lambda s: "w" in s.perms):
        if seg.filesz < 64:
            continue
        blob = exe.data[seg.offset: seg.offset + seg.filesz]
        for magic in (MAGIC_GO120, MAGIC_GO118):
            needle = struct.pack("<I", magic) + b"\0\0"
            pos = blob.find(needle)
            while pos >= 0:
                if (seg.vaddr + pos) % 8 == 0:
                    try:
                        h = parse_header(blob[pos: pos + 72], seg.vaddr + pos)
                    except PclntabError:
                        h = None
                    if h is not None and _header_plausible(h, seg.filesz - pos):
                        return seg.vaddr + pos
                pos = blob.find(needle, pos + 1)
    raise PclntabError(f"{exe.path}: no Go pclntab found (not a Go 1.18+ executable?)")


def _region(exe: Executable, addr: int) -> memoryview:
    """Return the file bytes from ``addr`` to the end of its section or loaded segment."""
    sec = exe.sections.get(".gopclntab")
    if sec is not None and sec.addr == addr and not sec.nobits:
        return memoryview(exe.data)[sec.offset: sec.offset + sec.stored]
    for seg in exe.segments:
        if seg.vaddr <= addr < seg.vaddr + seg.filesz:
            start = seg.offset + addr - seg.vaddr
            return memoryview(exe.data)[start: seg.offset + seg.filesz]
    raise PclntabError(f"{exe.path}: pclntab address {addr:#x} is not in the file")


def _decode_pcvalue(tab: memoryview | bytes, off: int, entry: int, quantum: int,
                    ) -> tuple[list[int], list[int]]:
    """Return ``(ends, values)``: ``values[i]`` holds for pcs below ``ends[i]``."""
    ends: list[int] = []
    values: list[int] = []
    pc, val, first, n = entry, -1, True, len(tab)
    while off < n:
        # value delta: zig-zag varint; a 0 byte after the first pair ends the table
        uv, off = uvarint(tab, off)
        if uv == 0 and not first:
            break
        first = False
        val += -((uv + 1) >> 1) if uv & 1 else uv >> 1
        pd, off = uvarint(tab, off)
        pc += pd * quantum
        ends.append(pc)
        values.append(val)
    return ends, values


class Func:
    """One function of the pclntab; made on demand by ``Pclntab.func``/``find_func``."""

    __slots__ = ("tab", "index", "off", "entry", "end", "name_off", "args", "deferreturn",
                 "pcsp", "pcfile", "pcln", "npcdata", "cu_offset", "start_line", "func_id",
                 "flag", "nfuncdata", "_name")

    def __init__(self, tab: Pclntab, index: int):
        self.tab = tab
        self.index = index
        self.off = int(tab.func_offsets[index])
        self.entry = int(tab.entries[index])
        self.end = int(tab.entries[index + 1])
        if index in tab.bad_funcs:
            raise tab.error(f"function {index}: {tab.bad_funcs[index]}", self.off)
        base = tab.pcln_base + self.off
        if not 0 <= base <= len(tab.data) - tab.func_header_size:
            raise tab.error(f"function {index}: _func offset {self.off:#x} is outside the table", self.off)
        (entry_off, self.name_off, self.args, self.deferreturn, self.pcsp, self.pcfile,
         self.pcln, self.npcdata, self.cu_offset) = struct.unpack_from("<IiiIIIIII", tab.data, base)
        if tab.has_start_line:  # Go 1.20+
            (self.start_line,) = struct.unpack_from("<i", tab.data, base + 36)
            tail = base + 40
        else:
            self.start_line = 0
            tail = base + 36
        self.func_id, self.flag, _, self.nfuncdata = struct.unpack_from("<BBBB", tab.data, tail)
        self._name: str | None = None
        if tab.text_start + entry_off != self.entry:
            raise tab.error(f"func {index} at {self.entry:#x}: _func.entryOff {entry_off:#x} "
                            "disagrees with the func table", self.off)
        # every offset the record holds must lie in its table before it is used
        if base + tab.func_header_size + 4 * (self.npcdata + self.nfuncdata) > len(tab.data):
            raise tab.error(f"function {index}: {self.npcdata} pcdata and {self.nfuncdata} "
                            "funcdata offsets run past the table", self.off)
        for what, off in (("pcsp", self.pcsp), ("pcfile", self.pcfile), ("pcln", self.pcln)):
            if off >= tab.pctab_size:
                raise tab.error(f"function {index}: {what} offset {off:#x} is outside pctab", self.off)
        if not 0 <= self.name_off < tab.funcnametab_size:
            raise tab.error(f"function {index}: nameOff {self.name_off:#x} is outside funcnametab", self.off)
        self._name = tab.funcname(self.name_off)

    def __repr__(self) -> str:
        return f"<Func {self.name} {self.entry:#x}-{self.end:#x}>"

    @property
    def name(self) -> str:
        """Return the function's symbol name, e.g. ``main.main`` or ``runtime.(*mheap).init``."""
        if self._name is None:
            self._name = self.tab.funcname(self.name_off)
        return self._name

    @property
    def is_topframe(self) -> bool:
        """Return whether the function is at the top of its stack (FuncFlagTopFrame)."""
        return bool(self.flag & FUNC_FLAG_TOPFRAME)

    @property
    def is_spwrite(self) -> bool:
        """Return whether the function writes SP arbitrarily (FuncFlagSPWrite)."""
        return bool(self.flag & FUNC_FLAG_SPWRITE)

    @property
    def is_asm(self) -> bool:
        """Return whether the function is written in assembly (FuncFlagAsm)."""
        return bool(self.flag & FUNC_FLAG_ASM)

    @property
    def func_id_name(self) -> str:
        """Return the FuncID's name without prefix (``normal``, ``goexit``, ``wrapper``...)."""
        return self.tab.func_id_name(self.func_id)

    def pcdata_offset(self, table: int) -> int:
        """Return the pctab offset of PCDATA table ``table`` (0 when absent)."""
        if not 0 <= table < self.npcdata:
            return 0
        (off,) = struct.unpack_from("<I", self.tab.data, self.tab.pcln_base + self.off
                                    + self.tab.func_header_size + 4 * table)
        if off >= self.tab.pctab_size:
            raise self.tab.error(f"function {self.index}: pcdata {table} offset {off:#x} is "
                                 "outside pctab", self.off)
        return off

    def funcdata_offset(self, index: int) -> int | None:
        """Return FUNCDATA ``index``'s offset from ``moduledata.gofunc``, or None if absent."""
        if not 0 <= index < self.nfuncdata:
            return None
        (off,) = struct.unpack_from("<I", self.tab.data, self.tab.pcln_base + self.off
                                    + self.tab.func_header_size + 4 * (self.npcdata + index))
        return None if off == _NO_FUNCDATA else off

    def funcdata(self, index: int) -> int | None:
        """Return the address of FUNCDATA ``index`` (``gofunc`` + offset), or None if absent."""
        off = self.funcdata_offset(index)
        if off is None:
            return None
        if self.tab.gofunc is None:
            raise PclntabError("funcdata needs moduledata.gofunc; pass gofunc= to the Pclntab")
        return self.tab.gofunc + off

    def _value(self, off: int, pc: int) -> int:
        """Return the value of the pc-value table at pctab offset ``off`` for ``pc`` (-1 if none)."""
        if off == 0 or not self.entry <= pc < self.end:
            return -1
        ends, values = self.tab.pcvalue_table(off)
        i = bisect.bisect_right(ends, pc - self.entry)
        return values[i] if i < len(values) else -1

    def sp_delta(self, pc: int) -> int:
        """Return the SP adjustment at ``pc`` (pcsp): frame size in bytes below the return address."""
        return self._value(self.pcsp, pc)

    def pcdata(self, table: int, pc: int) -> int:
        """Return the value of PCDATA table ``table`` at ``pc``, or -1 if the table is absent."""
        return self._value(self.pcdata_offset(table), pc)

    def file_line(self, pc: int) -> tuple[str, int]:
        """Return ``(file, line)`` for ``pc`` from pcfile/pcln; ``("?", 0)`` when unknown."""
        fileno = self._value(self.pcfile, pc)
        line = self._value(self.pcln, pc)
        if fileno < 0:
            return "?", 0
        return self.tab.filename(self.cu_offset, fileno), max(line, 0)

    def inline_chain(self, pc: int) -> list[InlinedCall]:
        """Return the inlined calls active at ``pc``, innermost first (empty if none)."""
        tree = self.funcdata(FUNCDATA_INL_TREE) if self.funcdata_offset(FUNCDATA_INL_TREE) is not None else None
        out: list[InlinedCall] = []
        if tree is None:
            return out
        while len(out) < _MAX_INLINE_DEPTH:
            ix = self.pcdata(PCDATA_INL_TREE_INDEX, pc)
            if ix < 0:
                return out
            call = self.tab.inlined_call(tree, ix)
            out.append(call)
            pc = self.entry + call.parent_pc
        raise PclntabError(f"{self.name}: inline tree at {tree:#x} loops")

    def inlined_frames(self, pc: int) -> list[Frame]:
        """Return the logical frames at ``pc`` (a symbolic pc: see ``Pclntab.sym_pc``), innermost first.

        As ``runtime.inlineUnwinder`` and 1.19's gentraceback: an inlined frame is named
        after its ``inlinedCall`` and located at ``funcline(f, pc)``; the next frame's pc is
        ``f.entry + parentPc``; the last frame is ``f`` itself. No wrapper elision.
        """
        frames: list[Frame] = []
        tree = self.funcdata(FUNCDATA_INL_TREE) if self.funcdata_offset(FUNCDATA_INL_TREE) is not None else None
        while tree is not None and len(frames) < _MAX_INLINE_DEPTH:
            ix = self.pcdata(PCDATA_INL_TREE_INDEX, pc)
            if ix < 0:
                break
            call = self.tab.inlined_call(tree, ix)
            frames.append(Frame(call.name, *self.file_line(pc)))
            pc = self.entry + call.parent_pc
        frames.append(Frame(self.name, *self.file_line(pc)))
        return frames


class Pclntab:
    """A module's pclntab: numpy function table plus on-demand ``Func`` objects.

    ``data`` holds the pclntab bytes starting at its header (link-time address ``addr``).
    ``text_start`` overrides the header's textStart (needed from Go 1.26, where it is 0:
    pass ``moduledata.text``). ``gofunc`` (``moduledata.gofunc``) is needed for funcdata.
    ``read(addr, n) -> bytes | None`` reads other memory (funcdata, inline trees).
    """

    def __init__(self, data: bytes | memoryview, addr: int, *, text_start: int | None = None,
                 gofunc: int | None = None, read: Callable[[int, int], bytes | None] | None = None,
                 warn: Callable[[str], None] | None = None):
        self.data = data
        self.addr = addr
        self.header = h = parse_header(data, addr)
        if not _header_plausible(h, len(data)):
            raise PclntabError(f"pclntab at {addr:#x}: header offsets do not fit its {len(data)} bytes")
        self.ptr_size = h.ptr_size
        self.quantum = h.min_lc
        self.has_start_line = h.magic != MAGIC_GO118  # _func.startLine, inlinedCall v2: Go 1.20+
        self.func_header_size = 44 if self.has_start_line else 40
        self.inlined_call_size = 16 if self.has_start_line else 20
        if text_start is None:
            if h.text_start == 0:
                raise PclntabError(f"pclntab at {addr:#x} has no textStart (Go 1.26+): "
                                   "pass moduledata.text as text_start")
            text_start = h.text_start
        self.text_start = text_start
        self.gofunc = gofunc
        self.read = read
        self.warn = warn
        #: what was wrong with the table (each also passed to ``warn``)
        self.problems: list[str] = []
        self.pcln_base = h.pcln_offset
        # the sub-tables follow each other in header order (_header_plausible checked it)
        self.funcnametab_size = h.cu_offset - h.funcname_offset
        self.cutab_size = h.filetab_offset - h.cu_offset
        self.filetab_size = h.pctab_offset - h.filetab_offset
        self.pctab_size = h.pcln_offset - h.pctab_offset
        n = h.nfunc
        ftab = np.frombuffer(data, dtype="<u4", count=2 * (n + 1), offset=h.pcln_offset).reshape(-1, 2)
        #: entry PCs, sorted, with one more element: the end of the last function
        self.entries = ftab[:, 0].astype(np.uint64) + np.uint64(text_start)
        #: offsets of each ``_func`` from the start of pclntable
        self.func_offsets = ftab[:-1, 1].astype(np.int64)
        #: function index -> why its record is unusable (its pcs are then not attributed)
        self.bad_funcs: dict[int, str] = {}
        self._ambiguous = np.zeros(n, dtype=bool)
        if n > 1 and not bool(np.all(self.entries[1:] >= self.entries[:-1])):
            self._repair_order()
        self._check_records(ftab[:-1, 0])
        self._funcs: dict[int, Func] = {}
        self._pcvalue_cache: dict[int, tuple[list[int], list[int]]] = {}
        self._name_cache: dict[int, str] = {}

    def error(self, what: str, func_off: int | None = None) -> PclntabError:
        """Return the one-line PclntabError for ``what`` (at pclntable offset ``func_off``)."""
        at = f" (pclntable+{func_off:#x})" if func_off is not None else ""
        return PclntabError(f"pclntab at {self.addr:#x}: {what}{at}")

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        if self.warn is not None:
            self.warn(message)

    def _repair_order(self) -> None:
        """Drop func-table entries out of order from lookups, or raise when there are many.

        The entries kept are a longest non-decreasing run through the table; a dropped
        entry takes the next kept entry's pc (its function covers no pcs), and the pcs of
        the kept function before it are not attributed: where it ends is unknown.
        """
        e = [int(x) for x in self.entries]
        tails: list[int] = []           # patience sorting: smallest tail of each run length
        tail_idx: list[int] = []
        prev = [-1] * len(e)
        for i, v in enumerate(e):
            k = bisect.bisect_right(tails, v)
            if k == len(tails):
                tails.append(v)
                tail_idx.append(i)
            else:
                tails[k], tail_idx[k] = v, i
            prev[i] = tail_idx[k - 1] if k else -1
        keep = set()
        i = tail_idx[-1]
        while i >= 0:
            keep.add(i)
            i = prev[i]
        n = self.nfunc
        dropped = [i for i in range(len(e)) if i not in keep]
        if len(dropped) > max(16, n // 100) or n in dropped or 0 in dropped:
            raise self.error("function table is not sorted")
        for i in reversed(dropped):
            self.entries[i] = self.entries[i + 1]
            self.bad_funcs[i] = "its func-table entry is out of order"
        for i in dropped:
            j = i - 1
            while j in self.bad_funcs:
                j -= 1
            self._ambiguous[j] = True
        self._problem(f"pclntab at {self.addr:#x}: {len(dropped)} func-table entries out of order "
                      f"(first: function {dropped[0]}); pcs of {len(dropped)} functions are not attributed")

    def _check_records(self, entry_offs: np.ndarray) -> None:
        """Mark functions whose ``_func`` lies outside the table or names another entry."""
        offs = self.pcln_base + self.func_offsets
        inside = (offs >= 0) & (offs <= len(self.data) - self.func_header_size)
        agree = np.zeros(len(offs), dtype=bool)
        agree[inside] = self._gather_u32(offs[inside]) == entry_offs[inside]
        bad = [int(i) for i in np.flatnonzero(~agree) if int(i) not in self.bad_funcs]
        if not bad:
            return
        for i in bad:
            self.bad_funcs[i] = ("its _func record is outside the table" if not inside[i]
                                 else "its _func record disagrees with the func table")
        if len(bad) > max(16, self.nfunc // 100):
            raise self.error(f"{len(bad)} of {self.nfunc} function records are unreadable "
                             f"(first: function {bad[0]}, {self.bad_funcs[bad[0]]})")
        self._problem(f"pclntab at {self.addr:#x}: {len(bad)} function records are unreadable "
                      f"(first: function {bad[0]} at pclntable+{int(self.func_offsets[bad[0]]):#x}); "
                      "those functions are unnamed")

    # --- whole-table views -------------------------------------------------------------
    @property
    def nfunc(self) -> int:
        """Return the number of functions."""
        return self.header.nfunc

    @property
    def min_pc(self) -> int:
        """Return the first function's entry."""
        return int(self.entries[0])

    @property
    def max_pc(self) -> int:
        """Return the end of the last function (the func table's sentinel entry)."""
        return int(self.entries[-1])

    def _gather_u32(self, offsets: np.ndarray) -> np.ndarray:
        """Return the little-endian u32s at byte ``offsets`` of ``data`` (vectorised)."""
        raw = np.frombuffer(self.data, dtype=np.uint8)
        b = raw[offsets[:, None] + np.arange(4)].astype(np.uint32)
        return b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16) | (b[:, 3] << 24)

    @cached_property
    def name_offsets(self) -> np.ndarray:
        """Return every function's nameOff (int64 array, index order; -1 for a bad record)."""
        out = np.full(self.nfunc, -1, dtype=np.int64)
        good = np.ones(self.nfunc, dtype=bool)
        good[list(self.bad_funcs)] = False
        out[good] = self._gather_u32(self.pcln_base + self.func_offsets[good] + 4).astype(np.int64)
        return out

    @cached_property
    def names(self) -> list[str]:
        """Return every function's name in table order ("" for a function whose record or
        name is unreadable: one warning counts them)."""
        out: list[str] = []
        bad: list[int] = []
        for i, o in enumerate(self.name_offsets):
            try:
                out.append(self.funcname(int(o)) if o >= 0 else "")
            except PclntabError:
                out.append("")
                bad.append(i)
        if bad:
            self._problem(f"pclntab at {self.addr:#x}: {len(bad)} function names are unreadable "
                          f"(first: function {bad[0]}, nameOff {int(self.name_offsets[bad[0]]):#x})")
        return out

    @cached_property
    def _by_name(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, name in enumerate(self.names):
            if name:
                out.setdefault(name, i)
        return out

    # --- strings -----------------------------------------------------------------------
    def funcname(self, name_off: int) -> str:
        """Return the NUL-terminated string at ``name_off`` in funcnametab."""
        s = self._name_cache.get(name_off)
        if s is None:
            if not 0 <= name_off < self.funcnametab_size:
                raise self.error(f"nameOff {name_off:#x} is outside funcnametab")
            start = self.header.funcname_offset + name_off
            limit = min(4096, self.funcnametab_size - name_off)
            end = bytes(self.data[start: start + limit]).find(b"\0")
            if end < 0:
                raise self.error(f"unterminated name at nameOff {name_off:#x}")
            s = bytes(self.data[start: start + end]).decode("utf-8", errors="replace")
            self._name_cache[name_off] = s
        return s

    def filename(self, cu_offset: int, fileno: int) -> str:
        """Return the file name for ``fileno`` of the compilation unit at ``cu_offset``
        ("?" when the cutab or filetab offset is outside its table: a warning says so)."""
        slot = 4 * (cu_offset + fileno)
        if not 0 <= slot <= self.cutab_size - 4:
            self._problem(f"pclntab at {self.addr:#x}: cutab index {cu_offset}+{fileno} is "
                          "outside cutab; file names shown as ?")
            return "?"
        (fileoff,) = struct.unpack_from("<I", self.data, self.header.cu_offset + slot)
        if fileoff == _NO_FUNCDATA:
            return "?"
        if fileoff >= self.filetab_size:
            self._problem(f"pclntab at {self.addr:#x}: filetab offset {fileoff:#x} is outside "
                          "filetab; file names shown as ?")
            return "?"
        start = self.header.filetab_offset + fileoff
        limit = min(4096, self.filetab_size - fileoff)
        end = bytes(self.data[start: start + limit]).find(b"\0")
        return bytes(self.data[start: start + max(end, 0)]).decode("utf-8", errors="replace")

    # --- lookups -----------------------------------------------------------------------
    def func(self, index: int) -> Func:
        """Return the ``Func`` at table ``index`` (cached)."""
        f = self._funcs.get(index)
        if f is None:
            if not 0 <= index < self.nfunc:
                raise IndexError(f"function index {index} out of range 0..{self.nfunc - 1}")
            f = self._funcs[index] = Func(self, index)
        return f

    def find_index(self, pcs: np.ndarray | int) -> np.ndarray | int:
        """Return the function index holding each pc (vectorised), -1 outside the table."""
        arr = np.atleast_1d(np.asarray(pcs, dtype=np.uint64))
        idx = np.searchsorted(self.entries, arr, side="right").astype(np.int64) - 1
        idx[(idx < 0) | (idx >= self.nfunc)] = -1
        if self.bad_funcs:  # pcs whose function is unknown (see _repair_order)
            idx[self._ambiguous[idx] & (idx >= 0)] = -1
        return int(idx[0]) if np.ndim(pcs) == 0 else idx

    def find_func(self, pc: int) -> Func | None:
        """Return the function containing ``pc``, or None outside the text or when the
        function's record is unreadable (the table's warning says how many are)."""
        i = int(self.find_index(np.array([pc], dtype=np.uint64))[0])
        if i < 0 or i in self.bad_funcs:
            return None
        try:
            return self.func(i)
        except PclntabError as e:
            self.bad_funcs[i] = str(e)
            self._problem(f"{e}; its frames are unnamed")
            return None

    def lookup(self, name: str) -> Func | None:
        """Return the first function named ``name``, or None."""
        i = self._by_name.get(name)
        if i is None or i in self.bad_funcs:
            return None
        try:
            return self.func(i)
        except PclntabError as e:
            self.bad_funcs[i] = str(e)
            self._problem(f"{e}; function {name} is unusable")
            return None

    @staticmethod
    def sym_pc(pc: int, entry: int, *, innermost_trap: bool = False) -> int:
        """Return the pc to look up for a frame: ``pc - 1`` after a call (runtime ``tracepc``/``symPC``).

        A frame interrupted by a trap (signal, fault) or sitting at its entry uses ``pc`` itself.
        """
        return pc if innermost_trap or pc <= entry else pc - 1

    def file_line(self, pc: int) -> tuple[str, int] | None:
        """Return ``(file, line)`` for ``pc``, or None outside the text."""
        f = self.find_func(pc)
        return None if f is None else f.file_line(pc)

    def inlined_frames(self, pc: int) -> list[Frame]:
        """Return the logical frames at symbolic ``pc`` innermost first (empty outside the text)."""
        f = self.find_func(pc)
        return [] if f is None else f.inlined_frames(pc)

    # --- tables ------------------------------------------------------------------------
    def pcvalue_table(self, off: int) -> tuple[list[int], list[int]]:
        """Return the pc-value table at pctab offset ``off`` as ``(ends, values)``, cached.

        ``ends`` are offsets from the function entry; ``values[i]`` holds below ``ends[i]``.
        Tables are position-independent, so functions sharing one share the decoding.
        """
        hit = self._pcvalue_cache.get(off)
        if hit is None:
            if not 0 <= off < self.pctab_size:
                raise self.error(f"pc-value table offset {off:#x} is outside pctab")
            pctab = memoryview(self.data)[self.header.pctab_offset: self.header.pcln_offset]
            try:
                hit = _decode_pcvalue(pctab, off, 0, self.quantum)
            except IndexError:
                raise self.error(f"pc-value table at pctab+{off:#x} runs past pctab") from None
            self._pcvalue_cache[off] = hit
        return hit

    def inlined_call(self, tree: int, index: int) -> InlinedCall:
        """Return entry ``index`` of the inline tree at address ``tree``."""
        if self.read is None:
            raise PclntabError("reading an inline tree needs read=; open the Pclntab with an executable")
        size = self.inlined_call_size
        raw = self.read(tree + index * size, size)
        if raw is None or len(raw) < size:
            raise PclntabError(f"inline tree entry {index} at {tree + index * size:#x} is unreadable")
        if self.has_start_line:  # 1.20+: funcID u8, pad[3], nameOff, parentPc, startLine
            func_id, name_off, parent_pc, start_line = struct.unpack("<B3xiii", raw)
        else:  # 1.18/1.19: parent i16, funcID u8, pad, file, line, func_, parentPc
            _, func_id, _, _, name_off, parent_pc = struct.unpack("<hBxiiii", raw)
            start_line = 0
        try:
            name = self.funcname(name_off)
        except PclntabError as e:
            self._problem(f"{e} (inline tree at {tree:#x}); the inlined frame is named ?")
            name = "?"
        return InlinedCall(func_id, name, parent_pc, start_line)

    # --- FuncIDs -----------------------------------------------------------------------
    @cached_property
    def func_id_names(self) -> list[str]:
        """Return this toolchain's FuncID names: the list that names known functions' IDs right.

        Checked on ``runtime.goexit``, ``runtime.main``, ``runtime.mstart`` and
        ``runtime.sigpanic``, whose FuncIDs shift between toolchains.
        """
        probes = {"runtime.goexit": "goexit", "runtime.main": "runtime_main",
                  "runtime.mstart": "mstart", "runtime.sigpanic": "sigpanic"}
        for names in (FUNCID_NAMES_GO125, FUNCID_NAMES_GO122, FUNCID_NAMES_GO119):
            ok = True
            for fname, idname in probes.items():
                f = self.lookup(fname)
                if f is not None and (f.func_id >= len(names) or names[f.func_id] != idname):
                    ok = False
                    break
            if ok:
                return names
        return FUNCID_NAMES_GO125

    def func_id_name(self, func_id: int) -> str:
        """Return the name of ``func_id`` (``"?"`` if out of range)."""
        names = self.func_id_names
        return names[func_id] if 0 <= func_id < len(names) else "?"


def open_pclntab(exe: Executable, *, addr: int | None = None, text_start: int | None = None,
                 gofunc: int | None = None, warn: Callable[[str], None] | None = None) -> Pclntab:
    """Return the executable's ``Pclntab`` (found by ``find_pclntab`` unless ``addr`` is given).

    Without ``text_start`` on a Go 1.26+ binary the ``.text`` section start is used.
    ``warn`` receives what is wrong with the table where it still answers (bad records).
    """
    if addr is None:
        addr = find_pclntab(exe)
    data = _region(exe, addr)
    if text_start is None:
        h = parse_header(data, addr)
        if h.text_start == 0:
            text = exe.sections.get(".text")
            if text is None:
                raise PclntabError(f"{exe.path}: pclntab has no textStart and no .text section; "
                                   "pass moduledata.text")
            text_start = text.addr
    return Pclntab(data, addr, text_start=text_start, gofunc=gofunc, read=exe.read_static,
                   warn=warn)
