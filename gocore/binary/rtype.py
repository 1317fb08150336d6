"""Runtime type descriptors (``internal/abi.Type``, ``runtime._type`` before 1.21) read from a dump.

A descriptor is decoded at its run-time address into a ``RuntimeType``: the common header
(size, ptrdata, hash, tflag, align, kind, gcdata, str, ptrToThis), the uncommon part (package
path, methods) and the kind-specific tail (elem, key, group/bucket, len, dir, struct fields,
interface methods, func parameters). Its ``name`` is the descriptor's own string, as reflect
prints it (``*main.Node``, ``map[string]*main.Item``, ``noalg.map.group[string]*main.Item``).

Sources read: ``src/internal/abi/type.go`` (1.21+), ``src/runtime/type.go`` (1.19),
``src/internal/abi/map*.go``, ``src/runtime/mbitmap.go`` (GC programs), ``src/runtime/type.go``
(``getGCMask``/``buildGCMask``, 1.24+), ``src/runtime/iface.go`` and
``src/runtime/type.go:moduleTypelinks`` (the Go 1.27 way of listing types and itabs).

Offsets (``nameOff``, ``typeOff``) are relative to the module's type section
(``moduledata.types``, a link-time address; add ``Process.exe_bias``).

The Go version differences live in ``_Abi`` (built once from ``Facts`` and the ``Layout``):
  * the kind byte carries ``kindDirectIface`` (0x20) and ``kindGCProg`` (0x40) flag bits up to
    go1.25 (mask 0x1f); go1.26 moved "direct iface" to ``TFlagDirectIface`` and the kind byte
    is the bare kind;
  * GC data is a GC program when ``kindGCProg`` is set (before go1.24);
    ``TFlagGCMaskOnDemand`` (go1.24+) makes GCData a ``**byte`` to a lazily built mask;
  * the map descriptor tail: ``OldMapType``/``maptype`` (bucket), ``SwissMapType`` (go1.24,
    group, slot size), ``MapType`` with split key/elem arrays (go1.27);
  * types are listed by ``moduledata.typelinks`` up to go1.26 and by walking
    ``[types+ptr, types+typedesclen)`` with ``DescriptorSize`` from go1.27; itabs by
    ``moduledata.itablinks`` up to go1.26 and by walking ``[types+itaboffset, +itabsize)`` after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from core.errors import DumpError

from ..errors import GoCoreError
from ..heap.gcprog import GCProgramError, gc_program_mask
from .gotypes import Kind, Type

if TYPE_CHECKING:
    from ..process import GoProcess

log = logging.getLogger(__name__)


class RuntimeTypeError(GoCoreError):
    """A runtime type descriptor is unreadable or does not make sense."""

    def __init__(self, addr: int, why: str):
        self.addr = addr
        self.why = why
        super().__init__(f"runtime type at {addr:#x}: {why}")


# abi.Kind values (src/internal/abi/type.go, the same numbering since Go 1.0).
INVALID, BOOL, INT, INT8, INT16, INT32, INT64, UINT, UINT8, UINT16, UINT32, UINT64, UINTPTR, \
    FLOAT32, FLOAT64, COMPLEX64, COMPLEX128, ARRAY, CHAN, FUNC, INTERFACE, MAP, POINTER, SLICE, \
    STRING, STRUCT, UNSAFE_POINTER = range(27)

KIND_NAMES = ("invalid", "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8",
              "uint16", "uint32", "uint64", "uintptr", "float32", "float64", "complex64",
              "complex128", "array", "chan", "func", "interface", "map", "ptr", "slice",
              "string", "struct", "unsafe.Pointer")

# abi.Kind -> gotypes.Kind (interfaces: IFACE, or EFACE when they have no methods).
GO_KIND = {BOOL: Kind.BOOL, **{k: Kind.INT for k in (INT, INT8, INT16, INT32, INT64)},
           **{k: Kind.UINT for k in (UINT, UINT8, UINT16, UINT32, UINT64)},
           UINTPTR: Kind.UINTPTR, FLOAT32: Kind.FLOAT, FLOAT64: Kind.FLOAT,
           COMPLEX64: Kind.COMPLEX, COMPLEX128: Kind.COMPLEX, ARRAY: Kind.ARRAY, CHAN: Kind.CHAN,
           FUNC: Kind.FUNC, INTERFACE: Kind.IFACE, MAP: Kind.MAP, POINTER: Kind.PTR,
           SLICE: Kind.SLICE, STRING: Kind.STRING, STRUCT: Kind.STRUCT,
           UNSAFE_POINTER: Kind.UNSAFE_PTR}

# tflag bits (abi.TFlag*)
TFLAG_UNCOMMON = 1 << 0
TFLAG_EXTRA_STAR = 1 << 1
TFLAG_NAMED = 1 << 2
TFLAG_REGULAR_MEMORY = 1 << 3
TFLAG_GC_MASK_ON_DEMAND = 1 << 4   # go1.24
TFLAG_DIRECT_IFACE = 1 << 5        # go1.26
# kind flag bits before go1.26 (abi.KindDirectIface, abi.KindGCProg (to go1.23), abi.KindMask)
KIND_DIRECT_IFACE = 1 << 5
KIND_GC_PROG = 1 << 6
KIND_MASK = (1 << 5) - 1


@dataclass(frozen=True)
class StructField:
    """A field of a struct type: its name, the address of its type, its byte offset."""

    name: str
    type: int
    offset: int
    embedded: bool = False


@dataclass(frozen=True)
class Method:
    """A method of a named type (uncommon) or of an interface: name and type address (0 if none)."""

    name: str
    type: int


@dataclass(eq=False)
class RuntimeType:
    """One decoded runtime type descriptor. Type references are run-time addresses (0: none)."""

    addr: int
    name: str
    kind: int                 # abi.Kind, flag bits removed
    size: int
    ptrdata: int
    hash: int
    tflag: int
    align: int
    field_align: int
    gcdata: int
    gc_prog: bool             # gcdata is a GC program (before go1.24)
    direct_iface: bool        # stored directly in an interface's data word
    ptr_to_this: int = 0
    pkg_path: str | None = None
    methods: tuple[Method, ...] = ()
    elem: int = 0             # ptr, slice, array, chan, map (value)
    key: int = 0              # map
    group: int = 0            # map: the swiss group type (go1.24+) or hash bucket type
    len: int | None = None    # array
    dir: int | None = None    # chan: 1 recv, 2 send, 3 both
    fields: tuple[StructField, ...] = ()
    imethods: tuple[Method, ...] = ()   # interface
    params: tuple[int, ...] = ()        # func inputs
    results: tuple[int, ...] = ()       # func outputs
    variadic: bool = False
    descriptor_size: int = 0            # bytes of the descriptor with its uncommon and tails
    extra: dict = field(default_factory=dict)

    @property
    def kind_name(self) -> str:
        """Return the kind as reflect spells it ("ptr", "struct", ...)."""
        return KIND_NAMES[self.kind] if 0 <= self.kind < len(KIND_NAMES) else "invalid"

    @property
    def named(self) -> bool:
        """Return whether the type has a name (TFlagNamed)."""
        return bool(self.tflag & TFLAG_NAMED)

    @property
    def gc_mask_on_demand(self) -> bool:
        """Return whether GCData is a ``**byte`` to a lazily built mask (go1.24+)."""
        return bool(self.tflag & TFLAG_GC_MASK_ON_DEMAND)

    @property
    def go_kind(self) -> Kind:
        """Return the gotypes.Kind of this type."""
        if self.kind == INTERFACE and not self.imethods:
            return Kind.EFACE
        return GO_KIND.get(self.kind, Kind.VOID)

    def __repr__(self) -> str:
        return f"RuntimeType({self.addr:#x}, {self.name!r}, {self.kind_name}, size={self.size})"


@dataclass(frozen=True)
class Itab:
    """A compiled itab: its address, interface type address and concrete type address."""

    addr: int
    inter: int
    type: int


# ---- what differs between releases, decided once ----

# The map descriptor's tail fields each family reads, by RuntimeType.extra name.
_MAP_EXTRA = {
    "bucket": {"key_size": "KeySize", "value_size": "ValueSize", "bucket_size": "BucketSize",
               "flags": "Flags"},
    "swiss": {"group_size": "GroupSize", "slot_size": "SlotSize", "elem_off": "ElemOff",
              "flags": "Flags"},
    "split": {"group_size": "GroupSize", "keys_off": "KeysOff", "key_stride": "KeyStride",
              "elems_off": "ElemsOff", "elem_stride": "ElemStride", "elem_off": "ElemOff",
              "flags": "Flags"},
}
_MAP = "internal/abi.MapType"
_UNCOMMON = "runtime.uncommontype"
_METHOD = "runtime.method"


@dataclass(frozen=True)
class _Abi:
    ptr: int
    hdr: int                     # sizeof(abi.Type)
    off: dict                    # header field offsets
    kind_flags: bool             # kind byte carries KindDirectIface/KindGCProg (to go1.25)
    gc_programs: bool            # KindGCProg exists (to go1.23)
    map_tail: int                # sizeof(MapType) - sizeof(Type)
    map_layout: str              # "bucket" (hmap), "swiss" (1.24-1.26), "split" (1.27)
    map_fields: dict             # (offset after the header, size) of key, elem, group and extras
    uncommon: dict               # (offset, size) of UncommonType's pkgpath, mcount, moff; "size"
    method: dict                 # (offset, size) of Method's name and mtyp; "size"
    itab_fun: int                # offset of itab.fun


def _fields(L, struct_name: str, names: dict[str, str], base: int = 0) -> dict:
    """Return ``{key: (offset - base, size)}`` of ``struct_name``'s fields named in ``names``."""
    return {key: (L.offset(struct_name, f) - base, L.field_size(struct_name, f))
            for key, f in names.items()}


