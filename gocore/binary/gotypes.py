"""The Go type model: ``Kind``, ``Field``, ``Type`` and the ``TypeTable`` that owns them.

Types are referred to by int id (their index in the table), so per-object arrays can hold an
``int32`` type id and recursive types need no object cycles. Names are spelled as Go spells
them: ``main.Order``, ``*main.Order``, ``[]uint8``, ``map[string]*main.Order``, ``[16]*main.Node``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Kind(enum.Enum):
    """What a value of the type looks like in memory (width of numbers is ``Type.size``)."""

    BOOL = "bool"
    INT = "int"
    UINT = "uint"
    UINTPTR = "uintptr"
    FLOAT = "float"
    COMPLEX = "complex"
    STRING = "string"          # {data *byte, len int}
    SLICE = "slice"            # {array *elem, len, cap int}
    ARRAY = "array"
    STRUCT = "struct"
    PTR = "ptr"
    UNSAFE_PTR = "unsafe_ptr"
    IFACE = "iface"            # {tab *itab, data unsafe.Pointer}
    EFACE = "eface"            # {_type *_type, data unsafe.Pointer}
    MAP = "map"                # one word: pointer to the runtime map header
    CHAN = "chan"              # one word: pointer to runtime.hchan
    FUNC = "func"              # one word: pointer to a funcval (closure)
    VOID = "void"              # a type DWARF names but does not describe (size 0)


# Kinds whose value is exactly one pointer word.
POINTER_KINDS = frozenset({Kind.PTR, Kind.UNSAFE_PTR, Kind.MAP, Kind.CHAN, Kind.FUNC})


@dataclass(frozen=True)
class Field:
    """A struct member: ``offset`` bytes into the struct, of type id ``type``."""

    name: str
    offset: int
    type: int
    embedded: bool = False


@dataclass(eq=False)
class Type:
    """One Go type.

    ``elem`` is the element of a pointer, slice, array, chan or map (value type); ``key`` the
    key of a map; ``len`` the count of an array. ``target`` is, for map/chan/func values, the
    id of the runtime structure the word points at when DWARF names it (``hash<K,V>``,
    ``map<K,V>``, ``hchan<T>``). ``rtype_off`` is the offset of the type's
    ``abi.Type`` descriptor from the start of the type data (``moduledata.types``, symbol
    ``runtime.types``): DW_AT_go_runtime_type, the same base as a ``typeOff``; 0 when Go emitted none.
    """

    id: int
    name: str
    kind: Kind
    size: int
    elem: int | None = None
    key: int | None = None
    len: int | None = None
    fields: tuple[Field, ...] = ()
    target: int | None = None
    rtype_off: int = 0
    dict_index: int | None = None
    not_in_heap: bool = False   # values never live in the GC'd heap (runtime sys.NotInHeap)

    def field(self, name: str) -> Field | None:
        """Return the field called ``name``, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def __repr__(self) -> str:
        return f"Type({self.id}, {self.name!r}, {self.kind.value}, size={self.size})"


@dataclass
class TypeTable:
    """All types of one program, by int id, with lookup by name and by runtime type address."""

    ptr_size: int = 8
    types: list[Type] = field(default_factory=list)
    _by_name: dict[str, int] = field(default_factory=dict, repr=False)
    _by_rtype: dict[int, int] = field(default_factory=dict, repr=False)
    _ptr_cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def add(self, name: str, kind: Kind, size: int, **kw: Any) -> Type:
        """Append a new type and return it (its id is its index)."""
        t = Type(len(self.types), name, kind, size, **kw)
        self.types.append(t)
        return t

    def index(self) -> None:
        """(Re)build the name and runtime-type indexes; the first type of a name wins."""
        self._by_name.clear()
        self._by_rtype.clear()
        self._ptr_cache.clear()
        for t in self.types:
            self._by_name.setdefault(t.name, t.id)
            if t.rtype_off:
                self._by_rtype.setdefault(t.rtype_off, t.id)

    def __len__(self) -> int:
        return len(self.types)

    def __getitem__(self, tid: int) -> Type:
        return self.types[tid]

    def __iter__(self):
        return iter(self.types)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def lookup(self, name: str) -> Type | None:
        """Return the type spelled ``name`` (Go spelling), or None."""
        tid = self._by_name.get(name)
        return None if tid is None else self.types[tid]

    def by_rtype_off(self, off: int) -> Type | None:
        """Return the type whose ``abi.Type`` descriptor is ``off`` bytes into moduledata.types."""
        tid = self._by_rtype.get(off)
        return None if tid is None else self.types[tid]

    def pointer_offsets(self, t: Type | int) -> np.ndarray:
        """Return the sorted byte offsets (int64, multiples of the pointer size) of the words
        of a ``t`` value that hold pointers.

        Pointers (except to not-in-heap types, which the GC ignores), unsafe pointers, maps, chans and funcs are one pointer word; a string's data
        and a slice's array are the first word; of an interface only the data word counts (the
        itab / type word points outside the heap), exactly as in the GC masks the compiler
        writes (cmd/compile/internal/typebits). Structs and arrays are walked recursively.
        Results are cached and read-only.
        """
        tid = t if isinstance(t, int) else t.id
        got = self._ptr_cache.get(tid)
        if got is None:
            got = self._pointer_offsets(tid, ())
            got.setflags(write=False)
            self._ptr_cache[tid] = got
        return got

    def pointer_words(self, t: Type | int) -> np.ndarray:
        """Return ``pointer_offsets(t)`` as word indexes (offset // ptr_size)."""
        return self.pointer_offsets(t) // self.ptr_size

    def _pointer_offsets(self, tid: int, active: tuple[int, ...]) -> np.ndarray:
        cached = self._ptr_cache.get(tid)
        if cached is not None:
            return cached
        t = self.types[tid]
        k = t.kind
        empty = np.zeros(0, dtype=np.int64)
        if k is Kind.PTR and t.elem is not None and self.types[t.elem].not_in_heap:
            out = empty
        elif k in POINTER_KINDS or k in (Kind.STRING, Kind.SLICE):
            out = np.zeros(1, dtype=np.int64)
        elif k in (Kind.IFACE, Kind.EFACE):
            out = np.array([self.ptr_size], dtype=np.int64)
        elif k is Kind.STRUCT:
            if tid in active:  # a struct cannot contain itself; bad DWARF
                return empty
            parts = []
            for f in t.fields:
                sub = self._pointer_offsets(f.type, active + (tid,))
                if len(sub):
                    parts.append(sub + f.offset)
            out = np.concatenate(parts) if parts else empty
            if len(out) > 1 and not (out[1:] > out[:-1]).all():
                out = np.unique(out)   # fields out of offset order (bad DWARF): sorted here
        elif k is Kind.ARRAY:
            n = t.len or 0
            if n == 0 or t.elem is None or tid in active:
                return empty
            sub = self._pointer_offsets(t.elem, active + (tid,))
            if not len(sub):
                out = empty
            else:
                esize = self.types[t.elem].size
                out = (np.arange(n, dtype=np.int64)[:, None] * esize + sub[None, :]).ravel()
        else:
            out = empty
        out.setflags(write=False)
        self._ptr_cache[tid] = out
        return out
