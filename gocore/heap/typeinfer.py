"""Types for heap objects: from malloc headers and by spreading types along typed pointers.

Objects are parallel arrays (``addr`` slot starts, ``size`` slot sizes, sorted by address).
Three sources give an object a type id (an index into a ``gotypes.TypeTable``); any object
none reaches stays ``UNKNOWN`` (-1): we never guess.

(a) The runtime's own record (Go 1.22+, ``facts.malloc_headers``; src/runtime/mbitmap.go
    ``heapBitsInSpan``, src/runtime/malloc.go ``mallocgc``): a small object of a scan span
    whose slot is larger than ``minSizeForMallocHeader`` (512 bytes on 64-bit) starts with an
    8-byte header holding its ``*_type``, and the user's data follows it; a large object's
    type is ``mspan.largeType``. The type is that of one element: the runtime repeats it over
    the allocation, so an object of N elements becomes ``[N]T`` (N = payload / elem size).
(b) Propagation from typed roots: a BFS, one frontier at a time, grouped by type so each
    step is a vectorised gather. Pointers give their element type, slices their backing
    array (``[N]T``, N = slot payload / elem size), strings ``[N]uint8``, interfaces the
    dynamic type named by their type word (eface) or itab (iface), channels their hchan
    (only when it is one of ``makechan``'s shapes, ``gocore.heap.chans``) and the hchan its
    buffer ``[N]T`` from ``elemtype``, func values their closure context (``ClosureTypes``:
    DWARF's layout, a method value's receiver, or the function's name alone),
    ``sync/atomic.Pointer[T]`` its ``*T``, Go 1.19's ``sync.entry.p`` its boxed
    ``interface{}`` and a Go 1.24+ ``internal/sync.indirect``'s children the entry or
    indirect node their ``isEntry`` byte names. Only pointers to an object's start are followed
    (interior pointers say nothing certain about the object), except string bytes inside a
    16-byte tiny block.
(c) What untyped memory states in the runtime's words, once (a) and (b) have spread
    (``seeds``, ``gocore.heap.typeseeds``): interfaces in data/bss, frames and untyped objects,
    hchans, finalizer records; what they type spreads as in (b).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .allocsites import closure_sites
from .chans import Channels, is_hchan_name
from ..errors import GoCoreError
from ..binary.gotypes import Field, Kind, TypeTable
from ..binary.rtype import INTERFACE as INTERFACE_KIND
from ..binary.rtype import MAP as MAP_KIND
from ..binary.rtype import STRUCT as STRUCT_KIND
from ..binary.rtype import POINTER, TFLAG_EXTRA_STAR, RuntimeType, RuntimeTypes, runtime_types

if TYPE_CHECKING:
    from .edges import Edges
    from core import Process

    from ..binary.dwarf import DwarfData
    from ..binary.facts import Facts
    from ..binary.pclntab import Pclntab
    from ..process import GoProcess

log = logging.getLogger(__name__)

UNKNOWN = -1
MALLOC_HEADER_SIZE = 8     # runtime.mallocHeaderSize (goarch.PtrSize)
MIN_SIZE_FOR_MALLOC_HEADER = 512  # runtime.minSizeForMallocHeader = goarch.PtrSize * ptrBits
MAX_SMALL_SIZE = 32768     # runtime.maxSmallSize (_MaxSmallSize)
MAX_SLOTS = 1 << 16        # beyond this many pointer slots an array type is walked by stride
SIZED_KEYS = 1 << 12    # (element type, length) pairs _sized_types' first table holds
CHUNK_WORDS = 1 << 18      # slot words one step of a typing round reads (bounds its temporaries)

ReadWords = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


# malloc-header words read between two releases of the dump's pages: one header per page
# or more, and each fault maps the 64 KiB around it (the kernel's fault-around), so 1,024
# headers make up to 64 MiB resident (6,675 headers of a 20 M-object heap made 415 MiB)
HEADER_CHUNK = 1 << 10


class RecordedTypes(NamedTuple):
    """The objects whose ``*_type`` the runtime recorded (``header_type_addresses``)."""

    ids: np.ndarray     # int64 object ids, ascending
    types: np.ndarray   # uint64 run-time address of each one's type
    large: np.ndarray   # bool: a large object (mspan.largeType, no header in its slot)


def header_type_addresses(proc: Process, addrs: np.ndarray, sizes: np.ndarray, facts: Facts, *,
                          noscan: np.ndarray | None = None,
                          large_type: np.ndarray | None = None,
                          valid: Callable[[np.ndarray], np.ndarray] | None = None,
                          large: np.ndarray | None = None) -> RecordedTypes:
    """Return the objects whose ``*_type`` the runtime recorded, in ascending id order, with
    the run-time address of that type. Sparse: a few thousand of 20 M objects have one,
    and a per-object array of them (160 MB) cost its memory and the faults of its
    scattered first writes.

    ``addrs``/``sizes`` are slot starts and slot sizes (span elemsize). Small objects of a
    scan span with a slot over 512 bytes carry a malloc header at the slot start; pass
    ``noscan`` (per object, from the span class) when known, otherwise every candidate word
    must pass ``valid`` (default: inside the module's type section and 8-aligned). Large
    objects take ``large_type`` when given: ``mspan.largeType`` of each large object, in id
    order (0 for none). ``large`` (per object: its span's size class is 0) says which
    objects are large; without it, slots over 32 KiB are (a 32 KiB slot may be either: a
    32760-byte object with a header in size class 67, or a large object of 4 pages). Before
    Go 1.22 (``facts.malloc_headers`` false) there are none.
    """
    addrs = np.asarray(addrs, dtype=np.uint64)
    if not facts.malloc_headers or not len(addrs):
        return RecordedTypes(np.zeros(0, np.int64), np.zeros(0, np.uint64), np.zeros(0, bool))
    big = sizes > MAX_SMALL_SIZE if large is None else np.asarray(large, dtype=bool)
    small = (sizes > MIN_SIZE_FOR_MALLOC_HEADER) & ~big
    if noscan is not None:
        small &= ~np.asarray(noscan, dtype=bool)
    if noscan is None and valid is None:
        raise ValueError("header_type_addresses needs noscan or valid")
    ids = np.flatnonzero(small)
    types = np.zeros(len(ids), dtype=np.uint64)
    for lo in range(0, len(ids), HEADER_CHUNK):
        words, ok = proc.gather.words(addrs[ids[lo:lo + HEADER_CHUNK]])
        words[~ok] = 0
        if valid is not None:
            words[~valid(words)] = 0
        types[lo:lo + HEADER_CHUNK] = words
        proc.release_resident()   # a few microseconds: madvise on the dump's mappings
    is_large = np.zeros(len(ids), dtype=bool)
    if large_type is not None:
        big_ids = np.flatnonzero(big)
        ids = np.concatenate([ids, big_ids])
        types = np.concatenate([types, np.asarray(large_type, dtype=np.uint64)])
        is_large = np.concatenate([is_large, np.ones(len(big_ids), dtype=bool)])
        order = np.argsort(ids, kind="stable")
        ids, types, is_large = ids[order], types[order], is_large[order]
    keep = types != 0
    return RecordedTypes(ids[keep], types[keep], is_large[keep])


def type_section_check(rts: RuntimeTypes) -> Callable[[np.ndarray], np.ndarray]:
    """Return a vectorised test "is this word a plausible type descriptor address"."""
    lo, hi = np.uint64(rts.types_base), np.uint64(rts.types_end)

    def valid(w: np.ndarray) -> np.ndarray:
        return (w >= lo) & (w < hi) & (w % np.uint64(8) == 0)
    return valid


# ---- one type table for DWARF and runtime types ----

class TypeRegistry:
    """A TypeTable holding the DWARF types (if any) plus the runtime types we meet.

    ``of_rtype(addr)`` returns the id of a runtime type (the DWARF one when DWARF names it,
    else a type built from the descriptor); ``array_of(elem, n)`` the id of ``[n]elem``.
    """

    def __init__(self, rts: RuntimeTypes, dwarf_types: TypeTable | None = None):
        self._rts: RuntimeTypes | Callable[[], RuntimeTypes] = rts
        self.ptr_size = rts.abi.ptr
        if dwarf_types is not None:
            self.table = TypeTable(dwarf_types.ptr_size, list(dwarf_types.types))
        else:
            self.table = TypeTable(self.ptr_size)
        self._init_state()

    @classmethod
    def restore(cls, table: TypeTable, prefix_types: set[int],
                runtime_types: Callable[[], RuntimeTypes], layout: Callable[[], object]) -> TypeRegistry:
        """Return a registry over a table read back from a kept index; the runtime types
        and layout are read (``runtime_types()``, ``layout()``) only when a lookup needs them."""
        reg = cls.__new__(cls)
        reg._rts = runtime_types
        reg.ptr_size = table.ptr_size
        reg.table = table
        reg._init_state()
        reg._layout_of = layout
        reg.prefix_types = set(prefix_types)
        return reg

    @property
    def layout(self):
        """Return the runtime Layout (runtime structs DWARF lacks), or None when not set."""
        if self._layout is None and self._layout_of is not None:
            self._layout = self._layout_of()
        return self._layout

    @layout.setter
    def layout(self, value) -> None:
        self._layout = value

    @property
    def rts(self) -> RuntimeTypes:
        """Return the program's runtime type descriptors."""
        if callable(self._rts):
            self._rts = self._rts()
        return self._rts

    def _init_state(self) -> None:
        self.table.index()
        self._by_rt: dict[int, int] = {}
        self._arrays: dict[tuple[int, int], int] = {}
        self._uint8: int | None = None
        self._hchan: int | None = None
        self._building: dict[str, int] = {}   # runtime structs being built (self-references)
        self._layout = None            # the runtime Layout: runtime structs DWARF lacks
        self._layout_of: Callable[[], object] | None = None
        # types that describe only the start of an object (a closure known by its function
        # alone): they type an object whatever its size
        self.prefix_types: set[int] = set()

    def _add(self, name: str, kind: Kind, size: int, **kw) -> int:
        t = self.table.add(name, kind, size, **kw)
        self.table._by_name.setdefault(name, t.id)
        if t.rtype_off:
            self.table._by_rtype.setdefault(t.rtype_off, t.id)
        return t.id

    def of_rtype(self, addr: int) -> int:
        """Return the type id of the runtime type at ``addr`` (UNKNOWN if unreadable)."""
        if not addr:
            return UNKNOWN
        got = self._by_rt.get(addr)
        if got is not None:
            return got
        off = addr - self.rts.types_base
        t = self.table.by_rtype_off(off)
        if t is not None and t.kind is not Kind.VOID:
            self._by_rt[addr] = t.id
            return t.id
        rt = self.rts.try_get(addr)
        if rt is None:
            self._by_rt[addr] = UNKNOWN
            return UNKNOWN
        tid = self._add(self.rts.qualified_name(rt), rt.go_kind, rt.size, rtype_off=off,
                        len=rt.len)
        self._by_rt[addr] = tid
        t = self.table[tid]
        # fill references after registering (recursive types)
        if rt.elem:
            t.elem = self.of_rtype(rt.elem)
            if t.elem == UNKNOWN:
                t.elem = None
        if rt.key:
            k = self.of_rtype(rt.key)
            t.key = None if k == UNKNOWN else k
        if rt.fields:
            from ..binary.gotypes import Field
            fs = []
            for f in rt.fields:
                ft = self.of_rtype(f.type)
                if ft == UNKNOWN:
                    fs = None
                    break
                fs.append(Field(f.name, f.offset, ft, f.embedded))
            t.fields = tuple(fs) if fs is not None else ()
        self.table._ptr_cache.clear()
        return tid

    def display_name(self, tid: int) -> str:
        """Return the Go spelling of type ``tid`` for people and JSON (see ``go_spelling``)."""
        cache = self.__dict__.setdefault("_display", {})
        got = cache.get(tid)
        if got is None:
            got = go_spelling(self.table[tid].name)
            cache[tid] = got
        return got

    def runtime_type(self, tid: int) -> RuntimeType | None:
        """Return the runtime descriptor behind type id ``tid``, or None."""
        off = self.table[tid].rtype_off
        return self.rts.try_get(self.rts.types_base + off) if off else None

    def uint8(self) -> int:
        """Return the id of ``uint8``."""
        if self._uint8 is None:
            t = self.table.lookup("uint8")
            self._uint8 = t.id if t is not None else self._add("uint8", Kind.UINT, 1)
        return self._uint8

    def empty_interface(self) -> int:
        """Return the id of ``interface {}`` (DWARF's, else made: two words, an eface)."""
        t = self.table.lookup("interface {}")
        if t is not None and t.kind is Kind.EFACE:
            return t.id
        return self._add("interface {}", Kind.EFACE, 2 * self.ptr_size)

    def hchan_type(self) -> int:
        """Return the id of ``runtime.hchan``: DWARF's, else built from the runtime layout
        (UNKNOWN without either)."""
        if self._hchan is None:
            self._hchan = UNKNOWN if self.layout is None else \
                _named_type(self, self.layout, "runtime.hchan")
        return self._hchan

    def array_of(self, elem: int, n: int) -> int:
        """Return the id of ``[n]elem`` (made on first use)."""
        key = (elem, n)
        got = self._arrays.get(key)
        if got is None:
            e = self.table[elem]
            name = f"[{n}]{e.name}"
            t = self.table.lookup(name)
            if t is not None and t.kind is Kind.ARRAY and t.elem == elem and t.len == n:
                got = t.id
            else:
                got = self._add(name, Kind.ARRAY, n * e.size, elem=elem, len=n)
            self._arrays[key] = got
        return got


# ---- names ----

# DWARF's synthesized map/chan structs (cmd/link/internal/ld/dwarf.go) -> the runtime type the
# runtime allocates them with; ``bucket<K,V>`` is the bucket descriptor ``map.bucket[K]V``.
_SYNTH = {"hash": "runtime.hmap", "map": "internal/runtime/maps.Map",
          "table": "internal/runtime/maps.table",
          "groupReference": "internal/runtime/maps.groupsReference",
          "hchan": "runtime.hchan", "waitq": "runtime.waitq", "sudog": "runtime.sudog"}


def go_spelling(name: str) -> str:
    """Return a type name as Go spells it.

    Drops the compiler's ``noalg.`` marker (``noalg.map.group[string]*main.Item`` is the
    runtime's ``map.group[string]*main.Item``) and renames DWARF's synthesized
    ``hash<K,V>``, ``bucket<K,V>``, ``map<K,V>``, ``table<K,V>``, ``hchan<T>`` structs after
    the runtime types they stand for, wherever they occur in ``name`` (``[4]*table<K,V>``).
    """
    name = name.replace("noalg.", "")
    if "<" not in name:
        return name
    out = []
    i = 0
    n = len(name)
    while i < n:
        j = name.find("<", i)
        if j < 0:
            out.append(name[i:])
            break
        k = j
        while k > i and (name[k - 1].isalnum() or name[k - 1] == "_"):
            k -= 1
        word = name[k:j]
        depth, e = 0, j
        while e < n:
            if name[e] == "<":
                depth += 1
            elif name[e] == ">":
                depth -= 1
                if depth == 0:
                    break
            e += 1
        inner = name[j + 1:e]
        out.append(name[i:k])
        if word == "bucket":
            parts = _split_top(inner)
            if len(parts) == 2:
                out.append(f"map.bucket[{go_spelling(parts[0])}]{go_spelling(parts[1])}")
            else:
                out.append(name[k:e + 1])
        elif word in _SYNTH:
            out.append(_SYNTH[word])
        else:
            out.append(name[k:e + 1])
        i = e + 1
    return "".join(out)


def _split_top(s: str) -> list[str]:
    """Split ``s`` at commas outside brackets and braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "[(<{":
            depth += 1
        elif ch in "])>}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


# ---- slots: what a typed value's words say about other objects ----

# slot actions. SLICE also serves pointers that point at arrays (map bucket/group arrays);
# SWISS_DIR is ``internal/runtime/maps.Map.dirPtr``: a directory of tables, or one group
# when ``dirLen`` is 0 (src/internal/runtime/maps/map.go).
# FUNCVAL is a func value: a pointer to a funcval whose first word is the closure function's
# entry pc; the context's type comes from that function (``ClosureTypes``).
# MAP is a map value whose type names no DWARF map struct (types from runtime descriptors:
# stripped binaries): a pointer to the runtime's map header, followed by ``MapInternals``
# with the map descriptor's group/bucket type (target: the map type).
# HMAP_EXTRA is DWARF's ``hash<K,V>.extra``: the overflow buckets kept by ``mapextra``
# (target: the bucket type).
# CHAN is a pointer to an hchan (a ``chan T`` value, ``*hchan``): the object is typed only when
# it is an hchan as makechan made it (gocore/heap/chans.py); CHAN_BUF is ``hchan.buf``: the buffer
# object, ``[N]T`` with T from the hchan's ``elemtype`` (target: the hchan type).
# TRIE_NODE is a child of Go 1.24+'s ``internal/sync.indirect[K,V]`` (a ``*node[K,V]``): an
# ``entry[K,V]`` or an ``indirect[K,V]`` as its ``isEntry`` byte says (target: the indirect type).
SLOT_PTR, SLICE, STRING, EFACE, IFACE, SWISS_DIR, FUNCVAL, MAP, HMAP_EXTRA, CHAN, CHAN_BUF, \
    TRIE_NODE = range(12)
# slot kinds whose reading only assigns (it reads no type state between its assignments),
# so a round may read them in chunks and assign afterwards
_CHUNKED = frozenset({SLOT_PTR, SLICE, STRING})

# The runtime never allocates a ``runtime.bmap``: it is the bucket header the runtime casts
# every bucket to (src/runtime/map.go); buckets are allocated with the map's bucket type.
# A ``*runtime.bmap`` says nothing about the type of what it points at.
_PLACEHOLDERS = frozenset({"runtime.bmap"})

# DWARF's map structs (cmd/link/internal/ld/dwarf.go synthesizes them): pointer fields that
# point at arrays of their element, not at one element.
_ARRAY_POINTERS = {"hash<": ("buckets", "oldbuckets"), "groupReference<": ("data",)}


@dataclass(frozen=True)
class _Slots:
    off: np.ndarray     # int64 byte offsets in the value
    act: np.ndarray     # int8 action
    tgt: np.ndarray     # int32 target type id (SLOT_PTR: pointee; SLICE: elem; else unused)


def _slots(reg: TypeRegistry, tid: int, cache: dict) -> _Slots:
    got = cache.get(tid)
    if got is not None:
        return got
    offs: list[np.ndarray] = []
    acts: list[np.ndarray] = []
    tgts: list[np.ndarray] = []

    def one(o: int, a: int, t: int) -> None:
        offs.append(np.array([o], np.int64))
        acts.append(np.array([a], np.int8))
        tgts.append(np.array([t], np.int32))

    t = reg.table[tid]
    k = t.kind
    cache[tid] = _Slots(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.int32))
    if k is Kind.PTR:
        if t.elem is not None and is_hchan_name(reg.table[t.elem].name):
            one(0, CHAN, t.elem)
        elif t.elem is not None and reg.table[t.elem].name not in _PLACEHOLDERS:
            one(0, SLOT_PTR, t.elem)
    elif k is Kind.MAP:
        if t.target is not None:
            one(0, SLOT_PTR, t.target)
        else:
            one(0, MAP, tid)
    elif k is Kind.CHAN:
        hchan = t.target if t.target is not None else reg.hchan_type()
        if hchan != UNKNOWN:
            one(0, CHAN, hchan)
    elif k is Kind.FUNC:
        one(0, FUNCVAL, UNKNOWN)
    elif k is Kind.SLICE:
        if t.elem is not None:
            one(0, SLICE, t.elem)
    elif k is Kind.STRING:
        one(0, STRING, reg.uint8())
    elif k is Kind.EFACE:
        one(0, EFACE, UNKNOWN)
    elif k is Kind.IFACE:
        one(0, IFACE, UNKNOWN)
    elif k is Kind.STRUCT:
        arrays = next((v for p, v in _ARRAY_POINTERS.items() if t.name.startswith(p)), ())
        swiss = t.name.startswith("map<") and t.field("dirPtr") is not None \
            and t.field("dirLen") is not None
        # a bucket type from a map descriptor: ``overflow`` is an unsafe.Pointer to the next
        # bucket of the same type (uintptr when keys and elems hold no pointers: then the
        # map's mapextra keeps them; cmd/compile/internal/reflectdata MapBucketType)
        bucket = t.name.replace("noalg.", "").startswith("map.bucket[")
        hchan = is_hchan_name(t.name)
        atomic_elem = _atomic_pointer_elem(reg.table, t)
        boxed_any = _sync_entry_any(reg.table, t)
        trie_node = _trie_node(reg.table, t)
        for f in t.fields:
            ft = reg.table[f.type]
            if hchan and f.name == "buf":
                one(f.offset, CHAN_BUF, tid)
                continue
            if boxed_any and f.name == "p":
                one(f.offset, SLOT_PTR, reg.empty_interface())
                continue
            if atomic_elem is not None and f.name == "v" and ft.kind is Kind.UNSAFE_PTR:
                one(f.offset, SLOT_PTR, atomic_elem)
                continue
            if f.name in arrays and ft.kind is Kind.PTR and ft.elem is not None:
                one(f.offset, SLICE, ft.elem)
                continue
            if swiss and f.name == "dirPtr":
                one(f.offset, SWISS_DIR, tid)
                continue
            if bucket and f.name == "overflow" and ft.kind is Kind.UNSAFE_PTR:
                one(f.offset, SLOT_PTR, tid)
                continue
            if f.name == "extra" and t.name.startswith("hash<"):
                b = t.field("buckets")
                bt = reg.table[b.type] if b is not None else None
                if bt is not None and bt.kind is Kind.PTR and bt.elem is not None:
                    one(f.offset, HMAP_EXTRA, bt.elem)
            s = _slots(reg, f.type, cache)
            if len(s.off):
                act, tgt = s.act, s.tgt
                if trie_node is not None and f.name == "children":
                    node = (act == SLOT_PTR) & (tgt == trie_node)
                    act, tgt = np.where(node, TRIE_NODE, act).astype(np.int8), np.where(node, tid, tgt)
                offs.append(s.off + f.offset)
                acts.append(act)
                tgts.append(tgt.astype(np.int32))
    elif k is Kind.ARRAY and t.elem is not None and t.len:
        s = _slots(reg, t.elem, cache)
        n = t.len
        if len(s.off) and len(s.off) * n <= MAX_SLOTS * 16:
            esize = reg.table[t.elem].size
            offs.append((np.arange(n, dtype=np.int64)[:, None] * esize + s.off[None, :]).ravel())
            acts.append(np.tile(s.act, n))
            tgts.append(np.tile(s.tgt, n))
    if offs:
        out = _Slots(np.concatenate(offs), np.concatenate(acts), np.concatenate(tgts))
    else:
        out = cache[tid]
    cache[tid] = out
    return out


_TRIE_INDIRECT = "internal/sync.indirect["
_TRIE_ENTRY = "internal/sync.entry["


def _trie_node(table: TypeTable, t) -> int | None:
    """Return the id of ``node[K,V]`` when ``t`` is Go 1.24+'s ``internal/sync.indirect[K,V]``
    (src/internal/sync/hashtriemap.go), whose first field is the embedded ``node[K,V]``,
    ``struct { isEntry bool }``, and whose ``children`` point at nodes; None otherwise."""
    if not t.name.startswith(_TRIE_INDIRECT) or not t.fields:
        return None
    f = t.fields[0]
    n = table[f.type]
    if f.offset != 0 or f.name != "node" or not n.name.startswith("internal/sync.node[") \
            or len(n.fields) != 1 or n.fields[0].name != "isEntry" or n.fields[0].offset != 0 \
            or table[n.fields[0].type].kind is not Kind.BOOL:
        return None
    return f.type


def _trie_entry(reg: TypeRegistry, indirect: int) -> int:
    """Return the id of ``internal/sync.entry[K,V]`` for ``indirect[K,V]`` (UNKNOWN when
    the program has no such descriptor or its first field is not the same ``node[K,V]``):
    a node whose ``isEntry`` is true is one (``node.entry()`` casts it so)."""
    cache = reg.__dict__.setdefault("_trie_entries", {})
    got = cache.get(indirect)
    if got is None:
        t = reg.table[indirect]
        name = _TRIE_ENTRY + t.name[len(_TRIE_INDIRECT):]
        e = reg.table.lookup(name)
        got = e.id if e is not None and e.kind is Kind.STRUCT and e.fields else _typelinked(reg, name)
        e = reg.table[got] if got != UNKNOWN else None
        if e is None or not e.fields or e.fields[0].offset != 0 or e.fields[0].type != t.fields[0].type:
            got = UNKNOWN
        cache[indirect] = got
    return got


def _typelink_names(reg: TypeRegistry) -> "_TypelinkNames":
    """Return the typelinked descriptors' names of ``reg``'s module, read once per registry
    (every ``ClosureTypes`` over it shares them: 128 bytes per typelinked type)."""
    names = reg.__dict__.get("_typelink_names")
    if names is None:
        rts = reg.rts
        try:
            addrs = rts.typelink_addresses()
        except GoCoreError as e:     # unreadable typelinks: nothing is found by name, once
            log.warning("typelinks: %s", e)
            addrs = []
        names = reg.__dict__.setdefault("_typelink_names", _TypelinkNames(rts, addrs))
    return names


def _typelinked(reg: TypeRegistry, qualified: str) -> int:
    """Return the id of the one runtime type spelled ``qualified`` among the elements of the
    typelinked pointer types ``*pkg.T`` (UNKNOWN: none, or several)."""
    rts = reg.rts
    names = _typelink_names(reg)
    got = []
    head = qualified.split("[", 1)[0]          # the package's dot, not one in type arguments
    for a in names.pointers_to(qualified[head.rfind(".") + 1:]):
        rt = rts.try_get(a)
        e = rts.try_get(rt.elem) if rt is not None and rt.kind == POINTER and rt.elem else None
        if e is not None and rts.qualified_name(e) == qualified:
            got.append(e.addr)
    return reg.of_rtype(got[0]) if len(got) == 1 else UNKNOWN


def _sync_entry_any(table: TypeTable, t) -> bool:
    """Return whether ``t`` is Go 1.19's ``sync.entry``, ``struct { p unsafe.Pointer }``,
    whose ``p`` only ever holds a ``*interface{}`` (src/sync/map.go: "p points to the
    interface{} value stored for the entry"; ``newEntry`` stores ``&i``, ``tryStore`` and
    ``storeLocked`` a ``*any``, ``expunged`` is ``new(any)``). Later releases declare
    ``p atomic.Pointer[any]`` (read as any ``sync/atomic.Pointer[T]``) or replace it."""
    if t.name != "sync.entry" or len(t.fields) != 1:
        return False
    f = t.fields[0]
    return f.name == "p" and f.offset == 0 and table[f.type].kind is Kind.UNSAFE_PTR


def _atomic_pointer_elem(table: TypeTable, t) -> int | None:
    """Return T for ``sync/atomic.Pointer[T]`` (``struct { _ [0]*T; _ noCopy; v
    unsafe.Pointer }``: ``v`` only ever holds a ``*T``, as Store and Swap take one), from its
    ``[0]*T`` field; None for other types."""
    if not t.name.startswith("sync/atomic.Pointer["):
        return None
    for f in t.fields:
        ft = table[f.type]
        if f.name == "_" and ft.kind is Kind.ARRAY and ft.len == 0 and ft.elem is not None:
            pt = table[ft.elem]
            if pt.kind is Kind.PTR and pt.elem is not None and \
                    not is_hchan_name(table[pt.elem].name) and table[pt.elem].name not in _PLACEHOLDERS:
                return pt.elem
    return None


@dataclass
class TypeInference:
    """Per-object type ids, the table they index, and the data offset (8 after a malloc header)."""

    type_id: np.ndarray      # int32, UNKNOWN where untyped
    data_off: np.ndarray     # uint8: 8 where a malloc header precedes the data
    registry: TypeRegistry
    from_header: np.ndarray  # bool: typed from the runtime's record

    @property
    def table(self) -> TypeTable:
        """Return the type table that ``type_id`` indexes."""
        return self.registry.table

    def name(self, i: int) -> str | None:
        """Return the type name of object ``i``, or None if unknown."""
        tid = int(self.type_id[i])
        return None if tid == UNKNOWN else self.registry.display_name(tid)


def _as_array_type(reg: TypeRegistry, elem: int, payload: int) -> int:
    esize = reg.table[elem].size
    if esize <= 0:
        return elem
    n = payload // esize
    return reg.array_of(elem, n) if n >= 2 else elem


def infer_types(gp: GoProcess, addr: np.ndarray, size: np.ndarray, roots: Iterable[tuple[int, int]], *,
                header_types: RecordedTypes | None = None,
                read: ReadWords | None = None,
                registry: TypeRegistry | None = None,
                closures: Callable[[np.ndarray], np.ndarray] | None = None,
                withhold: np.ndarray | None = None,
                noscan: np.ndarray | None = None,
                seeds: Callable[["_HeapView", "TypeRegistry", "MapInternals"], None] | None = None,
                edges: Edges | None = None,
                locate: Callable[[np.ndarray], np.ndarray] | None = None,
                max_rounds: int = 1 << 40) -> TypeInference:
    """Assign a type id to each object (``addr``/``size`` sorted slot starts and sizes).

    ``roots`` yields ``(address, type id)`` of typed root memory (globals, stack slots) with
    ids from ``registry.table`` (default: a registry over the DWARF types).
    ``header_types`` is what ``header_type_addresses`` returns. ``read`` gathers words (default: the process's ``gather.words``). ``closures`` maps funcval entry pcs to
    closure context types (``ClosureTypes.types``; default: one without DWARF, which knows
    method values and names other closures by their function).
    ``withhold`` (bool per object) keeps those objects' header types out: their data still
    starts after the header, but only propagation may type them (to check propagation
    against the runtime's own records). ``noscan`` (bool per object: a pointer-free span)
    lets channels be checked against ``makechan``'s shapes; without it no hchan is typed.
    ``seeds`` runs once the typed roots and headers have spread: it may type still untyped
    objects from what untyped memory states (``gocore.heap.typeseeds``) through the view's
    ``assign``; what it types spreads in turn.
    ``edges`` (the heap's pointer edges) lets plain pointers between heap objects be
    followed by a compiled walk (``markkernels.spread_pointers``) instead of one numpy
    round per step: a linked list is then typed in one pass, not one round per node.
    ``locate`` gives the object containing each pointer, or -1 (``Heap.find``: a page-table
    lookup, where a binary search over millions of addresses took a second at 20 M objects).
    """
    rts = runtime_types(gp)
    reg = registry or TypeRegistry(rts, gp.dwarf.types if gp.dwarf is not None else None)
    reg.layout = gp.layout
    if closures is None:
        closures = ClosureTypes(None, reg, gp.pclntab, gp.process.exe_bias,
                                sites=lambda: closure_sites(gp)).types
    addr = np.asarray(addr, dtype=np.uint64)
    n = len(addr)  # ``size`` keeps its dtype (uint32 slot sizes): no per-object copy
    if read is None:
        read = gp.process.gather.words
    tid = np.full(n, UNKNOWN, dtype=np.int32)
    fresh = np.zeros(n, dtype=bool)   # scratch of assign's ordering (left all false)
    data_off = np.zeros(n, dtype=np.uint8)
    from_header = np.zeros(n, dtype=bool)
    if not n:            # no objects (a dump whose heap could not be read): nothing to type
        return TypeInference(tid, data_off, reg, from_header)
    if header_types is not None:
        hit, ht = header_types.ids, header_types.types
        data_off[hit[~header_types.large]] = MALLOC_HEADER_SIZE
        if withhold is not None:
            keep = ~np.asarray(withhold, dtype=bool)[hit]
            hit, ht = hit[keep], ht[keep]
        uniq, inv = np.unique(ht, return_inverse=True)
        elem = np.array([reg.of_rtype(int(a)) for a in uniq], dtype=np.int32)[inv]  # per type
        ok = elem != UNKNOWN
        hit, elem = hit[ok], elem[ok]
        pay = size[hit].astype(np.int64) - data_off[hit].astype(np.int64)
        tid[hit] = _sized_types(reg, elem, pay, arrays=True)
        from_header[hit] = True

    def base(ids: np.ndarray) -> np.ndarray:
        """Return where the data of objects ``ids`` starts (after a malloc header)."""
        return addr[ids] + data_off[ids].astype(np.uint64)

    slots_cache: dict = {}
    itab_cache: dict[int, int] = {}

    def find(ptrs: np.ndarray) -> np.ndarray:
        """Return object indexes whose data start is exactly ``ptrs`` (-1 otherwise)."""
        if locate is not None:
            i = locate(ptrs).astype(np.int64)
        else:
            i = np.searchsorted(addr, ptrs, side="right") - 1
        hit = (i >= 0)
        i = np.where(hit, i, 0)
        hit &= base(i) == ptrs
        hit &= ptrs != 0
        return np.where(hit, i, -1)

    frontier: list[_Typed] = []
    by_type: dict[int, list[int]] = {}
    for a, t in roots:
        if t is None or t == UNKNOWN:
            continue
        by_type.setdefault(int(t), []).append(int(a))
    frontier = [_Typed(np.array(v, dtype=np.uint64), t, None, False) for t, v in by_type.items()]
    typed0 = np.flatnonzero(tid != UNKNOWN).astype(np.int32)
    for t in np.unique(tid[typed0]):
        ids = typed0[tid[typed0] == t]
        frontier.append(_Typed(None, int(t), ids, False))

    newly: dict[int, list[np.ndarray]] = {}

    def assign(objs: np.ndarray, types: np.ndarray,
               into: dict[int, list[np.ndarray]] | None = None) -> None:
        """Type the still untyped objects ``objs`` (-1: none) as ``types`` (UNKNOWN: skip),
        each object as its first known type; what it types goes to ``into`` (default:
        ``newly``) by type."""
        if not len(objs):
            return
        from .markkernels import assign_first, group_ascending_by_type
        got, gt = assign_first(objs, types, tid, UNKNOWN)
        if not len(got):
            return
        # per type, ascending ids (the order the frontier is read in)
        grouped, at = group_ascending_by_type(got, tid, int(gt.max()) + 1, fresh)
        del got, gt
        for t in np.flatnonzero(at[1:] != at[:-1]):
            (newly if into is None else into).setdefault(int(t), []).append(
                grouped[at[t]:at[t + 1]])

    maps = MapInternals(gp, reg)
    heap = _HeapView(tid, size, data_off, base, find, assign, read,
                     None if noscan is None else np.asarray(noscan, dtype=bool), closures)
    chans = Channels(gp, reg, UNKNOWN)

    rounds = 0

    def newly_typed() -> list[_Typed]:
        out = []
        for t, v in newly.items():
            out.append(_Typed(None, t, np.concatenate(v), False))
        return out

    def follow_pointers(frontier: list[_Typed]) -> list[_Typed]:
        """Follow the plain pointers of the frontier's heap objects, transitively, in
        compiled code; return the frontier (those objects' pointers now done) plus the
        objects it typed (pointers done, their other slots still to read)."""
        todo = [f.objs for f in frontier if f.objs is not None and not f.ptr_done]
        if not todo:
            return frontier
        from .markkernels import group_by_type, spread_pointers
        objs = np.concatenate(todo).astype(np.int32, copy=False)
        types = {f.t for f in frontier if f.objs is not None}
        slot_start, slot_off, slot_tgt, tsize = _pointer_slot_tables(reg, types, slots_cache)
        got = spread_pointers(objs, tid, edges.start, edges.dst, edges.off, edges.delta,
                              data_off, size, slot_start, slot_off, slot_tgt, tsize, UNKNOWN,
                              np.empty(n, dtype=np.int32), np.empty(len(objs) + n, dtype=np.int32))
        out = [f._replace(ptr_done=True) if f.objs is not None else f for f in frontier]
        if len(got):
            gt = tid[got]
            grouped, at = group_by_type(got, gt, int(gt.max()) + 1)
            del got, gt
            for t in np.flatnonzero(at[1:] != at[:-1]):
                out.append(_Typed(None, int(t), grouped[at[t]:at[t + 1]], True))
        return out

    def spread(frontier: list[_Typed]) -> list[_Typed]:
        """Spread types from ``frontier`` until nothing new is typed (or ``max_rounds``);
        return what was left when the rounds ran out."""
        nonlocal rounds
        while frontier and rounds < max_rounds:
            rounds += 1
            newly.clear()
            if edges is not None:
                frontier = follow_pointers(frontier)
            _round(frontier)
            frontier = newly_typed()
        return frontier

    def _round(frontier: list[_Typed]) -> None:
        for f in frontier:
            t, ptr_done = f.t, f.ptr_done
            count = len(f.addrs) if f.addrs is not None else len(f.objs)

            def at(lo: int, hi: int, f: _Typed = f) -> np.ndarray:
                # heap objects' data addresses made a chunk at a time (8 bytes per object
                # of a frontier that can hold most of the heap)
                return f.addrs[lo:hi] if f.addrs is not None else base(f.objs[lo:hi])
            s = _slots(reg, t, slots_cache)
            if not len(s.off):
                continue
            for act in np.unique(s.act):
                if ptr_done and act == SLOT_PTR:
                    continue           # followed by follow_pointers
                m = s.act == act
                offs, tg = s.off[m], s.tgt[m]
                if f.objs is not None and edges is not None and act in (SLICE, STRING) \
                        and (len(offs) < 2 or (offs[1:] > offs[:-1]).all()):
                    def reader(lo: int, hi: int, put, act=act, offs=offs, tg=tg, f=f) -> None:
                        read_edges(act, f.objs[lo:hi], offs, tg, put)
                else:
                    def reader(lo: int, hi: int, put, act=act, offs=offs, tg=tg, at=at) -> None:
                        read_act(act, at(lo, hi), offs, tg, put)
                step = max(1, CHUNK_WORDS // len(offs))
                if act not in _CHUNKED or count <= step:
                    reader(0, count, assign)
                    continue
                _chunked(reader, count, step)

    def _chunked(reader: Callable[[int, int, Callable], None], count: int, step: int) -> None:
        """``reader(lo, hi, put)`` (``read_act`` or ``read_edges`` over items ``lo:hi``
        of ``count``) in chunks of ``step``, to bound the temporaries
        (several words per slot read), typing what one pass over all of them types.

        One pass makes its ``put`` calls in order: all of the first (every chunk's, in
        chunk order), then all of the second (STRING's tiny blocks). So each chunk's first
        call is assigned at once, first-come in chunk order, and the later calls wait for
        the last chunk; what the first calls typed joins ``newly`` as one ascending run per
        type, as one call's would."""
        first: dict[int, list[np.ndarray]] = {}
        later: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for lo in range(0, count, step):
            calls = itertools.count()

            def put(objs: np.ndarray, types: np.ndarray) -> None:
                k = next(calls)
                if k == 0:
                    assign(objs, types, into=first)
                else:
                    later.setdefault(k, []).append(_untyped_first(tid, objs, types))
            reader(lo, min(lo + step, count), put)
        for t, runs in first.items():
            # ascending runs, one per chunk: timsort merges them (3x numpy's default sort)
            newly.setdefault(t, []).append(np.sort(np.concatenate(runs), kind="stable"))
        for k in sorted(later):
            parts = later[k]
            assign(np.concatenate([o for o, _ in parts]), np.concatenate([ty for _, ty in parts]))

    def read_edges(act: int, objs: np.ndarray, offs: np.ndarray, tg: np.ndarray,
                   put: Callable[[np.ndarray, np.ndarray], None]) -> None:
        """``put`` the (objects, types) that the slice or string slots ``offs`` (targets
        ``tg``) of heap objects ``objs`` give, from the heap's edges
        (``markkernels.slot_edges``): what ``read_act`` gives from the dump's words, in the
        same order, without reading, looking up and holding several words per slot of
        every typed object (most of a typing round's time)."""
        from .markkernels import slot_edges
        tiny = act == STRING and heap.noscan is not None
        hit, ht, mo, me = slot_edges(objs, edges.start, edges.dst, edges.off, edges.delta,
                                     data_off, offs, tg, tiny)
        put(hit, _types_for(reg, hit, ht, size, data_off, sized=True))
        if len(me):
            # string bytes inside a tiny block: its length word follows the pointer
            n, nok = read(addr[mo] + edges.off[me].astype(np.uint64) + np.uint64(8))
            ptrs = addr[edges.dst[me]] + edges.delta[me].astype(np.uint64)
            blocks = _tiny_string_blocks(heap, addr, np.where(nok, ptrs, 0), n)
            put(blocks, np.full(len(blocks), reg.array_of(reg.uint8(), MAX_TINY_SIZE),
                                dtype=np.int32))

    def first_words(objs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (where ``objs`` holds an object, the first data word of each, whether it
        was read)."""
        hit = np.flatnonzero(objs >= 0)
        if not len(hit):
            return hit, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=bool)
        return (hit, *read(base(objs[hit])))

    def read_act(act: int, addrs: np.ndarray, offs: np.ndarray, tg: np.ndarray,
                 put: Callable[[np.ndarray, np.ndarray], None]) -> None:
        """Read the slots ``offs`` (all of kind ``act``, target types ``tg``) of the typed
        memory at ``addrs`` and ``put`` the (objects, types) they give."""
        where = (addrs[:, None] + offs[None, :].astype(np.uint64)).ravel()
        tgt = np.tile(tg, len(addrs))
        w, ok = read(where)
        if act == SLOT_PTR:
            objs = find(np.where(ok, w, 0))
            # a pointer to T types the object as T, or [N]T when T fills it N times
            put(objs, _types_for(reg, objs, tgt, size, data_off, sized=False))
        elif act == SLICE:
            objs = find(np.where(ok, w, 0))
            put(objs, _types_for(reg, objs, tgt, size, data_off, sized=True))
        elif act == STRING:
            objs = find(np.where(ok, w, 0))
            put(objs, _types_for(reg, objs, tgt, size, data_off, sized=True))
            miss = np.flatnonzero(ok & (objs < 0) & (w != 0))
            if heap.noscan is not None and len(miss):
                n, nok = read(where[miss] + np.uint64(8))
                tiny = _tiny_string_blocks(heap, addr, np.where(nok, w[miss], 0), n)
                put(tiny, np.full(len(tiny), reg.array_of(reg.uint8(), MAX_TINY_SIZE),
                                  dtype=np.int32))
        elif act == FUNCVAL:
            objs = find(np.where(ok, w, 0))
            ct = np.full(len(objs), UNKNOWN, dtype=np.int32)
            hit, pcs, pok = first_words(objs)
            if len(hit):
                ct[hit] = closures(np.where(pok, pcs, 0))
            got = _types_for(reg, objs, ct, size, data_off, sized=False)
            if reg.prefix_types:
                pre = np.isin(ct, np.fromiter(reg.prefix_types, np.int32))
                got[pre] = ct[pre]
            put(objs, got)
        elif act == SWISS_DIR:
            objs = find(np.where(ok, w, 0))
            put(objs, _swiss_dir_types(reg, read, where, objs, tgt, size, data_off))
        elif act == CHAN:
            objs = find(np.where(ok, w, 0))
            good = chans.check(heap, objs).ok
            put(objs[good], tgt[good])
        elif act == TRIE_NODE:
            objs = find(np.where(ok, w, 0))
            types = np.full(len(objs), UNKNOWN, dtype=np.int32)
            hit, first, fok = first_words(objs)
            if len(hit):
                flag = np.where(fok, first & np.uint64(0xFF), np.uint64(2))  # isEntry (little-endian)
                ut, inv = np.unique(tgt[hit], return_inverse=True)      # per indirect type
                entry = np.array([_trie_entry(reg, int(x)) for x in ut], dtype=np.int32)
                entry = entry[np.asarray(inv).ravel()]
                types[hit] = np.where(flag == 1, entry, np.where(flag == 0, tgt[hit], UNKNOWN))
            put(objs, _types_for(reg, objs, types, size, data_off, sized=False))
        elif act == CHAN_BUF:
            hobj = find(where - np.uint64(chans.off["buf"]))
            got = chans.check(heap, hobj)
            b = got.buf_obj
            put(b, _types_for(reg, b, got.elem, size, data_off, sized=True))
        elif act == MAP:
            maps.follow(heap, find(np.where(ok, w, 0)), tgt)
        elif act == HMAP_EXTRA:
            maps.follow_extra(heap, find(np.where(ok, w, 0)), tgt)
        else:  # EFACE / IFACE: type word (or itab) at +0, data at +8
            d, dok = read(where + np.uint64(8))
            tw = np.where(ok & dok, w, 0)
            if act == IFACE:
                tw = _itab_types(gp, tw, read, itab_cache)
            ut, uinv = np.unique(tw, return_inverse=True)
            uinv = np.asarray(uinv).ravel()
            dyn = np.array([_iface_target(reg, int(x)) for x in ut],
                           dtype=np.int32)[uinv]
            objs = find(np.where(dok, d, 0))
            put(objs, _types_for(reg, objs, dyn, size, data_off, sized=False))
            # a map stored in an interface: the data word is the map header pointer
            dmap = np.array([_iface_map(reg, int(x)) for x in ut], dtype=np.int32)[uinv]
            m = dmap != UNKNOWN
            if m.any():
                maps.follow(heap, objs[m], dmap[m])

    left = spread(frontier)
    if seeds is not None and not left:
        newly.clear()
        seeds(heap, reg, maps)
        # typed memory outside the heap the seeds found (package variables), read as roots
        by_mem: dict[int, list[int]] = {}
        for a, t in heap.memory:
            by_mem.setdefault(int(t), []).append(int(a))
        left = spread(newly_typed() + [_Typed(np.array(v, dtype=np.uint64), t, None, False)
                                       for t, v in by_mem.items()])
    if left:
        gp.process.warn(f"type inference stopped after {max_rounds} rounds")
    return TypeInference(tid, data_off, reg, from_header)


class _Typed(NamedTuple):
    """Typed memory whose slots are still to read: data addresses (None for heap objects:
    their data starts), their type, the heap objects they are (None for root memory),
    whether their plain pointers were followed."""

    addrs: np.ndarray | None
    t: int
    objs: np.ndarray | None
    ptr_done: bool


def _untyped_first(tid: np.ndarray, objs: np.ndarray, types: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Return the (objects, types) pairs of ``assign``'s arguments that it could act on:
    an untyped object with a known type, each object's first pair only (in order)."""
    keep = (objs >= 0) & (types != UNKNOWN)
    objs, types = objs[keep], types[keep]
    keep = tid[objs] == UNKNOWN
    objs, types = objs[keep], types[keep]
    _, first = np.unique(objs, return_index=True)
    first.sort()
    return objs[first], types[first]


def _pointer_slot_tables(reg: TypeRegistry, types: set[int], cache: dict
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (slot_start, slot_off, slot_tgt, tsize): per type id (dense up to the largest
    met), the plain-pointer slots (offset, pointee) of ``types`` and of every type those
    pointers reach, sorted by offset, and each type's size (-1 where not met)."""
    rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    todo = list(types)
    while todo:
        t = todo.pop()
        if t in rows or t < 0:
            continue
        s = _slots(reg, t, cache)
        m = s.act == SLOT_PTR
        offs, tgts = s.off[m].astype(np.int64), s.tgt[m].astype(np.int32)
        order = np.argsort(offs, kind="stable")
        rows[t] = (offs[order], tgts[order])
        todo.extend(int(x) for x in np.unique(tgts) if x >= 0 and int(x) not in rows)
    n = max(rows) + 1 if rows else 0
    counts = np.zeros(n, dtype=np.int64)
    tsize = np.full(n, -1, dtype=np.int64)
    for t, (offs, _) in rows.items():
        counts[t] = len(offs)
        tsize[t] = reg.table[t].size
    slot_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=slot_start[1:])
    slot_off = np.zeros(int(slot_start[-1]), dtype=np.int64)
    slot_tgt = np.zeros(int(slot_start[-1]), dtype=np.int32)
    for t, (offs, tgts) in rows.items():
        slot_off[slot_start[t]:slot_start[t + 1]] = offs
        slot_tgt[slot_start[t]:slot_start[t + 1]] = tgts
    return slot_start, slot_off, slot_tgt, tsize


MAX_TINY_SIZE = 16   # runtime.maxTinySize


def _tiny_string_blocks(h: "_HeapView", addr: np.ndarray, ptrs: np.ndarray,
                        lens: np.ndarray) -> np.ndarray:
    """Return the objects that hold string bytes ``[ptrs, ptrs+lens)`` inside a tiny block.

    The runtime allocates the bytes of a string under 16 bytes with the tiny allocator
    (``rawstring`` is ``mallocgc(size, nil, false)``; src/runtime/malloc.go): they land at
    any offset of a 16-byte pointer-free block. A string whose bytes lie inside such a
    slot makes it string memory, ``[16]uint8``, as a string at its start does.
    """
    ptrs = np.asarray(ptrs, dtype=np.uint64)
    i = np.searchsorted(addr, ptrs, side="right").astype(np.int64) - 1
    ok = (ptrs != 0) & (i >= 0)
    j = np.where(ok, i, 0)
    off = ptrs - addr[j]
    ok &= (h.size[j] == MAX_TINY_SIZE) & h.noscan[j] & (h.data_off[j] == 0) \
        & (off > 0) & (off < MAX_TINY_SIZE) & (lens > 0) \
        & (lens <= np.uint64(MAX_TINY_SIZE) - np.where(ok, off, 0))
    return np.where(ok, j, -1)


def _types_for(reg: TypeRegistry, objs: np.ndarray, tgt: np.ndarray, size: np.ndarray,
               data_off: np.ndarray, sized: bool) -> np.ndarray:
    """Return the type for each object a pointer of element type ``tgt`` reaches.

    A pointer's pointee type applies when it fits the slot; when the slot payload holds two
    or more elements and ``sized`` (slices, strings) the object is ``[N]T``. Pointers to
    values that do not fit are dropped (UNKNOWN).
    """
    out = np.full(len(objs), UNKNOWN, dtype=np.int32)
    hit = np.flatnonzero((objs >= 0) & (tgt != UNKNOWN))
    if not len(hit):
        return out
    pay = size[objs[hit]].astype(np.int64) - data_off[objs[hit]].astype(np.int64)
    out[hit] = _sized_types(reg, tgt[hit].astype(np.int32), pay, arrays=sized)
    return out


def _sized_types(reg: TypeRegistry, elem: np.ndarray, pay: np.ndarray, arrays: bool) -> np.ndarray:
    """Return per object: ``elem`` if it fits ``pay`` bytes, ``[N]elem`` when ``arrays`` and
    N = pay // size >= 2, UNKNOWN when it does not fit. One registry call per distinct type.

    Without ``arrays`` (a pointer's pointee) a payload of two or more elements is UNKNOWN:
    the object only starts with an ``elem`` (it is an array of them, or a struct whose first
    field is one: ``&a[0]``, ``&mPadded.m``), and which one the pointer cannot say (size
    classes are closer than 2x, so a lone ``new(T)`` never has room for two)."""
    from .markkernels import apply_codes, sized_codes
    out = np.empty(len(elem), dtype=np.int32)
    if not len(elem):
        return out
    if (elem == elem[0]).all():  # the usual case: one frontier, one pointee type; no sort
        ut, rank = elem[:1], np.zeros(1, dtype=np.intp)
    else:
        ut, rank = np.unique(elem, return_inverse=True)
    esize = np.array([reg.table[int(t)].size for t in ut], dtype=np.int64)
    code = np.empty(len(elem), dtype=np.int32)
    keys = np.full(SIZED_KEYS, -1, dtype=np.int64)
    pay = np.asarray(pay, dtype=np.int64)
    while not sized_codes(rank, esize, pay, arrays, code, keys, 65 - len(keys).bit_length()):
        keys = np.full(4 * len(keys), -1, dtype=np.int64)   # (types, lengths) beyond the table
    ids = np.full(len(keys), UNKNOWN, dtype=np.int32)
    for h in np.flatnonzero(keys >= 0).tolist():
        k = int(keys[h])
        ids[h] = reg.array_of(int(ut[k >> 32]), k & 0xFFFFFFFF)
    apply_codes(code, elem if len(rank) > 1 else ut, ids, UNKNOWN, out)
    return out


def _swiss_dir_types(reg: TypeRegistry, read: ReadWords, where: np.ndarray, objs: np.ndarray,
                     maps: np.ndarray, size: np.ndarray, data_off: np.ndarray) -> np.ndarray:
    """Return the types of what ``Map.dirPtr`` points at (``where`` = address of dirPtr).

    ``dirLen`` > 0: an array of ``*table``; 0: a single group (a small map). The types come
    from DWARF's ``map<K,V>`` (``dirPtr **table<K,V>``) and ``table<K,V>.groups.data``.
    """
    out = np.full(len(objs), UNKNOWN, dtype=np.int32)
    for m in np.unique(maps):
        mt = reg.table[int(m)]
        dp, dl = mt.field("dirPtr"), mt.field("dirLen")
        tp = reg.table[dp.type]          # **table<K,V>
        tabptr = tp.elem                 # *table<K,V>
        group = _group_of_table(reg, reg.table[tabptr].elem) if tabptr is not None else None
        sel = np.flatnonzero((maps == m) & (objs >= 0))
        if not len(sel):
            continue
        n, ok = read(where[sel] + np.uint64(dl.offset - dp.offset))
        small = ok & (n == 0)
        big = ok & (n > 0)
        if group is not None:
            g = np.full(int(small.sum()), group, dtype=np.int32)
            out[sel[small]] = _types_for(reg, objs[sel[small]], g, size, data_off, sized=False)
        if tabptr is not None:
            tptr = np.full(int(big.sum()), tabptr, dtype=np.int32)
            out[sel[big]] = _types_for(reg, objs[sel[big]], tptr, size, data_off, sized=True)
    return out


def _group_of_table(reg: TypeRegistry, table: int | None) -> int | None:
    """Return the group type of DWARF's ``table<K,V>`` (``groups.data *group``), or None."""
    if table is None:
        return None
    g = reg.table[table].field("groups")
    d = reg.table[g.type].field("data") if g is not None else None
    dt = reg.table[d.type] if d is not None else None
    return dt.elem if dt is not None and dt.kind is Kind.PTR else None


# ---- map internals from runtime descriptors and the runtime layout ----

@dataclass(frozen=True)
class _HeapView:
    """What ``MapInternals`` needs of one ``infer_types`` run (arrays shared, not copied)."""

    tid: np.ndarray
    size: np.ndarray
    data_off: np.ndarray
    base: Callable[[np.ndarray], np.ndarray]     # object ids -> data start
    find: Callable[[np.ndarray], np.ndarray]     # data starts -> object ids (-1: none)
    assign: Callable[[np.ndarray, np.ndarray], None]
    read: ReadWords
    noscan: np.ndarray | None = None              # per object: a pointer-free span
    closures: Callable[[np.ndarray], np.ndarray] | None = None   # funcval pcs -> context types
    # (address, type id) of typed memory outside the heap that seeds found: read as roots
    memory: list[tuple[int, int]] = field(default_factory=list)


# Go types of the fields of the runtime's map structs (src/internal/runtime/maps/map.go Map,
# table.go table and groupsReference; src/runtime/map.go hmap and mapextra, to go1.23) and
# channel structs (src/runtime/chan.go hchan, waitq; runtime2.go sudog), used to build these
# structs when DWARF has none. Offsets and sizes always come from the layout; a field whose
# size differs from its Go type here is typed by its size. Pointers to what viewcore cannot
# type without DWARF (``*_type``, ``*g``) are unsafe.Pointer.
_RUNTIME_STRUCT_FIELDS = {
    "internal/runtime/maps.Map": {
        "used": "uint64", "seed": "uintptr", "dirPtr": "unsafe.Pointer", "dirLen": "int",
        "globalDepth": "uint8", "globalShift": "uint8", "writing": "uint8"},
    "internal/runtime/maps.table": {
        "used": "uint16", "capacity": "uint16", "growthLeft": "uint16", "localDepth": "uint8",
        "index": "int", "groups.data": "unsafe.Pointer", "groups.lengthMask": "uint64"},
    "runtime.hmap": {
        "count": "int", "flags": "uint8", "B": "uint8", "noverflow": "uint16", "hash0": "uint32",
        "buckets": "unsafe.Pointer", "oldbuckets": "unsafe.Pointer", "nevacuate": "uintptr",
        "extra": "*runtime.mapextra"},
    "runtime.mapextra": {
        "overflow": "*[]*runtime.bmap", "oldoverflow": "*[]*runtime.bmap",
        "nextOverflow": "*runtime.bmap"},
    "runtime.hchan": {
        "qcount": "uint", "dataqsiz": "uint", "buf": "unsafe.Pointer", "elemsize": "uint16",
        "closed": "uint32", "elemtype": "unsafe.Pointer", "sendx": "uint", "recvx": "uint",
        "recvq.first": "*runtime.sudog", "recvq.last": "*runtime.sudog",
        "sendq.first": "*runtime.sudog", "sendq.last": "*runtime.sudog"},
    "runtime.g": {
        "stack.lo": "uintptr", "stack.hi": "uintptr", "stackguard0": "uintptr",
        "_panic": "unsafe.Pointer", "_defer": "unsafe.Pointer", "m": "unsafe.Pointer",
        "sched.sp": "uintptr", "sched.pc": "uintptr", "sched.g": "uintptr",
        "sched.ctxt": "unsafe.Pointer", "sched.lr": "uintptr", "sched.bp": "uintptr",
        "syscallsp": "uintptr", "syscallpc": "uintptr", "param": "unsafe.Pointer",
        "atomicstatus": "uint32", "goid": "uint64", "schedlink": "uintptr",
        "waitsince": "int64", "waitreason": "uint8", "lockedm": "uintptr",
        "gopc": "uintptr", "ancestors": "unsafe.Pointer", "startpc": "uintptr",
        "waiting": "*runtime.sudog", "labels": "unsafe.Pointer"},
    "runtime.sudog": {
        "g": "unsafe.Pointer", "next": "*runtime.sudog", "prev": "*runtime.sudog",
        "elem": "unsafe.Pointer", "isSelect": "bool", "waitlink": "*runtime.sudog",
        "c": "*runtime.hchan"},
}
# nested struct fields (``groups.data``): the struct type of the prefix
_NESTED = {"groups": "internal/runtime/maps.groupsReference", "recvq": "runtime.waitq",
           "sendq": "runtime.waitq", "stack": "runtime.stack", "sched": "runtime.gobuf"}
_BASIC = {"bool": (Kind.BOOL, 1), "uint8": (Kind.UINT, 1), "uint16": (Kind.UINT, 2),
          "uint32": (Kind.UINT, 4), "uint64": (Kind.UINT, 8), "int": (Kind.INT, 8), "uint": (Kind.UINT, 8),
          "int64": (Kind.INT, 8),
          "uintptr": (Kind.UINTPTR, 8), "unsafe.Pointer": (Kind.UNSAFE_PTR, 8)}
_UINT_BY_SIZE = {1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64"}


def _named_type(reg: TypeRegistry, layout, name: str) -> int:
    """Return the id of the type spelled ``name``: the registry's (DWARF's) when it has one,
    else built from its spelling (``*T``, ``[]T``, basic types) or, for the runtime's map
    structs, from the runtime layout. UNKNOWN when neither can say."""
    t = reg.table.lookup(name)
    if t is not None and t.kind is not Kind.VOID and (t.kind is not Kind.STRUCT or t.fields):
        return t.id
    if name in reg._building:            # a struct that points at itself (sudog.next)
        return reg._building[name]
    ps = reg.ptr_size
    if name.startswith("*"):
        e = _named_type(reg, layout, name[1:])
        return UNKNOWN if e == UNKNOWN else reg._add(name, Kind.PTR, ps, elem=e)
    if name.startswith("[]"):
        e = _named_type(reg, layout, name[2:])
        return UNKNOWN if e == UNKNOWN else reg._add(name, Kind.SLICE, 3 * ps, elem=e)
    if name in _BASIC:
        kind, size = _BASIC[name]
        return reg._add(name, kind, ps if size == 8 else size)
    if name == "runtime.bmap":   # type bmap struct { tophash [bucketCnt]uint8 }
        n = layout.const("runtime.bucketCnt", 8)
        tophash = reg.array_of(reg.uint8(), n)
        return reg._add(name, Kind.STRUCT, n, fields=(Field("tophash", 0, tophash),))
    return _layout_struct(reg, layout, name)


def _layout_struct(reg: TypeRegistry, layout, name: str) -> int:
    """Build the runtime struct ``name`` from the layout's fields (UNKNOWN if it has none)."""
    spec = _RUNTIME_STRUCT_FIELDS.get(name)
    if spec is None or not layout.has(name):
        return UNKNOWN
    tid = reg._add(name, Kind.STRUCT, layout.size(name))   # before fields: self-references
    reg._building[name] = tid
    fields: list[Field] = []
    nested: dict[str, list[tuple[str, int, int, str]]] = {}
    for path, go in spec.items():
        if not layout.has(name, path):
            continue
        f = layout.field(name, path)
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, []).append((rest, f.offset, f.size, go))
        else:
            fields.append(Field(path, f.offset, _field_type(reg, layout, go, f.size)))
    for head, subs in nested.items():
        start = min(o for _, o, _, _ in subs)
        end = max(o + sz for _, o, sz, _ in subs)
        sub = tuple(Field(r, o - start, _field_type(reg, layout, go, sz)) for r, o, sz, go in subs)
        sname = _NESTED.get(head, f"{name}.{head}")
        st = reg.table.lookup(sname)
        stid = st.id if st is not None and st.fields else reg._add(sname, Kind.STRUCT, end - start,
                                                                    fields=sub)
        fields.append(Field(head, start, stid))
    t = reg.table[tid]
    t.fields = tuple(sorted(fields, key=lambda f: f.offset))
    reg.table._ptr_cache.clear()
    return tid


def _field_type(reg: TypeRegistry, layout, go: str, size: int) -> int:
    t = _named_type(reg, layout, go)
    if t != UNKNOWN and reg.table[t].size == size:
        return t
    return _named_type(reg, layout, _UINT_BY_SIZE.get(size, "uint8")) if size in _UINT_BY_SIZE \
        else reg.array_of(reg.uint8(), size)


class MapInternals:
    """Follow a map value into the runtime's map as the runtime lays it out, typing each part.

    Used where no DWARF map struct names the header (``hash<K,V>``, ``map<K,V>``): map types
    from runtime descriptors (stripped binaries) and DWARF maps without one. The K/V-specific
    types come from the map's descriptor (``MapType.Group``: the swiss group or hash bucket,
    named as the runtime names it, ``map.group[string]*main.Item``); the runtime's own
    structs from DWARF when present, else built from the runtime layout.

    Swiss maps (go1.24+, src/internal/runtime/maps/map.go): the header is ``new(Map)``;
    ``dirLen`` 0: ``dirPtr`` is one group (``newarray(typ.Group, 1)``); else a directory
    ``make([]*table, dirLen)`` whose ``*table`` (``&table{}``) hold ``groups.data``
    (``newarray(typ.Group, n)``). Hash maps (src/runtime/map.go): ``new(hmap)``; ``buckets`` and
    ``oldbuckets`` arrays of the bucket type (overflow buckets follow from the bucket's
    ``overflow`` pointer), and ``extra`` (``new(mapextra)``) whose ``overflow``/``oldoverflow``
    (``new([]*bmap)``, grown by append) keep the overflow buckets of pointer-free maps.
    Everything is done per distinct group/bucket type, one gather per step.
    """

    def __init__(self, gp: GoProcess, reg: TypeRegistry):
        self.reg = reg
        self.ps = reg.ptr_size
        self.header = UNKNOWN
        self._groups: dict[int, int] = {}
        L = gp.layout
        self.swiss = gp.facts.swiss_maps
        if self.swiss:
            M, T = "internal/runtime/maps.Map", "internal/runtime/maps.table"
            if not (L.has(M, "dirPtr") and L.has(M, "dirLen") and L.has(T, "groups.data")):
                return
            self.header = _named_type(reg, L, M)
            self.table = _named_type(reg, L, T)
            self.table_ptr = _named_type(reg, L, "*" + T)
            self.off_dir, self.off_dirlen = L.offset(M, "dirPtr"), L.offset(M, "dirLen")
            self.off_groups = L.offset(T, "groups.data")
        else:
            H, X = "runtime.hmap", "runtime.mapextra"
            if not (L.has(H, "buckets") and L.has(H, "oldbuckets") and L.has(H, "extra")):
                return
            self.header = _named_type(reg, L, H)
            self.off_buckets = (L.offset(H, "buckets"), L.offset(H, "oldbuckets"))
            self.off_extra = L.offset(H, "extra")
            self.extra = UNKNOWN
            if L.has(X, "overflow") and L.has(X, "oldoverflow"):
                self.extra = _named_type(reg, L, X)
                self.off_overflow = (L.offset(X, "overflow"), L.offset(X, "oldoverflow"))
                self.ovf_slice = _named_type(reg, L, "[]*runtime.bmap")
                self.bmap_ptr = _named_type(reg, L, "*runtime.bmap")

    def group_of(self, map_tid: int) -> int:
        """Return the group (swiss) or bucket (hash) type of map type ``map_tid``, from its
        runtime descriptor (UNKNOWN without one)."""
        got = self._groups.get(map_tid)
        if got is None:
            rt = self.reg.runtime_type(map_tid)
            got = self.reg.of_rtype(rt.group) if rt is not None and rt.kind == MAP_KIND \
                and rt.group else UNKNOWN
            self._groups[map_tid] = got
        return got

    def follow(self, h: _HeapView, objs: np.ndarray, map_tids: np.ndarray) -> None:
        """Type the map headers ``objs`` (object ids, -1: none) of maps of type ``map_tids``
        and what they hold."""
        if self.header == UNKNOWN:
            return
        keep = objs >= 0
        objs, map_tids = objs[keep], map_tids[keep]
        if not len(objs):
            return
        h.assign(objs, _types_for(self.reg, objs, np.full(len(objs), self.header, np.int32),
                                  h.size, h.data_off, sized=False))
        mine = h.tid[objs] == self.header          # a header typed otherwise is not followed
        objs, map_tids = objs[mine], map_tids[mine]
        um, inv = np.unique(map_tids, return_inverse=True)
        groups = np.array([self.group_of(int(m)) for m in um], dtype=np.int32)[inv.ravel()]
        for g in np.unique(groups):
            if g == UNKNOWN:
                continue
            hdr = np.unique(h.base(objs[groups == g]))
            if self.swiss:
                self._swiss(h, hdr, int(g))
            else:
                self._hmap(h, hdr, int(g))

    def follow_extra(self, h: _HeapView, objs: np.ndarray, buckets: np.ndarray) -> None:
        """Type ``hmap.extra`` objects ``objs`` and the overflow buckets they keep, of bucket
        types ``buckets`` (DWARF's ``hash<K,V>.extra``)."""
        if self.swiss or self.header == UNKNOWN:
            return
        keep = objs >= 0
        for g in np.unique(buckets[keep]):
            self._extra(h, np.unique(h.base(objs[keep & (buckets == g)])), int(g))

    # -- swiss maps --

    def _swiss(self, h: _HeapView, hdr: np.ndarray, group: int) -> None:
        reg, size, off = self.reg, h.size, h.data_off
        dp, ok1 = h.read(hdr + np.uint64(self.off_dir))
        dl, ok2 = h.read(hdr + np.uint64(self.off_dirlen))
        ok = ok1 & ok2 & (dp != 0)
        one = h.find(dp[ok & (dl == 0)])             # a small map: one group
        h.assign(one, _types_for(reg, one, np.full(len(one), group, np.int32), size, off,
                                 sized=False))
        big = ok & (dl > 0) & (dl < (1 << 32))
        dirs = h.find(dp[big])
        h.assign(dirs, _types_for(reg, dirs, np.full(len(dirs), self.table_ptr, np.int32),
                                  size, off, sized=True))
        hit = dirs >= 0
        dirs, n = dirs[hit], dl[big][hit].astype(np.int64)
        # a directory holds dirLen *table (repeated where tables cover several entries)
        n = np.minimum(n, (size[dirs].astype(np.int64) - off[dirs].astype(np.int64)) // self.ps)
        tabs, tok = h.read(_spread(h.base(dirs), n, self.ps))
        tobj = h.find(np.unique(tabs[tok & (tabs != 0)]))
        h.assign(tobj, np.full(len(tobj), self.table, np.int32))
        tobj = tobj[tobj >= 0]
        tobj = tobj[h.tid[tobj] == self.table]
        data, dok = h.read(h.base(tobj) + np.uint64(self.off_groups))
        arr = h.find(data[dok & (data != 0)])
        h.assign(arr, _types_for(reg, arr, np.full(len(arr), group, np.int32), size, off,
                                 sized=True))

    # -- hash maps (to go1.23) --

    def _hmap(self, h: _HeapView, hdr: np.ndarray, bucket: int) -> None:
        reg = self.reg
        for o in self.off_buckets:
            b, ok = h.read(hdr + np.uint64(o))
            arr = h.find(b[ok & (b != 0)])
            h.assign(arr, _types_for(reg, arr, np.full(len(arr), bucket, np.int32), h.size,
                                     h.data_off, sized=True))
        if self.extra == UNKNOWN:
            return
        x, ok = h.read(hdr + np.uint64(self.off_extra))
        xo = h.find(x[ok & (x != 0)])
        h.assign(xo, np.full(len(xo), self.extra, np.int32))
        xo = xo[xo >= 0]
        self._extra(h, h.base(xo[h.tid[xo] == self.extra]) if len(xo) else xo.astype(np.uint64),
                    bucket)

    def _extra(self, h: _HeapView, ext: np.ndarray, bucket: int) -> None:
        """``ext``: data starts of ``mapextra`` objects of maps with bucket type ``bucket``."""
        if self.extra == UNKNOWN or not len(ext):
            return
        reg, ps = self.reg, self.ps
        for o in self.off_overflow:
            sp, ok = h.read(ext + np.uint64(o))          # *[]*bmap
            so = h.find(sp[ok & (sp != 0)])
            h.assign(so, np.full(len(so), self.ovf_slice, np.int32))
            so = so[so >= 0]
            hs = h.base(so)
            data, dok = h.read(hs)
            n, nok = h.read(hs + np.uint64(ps))
            good = dok & nok & (data != 0)
            arr = h.find(data[good])
            h.assign(arr, _types_for(reg, arr, np.full(len(arr), self.bmap_ptr, np.int32),
                                     h.size, h.data_off, sized=True))
            hit = arr >= 0
            arr, n = arr[hit], n[good][hit].astype(np.int64)
            pay = h.size[arr].astype(np.int64) - h.data_off[arr].astype(np.int64)
            n = np.minimum(n, pay // ps)
            ovf, vok = h.read(_spread(h.base(arr), n, ps))
            bo = h.find(np.unique(ovf[vok & (ovf != 0)]))  # preallocated ones are interior
            h.assign(bo, _types_for(reg, bo, np.full(len(bo), bucket, np.int32), h.size,
                                    h.data_off, sized=False))


def _spread(starts: np.ndarray, counts: np.ndarray, stride: int) -> np.ndarray:
    """Return the addresses ``starts[i] + k*stride`` for k < counts[i], for every i."""
    counts = np.maximum(np.asarray(counts, dtype=np.int64), 0)
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.uint64)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(total, dtype=np.int64) - first
    return np.repeat(np.asarray(starts, dtype=np.uint64), counts) + (k * stride).astype(np.uint64)


def _itab_types(gp: GoProcess, itabs: np.ndarray, read: ReadWords, cache: dict[int, int]) -> np.ndarray:
    """Return the concrete type address of each itab (0 where none)."""
    off = gp.layout.offset("runtime.itab", "_type")
    w, ok = read(np.where(itabs != 0, itabs + np.uint64(off), 0))
    return np.where(ok & (itabs != 0), w, 0)


def _iface_target(reg: TypeRegistry, taddr: int) -> int:
    """Return the type of what an interface's data word points at, for dynamic type ``taddr``.

    A direct-iface type (a pointer-shaped value stored in the data word) points at its
    element (``*T`` -> T), a map with a DWARF map struct at that struct; any other type is
    boxed: the data word points at a T. (Maps without a DWARF struct: ``_iface_map``.)
    """
    if not taddr:
        return UNKNOWN
    rt = reg.rts.try_get(taddr)
    if rt is None:
        return UNKNOWN
    if rt.direct_iface:
        if rt.kind == POINTER and rt.elem:
            return reg.of_rtype(rt.elem)
        if rt.kind == MAP_KIND:
            tgt = reg.table[reg.of_rtype(taddr)].target
            return UNKNOWN if tgt is None else tgt
        return UNKNOWN
    return reg.of_rtype(taddr)


def _iface_map(reg: TypeRegistry, taddr: int) -> int:
    """Return the map type id when dynamic type ``taddr`` is a map stored directly in the data
    word and no DWARF map struct names its header (UNKNOWN otherwise)."""
    rt = reg.rts.try_get(taddr) if taddr else None
    if rt is None or rt.kind != MAP_KIND or not rt.direct_iface:
        return UNKNOWN
    t = reg.of_rtype(taddr)
    return t if t != UNKNOWN and reg.table[t].target is None else UNKNOWN


# ---- DWARF function bodies: typed stack slots and closure contexts ----

def leaf_at(table: TypeTable, tid: int, off: int) -> tuple[int, int] | None:
    """Return ``(type id, offset in it)`` of the innermost non-aggregate value holding byte
    ``off`` of a ``tid`` value (structs and arrays walked down), or None between fields."""
    for _ in range(64):
        t = table[tid]
        if not 0 <= off < max(t.size, 1):
            return None
        if t.kind is Kind.STRUCT and t.fields:
            f = next((f for f in reversed(t.fields)
                      if f.offset <= off < f.offset + max(table[f.type].size, 1)), None)
            if f is None:
                return None
            tid, off = f.type, off - f.offset
        elif t.kind is Kind.ARRAY and t.elem is not None and table[t.elem].size > 0:
            tid, off = t.elem, off % table[t.elem].size
        else:
            return tid, off
    return None


def _is_shape(table: TypeTable, tid: int) -> bool:
    """Return whether a variable's type is a generic shape (``go.shape.*uint8`` stands for
    every pointer type, so what it points at is not known): such variables type nothing."""
    return "go.shape." in table[tid].name


CLOSURE_PREFIX = "closure for "   # golang.org/x/debug viewcore's name for a closure's context


class ClosureTypes:
    """Context types of closures: what a func value points at.

    A closure's context is a funcval: word 0 is the entry pc of the closure function, the
    captured variables follow. The struct is named ``closure for <function>`` as
    golang.org/x/debug viewcore names it, with fields ``F`` (the pc, as the compiler's
    closure struct in cmd/compile/internal/walk/closure.go calls it) and what follows, from
    the first source that knows it:

    * DWARF (go1.23+ DW_AT_go_closure_offset): the captured variables at their offsets (a
      variable captured by reference is named ``&x`` and is a pointer);
    * a method value's wrapper ``pkg.T.M-fm`` / ``pkg.(*T).M-fm``: the compiler's
      ``struct { F uintptr; R T }`` (typecheck.MethodValueType), R the receiver, whose type
      is the one runtime type of that name (of which M is a method, when its descriptor
      lists methods); the field is named ``.this`` as DWARF names it;
    * the code making the closure (``gocore.heap.allocsites``, amd64): the compiler's
      closure struct ``struct { F uintptr; X0 T0; ... }`` whose descriptor the allocation
      call takes, fields ``F``, ``X0``... as the descriptor names them (also a method
      value's ``struct { F uintptr; R T }`` when its receiver type is not found by name);
    * otherwise only ``F``: a struct of one word that describes the start of the object
      (``TypeRegistry.prefix_types``), the function named by the pclntab. The object is a
      funcval because a func value points at it, so naming it is sound; what it captured
      stays untyped.

    ``dwarf`` may be None (a stripped executable): then the last three sources answer.
    ``sites`` returns the code's {closure entry: descriptor address} (``closure_sites``);
    None: that source is not used.
    """

    def __init__(self, dwarf: DwarfData | None, reg: TypeRegistry, pclntab: Pclntab, bias: int,
                 sites: Callable[[], dict[int, int]] | None = None):
        self.dwarf = dwarf
        self.reg = reg
        self.pclntab = pclntab
        self.bias = bias
        self.sites = sites
        self._by_pc: dict[int, int] = {}
        self._by_name: _TypelinkNames | None = None

    def types(self, pcs: np.ndarray) -> np.ndarray:
        """Return the context type id for each funcval entry pc (run-time; UNKNOWN if none)."""
        pcs = np.asarray(pcs, dtype=np.uint64)
        u, inv = np.unique(pcs, return_inverse=True)
        ids = np.array([self.of_pc(int(pc)) for pc in u], dtype=np.int32)   # per function
        return ids[np.asarray(inv).ravel()] if len(pcs) else np.zeros(0, np.int32)

    def of_pc(self, pc: int) -> int:
        """Return the context type of the closure whose entry is run-time ``pc``."""
        got = self._by_pc.get(pc)
        if got is None:
            try:
                got = self._build(pc)
            except GoCoreError as e:      # one unreadable function costs only its closures
                log.warning("closure at %#x: %s", pc, e)
                got = UNKNOWN
            self._by_pc[pc] = got
        return got

    def _build(self, pc: int) -> int:
        if not pc or pc < self.bias:
            return UNKNOWN
        entry = pc - self.bias
        f = self.pclntab.find_func(entry)
        if f is None or f.entry != entry:
            return UNKNOWN
        got = self._from_dwarf(entry) if self.dwarf is not None else UNKNOWN
        if got == UNKNOWN:      # a method value's receiver is named ``.this``, as DWARF names it
            got = self._method_value(f.name)
        if got == UNKNOWN:
            got = self._from_code(entry, f.name)
        if got == UNKNOWN:
            got = self._name_only(f.name)
        return got

    def _from_dwarf(self, entry: int) -> int:
        fn = self.dwarf.function(pc=entry)
        if fn is None or fn.low_pc != entry:
            return UNKNOWN
        by_off: dict[int, list] = {}
        for v in fn.closure_vars:
            if v.type >= 0 and not _is_shape(self.reg.table, v.type):
                by_off.setdefault(v.closure_offset, []).append(v)
        cv = []
        for off in sorted(by_off):
            vs = by_off[off]
            if len(vs) > 1:   # captured by reference: x and its heap address &x share the slot
                vs = [v for v in vs if v.name.startswith("&")]
                if len(vs) != 1:
                    return UNKNOWN
            cv.append(vs[0])
        if not cv:
            return UNKNOWN
        table, ps = self.reg.table, self.reg.ptr_size
        fields = [Field("F", 0, self._uintptr())]
        end = ps
        for v in cv:
            if v.closure_offset < end:           # overlapping captures: not a layout we know
                return UNKNOWN
            fields.append(Field(v.name, v.closure_offset, v.type))
            end = v.closure_offset + table[v.type].size
        return self._struct(CLOSURE_PREFIX + fn.name, -(-end // ps) * ps, fields)

    def _from_code(self, entry: int, name: str) -> int:
        """Return ``closure for <name>`` laid out as the closure struct descriptor that the
        code allocating the context names, else UNKNOWN."""
        taddr = self.sites().get(entry) if self.sites is not None else None
        rt = self.reg.rts.try_get(taddr) if taddr else None
        if rt is None or rt.kind != STRUCT_KIND or rt.size < self.reg.ptr_size:
            return UNKNOWN
        t = self.reg.table[self.reg.of_rtype(taddr)] if self.reg.of_rtype(taddr) != UNKNOWN else None
        if t is None or t.kind is not Kind.STRUCT or not t.fields:
            return UNKNOWN
        first = t.fields[0]
        if first.offset != 0 or self.reg.table[first.type].kind is not Kind.UINTPTR:
            return UNKNOWN                    # not the compiler's closure struct
        return self._struct(CLOSURE_PREFIX + name, t.size, list(t.fields))

    def _uintptr(self) -> int:
        t = self.reg.table.lookup("uintptr")
        return t.id if t is not None else self.reg._add("uintptr", Kind.UINTPTR, self.reg.ptr_size)

    def _struct(self, name: str, size: int, fields: list[Field]) -> int:
        t = self.reg.table.lookup(name)
        if t is not None and t.kind is Kind.STRUCT:
            return t.id
        return self.reg._add(name, Kind.STRUCT, size, fields=tuple(fields))

    def _method_value(self, name: str) -> int:
        """Return ``struct { F uintptr; .this T }`` for a method value wrapper ``...-fm`` whose
        receiver T is one known runtime type, else UNKNOWN."""
        recv = method_value_receiver(name)
        if recv is None:
            return UNKNOWN
        recv_name, method = recv
        rt = self._unique_type(recv_name)
        if rt is None:
            return UNKNOWN
        if rt.kind == INTERFACE_KIND:
            if method not in {m.name for m in rt.imethods}:
                return UNKNOWN
        elif rt.methods and method not in {m.name for m in rt.methods}:
            return UNKNOWN
        r = self.reg.of_rtype(rt.addr)
        if r == UNKNOWN or rt.size <= 0:
            return UNKNOWN
        ps = self.reg.ptr_size
        size = -(-(ps + rt.size) // ps) * ps
        return self._struct(CLOSURE_PREFIX + name, size, [Field("F", 0, self._uintptr()),
                                                          Field(".this", ps, r)])

    def pointer_receiver(self, recv: str, method: str) -> RuntimeType | None:
        """Return the runtime type ``recv`` (``*pkg.T``) when it is the one typelinked type of
        that name and ``method`` is among its methods (when its descriptor lists any)."""
        rt = self._unique_type(recv)
        if rt is None or (rt.methods and method not in {m.name for m in rt.methods}):
            return None
        return rt

    def _unique_type(self, qualified: str):
        """Return the one runtime type spelled ``qualified`` (``pkg/path.T`` or ``*pkg/path.T``)
        found through the typelinked pointer types ``*pkg/path.T`` (None: none, or several).

        Only the descriptors whose string is ``*pkg.T`` are decoded (``_typelink_names``):
        decoding every type of a large program costs seconds."""
        ptr = qualified.startswith("*")
        want = qualified[1:] if ptr else qualified
        rts = self.reg.rts
        got = []
        for a in self._typelink_names().pointers_to(want[want.rfind(".") + 1:]):
            rt = rts.try_get(a)
            e = rts.try_get(rt.elem) if rt is not None and rt.kind == POINTER and rt.elem else None
            if e is not None and e.named and rts.qualified_name(e) == want:
                got.append(rt if ptr else e)
        return got[0] if len(got) == 1 else None

    def _typelink_names(self) -> "_TypelinkNames":
        if self._by_name is None:
            self._by_name = _typelink_names(self.reg)
        return self._by_name

    def _name_only(self, name: str) -> int:
        t = self._struct(CLOSURE_PREFIX + name, self.reg.ptr_size, [Field("F", 0, self._uintptr())])
        if len(self.reg.table[t].fields) == 1:     # not a DWARF-laid-out one of that name
            self.reg.prefix_types.add(t)
        return t


class _TypelinkNames:
    """The descriptor strings of a module's typelinked types, read in one gather, to find the
    pointer types ``*pkg.T`` to a type named ``T`` without decoding every descriptor."""

    WIDTH = 128        # bytes read per name: flags, varint length, ``*pkg.T`` (longer: skipped)

    def __init__(self, rts: RuntimeTypes, addrs: list[int]):
        self.addrs = np.array(addrs, dtype=np.uint64)
        n = len(self.addrs)
        proc = rts.proc

        gather = proc.gather
        str_off, ok1 = gather.uint(self.addrs + np.uint64(rts.abi.off["str"]), 4)
        tflag, ok2 = gather.uint(self.addrs + np.uint64(rts.abi.off["tflag"]), 1)
        so = str_off.astype(np.int64)
        so = np.where(so >= 1 << 31, so - (1 << 32), so)
        at = np.uint64(rts.types_base) + so.astype(np.uint64)
        words = np.arange(0, self.WIDTH, gather.word_size, dtype=np.uint64)
        w, ok = gather.words((at[:, None] + words[None, :]).ravel())
        # back to the bytes as memory holds them: words in the process's byte order
        self.raw = w.astype(proc.word_dtype).view(np.uint8).reshape(n, self.WIDTH)
        ok = ok.reshape(n, -1).all(axis=1) & ok1 & ok2
        b1, b2 = self.raw[:, 1].astype(np.int64), self.raw[:, 2].astype(np.int64)
        two = b1 >= 0x80                                   # abi.Name: varint length
        length = np.where(two, (b1 & 0x7F) | (b2 << 7), b1)
        start = np.where(two, 3, 2)
        star = (tflag & np.uint64(TFLAG_EXTRA_STAR)) != 0  # the string carries an extra '*'
        start, length = start + star, length - star
        self.start, self.end = start, start + length
        rows = np.arange(n)
        self.ok = ok & (self.end <= self.WIDTH) & (length >= 4) & \
            (self.raw[rows, np.minimum(start, self.WIDTH - 1)] == ord("*"))

    def pointers_to(self, name: str) -> list[int]:
        """Return the addresses of the typelinked descriptors whose string is ``*pkg.name``."""
        suffix = np.frombuffer(("." + name).encode(), dtype=np.uint8)
        k = len(suffix)
        cand = np.flatnonzero(self.ok & (self.end - self.start > k))
        if not len(cand) or not name:
            return []
        pos = self.end[cand][:, None] - k + np.arange(k)[None, :]
        same = (self.raw[cand[:, None], pos] == suffix[None, :]).all(axis=1)
        cand = cand[same]
        # the package qualifier before the suffix holds no dot, slash or bracket
        out = []
        for c in cand.tolist():
            head = bytes(self.raw[c, self.start[c] + 1:self.end[c] - k])
            if head and not any(ch in head for ch in b"./[]* "):
                out.append(int(self.addrs[c]))
        return out


def method_value_receiver(name: str) -> tuple[str, str] | None:
    """Return (receiver type as DWARF spells it, method) of a method value wrapper's name:
    ``encoding/json.ptrEncoder.encode-fm`` -> (``encoding/json.ptrEncoder``, ``encode``),
    ``pkg.(*T).M-fm`` -> (``*pkg.T``, ``M``); None for other names and generic receivers."""
    if not name.endswith("-fm") or "[" in name:
        return None
    body = name[:-3]
    dot = body.rfind(".")
    if dot <= 0:
        return None
    recv, method = body[:dot], body[dot + 1:]
    if recv.endswith(")"):
        i = recv.rfind(".(*")
        if i <= 0:
            return None
        recv = "*" + recv[:i] + "." + recv[i + 3:-1]
    slash = recv.rfind("/")
    if "." not in recv[slash + 1:] or "(" in recv or not method:
        return None
    return recv, method