def _abi(gp: GoProcess) -> _Abi:
    """Return what this runtime's type descriptors look like, from its Layout and Facts.

    The map descriptor tail (``maptype``/``MapType`` with buckets, ``SwissMapType``,
    ``MapType`` with split key and elem arrays in go1.27), the uncommon part and its methods
    are the layout spec's (``layout.SPEC_STRUCTS``), from DWARF or the generated tables.
    """
    L = gp.layout
    f = gp.facts
    T = "runtime._type"
    off = {k: L.offset(T, k) for k in ("size", "ptrdata", "hash", "tflag", "align", "fieldAlign",
                                       "kind", "gcdata", "str", "ptrToThis")}
    hdr = L.size(T)
    family = f.map_layout
    group = "Bucket" if family == "bucket" else "Group"
    map_fields = _fields(L, _MAP, {"key": "Key", "elem": "Elem", "group": group,
                                   **_MAP_EXTRA[family]}, base=hdr)
    uncommon = {**_fields(L, _UNCOMMON, {"pkgpath": "pkgpath", "mcount": "mcount",
                                         "moff": "moff"}), "size": L.size(_UNCOMMON)}
    method = {**_fields(L, _METHOD, {"name": "name", "mtyp": "mtyp"}), "size": L.size(_METHOD)}
    return _Abi(ptr=gp.process.ptr_size, hdr=hdr, off=off,
                kind_flags=not f.direct_iface_in_tflag, gc_programs=f.gc_programs,
                map_tail=L.size(_MAP) - hdr, map_layout=family, map_fields=map_fields,
                uncommon=uncommon, method=method, itab_fun=L.offset("runtime.itab", "fun"))


