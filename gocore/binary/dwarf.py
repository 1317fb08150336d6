"""DWARF -> Go-named types, globals and runtime constants.

pyelftools builds a Python object per DIE and per attribute, which costs about a second for
a 2 MB Go binary before any work is done. Go's DWARF is simple and regular, so this module
reads ``.debug_info`` itself: it parses the abbreviation tables, compiles each abbreviation
into a small Python function that either decodes the attributes we want or just skips the
DIE, and walks every CU once. Subprogram bodies (parameters, locals, inlined calls) are
skipped without decoding. DWARF 4 and 5 (Go 1.25+: ``.debug_addr``, ``DW_FORM_addrx``) are
both read; compressed sections come decompressed from ``Executable.section_data``.

Function bodies are read on demand (``DwarfData.function``): the walk only notes where
each CU's subprograms start; the first lookup decodes their heads (name, low_pc, high_pc)
into a by-pc index, and a lookup decodes one function's parameters and locals (also those
of inlined calls and lexical blocks) with their types and locations: one expression, or a
location list (``.debug_loc`` in DWARF 4, ``.debug_loclists`` in DWARF 5). Go's frame base
is ``DW_OP_call_frame_cfa`` (the caller's SP on amd64), and a variable in the frame is
``DW_OP_call_frame_cfa`` or ``DW_OP_fbreg off`` (cmd/internal/dwarf putvar;
cmd/compile/internal/ssa/debug.go for location lists), in ``DW_OP_piece``s when parts of it
live in different places.

Integers are read little-endian (the generated decoders included): the DWARF of the amd64
executables viewcore reads. A big-endian target would need ``Executable.byte_order``
threaded through them.

Go-specific attributes (cmd/internal/dwarf/dwarf.go): DW_AT_go_kind (0x2900),
DW_AT_go_key (0x2901), DW_AT_go_elem (0x2902), DW_AT_go_embedded_field (0x2903),
DW_AT_go_runtime_type (0x2904), DW_AT_go_package_name (0x2905), DW_AT_go_dict_index (0x2906),
DW_AT_go_closure_offset (0x2907, go1.23+: a captured variable's offset in its closure's context).
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import GoCoreError, MissingDebugInfo
from .gotypes import Field, Kind, Type, TypeTable
from .varint import uvarint

if TYPE_CHECKING:
    from core.exe import Executable

log = logging.getLogger(__name__)

# ---- DWARF constants (DWARF 5 spec, section 7) ----

TAG_array_type = 0x01
TAG_formal_parameter = 0x05
TAG_lexical_block = 0x0B
TAG_inlined_subroutine = 0x1D
TAG_member = 0x0D
TAG_pointer_type = 0x0F
TAG_compile_unit = 0x11
TAG_structure_type = 0x13
TAG_subroutine_type = 0x15
TAG_typedef = 0x16
TAG_subrange_type = 0x21
TAG_base_type = 0x24
TAG_constant = 0x27
TAG_subprogram = 0x2E
TAG_variable = 0x34
TAG_unspecified_type = 0x3B

AT_location = 0x02
AT_name = 0x03
AT_byte_size = 0x0B
AT_low_pc = 0x11
AT_high_pc = 0x12
AT_abstract_origin = 0x31
AT_loclists_base = 0x8C
AT_const_value = 0x1C
AT_producer = 0x25
AT_upper_bound = 0x2F
AT_count = 0x37
AT_data_member_location = 0x38
AT_encoding = 0x3E
AT_type = 0x49
AT_addr_base = 0x73

AT_go_kind = 0x2900
AT_go_key = 0x2901
AT_go_elem = 0x2902
AT_go_embedded_field = 0x2903
AT_go_runtime_type = 0x2904
AT_go_package_name = 0x2905
AT_go_dict_index = 0x2906
AT_go_closure_offset = 0x2907

OP_addr = 0x03
OP_addrx = 0xA1
OP_constu = 0x10
OP_plus_uconst = 0x23
OP_consts = 0x11
OP_plus = 0x22
OP_lit0, OP_lit31 = 0x30, 0x4F
OP_reg0, OP_reg31 = 0x50, 0x6F
OP_regx = 0x90
OP_fbreg = 0x91
OP_piece = 0x93
OP_call_frame_cfa = 0x9C

# Forms by code.
F_addr, F_block2, F_block4, F_data2, F_data4, F_data8, F_string, F_block = 0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09
F_block1, F_data1, F_flag, F_sdata, F_strp, F_udata, F_ref_addr = 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10
F_ref1, F_ref2, F_ref4, F_ref8, F_ref_udata, F_indirect, F_sec_offset = 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17
F_exprloc, F_flag_present, F_strx, F_addrx, F_ref_sup4, F_strp_sup, F_data16 = 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E
F_line_strp, F_ref_sig8, F_implicit_const, F_loclistx, F_rnglistx, F_ref_sup8 = 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24
F_strx1, F_strx2, F_strx3, F_strx4, F_addrx1, F_addrx2, F_addrx3, F_addrx4 = range(0x25, 0x2D)

# Go's reflect kinds (internal/abi/type.go), as found in DW_AT_go_kind.
GO_KIND = {
    1: Kind.BOOL, 2: Kind.INT, 3: Kind.INT, 4: Kind.INT, 5: Kind.INT, 6: Kind.INT,
    7: Kind.UINT, 8: Kind.UINT, 9: Kind.UINT, 10: Kind.UINT, 11: Kind.UINT, 12: Kind.UINTPTR,
    13: Kind.FLOAT, 14: Kind.FLOAT, 15: Kind.COMPLEX, 16: Kind.COMPLEX, 17: Kind.ARRAY,
    18: Kind.CHAN, 19: Kind.FUNC, 20: Kind.IFACE, 21: Kind.MAP, 22: Kind.PTR, 23: Kind.SLICE,
    24: Kind.STRING, 25: Kind.STRUCT, 26: Kind.UNSAFE_PTR,
}
# DW_ATE_* encodings, for base types without DW_AT_go_kind.
_ENCODING_KIND = {2: Kind.BOOL, 3: Kind.COMPLEX, 4: Kind.FLOAT, 5: Kind.INT, 6: Kind.INT,
                  7: Kind.UINT, 8: Kind.UINT}

# The tags whose attributes we decode; everything else is skipped.
_WANTED_TAGS = frozenset({
    TAG_compile_unit, TAG_base_type, TAG_pointer_type, TAG_structure_type, TAG_member,
    TAG_typedef, TAG_array_type, TAG_subrange_type, TAG_subroutine_type, TAG_constant,
    TAG_variable, TAG_unspecified_type,
})
_TYPE_TAGS = frozenset({
    TAG_base_type, TAG_pointer_type, TAG_structure_type, TAG_typedef, TAG_array_type,
    TAG_subroutine_type, TAG_unspecified_type,
})


# Types declared //go:notinheap in Go 1.19's src/runtime (before sys.NotInHeap, Go 1.20).
_GO119_NOT_IN_HEAP = frozenset("runtime." + n for n in (
    "arenaHint bucket checkmarksMap debugLogBuf debugLogWriter dlogger finblock gcBits "
    "gcBitsArena heapArena mSpanList mcache mcentral mheap mlink mspan notInHeap pollDesc "
    "special specialfinalizer specialprofile specialReachable stackObject stackObjectBuf "
    "stackObjectBufHdr stackWorkBuf stackWorkBufHdr stackpoolItem traceAllocBlock traceBuf "
    "workbuf").split())


class DwarfFormatError(GoCoreError):
    """The DWARF bytes cannot be parsed."""

    def __init__(self, what: str, offset: int | None = None):
        self.what = what
        self.offset = offset
        at = f" at .debug_info+{offset:#x}" if offset is not None else ""
        super().__init__(f"malformed DWARF{at}: {what}")


@dataclass(frozen=True)
class Global:
    """A package-level variable: link-time ``addr`` and type id ``type`` (-1 if unknown)."""

    name: str
    addr: int
    type: int
    size: int


@dataclass
class DwarfData:
    """What viewcore takes from DWARF: the type table, globals and constants."""

    types: TypeTable
    globals: dict[str, Global] = field(default_factory=dict)
    constants: dict[str, int] = field(default_factory=dict)
    constant_types: dict[str, int] = field(default_factory=dict)
    version: int = 0          # highest CU version seen (4 or 5)
    producer: str = ""        # e.g. "Go cmd/compile go1.25.5; regabi"
    ptr_size: int = 8
    _bodies: "_Bodies | None" = field(default=None, repr=False, compare=False)

    def function(self, pc: int | None = None, name: str | None = None) -> "Function | None":
        """Return the function whose code holds link-time ``pc`` (or named ``name``) with its
        parameters and locals, read from DWARF on first request; None if DWARF has none or
        its entry is unreadable (then ``warn``, when set, is told once per function)."""
        return self._bodies.function(pc, name) if self._bodies is not None else None

    @property
    def warn(self) -> Callable[[str], None] | None:
        """Return the callable told about unreadable function entries (None: they raise)."""
        return self._bodies.warn if self._bodies is not None else None

    @warn.setter
    def warn(self, fn: Callable[[str], None] | None) -> None:
        if self._bodies is not None:
            self._bodies.warn = fn

    @property
    def go_version(self) -> str | None:
        """Return "go1.N.M" from the producer string, or None."""
        for word in self.producer.replace(";", " ").split():
            if word.startswith("go1") or word.startswith("devel"):
                return word
        return None


# ---- LEB128 ----

_uleb = uvarint  # DWARF's ULEB128 is Go's uvarint


def _number(v: int) -> str:
    """Return ``v`` in hex, or its bit length when it is too long for a message."""
    return f"{v:#x}" if v < 1 << 64 else f"of {v.bit_length()} bits"


def _why(e: Exception) -> str:
    """Return a short account of a decoder exception (a KeyError is an unknown code)."""
    if isinstance(e, KeyError) and e.args and isinstance(e.args[0], int):
        return f"unknown abbreviation code {_number(e.args[0])}"
    text = str(e)
    return f"{type(e).__name__}: {text[:80] + '...' if len(text) > 80 else text}"


def _sleb(d: bytes, p: int) -> tuple[int, int]:
    v = 0
    s = 0
    while True:
        b = d[p]
        p += 1
        v |= (b & 0x7F) << s
        s += 7
        if b < 0x80:
            if b & 0x40:
                v -= 1 << s
            return v, p


# ---- abbreviations compiled to Python ----

@dataclass
class _Abbrev:
    code: int
    tag: int
    children: bool
    specs: list[tuple[int, int, int]]  # (attribute, form, implicit_const)
    read: object = None   # fn(d, p, cu) -> (p, {attr: value})
    skip: object = None   # fn(d, p) -> p
    full: object = None   # like read, for any tag; compiled on first use (function bodies)
    addr_size: int = 8
    off_size: int = 4

    def decode(self, d: bytes, p: int, cu: int):
        """Decode every attribute of one DIE (used for function bodies, on demand)."""
        if self.full is None:
            self.full = self.read or _compile(self, self.addr_size, self.off_size, True)
        return self.full(d, p, cu)


def _parse_abbrevs(d: bytes, off: int) -> dict[int, _Abbrev]:
    out: dict[int, _Abbrev] = {}
    p = off
    while True:
        code, p = _uleb(d, p)
        if code == 0:
            return out
        tag, p = _uleb(d, p)
        children = d[p] != 0
        p += 1
        specs = []
        while True:
            at, p = _uleb(d, p)
            form, p = _uleb(d, p)
            ic = 0
            if form == F_implicit_const:
                ic, p = _sleb(d, p)
            if at == 0 and form == 0:
                break
            specs.append((at, form, ic))
        out[code] = _Abbrev(code, tag, children, specs)


def _fixed_size(form: int, addr_size: int, off_size: int) -> int | None:
    """Return the byte size of a fixed-size form, or None if its size is in the data."""
    return {
        F_addr: addr_size, F_data1: 1, F_data2: 2, F_data4: 4, F_data8: 8, F_data16: 16,
        F_flag: 1, F_flag_present: 0, F_implicit_const: 0, F_ref1: 1, F_ref2: 2, F_ref4: 4,
        F_ref8: 8, F_ref_sig8: 8, F_ref_addr: off_size, F_sec_offset: off_size, F_strp: off_size,
        F_line_strp: off_size, F_strp_sup: off_size, F_ref_sup4: 4, F_ref_sup8: 8,
        F_strx1: 1, F_strx2: 2, F_strx3: 3, F_strx4: 4, F_addrx1: 1, F_addrx2: 2, F_addrx3: 3,
        F_addrx4: 4,
    }.get(form)


_ULEB_FORMS = frozenset({F_udata, F_ref_udata, F_strx, F_addrx, F_loclistx, F_rnglistx})


def _compile(ab: _Abbrev, addr_size: int, off_size: int, want: bool) -> object:
    """Return Python code for a function decoding (``want``) or skipping one DIE of ``ab``."""
    lines = []
    pending = 0  # fixed bytes not yet added to p

    def flush():
        nonlocal pending
        if pending:
            lines.append(f"p += {pending}")
            pending = 0

    for at, form, ic in ab.specs:
        fixed = _fixed_size(form, addr_size, off_size)
        if not want:
            if fixed is not None:
                pending += fixed
                continue
            flush()
            if form == F_string:
                lines.append("p = d.index(0, p) + 1")
            elif form in _ULEB_FORMS or form == F_sdata:
                lines.append("while d[p] > 127: p += 1")
                lines.append("p += 1")
            elif form == F_block1:
                lines.append("p += 1 + d[p]")
            elif form == F_block2:
                lines.append("p += 2 + d[p] + (d[p+1] << 8)")
            elif form == F_block4:
                lines.append("p += 4 + int.from_bytes(d[p:p+4], 'little')")
            elif form in (F_exprloc, F_block):
                lines.append("n, p = _uleb(d, p)")
                lines.append("p += n")
            else:
                raise DwarfFormatError(f"unsupported attribute form {_number(form)}")
            continue
        flush()
        key = f"r[{at}]"
        if fixed is not None:
            if form == F_flag_present:
                lines.append(f"{key} = 1")
            elif form == F_implicit_const:
                lines.append(f"{key} = {ic}")
            elif form in (F_data1, F_flag, F_ref1, F_strx1, F_addrx1):
                lines.append(f"{key} = d[p]")
            else:
                lines.append(f"{key} = int.from_bytes(d[p:p+{fixed}], 'little')")
            if form in (F_ref1, F_ref2, F_ref4, F_ref8):
                lines.append(f"{key} += cu")
            elif form in (F_strp, F_line_strp):
                lines.append(f"{key} = ('str' if {form} == {F_strp} else 'line_str', {key})")
            elif form in (F_addrx1, F_addrx2, F_addrx3, F_addrx4):
                lines.append(f"{key} = ('addrx', {key})")
            if fixed:
                lines.append(f"p += {fixed}")
        elif form == F_string:
            lines.append("q = d.index(0, p)")
            lines.append(f"{key} = d[p:q].decode('utf-8', 'replace')")
            lines.append("p = q + 1")
        elif form in _ULEB_FORMS:
            lines.append(f"{key}, p = _uleb(d, p)")
            if form == F_ref_udata:
                lines.append(f"{key} += cu")
            elif form == F_addrx:
                lines.append(f"{key} = ('addrx', {key})")
        elif form == F_sdata:
            lines.append(f"{key}, p = _sleb(d, p)")
        elif form == F_block1:
            lines.append("n = d[p]")
            lines.append(f"{key} = d[p+1:p+1+n]")
            lines.append("p += 1 + n")
        elif form == F_block2:
            lines.append("n = d[p] + (d[p+1] << 8)")
            lines.append(f"{key} = d[p+2:p+2+n]")
            lines.append("p += 2 + n")
        elif form == F_block4:
            lines.append("n = int.from_bytes(d[p:p+4], 'little')")
            lines.append(f"{key} = d[p+4:p+4+n]")
            lines.append("p += 4 + n")
        elif form in (F_exprloc, F_block):
            lines.append("n, p = _uleb(d, p)")
            lines.append(f"{key} = d[p:p+n]")
            lines.append("p += n")
        else:
            raise DwarfFormatError(f"unsupported attribute form {_number(form)}")
    flush()
    if want:
        body = ["r = {}"] + lines + ["return p, r"]
        head = "def f(d, p, cu):"
    else:
        body = lines + ["return p"]
        head = "def f(d, p):"
    src = head + "\n" + "\n".join("    " + line for line in body) + "\n"
    ns = {"_uleb": _uleb, "_sleb": _sleb}
    exec(compile(src, f"<dwarf abbrev {ab.code}>", "exec"), ns)
    return ns["f"]


class _Abbrevs:
    """Compiled abbreviation tables, shared by CUs with the same table and sizes."""

    def __init__(self, abbrev_data: bytes):
        self.data = abbrev_data
        self.cache: dict[tuple[int, int, int], dict[int, _Abbrev]] = {}

    def get(self, off: int, addr_size: int, off_size: int) -> dict[int, _Abbrev]:
        key = (off, addr_size, off_size)
        table = self.cache.get(key)
        if table is None:
            try:
                table = _parse_abbrevs(self.data, off)
            except IndexError as e:
                raise DwarfFormatError(f"abbreviation table at .debug_abbrev+{off:#x} is truncated") from e
            for ab in table.values():
                ab.addr_size, ab.off_size = addr_size, off_size
                ab.skip = _compile(ab, addr_size, off_size, False)
                ab.read = _compile(ab, addr_size, off_size, True) if ab.tag in _WANTED_TAGS else None
            self.cache[key] = table
        return table


# ---- the walk over .debug_info ----

@dataclass
class _Raw:
    """A decoded DIE: tag, attributes, decoded children (members, subranges)."""

    tag: int
    attrs: dict
    children: list = field(default_factory=list)


@dataclass
class _CU:
    offset: int
    version: int
    addr_size: int
    addr_base: int = 0
    off_size: int = 4
    end: int = 0
    table: dict | None = None          # its abbreviations
    low_pc: int = 0                    # base address of its location lists
    loclists_base: int = 0
    subprograms: list = field(default_factory=list)   # DIE offsets, decoded on demand


def _walk(sections: dict[str, bytes]):
    """Decode every wanted DIE. Return (type DIEs by offset, globals, constants, CUs, producer)."""
    info = sections.get(".debug_info")
    abbrev = sections.get(".debug_abbrev")
    if not info or not abbrev:
        raise MissingDebugInfo(".debug_info/.debug_abbrev sections")
    abbrevs = _Abbrevs(abbrev)
    types: dict[int, _Raw] = {}
    variables: list[tuple[dict, _CU]] = []
    constants: list[dict] = []
    cus: list[_CU] = []
    producer = ""
    d = info
    pos = 0
    end_all = len(d)
    while pos < end_all:
        cu_off = pos
        try:
            unit_len = int.from_bytes(d[pos:pos + 4], "little")
            pos += 4
            off_size = 4
            if unit_len == 0xFFFFFFFF:
                unit_len = int.from_bytes(d[pos:pos + 8], "little")
                pos += 8
                off_size = 8
            end = pos + unit_len
            version = int.from_bytes(d[pos:pos + 2], "little")
            pos += 2
            if version >= 5:
                unit_type = d[pos]
                addr_size = d[pos + 1]
                abbrev_off = int.from_bytes(d[pos + 2:pos + 2 + off_size], "little")
                pos += 2 + off_size
                if unit_type in (2, 6):      # type unit, split type unit
                    pos += 8 + off_size
                elif unit_type in (4, 5):    # skeleton, split compile
                    pos += 8
            elif version >= 2:
                abbrev_off = int.from_bytes(d[pos:pos + off_size], "little")
                addr_size = d[pos + off_size]
                pos += off_size + 1
            else:
                raise DwarfFormatError(f"unknown DWARF version {version}", cu_off)
        except IndexError as e:
            raise DwarfFormatError("truncated unit header", cu_off) from e
        if end > end_all:
            raise DwarfFormatError(f"unit of {unit_len} bytes runs past the section end", cu_off)
        cu = _CU(cu_off, version, addr_size)
        cus.append(cu)
        table = abbrevs.get(abbrev_off, addr_size, off_size)
        cu.table, cu.off_size, cu.end = table, off_size, end
        try:
            _walk_cu(d, pos, end, cu, table, types, variables, constants)
        except (IndexError, KeyError, ValueError) as e:
            raise DwarfFormatError(f"cannot decode unit: {_why(e)}", cu_off) from e
        pos = end
        if not producer and cu.producer.startswith("Go"):
            producer = cu.producer
    return types, variables, constants, cus, producer


def _walk_cu(d, pos, end, cu, table, types, variables, constants):
    cu_off = cu.offset
    cu.producer = ""
    stack: list[_Raw | None] = []   # decoded parent, or None for a parent we do not keep
    while pos < end:
        die = pos
        code = d[pos]
        if code < 0x80:
            pos += 1
        else:
            code, pos = _uleb(d, pos)
        if code == 0:
            if stack:
                stack.pop()
            continue
        ab = table[code]
        tag = ab.tag
        if tag == TAG_subprogram:
            cu.subprograms.append(die)
            pos = ab.skip(d, pos)
            if ab.children:
                pos = _skip_children(d, pos, table)
            continue
        rd = ab.read
        if rd is None:
            pos = ab.skip(d, pos)
            if ab.children:
                stack.append(None)
            continue
        pos, attrs = rd(d, pos, cu_off)
        depth = len(stack)
        raw = None
        if tag in _TYPE_TAGS:
            raw = _Raw(tag, attrs)
            types[die] = raw
        elif tag == TAG_member or tag == TAG_subrange_type:
            parent = stack[-1] if stack else None
            if parent is not None:
                parent.children.append(attrs)
        elif tag == TAG_variable:
            if depth == 1:
                variables.append((attrs, cu))
        elif tag == TAG_constant:
            if depth == 1:
                constants.append(attrs)
        elif tag == TAG_compile_unit:
            cu.producer = attrs.get(AT_producer, "") if isinstance(attrs.get(AT_producer), str) else ""
            base = attrs.get(AT_addr_base)
            if isinstance(base, int):
                cu.addr_base = base
            low = attrs.get(AT_low_pc)
            if isinstance(low, int):
                cu.low_pc = low
            base = attrs.get(AT_loclists_base)
            if isinstance(base, int):
                cu.loclists_base = base
        if ab.children:
            stack.append(raw if tag in (TAG_structure_type, TAG_array_type) else
                         (raw if tag == TAG_compile_unit else None))


def _skip_children(d, pos, table) -> int:
    depth = 1
    while depth:
        code = d[pos]
        if code < 0x80:
            pos += 1
        else:
            code, pos = _uleb(d, pos)
        if code == 0:
            depth -= 1
            continue
        ab = table[code]
        pos = ab.skip(d, pos)
        if ab.children:
            depth += 1
    return pos


# ---- building Go types ----

class _Builder:
    def __init__(self, raws: dict[int, _Raw], ptr_size: int):
        self.raws = raws
        self.ptr_size = ptr_size
        self.table = TypeTable(ptr_size=ptr_size)
        self.ids: dict[int, int] = {}       # DIE offset -> type id
        self.void: int | None = None

    def _void(self) -> int:
        if self.void is None:
            self.void = self.table.add("<unknown>", Kind.VOID, 0).id
        return self.void

    def _is_alias(self, raw: _Raw) -> bool:
        return raw.tag == TAG_typedef and AT_go_kind not in raw.attrs and AT_type in raw.attrs

    def _final(self, off: int, limit: int = 32) -> tuple[int, _Raw | None]:
        """Follow typedefs to the DIE that describes the layout."""
        raw = self.raws.get(off)
        while raw is not None and raw.tag == TAG_typedef and limit:
            off = raw.attrs.get(AT_type, -1)
            raw = self.raws.get(off)
            limit -= 1
        return off, raw

    def build(self) -> TypeTable:
        raws = self.raws
        # Pass 1: one id per non-alias type DIE, in DIE order.
        for off, raw in raws.items():
            if not self._is_alias(raw):
                a = raw.attrs
                name = a.get(AT_name)
                if not isinstance(name, str):
                    name = f"<anon {off:#x}>"
                t = self.table.add(name, Kind.VOID, 0)
                rt = a.get(AT_go_runtime_type)
                if isinstance(rt, int):
                    t.rtype_off = rt
                self.ids[off] = t.id
        # Aliases (typedefs Go writes for named types, without go_kind) share their target's id.
        for off, raw in raws.items():
            if self._is_alias(raw):
                self.ids[off] = self._alias_target(off)
        # Pass 2: fill in the shapes.
        for off, raw in raws.items():
            if not self._is_alias(raw):
                self._fill(self.table[self.ids[off]], off, raw)
        self._mark_not_in_heap()
        self.table.index()
        return self.table

    def _mark_not_in_heap(self) -> None:
        """Set ``not_in_heap`` on types the runtime keeps outside the GC'd heap.

        Go 1.20+ marks them with a field of type ``sys.NotInHeap`` (also inherited by structs
        and arrays holding one); Go 1.19 used the ``//go:notinheap`` pragma, invisible in
        DWARF, so its runtime types are listed by name (from GOROOT 1.19 src/runtime).
        """
        T = self.table
        markers = {t.id for t in T if t.name.endswith("sys.NotInHeap") and t.kind is Kind.STRUCT}
        state: dict[int, bool] = {}

        def nih(tid: int, depth: int = 0) -> bool:
            got = state.get(tid)
            if got is not None:
                return got
            state[tid] = False  # cycles through structs cannot happen; guard anyway
            t = T[tid]
            r = False
            if tid in markers:
                r = True
            elif t.kind is Kind.STRUCT and depth < 64:
                r = any(nih(f.type, depth + 1) for f in t.fields)
            elif t.kind is Kind.ARRAY and t.elem is not None and depth < 64:
                r = bool(t.len) and nih(t.elem, depth + 1)
            state[tid] = r
            return r

        if markers:
            for t in T:
                if t.kind in (Kind.STRUCT, Kind.ARRAY) and nih(t.id):
                    t.not_in_heap = True
        else:
            for t in T:
                if t.name in _GO119_NOT_IN_HEAP:
                    t.not_in_heap = True

    def _alias_target(self, off: int) -> int:
        seen = set()
        while True:
            raw = self.raws.get(off)
            if raw is None:
                return self._void()
            if not self._is_alias(raw):
                return self.ids[off]
            if off in seen:
                return self._void()
            seen.add(off)
            off = raw.attrs[AT_type]

    def ref(self, off) -> int:
        if not isinstance(off, int):
            return self._void()
        tid = self.ids.get(off)
        return self._void() if tid is None else tid

    def _fill(self, t: Type, off: int, raw: _Raw) -> None:
        a = raw.attrs
        tag = raw.tag
        gk = a.get(AT_go_kind)
        ps = self.ptr_size
        if AT_go_dict_index in a:
            t.dict_index = a[AT_go_dict_index]
        if tag == TAG_base_type:
            t.size = a.get(AT_byte_size, 0)
            t.kind = GO_KIND.get(gk) or _ENCODING_KIND.get(a.get(AT_encoding), Kind.UINT)
            if t.kind in (Kind.STRUCT, Kind.ARRAY, Kind.SLICE, Kind.STRING):  # never for base types
                t.kind = Kind.UINT
        elif tag == TAG_pointer_type:
            t.size = ps
            if AT_type in a and gk != 26:
                t.kind = Kind.PTR
                t.elem = self.ref(a[AT_type])
            else:
                t.kind = Kind.UNSAFE_PTR
        elif tag == TAG_structure_type:
            t.size = a.get(AT_byte_size, 0)
            t.kind = {24: Kind.STRING, 23: Kind.SLICE}.get(gk, Kind.STRUCT)
            t.fields = tuple(self._fields(raw))
            if t.kind is Kind.SLICE:
                t.elem = self.ref(a.get(AT_go_elem))
                if t.elem == self.void and t.fields:  # older DWARF: elem from the array field
                    arr = self.table[t.fields[0].type]
                    if arr.elem is not None:
                        t.elem = arr.elem
        elif tag == TAG_array_type:
            t.kind = Kind.ARRAY
            t.size = a.get(AT_byte_size, 0)
            t.elem = self.ref(a.get(AT_type))
            n = None
            for c in raw.children:
                if AT_count in c:
                    n = c[AT_count]
                elif AT_upper_bound in c:
                    n = c[AT_upper_bound] + 1
            if n is None:
                esize = self.table[t.elem].size if t.elem is not None else 0
                n = t.size // esize if esize else 0
            t.len = n
        elif tag == TAG_subroutine_type:
            t.kind = Kind.FUNC
            t.size = a.get(AT_byte_size, ps)
        elif tag == TAG_unspecified_type:
            t.kind = Kind.VOID
        elif tag == TAG_typedef:
            self._fill_typedef(t, a, gk)

    def _fields(self, raw: _Raw) -> list[Field]:
        out = []
        for c in raw.children:
            name = c.get(AT_name, "")
            loc = c.get(AT_data_member_location, 0)
            if isinstance(loc, bytes):  # a location expression: DW_OP_plus_uconst n
                loc = _uleb(loc, 1)[0] if loc and loc[0] == OP_plus_uconst else 0
            out.append(Field(name if isinstance(name, str) else "", loc, self.ref(c.get(AT_type)),
                             bool(c.get(AT_go_embedded_field, 0))))
        return out

    def _fill_typedef(self, t: Type, a: dict, gk) -> None:
        ps = self.ptr_size
        kind = GO_KIND.get(gk)
        final_off, final = self._final(a.get(AT_type, -1))
        final_t = self.table[self.ids[final_off]] if final is not None and final_off in self.ids else None
        if kind in (Kind.MAP, Kind.CHAN):
            t.kind = kind
            t.size = ps
            t.elem = self.ref(a.get(AT_go_elem))
            if kind is Kind.MAP:
                t.key = self.ref(a.get(AT_go_key))
            if final is not None and final.tag == TAG_pointer_type and AT_type in final.attrs:
                t.target = self.ref(final.attrs[AT_type])
            return
        if kind is Kind.IFACE:
            name = final.attrs.get(AT_name) if final is not None else None
            t.kind = Kind.EFACE if name == "runtime.eface" else Kind.IFACE
            t.size = 2 * ps
            if final is not None and final.tag == TAG_structure_type:
                t.fields = tuple(self._fields(final))
            return
        if kind is Kind.FUNC:
            t.kind = Kind.FUNC
            t.size = ps
            return
        # Any other named type: the shape of what it names, under its own name.
        if final_t is None:
            t.kind = kind or Kind.VOID
            return
        if final_t.kind is Kind.VOID and final is not None:
            self._fill(final_t, final_off, final)
        t.kind = final_t.kind
        t.size = final_t.size
        t.elem, t.key, t.len = final_t.elem, final_t.key, final_t.len
        t.fields, t.target = final_t.fields, final_t.target


# ---- entry points ----

_SECTIONS = (".debug_info", ".debug_abbrev", ".debug_str", ".debug_line_str", ".debug_addr")
_LOC_SECTIONS = (".debug_loc", ".debug_loclists")   # read on the first function lookup


def read_sections(exe: Executable) -> dict[str, bytes]:
    """Return the (decompressed) DWARF sections of ``exe`` that this module reads."""
    out = {}
    for name in _SECTIONS:
        data = exe.section_data(name)
        if data is None:
            data = exe.section_data(".z" + name[1:])  # old GNU-style compressed names
        if data is not None:
            out[name] = data
    return out


def load_dwarf(exe: Executable) -> DwarfData:
    """Read types, globals and constants from the DWARF of executable ``exe``.

    Raises ``MissingDebugInfo`` when the executable carries no DWARF (a stripped build),
    ``DwarfFormatError`` (one line) when its bytes cannot be decoded.
    """
    if not exe.has_dwarf:
        raise MissingDebugInfo("DWARF (the executable is stripped)", getattr(exe, "path", None))
    try:
        data = parse_dwarf(read_sections(exe))
    except (IndexError, KeyError, ValueError, TypeError, OverflowError, RecursionError) as e:
        # bytes no compiler wrote, met where the decoder does not check them one by one
        raise DwarfFormatError(f"cannot decode: {_why(e)}") from e
    if data._bodies is not None:
        data._bodies.more = lambda name: exe.section_data(name) or exe.section_data(".z" + name[1:])
    return data


def parse_dwarf(sections: dict[str, bytes]) -> DwarfData:
    """Read types, globals and constants from raw DWARF sections (by ELF section name)."""
    raws, variables, constants, cus, producer = _walk(sections)
    ptr_size = cus[0].addr_size if cus else 8
    builder = _Builder(raws, ptr_size)
    table = builder.build()
    ids = builder.ids   # DIE offset -> type id, for variable and constant types
    data = DwarfData(types=table, producer=producer, ptr_size=ptr_size,
                     version=max((c.version for c in cus), default=0),
                     _bodies=_Bodies(sections, cus, ids))
    addr_sec = sections.get(".debug_addr", b"")
    for attrs, cu in variables:
        name = attrs.get(AT_name)
        loc = attrs.get(AT_location)
        if not isinstance(name, str) or not isinstance(loc, bytes) or not loc:
            continue
        addr = _static_address(loc, cu, addr_sec)
        if addr is None:
            continue
        tid = ids.get(attrs.get(AT_type), -1)
        size = table[tid].size if tid >= 0 else 0
        data.globals.setdefault(name, Global(name, addr, tid, size))
    for attrs in constants:
        name = attrs.get(AT_name)
        val = attrs.get(AT_const_value)
        if isinstance(name, str) and isinstance(val, int):
            data.constants[name] = val
            tid = ids.get(attrs.get(AT_type))
            if tid is not None:
                data.constant_types[name] = tid
    return data


def _static_address(loc: bytes, cu: _CU, addr_sec: bytes) -> int | None:
    """Return the address of a location expression that is exactly one static address."""
    op = loc[0]
    if op == OP_addr and len(loc) == 1 + cu.addr_size:
        return int.from_bytes(loc[1:], "little")
    if op == OP_addrx:
        idx, p = _uleb(loc, 1)
        if p != len(loc):
            return None
        at = cu.addr_base + idx * cu.addr_size
        if at + cu.addr_size > len(addr_sec):
            return None
        return int.from_bytes(addr_sec[at:at + cu.addr_size], "little")
    return None


# ---- function bodies, on demand ----

@dataclass(frozen=True)
class Piece:
    """Where ``size`` bytes of a variable live: ``kind`` is ``cfa`` (memory at CFA + ``value``),
    ``reg`` (DWARF register ``value``), ``addr`` (static address ``value``) or ``none``
    (optimized out). ``size`` is None for a location without pieces (the whole variable)."""

    kind: str
    value: int
    size: int | None


def location_pieces(expr: bytes) -> tuple[Piece, ...] | None:
    """Decode a Go location expression into pieces; None for operations Go does not emit
    for variables (a computed value, a register-relative address)."""
    out: list[Piece] = []
    cur: tuple[str, int] | None = None
    p, n = 0, len(expr)
    try:
        while p < n:
            op = expr[p]
            p += 1
            if op == OP_call_frame_cfa:
                cur = ("cfa", 0)
            elif op == OP_fbreg:                      # frame base = DW_OP_call_frame_cfa
                off, p = _sleb(expr, p)
                cur = ("cfa", off)
            elif op == OP_consts and cur is not None and cur[0] == "cfa" and p < n:
                off, q = _sleb(expr, p)
                if q >= n or expr[q] != OP_plus:
                    return None
                cur, p = ("cfa", cur[1] + off), q + 1
            elif op == OP_plus_uconst and cur is not None and cur[0] == "cfa":
                off, p = _uleb(expr, p)
                cur = ("cfa", cur[1] + off)
            elif OP_reg0 <= op <= OP_reg31:
                cur = ("reg", op - OP_reg0)
            elif op == OP_regx:
                r, p = _uleb(expr, p)
                cur = ("reg", r)
            elif op == OP_addr and p + 8 <= n:
                cur = ("addr", int.from_bytes(expr[p:p + 8], "little"))
                p += 8
            elif op == OP_piece:
                size, p = _uleb(expr, p)
                out.append(Piece(*(cur or ("none", 0)), size))
                cur = None
            else:
                return None
    except IndexError:
        return None
    if cur is not None:
        if out:
            return None                       # a location after the last piece: malformed
        out.append(Piece(cur[0], cur[1], None))
    return tuple(out)


@dataclass(frozen=True)
class FrameVar:
    """A parameter or local of a function (or of a call inlined into it).

    ``location`` is one expression valid wherever the variable is in scope, ``loclist``
    ``(lo, hi, expr)`` ranges of link-time pcs; at most one of them is set. ``type`` is an
    id in ``DwarfData.types`` (-1 unknown). ``closure_offset`` is the byte offset of a
    captured variable in its closure's context (DW_AT_go_closure_offset, go1.23+).
    """

    name: str
    type: int
    param: bool
    closure_offset: int | None = None
    location: bytes | None = None
    loclist: tuple[tuple[int, int, bytes], ...] | None = None
    inlined: bool = False

    def expr_at(self, pc: int) -> bytes | None:
        """Return the location expression valid at link-time ``pc``, or None."""
        if self.loclist is None:
            return self.location or None
        for lo, hi, expr in self.loclist:
            if lo <= pc < hi:
                return expr
        return None

    def pieces_at(self, pc: int) -> tuple[Piece, ...] | None:
        """Return where the variable lives at ``pc`` (see ``location_pieces``), or None."""
        expr = self.expr_at(pc)
        return location_pieces(expr) if expr else None


@dataclass(frozen=True)
class Function:
    """A function's DIE: link-time ``[low_pc, high_pc)`` and its variables."""

    name: str
    low_pc: int
    high_pc: int
    offset: int                       # of its DW_TAG_subprogram in .debug_info
    vars: tuple[FrameVar, ...]

    @property
    def closure_vars(self) -> tuple[FrameVar, ...]:
        """Return the captured variables with their context offsets, by offset."""
        return tuple(sorted((v for v in self.vars if v.closure_offset is not None),
                            key=lambda v: v.closure_offset))


