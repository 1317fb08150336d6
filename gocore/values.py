"""Typed views of dump memory: ``Value`` reads a Go value of a known type on access.

A Value is (types, type id, address): nothing is read when it is made. ``get()`` turns a
scalar, string, ``[]byte`` or pointer into a Python value; composite values are walked with
``v["Field"]``, ``v[i]``, ``len(v)``, ``items()`` (maps), ``deref()`` (pointers) and
``dynamic()`` (interfaces). Types come from a ``TypeRegistry`` (DWARF types plus the runtime's
own type descriptors), so a stripped binary's values are typed wherever the runtime knows.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .binary.gotypes import Kind, Type
from .errors import GoCoreError

if TYPE_CHECKING:
    from .heap.typeinfer import TypeRegistry
    from .objects import Object
    from .process import GoProcess

# A string or []byte longer than this is refused rather than read whole: a damaged header's
# length must not become a gigabyte allocation.
MAX_BYTES = 1 << 26
# More map entries than this means a damaged map (a loop of overflow buckets, say).
MAX_MAP_ENTRIES = 1 << 28

_POINTERS = (Kind.PTR, Kind.UNSAFE_PTR, Kind.MAP, Kind.CHAN, Kind.FUNC)

# Map descriptor flag bits: "key/elem stored through a pointer".
# src/internal/abi/type.go (MapType, Go <= 1.23): IndirectKey 1, IndirectElem 2;
# src/internal/abi/map_swiss.go / map.go (Go 1.24+): NeedKeyUpdate 1, HashMightPanic 2,
# IndirectKey 4, IndirectElem 8.
_BUCKET_INDIRECT = (1, 2)
_SWISS_INDIRECT = (4, 8)
# src/runtime/map.go: tophash values below minTopHash mark empty or evacuated slots.
_MIN_TOP_HASH = 5
_BUCKET_SLOTS = 8
# src/internal/runtime/maps/group.go: a control byte with the high bit clear is a full slot.
_SWISS_SLOTS = 8


class BadValue(GoCoreError):
    """A value cannot be read as its type says (damaged header, unknown layout)."""


class Types:
    """What the Values of one process share: the process, its type registry and lookups."""

    def __init__(self, gp: GoProcess, registry: TypeRegistry):
        self.gp = gp
        self.registry = registry
        self.table = registry.table
        self.proc = gp.process
        self.ptr = gp.process.ptr_size

    def value(self, tid: int, address: int) -> Value:
        """Return the Value of type ``tid`` at ``address``."""
        return Value(self, tid, address)

    def lookup(self, type_name: str) -> int | None:
        """Return the id of the type spelled ``type_name`` (Go spelling), or None."""
        t = self.table.lookup(type_name)
        if t is not None:
            return t.id
        # DWARF names types with full import paths, the runtime with package names: fall
        # back to the display spelling (built once; the registry only grows by appending)
        names = self.__dict__.get("_display")
        if names is None or names[1] != len(self.table):
            d: dict[str, int] = {}
            for t in self.table:
                d.setdefault(self.registry.display_name(t.id), t.id)
            names = self.__dict__["_display"] = (d, len(self.table))
        return names[0].get(type_name)

    def runtime_type(self, t: Type):
        """Return the runtime type descriptor (rtype.RuntimeType) of ``t``, or None."""
        if not t.rtype_off:
            return None
        rts = self.registry.rts
        return rts.try_get(rts.types_base + t.rtype_off)


class Value:
    """A Go value of a known type at an address of the dump, read on access.

    Reads of memory the dump lacks raise ``core.UnmappedAddress``; a header that cannot be
    what its type says (a negative length, an unknown map layout) raises ``BadValue``; both
    are ``gocore.Error``. Asking a kind for what it has not (``get()`` of a struct, ``v[0]``
    of an int) raises TypeError; an index out of range IndexError; a missing field KeyError.
    """

    __slots__ = ("_types", "type_id", "address")

    def __init__(self, types: Types, type_id: int, address: int):
        self._types = types
        self.type_id = type_id
        self.address = address

    # ---- what it is ----

    @property
    def _t(self) -> Type:
        return self._types.table[self.type_id]

    @property
    def type_name(self) -> str:
        """Return the Go spelling of the value's type (``main.Order``, ``[]string``)."""
        return self._types.registry.display_name(self.type_id)

    @property
    def kind(self) -> str:
        """Return the type's kind: ``int``, ``uint``, ``string``, ``slice``, ``struct``, ``ptr``,
        ``map``, ``iface`` (non-empty interface), ``eface`` (``any``) ... (``gotypes.Kind``)."""
        return self._t.kind.value

    @property
    def key_type(self) -> str | None:
        """Return a map's key type (Go spelling), or None for other kinds or when unknown."""
        t = self._t
        return self._types.registry.display_name(t.key) if t.kind is Kind.MAP and t.key is not None else None

    @property
    def elem_type(self) -> str | None:
        """Return the element type (Go spelling) of a pointer, slice, array, chan or map
        (its value type), or None for other kinds or when unknown."""
        t = self._t
        if t.elem is None or t.kind not in (Kind.PTR, Kind.SLICE, Kind.ARRAY, Kind.CHAN, Kind.MAP):
            return None
        return self._types.registry.display_name(t.elem)

    @property
    def size(self) -> int:
        """Return the size in bytes of a value of this type."""
        return self._t.size

    def __repr__(self) -> str:
        return f"<Value {self.type_name} at {self.address:#x}>"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Value) and other._types is self._types
                and other.type_id == self.type_id and other.address == self.address)

    def __hash__(self) -> int:
        return hash((self.type_id, self.address))

    # ---- scalars ----

    def get(self) -> int | float | bool | complex | str | bytes | None:
        """Return the value as Python data: int (integers; pointers, maps, channels and funcs
        as their address), float, bool, complex, str (a Go string, undecodable bytes kept as
        surrogate escapes), bytes (a ``[]byte``), None (a nil pointer, map, chan, func or
        interface). A non-nil interface answers with its dynamic value's ``get()``.

        Raises TypeError for structs, arrays and other slices (walk them with ``v[...]``).
        """
        t = self._t
        k = t.kind
        proc = self._types.proc
        a = self.address
        if k is Kind.BOOL:
            return proc.read(a, 1) != b"\x00"
        if k in (Kind.INT, Kind.UINT, Kind.UINTPTR):
            if t.size not in (1, 2, 4, 8):
                raise BadValue(f"{self.type_name}: integer of {t.size} bytes")
            return int.from_bytes(proc.read(a, t.size), proc.byte_order, signed=k is Kind.INT)
        if k is Kind.FLOAT:
            return _unpack_floats(proc, a, t.size, 1)[0]
        if k is Kind.COMPLEX:
            re, im = _unpack_floats(proc, a, t.size // 2, 2)
            return complex(re, im)
        if k in _POINTERS:
            p = proc.read_ptr(a)
            return p or None
        if k is Kind.STRING:
            data, n = self._words(2)
            return self._bytes(data, n).decode("utf-8", "surrogateescape")
        if k is Kind.SLICE and self._is_byte_slice():
            data, n = self._words(2)
            return self._bytes(data, n)
        if k in (Kind.IFACE, Kind.EFACE):
            d = self.dynamic()
            return None if d is None else d.get()
        raise TypeError(f"{self.type_name} ({k.value}) has no scalar value: use v[...], len(v)")

    def _words(self, n: int) -> tuple[int, ...]:
        proc, ptr = self._types.proc, self._types.ptr
        return tuple(proc.read_ptr(self.address + i * ptr) for i in range(n))

    def _bytes(self, data: int, n: int) -> bytes:
        if n == 0:
            return b""
        if n > MAX_BYTES:
            raise BadValue(f"{self.type_name} at {self.address:#x}: length {n} is past "
                              f"what gocore reads ({MAX_BYTES} bytes)")
        return self._types.proc.read(data, n)

    def _is_byte_slice(self) -> bool:
        t = self._t
        if t.elem is None:
            return False
        e = self._types.table[t.elem]
        return e.kind is Kind.UINT and e.size == 1

    # ---- structs, arrays, slices ----

    def fields(self) -> list[str]:
        """Return the struct's field names in declaration order ([] for other kinds)."""
        return [f.name for f in self._t.fields] if self._t.kind is Kind.STRUCT else []

    def __getitem__(self, key: str | int) -> Value:
        """Return a struct field (``v["Name"]``; through a pointer to a struct too, as Go's
        ``p.Name``) or an array or slice element (``v[i]``, negative counts from the end)."""
        if isinstance(key, str):
            return self._field(key)
        if isinstance(key, int):
            return self._element(key)
        raise TypeError(f"a Value is indexed by a field name or an int, not {type(key).__name__}")

    def _field(self, name: str) -> Value:
        t = self._t
        if t.kind is Kind.PTR and t.elem is not None and self._types.table[t.elem].kind is Kind.STRUCT:
            target = self.deref()
            if target is None:
                raise BadValue(f"{self.type_name} at {self.address:#x} is nil: no field {name!r}")
            return target._field(name)
        if t.kind is not Kind.STRUCT:
            raise TypeError(f"{self.type_name} ({t.kind.value}) has no fields")
        f = t.field(name)
        if f is None:
            raise KeyError(f"{self.type_name} has no field {name!r} (fields: "
                           f"{', '.join(self.fields())})")
        return Value(self._types, f.type, self.address + f.offset)

    def __len__(self) -> int:
        """Return the length of an array, slice or string, or the entry count of a map."""
        t = self._t
        if t.kind is Kind.ARRAY:
            return t.len or 0
        if t.kind in (Kind.SLICE, Kind.STRING):
            n = self._types.proc.read_ptr(self.address + self._types.ptr)
            if n >= 1 << 62:   # a negative Go int: the header is damaged
                raise BadValue(f"{self.type_name} at {self.address:#x}: length {n:#x}")
            return n
        if t.kind is Kind.MAP:
            return _map_len(self)
        raise TypeError(f"{self.type_name} ({t.kind.value}) has no length")

    def _element(self, i: int) -> Value:
        t = self._t
        if t.kind not in (Kind.ARRAY, Kind.SLICE) or t.elem is None:
            raise TypeError(f"{self.type_name} ({t.kind.value}) is not an array or slice")
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:   # numpy-style wrap-around would answer for another element
            raise IndexError(f"index {i} out of range [0, {n}) of {self.type_name}")
        es = self._types.table[t.elem].size
        base = self.address if t.kind is Kind.ARRAY else self._types.proc.read_ptr(self.address)
        return Value(self._types, t.elem, base + i * es)

    def __iter__(self) -> Iterator[Value]:
        """Iterate an array's or slice's elements (maps: use ``items()``)."""
        if self._t.kind is Kind.MAP:
            raise TypeError("iterate a map with v.items()")
        for i in range(len(self)):
            yield self._element(i)

    # ---- pointers, interfaces, maps ----

    def deref(self) -> Value | None:
        """Return the pointee of a pointer (None when nil); raises TypeError for other kinds
        and when the pointee's type is unknown (``unsafe.Pointer``)."""
        t = self._t
        if t.kind is not Kind.PTR or t.elem is None:
            raise TypeError(f"{self.type_name} ({t.kind.value}) is not a typed pointer")
        p = self._types.proc.read_ptr(self.address)
        return Value(self._types, t.elem, p) if p else None

    def pointer(self) -> int | None:
        """Return the address the value points at (pointer, map, chan, func: its word; slice,
        string: the data; interface: the data word), or None for nil or other kinds."""
        k = self._t.kind
        proc = self._types.proc
        if k in _POINTERS or k in (Kind.SLICE, Kind.STRING):
            return proc.read_ptr(self.address) or None
        if k in (Kind.IFACE, Kind.EFACE):
            return proc.read_ptr(self.address + self._types.ptr) or None
        return None

    @property
    def object(self) -> Object | None:
        """Return the live heap Object the value points into (see ``pointer()``), or None.
        Builds the heap index on first use."""
        p = self.pointer()
        if p is None:
            return None
        from .objects import object_at
        return object_at(self._types.gp, p)

    def dynamic(self) -> Value | None:
        """Return an interface's concrete value, typed from the runtime type descriptor its
        type word (``any``) or itab names; None when the interface is nil or the descriptor
        unreadable. A pointer-shaped concrete type is the data word itself; any other is
        stored where the data word points (runtime ``kindDirectIface``)."""
        t = self._t
        if t.kind not in (Kind.IFACE, Kind.EFACE):
            raise TypeError(f"{self.type_name} ({t.kind.value}) is not an interface")
        types = self._types
        proc, ptr = types.proc, types.ptr
        word = proc.read_ptr(self.address)
        if not word:
            return None
        if t.kind is Kind.IFACE:   # the itab names the concrete type
            word = proc.read_ptr(word + types.gp.layout.offset("runtime.itab", "_type"))
        tid = types.registry.of_rtype(word)
        rt = types.registry.rts.try_get(word)
        if tid < 0 or rt is None:
            return None
        if rt.direct_iface:
            return Value(types, tid, self.address + ptr)
        data = proc.read_ptr(self.address + ptr)
        return Value(types, tid, data) if data else None

    def items(self) -> Iterator[tuple[Value, Value]]:
        """Iterate a map's (key, value) pairs, in storage order (Go's ``range`` order is
        random anyway). Both runtime layouts: hash buckets (Go up to 1.23) and swiss tables
        (1.24+, the split group of 1.27 too)."""
        if self._t.kind is not Kind.MAP:
            raise TypeError(f"{self.type_name} ({self._t.kind.value}) is not a map")
        return _map_items(self)


def _unpack_floats(proc, addr: int, size: int, n: int) -> tuple[float, ...]:
    if size not in (4, 8):
        raise BadValue(f"float of {size} bytes at {addr:#x}")
    order = "<" if proc.byte_order == "little" else ">"
    return struct.unpack(f"{order}{n}{'d' if size == 8 else 'f'}", proc.read(addr, n * size))


# ---- maps ----

class _MapShape:
    """Where a map's keys and elements sit, from its type descriptor."""

    def __init__(self, v: Value):
        types = v._types
        t = v._t
        if t.key is None or t.elem is None:
            raise BadValue(f"{v.type_name}: key or element type unknown")
        self.key, self.elem = t.key, t.elem
        rt = types.runtime_type(t)
        if rt is None:
            raise BadValue(f"{v.type_name}: no runtime type descriptor, map layout unknown")
        self.extra = rt.extra
        self.layout = types.registry.rts.abi.map_layout   # bucket | swiss | split
        flags = rt.extra.get("flags", 0)
        ik, ie = _BUCKET_INDIRECT if self.layout == "bucket" else _SWISS_INDIRECT
        self.indirect_key = bool(flags & ik)
        self.indirect_elem = bool(flags & ie)


def _map_header(v: Value) -> int | None:
    return v._types.proc.read_ptr(v.address) or None


def _map_len(v: Value) -> int:
    h = _map_header(v)
    if h is None:
        return 0
    types = v._types
    lay = types.gp.layout
    if types.registry.rts.abi.map_layout == "bucket":
        return types.proc.read_uint(h + lay.offset("runtime.hmap", "count"), types.ptr)
    return types.proc.read_uint(h + lay.offset("internal/runtime/maps.Map", "used"), 8)


def _map_items(v: Value) -> Iterator[tuple[Value, Value]]:
    h = _map_header(v)
    if h is None:
        return
    shape = _MapShape(v)
    slots = _bucket_slots(v, h, shape) if shape.layout == "bucket" else _swiss_slots(v, h, shape)
    types = v._types
    for n, (ka, ea) in enumerate(slots):
        if n >= MAX_MAP_ENTRIES:
            raise BadValue(f"{v.type_name} at {v.address:#x}: more than {MAX_MAP_ENTRIES} entries")
        if shape.indirect_key:
            ka = types.proc.read_ptr(ka)
        if shape.indirect_elem:
            ea = types.proc.read_ptr(ea)
        yield Value(types, shape.key, ka), Value(types, shape.elem, ea)


def _bucket_slots(v: Value, h: int, shape: _MapShape) -> Iterator[tuple[int, int]]:
    """Yield (key address, elem address) of the full slots of a ``runtime.hmap``: its
    buckets and, while it grows, the old buckets not yet evacuated (src/runtime/map.go:
    evacuation marks every moved slot's tophash evacuatedX/Y/Empty, below minTopHash, so
    each entry is full in exactly one place)."""
    types = v._types
    proc, ptr = types.proc, types.ptr
    lay = types.gp.layout
    off = lambda f: lay.offset("runtime.hmap", f)  # noqa: E731
    b = proc.read_uint(h + off("B"), 1)
    if b > 40:
        raise BadValue(f"{v.type_name} at {v.address:#x}: hmap.B is {b}")
    ks = types.table[shape.key].size if not shape.indirect_key else ptr
    es = types.table[shape.elem].size if not shape.indirect_elem else ptr
    bsize = shape.extra.get("bucket_size") or (_BUCKET_SLOTS * (1 + ks + es) + ptr)
    keys, elems = _BUCKET_SLOTS, _BUCKET_SLOTS * (1 + ks)
    for arr, count in ((proc.read_ptr(h + off("buckets")), 1 << b),
                       (proc.read_ptr(h + off("oldbuckets")), 1 << max(b - 1, 0))):
        if not arr:
            continue
        for i in range(count):
            bucket = arr + i * bsize
            for _ in range(1 << 20):                  # the overflow chain; bounded
                top = proc.read(bucket, _BUCKET_SLOTS)
                for s in range(_BUCKET_SLOTS):
                    if top[s] >= _MIN_TOP_HASH:
                        yield bucket + keys + s * ks, bucket + elems + s * es
                bucket = proc.read_ptr(bucket + bsize - ptr)
                if not bucket:
                    break


def _swiss_slots(v: Value, h: int, shape: _MapShape) -> Iterator[tuple[int, int]]:
    """Yield (key address, elem address) of the full slots of an ``internal/runtime/maps.Map``:
    one group when ``dirLen`` is 0 (a small map), else every distinct table of the directory
    and every group of each (src/internal/runtime/maps/map.go, table.go, group.go)."""
    types = v._types
    proc, ptr = types.proc, types.ptr
    lay = types.gp.layout
    m = lambda f: lay.offset("internal/runtime/maps.Map", f)  # noqa: E731
    tb = lambda f: lay.offset("internal/runtime/maps.table", f)  # noqa: E731
    x = shape.extra
    if shape.layout == "split":
        key_at = lambda g, s: g + x["keys_off"] + s * x["key_stride"]  # noqa: E731
        elem_at = lambda g, s: g + x["elems_off"] + s * x["elem_stride"]  # noqa: E731
    else:
        key_at = lambda g, s: g + 8 + s * x["slot_size"]  # noqa: E731
        elem_at = lambda g, s: g + 8 + s * x["slot_size"] + x["elem_off"]  # noqa: E731
    gsize = x["group_size"]

    def group(g: int) -> Iterator[tuple[int, int]]:
        ctrl = proc.read(g, _SWISS_SLOTS)
        for s in range(_SWISS_SLOTS):
            if ctrl[s] & 0x80 == 0:
                yield key_at(g, s), elem_at(g, s)

    d = proc.read_ptr(h + m("dirPtr"))
    dir_len = proc.read_uint(h + m("dirLen"), ptr)
    if not d:
        return
    if dir_len == 0:
        yield from group(d)
        return
    if dir_len > 1 << 24:
        raise BadValue(f"{v.type_name} at {v.address:#x}: directory of {dir_len} tables")
    seen = set()
    for i in range(dir_len):
        t = proc.read_ptr(d + i * ptr)
        if not t or t in seen:
            continue
        seen.add(t)
        groups = proc.read_ptr(t + tb("groups.data"))
        mask = proc.read_uint(t + tb("groups.lengthMask"), 8)
        if mask >= 1 << 24:
            raise BadValue(f"{v.type_name} at {v.address:#x}: table of {mask + 1} groups")
        for gi in range(mask + 1):
            yield from group(groups + gi * gsize)