def _int(raw: bytes, where: tuple[int, int], order: str, signed: bool = False) -> int:
    """Return the integer of ``raw`` at ``where`` = (offset, size) in byte ``order``."""
    o, n = where
    return int.from_bytes(raw[o:o + n], order, signed=signed)


# ---- the decoder ----

MAX_NAME = 1 << 20        # bytes of one abi.Name (struct tags included): far above any real one
MAX_TYPES = 1 << 20       # descriptors ``all_types`` decodes: garbage references stop there
MAX_TYPE_DEPTH = 256      # nesting of elem/field types followed when naming or building masks


def _align(x: int, a: int) -> int:
    return (x + a - 1) & -a


def _number(v: int) -> str:
    """Return ``v`` for a message (its bit length when it is absurdly long)."""
    return str(v) if v < 1 << 64 else f"a {v.bit_length()}-bit number of"


class RuntimeTypes:
    """Runtime type descriptors of one process, decoded on demand and cached by address."""

    def __init__(self, gp: GoProcess):
        self.gp = gp
        self.proc = gp.process
        self.abi = _abi(gp)
        self.order = self.proc.byte_order
        md = gp.moduledata
        self.md = md
        self.bias = self.proc.exe_bias
        self.types_base = md.types + self.bias        # run-time address of the type section
        self.types_end = md.etypes + self.bias
        self._cache: dict[int, RuntimeType] = {}
        self._names: dict[int, tuple[str, int]] = {}
        self._all: list[RuntimeType] | None = None
        #: no value larger than the dump's whole address space can be in it
        self._memory_size = sum(m.size for m in self.proc.mappings)

    # -- low level --

    def _read(self, addr: int, n: int) -> bytes:
        try:
            return self.proc.read(addr, n)
        except DumpError as e:  # unmapped, or a damaged dump segment: the descriptor's fault
            raise RuntimeTypeError(addr, f"unreadable ({e})") from e

    def _ptr(self, addr: int) -> int:
        return int.from_bytes(self._read(addr, self.abi.ptr), self.order)

    def _words(self, addr: int, n: int) -> list[int]:
        """Return the ``n`` pointer-sized words at ``addr``."""
        p = self.abi.ptr
        raw = self._read(addr, n * p)
        return [int.from_bytes(raw[i:i + p], self.order) for i in range(0, n * p, p)]

    def in_types(self, addr: int) -> bool:
        """Return whether run-time ``addr`` lies in the module's type section."""
        return self.types_base <= addr < self.types_end

    def name_bytes_at(self, addr: int) -> tuple[str, int]:
        """Return (name, flags byte) of the ``abi.Name`` at run-time ``addr``."""
        got = self._names.get(addr)
        if got is not None:
            return got
        head = self._read(addr, 11) if self.proc.readable(addr, 11) else self._read(addr, 2)
        flags = head[0]
        n = shift = 0
        i = 1
        while True:
            if i >= len(head):
                raise RuntimeTypeError(addr, "name length runs off the readable bytes")
            b = head[i]
            n |= (b & 0x7F) << shift
            i += 1
            shift += 7
            if b < 0x80:
                break
        # a name lies in the type section (or, for runtime-made types, in readable memory)
        room = self.types_end - (addr + i) if self.in_types(addr) else MAX_NAME
        if n > min(room, MAX_NAME):
            raise RuntimeTypeError(addr, f"name of {_number(n)} bytes runs past the type section")
        s = self._read(addr + i, n).decode("utf-8", "replace") if n else ""
        self._names[addr] = (s, flags)
        return s, flags

    def name_off(self, off: int) -> str:
        """Return the name at ``nameOff`` ``off`` (relative to the module's type section)."""
        return self.name_bytes_at(self.types_base + off)[0]

    def type_off(self, off: int) -> int:
        """Return the run-time address of ``typeOff`` ``off`` (0 for 0 or -1)."""
        if off in (0, -1):
            return 0
        return self.types_base + off

    # -- decoding --

    def get(self, addr: int) -> RuntimeType:
        """Return the decoded type at run-time ``addr`` (raises RuntimeTypeError)."""
        t = self._cache.get(addr)
        if t is None:
            t = self._decode(addr)
            self._cache[addr] = t
        return t

    def try_get(self, addr: int) -> RuntimeType | None:
        """Return the decoded type at ``addr``, or None if it is not a readable, sane descriptor."""
        if not addr:
            return None
        try:
            return self.get(addr)
        except RuntimeTypeError as e:
            log.debug("%s", e)
            return None

    def by_dwarf(self, t: Type) -> RuntimeType | None:
        """Return the runtime type of a DWARF ``gotypes.Type`` (DW_AT_go_runtime_type), or None."""
        if not getattr(t, "rtype_off", 0):
            return None
        return self.try_get(self.types_base + t.rtype_off)

    def _decode(self, addr: int) -> RuntimeType:
        a = self.abi
        p = a.ptr
        if addr % p:
            raise RuntimeTypeError(addr, "misaligned")
        raw = self._read(addr, a.hdr)
        o = a.off
        order = self.order
        size = _int(raw, (o["size"], p), order)
        ptrdata = _int(raw, (o["ptrdata"], p), order)
        hsh = _int(raw, (o["hash"], 4), order)
        tflag = raw[o["tflag"]]
        align = raw[o["align"]]
        falign = raw[o["fieldAlign"]]
        kbyte = raw[o["kind"]]
        gcdata = _int(raw, (o["gcdata"], p), order)
        str_off = _int(raw, (o["str"], 4), order, signed=True)        # abi.NameOff
        ptt_off = _int(raw, (o["ptrToThis"], 4), order, signed=True)  # abi.TypeOff
        if a.kind_flags:
            kind = kbyte & KIND_MASK
            direct = bool(kbyte & KIND_DIRECT_IFACE)
            gc_prog = a.gc_programs and bool(kbyte & KIND_GC_PROG)
        else:
            kind = kbyte
            direct = bool(tflag & TFLAG_DIRECT_IFACE)
            gc_prog = False
        if not INVALID < kind <= UNSAFE_POINTER:
            raise RuntimeTypeError(addr, f"bad kind byte {kbyte:#x}")
        if ptrdata > size or align == 0 or align & (align - 1) or align > 64:
            raise RuntimeTypeError(addr, f"bad size/ptrdata/align {size}/{ptrdata}/{align}")
        if not 0 < str_off < self.types_end - self.types_base:
            raise RuntimeTypeError(addr, f"str nameOff {str_off:#x} outside the type section")
        name, _ = self.name_bytes_at(self.types_base + str_off)
        if tflag & TFLAG_EXTRA_STAR and name.startswith("*"):
            name = name[1:]
        rt = RuntimeType(addr=addr, name=name, kind=kind, size=size, ptrdata=ptrdata, hash=hsh,
                         tflag=tflag, align=align, field_align=falign, gcdata=gcdata,
                         gc_prog=gc_prog, direct_iface=direct, ptr_to_this=self.type_off(ptt_off))
        tail = self._tail(rt)
        n_extra = self._extra_words(rt)
        ucount = 0
        if tflag & TFLAG_UNCOMMON:
            u = addr + a.hdr + tail
            uc = a.uncommon
            raw_u = self._read(u, uc["size"])
            pkg_off = _int(raw_u, uc["pkgpath"], self.order, signed=True)
            mcount, moff = _int(raw_u, uc["mcount"], self.order), _int(raw_u, uc["moff"], self.order)
            rt.pkg_path = self.name_off(pkg_off) if pkg_off else ""
            ucount = uc["size"]
            if mcount:
                ms = a.method["size"]
                raw_m = self._read(u + moff, ms * mcount)
                out = []
                for i in range(0, ms * mcount, ms):
                    no = _int(raw_m[i:i + ms], a.method["name"], self.order, signed=True)
                    mt = _int(raw_m[i:i + ms], a.method["mtyp"], self.order, signed=True)
                    out.append(Method(self.name_off(no) if no else "", self.type_off(mt)))
                rt.methods = tuple(out)
        rt.descriptor_size = a.hdr + tail + ucount + n_extra + a.method["size"] * len(rt.methods)
        if kind == FUNC:
            self._func_params(rt, addr + a.hdr + tail + ucount)
        return rt

    def _tail(self, rt: RuntimeType) -> int:
        """Read the kind-specific fields after the header; return their size (Go struct layout)."""
        a = self.abi
        p = a.ptr
        base = rt.addr + a.hdr
        k = rt.kind
        if k in (POINTER, SLICE):
            rt.elem = self._ptr(base)
            return p
        if k == ARRAY:
            rt.elem, _slice, rt.len = self._words(base, 3)
            return 3 * p
        if k == CHAN:
            raw = self._read(base, 2 * p)
            rt.elem, rt.dir = _int(raw, (0, p), self.order), _int(raw, (p, p), self.order, signed=True)
            return 2 * p
        if k == MAP:
            raw = self._read(base, a.map_tail)
            values = {k: _int(raw, where, self.order) for k, where in a.map_fields.items()}
            rt.key, rt.elem, rt.group = values.pop("key"), values.pop("elem"), values.pop("group")
            rt.extra.update(values)
            return a.map_tail
        if k == FUNC:
            raw = self._read(base, 4)                  # inCount, outCount uint16
            inc, outc = _int(raw, (0, 2), self.order), _int(raw, (2, 2), self.order)
            rt.extra.update(in_count=inc, out_count=outc & 0x7FFF)
            rt.variadic = bool(outc & 0x8000)
            return _align(4, p)
        if k == INTERFACE:
            pkg, mptr, mlen = self._words(base, 3)
            rt.pkg_path = self.name_bytes_at(pkg)[0] if pkg else ""
            if mlen > 1 << 16:
                raise RuntimeTypeError(rt.addr, f"interface with {mlen} methods")
            if mlen:
                raw = self._read(mptr, 8 * mlen)     # abi.Imethod{Name NameOff, Typ TypeOff}
                rt.imethods = tuple(
                    Method(self.name_off(_int(raw, (i, 4), self.order, signed=True)),
                           self.type_off(_int(raw, (i + 4, 4), self.order, signed=True)))
                    for i in range(0, 8 * mlen, 8))
            rt.extra["imethods_addr"] = mptr
            return 4 * p  # PkgPath Name, Methods []Imethod
        if k == STRUCT:
            pkg, fptr, flen = self._words(base, 3)
            rt.pkg_path = self.name_bytes_at(pkg)[0] if pkg else ""
            if flen > 1 << 20:
                raise RuntimeTypeError(rt.addr, f"struct with {flen} fields")
            if flen:
                words = self._words(fptr, 3 * flen)  # abi.StructField{Name, Typ, Offset}
                out = []
                for nptr, typ, off in zip(words[0::3], words[1::3], words[2::3]):
                    fname, flags = self.name_bytes_at(nptr) if nptr else ("", 0)
                    out.append(StructField(fname, typ, off, bool(flags & (1 << 3))))
                rt.fields = tuple(out)
            rt.extra["fields_addr"] = fptr
            return 4 * p  # PkgPath Name, Fields []StructField
        return 0

    def _extra_words(self, rt: RuntimeType) -> int:
        """Return the bytes that follow the uncommon part in the descriptor (DescriptorSize)."""
        p = self.abi.ptr
        if rt.kind == FUNC:
            return p * (rt.extra["in_count"] + rt.extra["out_count"])
        if rt.kind == INTERFACE:
            return 8 * len(rt.imethods)
        if rt.kind == STRUCT:
            return 3 * p * len(rt.fields)
        return 0

    def _func_params(self, rt: RuntimeType, at: int) -> None:
        n_in, n_out = rt.extra["in_count"], rt.extra["out_count"]
        if n_in + n_out:
            words = self._words(at, n_in + n_out)
            rt.params, rt.results = tuple(words[:n_in]), tuple(words[n_in:])

    # -- names --

    def qualified_name(self, rt: RuntimeType, _depth: int = 0) -> str:
        """Return ``rt``'s name with full package paths, as DWARF spells it.

        reflect (and the descriptor) print the package *name* (``cpu.option``); DWARF and the
        rest of viewcore use the import path (``internal/cpu.option``). Named types take their
        uncommon package path; pointers, slices, arrays, chans and maps are spelled from their
        parts; other unnamed types (struct literals, funcs, interfaces, map groups) keep the
        descriptor's string.
        """
        got = rt.extra.get("qualified_name")
        if got is not None:
            return got
        rt.extra["qualified_name"] = rt.name  # cycles through unnamed types cannot happen
        out = rt.name
        if rt.named:
            pkg = rt.pkg_path
            dot = _pkg_dot(rt.name)
            if pkg and dot > 0 and not rt.name.startswith(pkg + "."):
                out = pkg + rt.name[dot:]
        else:
            k = rt.kind
            sub = self.try_get(rt.elem) if rt.elem and _depth < MAX_TYPE_DEPTH else None
            if sub is not None:
                e = self.qualified_name(sub, _depth + 1)
                if k == POINTER:
                    out = "*" + e
                elif k == SLICE:
                    out = "[]" + e
                elif k == ARRAY:
                    out = f"[{rt.len}]{e}"
                elif k == CHAN:
                    out = {1: "<-chan ", 2: "chan<- "}.get(rt.dir or 3, "chan ") + e
                elif k == MAP:
                    kt = self.try_get(rt.key)
                    if kt is not None:
                        out = f"map[{self.qualified_name(kt, _depth + 1)}]{e}"
        rt.extra["qualified_name"] = out
        return out

    # -- GC masks --

    def gc_mask(self, rt: RuntimeType) -> np.ndarray:
        """Return the pointer words of a value of ``rt``: a bool array of ``size // ptr`` words.

        The mask is the one the GC uses: the GC data bitmap; a GC program run (before
        go1.24); for ``TFlagGCMaskOnDemand`` types (go1.24+) the mask the runtime built, or,
        when it has not built one yet, the mask built from the type's structure the way
        ``runtime.buildGCMask`` does (arrays repeat their element, structs place fields).
        """
        cached = rt.extra.get("gc_mask")
        if cached is not None:
            return cached
        if rt.extra.get("gc_mask_building"):
            raise RuntimeTypeError(rt.addr, "type contains itself (an elem or field cycle)")
        p = self.abi.ptr
        if rt.size > self._memory_size:
            raise RuntimeTypeError(rt.addr, f"size {rt.size} exceeds the {self._memory_size} "
                                   "bytes the dump maps")
        nwords = rt.size // p
        out = np.zeros(nwords, dtype=bool)
        nptr = rt.ptrdata // p
        if nptr:
            if rt.gc_mask_on_demand:
                built = self._ptr(rt.gcdata) if rt.gcdata else 0
                if built:
                    out[:nptr] = self._bitmap(built, nptr)
                else:
                    rt.extra["gc_mask_building"] = True
                    try:
                        out[:nptr] = self._build_mask(rt)[:nptr]
                    finally:
                        del rt.extra["gc_mask_building"]
            elif rt.gc_prog:
                out[:nptr] = self._run_gc_prog(rt.gcdata, nptr, nwords)
            else:
                out[:nptr] = self._bitmap(rt.gcdata, nptr)
        out.setflags(write=False)
        rt.extra["gc_mask"] = out
        return out

    def _bitmap(self, addr: int, nbits: int) -> np.ndarray:
        raw = np.frombuffer(self._read(addr, (nbits + 7) // 8), dtype=np.uint8)
        return np.unpackbits(raw, bitorder="little")[:nbits].astype(bool)

    def _build_mask(self, rt: RuntimeType) -> np.ndarray:
        """Return the mask of ``rt`` from its structure (runtime.buildGCMask)."""
        p = self.abi.ptr
        out = np.zeros(rt.size // p, dtype=bool)
        if rt.kind == ARRAY:
            e = self.get(rt.elem)
            if e.size * (rt.len or 0) != rt.size:
                raise RuntimeTypeError(rt.addr, f"array of {_number(rt.len or 0)} elements of "
                                       f"{e.size} bytes is not {rt.size} bytes")
            if e.ptrdata and rt.len:
                em = self.gc_mask(e)
                out[:len(em) * rt.len] = np.tile(em, rt.len)
        elif rt.kind == STRUCT:
            for f in rt.fields:
                ft = self.get(f.type)
                if f.offset + ft.size > rt.size:
                    raise RuntimeTypeError(rt.addr, f"field {f.name} at {f.offset} runs past "
                                           f"the struct's {rt.size} bytes")
                if ft.ptrdata:
                    fm = self.gc_mask(ft)
                    out[f.offset // p: f.offset // p + len(fm)] |= fm
        else:
            raise RuntimeTypeError(rt.addr, f"on-demand GC mask for a {rt.kind_name}")
        return out

    def _run_gc_prog(self, addr: int, nbits: int, max_bits: int | None = None) -> np.ndarray:
        """Run the length-prefixed GC program at ``addr`` (mbitmap.go runGCProg) of a type
        of ``max_bits`` words (when known)."""
        try:
            return gc_program_mask(self._read, addr, nbits, max_bits)
        except GCProgramError as e:
            raise RuntimeTypeError(addr, str(e)) from None

    # -- enumeration --

    def typelink_addresses(self) -> list[int]:
        """Return the run-time addresses of the module's typelinked types.

        Up to go1.26 ``moduledata.typelinks`` ([]int32 typeOffs); from go1.27 the descriptors
        in ``[types+ptr, types+typedesclen)`` walked with ``DescriptorSize``
        (src/runtime/type.go: moduleTypelinks).
        """
        md = self.md
        if md.typelinks is not None:
            addr, n = md.typelinks
            if not n:
                return []
            offs = self.proc.array(addr + self.bias, n, "<i4")
            return [self.types_base + int(o) for o in offs]
        if md.typedesclen is not None:
            return [t.addr for t in self._walk(self.types_base + self.abi.ptr,
                                               self.types_base + md.typedesclen)]
        return []

    def _walk(self, start: int, end: int, strict: bool = True) -> list[RuntimeType]:
        """Decode consecutive descriptors in ``[start, end)`` (go1.27 layout of the section)."""
        out = []
        a = start
        while a < end:
            a = _align(a, self.abi.ptr)
            try:
                t = self.get(a)
            except RuntimeTypeError:
                if strict:
                    raise
                break
            out.append(t)
            a += t.descriptor_size
        return out

    def itabs(self) -> list[Itab]:
        """Return the module's compiled itabs (``itablinks``, or the go1.27 itab area)."""
        md = self.md
        p = self.abi.ptr
        fun = self.abi.itab_fun
        out = []
        if md.itablinks is not None:
            addr, n = md.itablinks
            ptrs = self.proc.array(addr + self.bias, n) if n else []
            for ip in ptrs:
                ip = int(ip)
                inter, typ = self._words(ip, 2)
                out.append(Itab(ip, inter, typ))
            return out
        if md.itaboffset is not None and md.itabsize:
            a = self.types_base + md.itaboffset
            end = a + md.itabsize
            while a < end:
                inter, typ = self._words(a, 2)
                fun0 = self._ptr(a + fun)
                out.append(Itab(a, inter, typ))
                nm = len(self.get(inter).imethods) if fun0 else 1
                a += fun + p * max(nm, 1)
        return out

    def all_types(self) -> list[RuntimeType]:
        """Return every runtime type reachable from the module's lists, in address order.

        Roots are the typelinks and the itabs' types and interfaces; from them the closure
        over elem/key/group, fields, methods, parameters and ptrToThis.
        """
        if self._all is not None:
            return self._all
        roots = list(self.typelink_addresses())
        for it in self.itabs():
            roots += [it.inter, it.type]
        # go1.27: the non-typelinked descriptors after typedesclen are interleaved with names
        # (abi.Name data) in the same section, so they cannot be walked; the closure finds them.
        seen: set[int] = set()
        stack = [r for r in roots if r]
        while stack and len(seen) < MAX_TYPES:
            a = stack.pop()
            if a in seen:
                continue
            seen.add(a)
            t = self.try_get(a)
            if t is None:
                continue
            refs = [t.elem, t.key, t.group, t.ptr_to_this, *t.params, *t.results,
                    *(f.type for f in t.fields), *(m.type for m in t.imethods),
                    *(m.type for m in t.methods)]
            stack.extend(r for r in refs if r and r not in seen)
        if stack:
            log.warning("runtime types: stopped after %d descriptors", MAX_TYPES)
        self._all = sorted((self._cache[a] for a in seen if a in self._cache), key=lambda t: t.addr)
        return self._all


def _pkg_dot(name: str) -> int:
    """Return the index of the '.' ending the package qualifier of a named type's string.

    ``main.G[main.T]`` -> 4: the first '.' outside brackets.
    """
    depth = 0
    for i, ch in enumerate(name):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "." and depth == 0:
            return i
    return -1


def runtime_types(gp: GoProcess) -> RuntimeTypes:
    """Return the (cached) RuntimeTypes of a GoProcess."""
    rts = getattr(gp, "_runtime_types", None)
    if rts is None:
        rts = RuntimeTypes(gp)
        gp._runtime_types = rts
    return rts