class _Bodies:
    """Subprograms of every CU, decoded on demand."""

    def __init__(self, sections: dict[str, bytes], cus: list[_CU], ids: dict[int, int]):
        self.sections = sections
        self.cus = cus
        self.cu_starts = [c.offset for c in cus]
        self.ids = ids
        self.more = None                  # fn(section name) -> bytes | None, for loc sections
        self.warn = None                  # fn(message): unreadable entries then read as absent
        self._by_pc: list[tuple[int, int, int, _CU]] | None = None   # (low, high, die, cu)
        self._pcs: list[int] = []
        self._by_name: dict[str, tuple[int, _CU]] = {}
        self._funcs: dict[int, Function | None] = {}
        self._high: dict[int, int] = {}
        self._loc: dict[str, bytes] = {}

    def _section(self, name: str) -> bytes:
        got = self._loc.get(name)
        if got is None:
            got = self.sections.get(name)
            if got is None and self.more is not None:
                got = self.more(name)
            got = got or b""
            self._loc[name] = got
        return got

    def _die(self, off: int, cu: _CU) -> tuple[_Abbrev, dict, int]:
        d = self.sections[".debug_info"]
        code, p = _uleb(d, off)
        ab = cu.table[code]
        p, attrs = ab.decode(d, p, cu.offset)
        return ab, attrs, p

    def _addr(self, v, cu: _CU) -> int | None:
        if isinstance(v, tuple) and v and v[0] == "addrx":
            at = cu.addr_base + v[1] * cu.addr_size
            sec = self.sections.get(".debug_addr", b"")
            return int.from_bytes(sec[at:at + cu.addr_size], "little") if at + cu.addr_size <= len(sec) else None
        return v if isinstance(v, int) else None

    def _index(self) -> None:
        rows = []
        for cu in self.cus:
            for off in cu.subprograms:
                ab, a, _ = self._die(off, cu)
                name = a.get(AT_name)
                if not isinstance(name, str) and AT_abstract_origin in a:
                    name = self._origin(a[AT_abstract_origin]).get(AT_name)
                low = self._addr(a.get(AT_low_pc), cu)
                if low is None:
                    continue                  # abstract (inlinable) functions have no code
                high = a.get(AT_high_pc)
                form = next((f for at, f, _ in ab.specs if at == AT_high_pc), None)
                if form == F_addr:
                    high = self._addr(high, cu)
                elif isinstance(high, int):
                    high = low + high         # DWARF 4+: a constant is the length
                else:
                    high = self._addr(high, cu)
                if high is None:
                    continue
                rows.append((low, high, off, cu))
                self._high[off] = high
                if isinstance(name, str):
                    self._by_name.setdefault(name, (off, cu))
        rows.sort(key=lambda r: r[0])
        self._by_pc = rows
        self._pcs = [r[0] for r in rows]

    def _cu_of(self, off: int) -> _CU:
        return self.cus[bisect.bisect_right(self.cu_starts, off) - 1]

    def _origin(self, off: int) -> dict:
        try:
            return self._die(off, self._cu_of(off))[1]
        except (IndexError, KeyError) as e:
            raise DwarfFormatError(f"abstract origin {off:#x} is unreadable: {e}", off) from e

    def function(self, pc: int | None, name: str | None) -> Function | None:
        if self._by_pc is None:
            try:
                self._index()
            except (IndexError, KeyError, ValueError, TypeError, OverflowError) as e:
                err = DwarfFormatError(f"cannot index subprograms: {_why(e)}")
                if self.warn is None:
                    raise err from e
                self.warn(f"{err}; frames are typed without DWARF variables")
                self._by_pc, self._pcs, self._by_name = [], [], {}
        if pc is not None:
            i = bisect.bisect_right(self._pcs, pc) - 1
            if i < 0 or not (self._by_pc[i][0] <= pc < self._by_pc[i][1]):
                return None
            _, _, off, cu = self._by_pc[i]
        else:
            hit = self._by_name.get(name)
            if hit is None:
                return None
            off, cu = hit
        if off not in self._funcs:
            try:
                self._funcs[off] = self._read_function(off, cu)
            except (IndexError, KeyError, ValueError, TypeError, OverflowError,
                    DwarfFormatError) as e:
                err = e if isinstance(e, DwarfFormatError) else \
                    DwarfFormatError(f"cannot decode function: {_why(e)}", off)
                if self.warn is None:
                    raise err from e
                self.warn(f"{err}; that function's frames are typed without DWARF variables")
                self._funcs[off] = None
        return self._funcs[off]

    def _read_function(self, off: int, cu: _CU) -> Function:
        d = self.sections[".debug_info"]
        ab, a, p = self._die(off, cu)
        name = a.get(AT_name)
        if not isinstance(name, str) and AT_abstract_origin in a:
            name = self._origin(a[AT_abstract_origin]).get(AT_name)
        low = self._addr(a.get(AT_low_pc), cu) or 0
        high = self._high.get(off, low)
        out: list[FrameVar] = []
        depth = 1 if ab.children else 0
        inl = 0                        # depth of the innermost inlined call we are in (0: none)
        while depth:
            code, p = _uleb(d, p)
            if code == 0:
                if inl and depth == inl:
                    inl = 0
                depth -= 1
                continue
            cab = cu.table[code]
            tag = cab.tag
            if tag in (TAG_variable, TAG_formal_parameter):
                p, va = cab.decode(d, p, cu.offset)
                v = self._var(va, tag == TAG_formal_parameter, cab, cu, bool(inl))
                if v is not None:
                    out.append(v)
            else:
                p = cab.skip(d, p)
                if tag == TAG_inlined_subroutine and cab.children and not inl:
                    inl = depth + 1
            if cab.children:
                depth += 1
        return Function(name if isinstance(name, str) else f"<func {off:#x}>", low, high, off, tuple(out))

    def _var(self, a: dict, param: bool, ab: _Abbrev, cu: _CU, inlined: bool) -> FrameVar | None:
        if AT_abstract_origin in a:
            o = self._origin(a[AT_abstract_origin])
            merged = dict(o)
            merged.update(a)
            a = merged
        name = a.get(AT_name)
        if not isinstance(name, str):
            return None
        tid = self.ids.get(a.get(AT_type), -1)
        co = a.get(AT_go_closure_offset)
        loc = a.get(AT_location)
        form = next((f for at, f, _ in ab.specs if at == AT_location), None)
        location = loclist = None
        if isinstance(loc, bytes):
            location = loc
        elif isinstance(loc, int) and form is not None:
            loclist = self._loclist(loc, form, cu)
        return FrameVar(name, tid, param, co if isinstance(co, int) else None, location, loclist,
                        inlined)

    def _loclist(self, v: int, form: int, cu: _CU) -> tuple[tuple[int, int, bytes], ...]:
        if cu.version < 5:
            return _loclist_v4(self._section(".debug_loc"), v, cu.addr_size, cu.low_pc)
        sec = self._section(".debug_loclists")
        if form == F_loclistx:
            at = cu.loclists_base + v * cu.off_size
            v = cu.loclists_base + int.from_bytes(sec[at:at + cu.off_size], "little")
        return _loclist_v5(sec, v, cu, lambda i: self._addr(("addrx", i), cu))


def _loclist_v4(sec: bytes, off: int, asz: int, base: int) -> tuple[tuple[int, int, bytes], ...]:
    """Decode a DWARF 4 ``.debug_loc`` list (DWARF 4 section 2.6.2)."""
    out = []
    top = (1 << (8 * asz)) - 1
    p = off
    while p + 2 * asz <= len(sec):
        lo = int.from_bytes(sec[p:p + asz], "little")
        hi = int.from_bytes(sec[p + asz:p + 2 * asz], "little")
        p += 2 * asz
        if lo == 0 and hi == 0:
            break
        if lo == top:
            base = hi
            continue
        n = int.from_bytes(sec[p:p + 2], "little")
        out.append((base + lo, base + hi, sec[p + 2:p + 2 + n]))
        p += 2 + n
    return tuple(out)


def _loclist_v5(sec: bytes, off: int, cu: _CU, addrx) -> tuple[tuple[int, int, bytes], ...]:
    """Decode a DWARF 5 ``.debug_loclists`` list (DWARF 5 section 2.6.2, DW_LLE_*)."""
    out = []
    base = cu.low_pc
    asz = cu.addr_size
    p = off
    while p < len(sec):
        kind = sec[p]
        p += 1
        if kind == 0:                                   # end_of_list
            break
        if kind == 1:                                   # base_addressx
            i, p = _uleb(sec, p)
            base = addrx(i) or 0
            continue
        if kind == 6:                                   # base_address
            base = int.from_bytes(sec[p:p + asz], "little")
            p += asz
            continue
        if kind == 2:                                   # startx_endx
            i, p = _uleb(sec, p)
            j, p = _uleb(sec, p)
            lo, hi = addrx(i) or 0, addrx(j) or 0
        elif kind == 3:                                 # startx_length
            i, p = _uleb(sec, p)
            n, p = _uleb(sec, p)
            lo = addrx(i) or 0
            hi = lo + n
        elif kind == 4:                                 # offset_pair
            a, p = _uleb(sec, p)
            b, p = _uleb(sec, p)
            lo, hi = base + a, base + b
        elif kind == 5:                                 # default_location
            lo, hi = 0, 1 << 64
        elif kind == 7:                                 # start_end
            lo = int.from_bytes(sec[p:p + asz], "little")
            hi = int.from_bytes(sec[p + asz:p + 2 * asz], "little")
            p += 2 * asz
        elif kind == 8:                                 # start_length
            lo = int.from_bytes(sec[p:p + asz], "little")
            p += asz
            n, p = _uleb(sec, p)
            hi = lo + n
        else:
            raise DwarfFormatError(f"unknown location list entry kind {kind:#x} at .debug_loclists+{p - 1:#x}")
        n, p = _uleb(sec, p)
        out.append((lo, hi, sec[p:p + n]))
        p += n
    return tuple(out)
