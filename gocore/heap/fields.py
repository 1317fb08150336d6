"""Typed leaves of one heap object, for the ``object`` command: field paths and values
(as data; viewcore makes the text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core import Error

from ..binary.gotypes import POINTER_KINDS, Kind, TypeTable
from .spans import U64
from .typeinfer import UNKNOWN

if TYPE_CHECKING:
    from .heapindex import HeapIndex

MAX_FIELDS = 256        # leaves shown by ``fields`` before "..."
STRING_PREFIX = 64      # bytes of a string's contents read for ``FieldValue.value``
RAW_PREFIX = 16         # bytes of a value of another kind read for ``FieldValue.value``


@dataclass(frozen=True)
class FieldValue:
    """One leaf of a typed view of an object (or one word of an untyped one), as data.

    ``kind`` is the leaf's ``Kind`` value (``"int"``, ``"string"``, ``"slice"``, ``"ptr"``,
    ...) or ``"word"`` for a word of an untyped object. ``value`` is the Python value:
    ``int`` for integers, pointers (also map, chan, func, unsafe.Pointer), a slice's array
    pointer and untyped words; ``bool``; ``float``; ``str`` for a string (its first
    ``STRING_PREFIX`` bytes, decoded as UTF-8 with replacement); ``bytes`` for any other
    kind (its first ``RAW_PREFIX`` bytes); None for an interface (see ``words``) or when the
    field is unreadable (``readable`` is then False). ``truncated`` says ``value`` is only
    a prefix.
    """

    path: str
    offset: int               # from the object's address (slot start)
    type: str
    kind: str
    value: int | float | bool | str | bytes | None
    readable: bool = True
    truncated: bool = False
    length: int | None = None          # strings and slices
    capacity: int | None = None        # slices
    words: tuple[int, int] | None = None  # interfaces: (itab or type word, data word)
    pointer: int | None = None         # the pointer the leaf holds (nil: None)
    target_type: str | None = None     # the type of the heap object it points into


def field_path(table: TypeTable, tid: int, off: int) -> str | None:
    """Return the field path (``Next``, ``[12].A``, ``elems[3]``) of byte ``off`` in a
    value of type ``tid``, or None when the type does not say."""
    parts: list[str] = []
    for _ in range(64):
        t = table[tid]
        if t.kind is Kind.STRUCT and t.fields:
            f = next((f for f in reversed(t.fields)
                      if f.offset <= off < f.offset + max(table[f.type].size, 1)), None)
            if f is None:
                break
            parts.append(("." if parts else "") + f.name)
            off -= f.offset
            tid = f.type
        elif t.kind is Kind.ARRAY and t.elem is not None and table[t.elem].size > 0:
            es = table[t.elem].size
            parts.append(f"[{off // es}]")
            off %= es
            tid = t.elem
        else:
            if t.kind in (Kind.STRING, Kind.SLICE, Kind.IFACE, Kind.EFACE) and off:
                sub = {Kind.STRING: ("ptr", "len"), Kind.SLICE: ("array", "len", "cap"),
                       Kind.IFACE: ("tab", "data"), Kind.EFACE: ("type", "data")}[t.kind]
                w = off // table.ptr_size
                if w < len(sub):
                    parts.append(("." if parts else "") + sub[w])
            break
    return "".join(parts) or None


def object_fields(hi: HeapIndex, i: int, limit: int = MAX_FIELDS) -> tuple[list[FieldValue], bool]:
    """Return the typed leaves of object ``i`` (or its raw words when untyped) and
    whether the list was cut at ``limit``."""
    tid = int(hi.type_id[i])
    base = int(hi.heap.addr[i])
    size = int(hi.heap.size[i])
    proc = hi.gp.process
    w = proc.ptr_size
    out: list[FieldValue] = []
    if tid == UNKNOWN:
        n = min(size // w, limit)
        words, ok = hi.heap.gather.words(base + np.arange(n, dtype=U64) * U64(w))
        dst = hi.heap.find(np.where(ok, words, 0))
        for k in range(n):
            p = int(words[k]) if ok[k] else None
            tgt = None
            if p is not None and dst[k] >= 0 and dst[k] != i:
                tgt = hi.name_of(int(dst[k]))
            out.append(FieldValue(f"+{w * k:#x}", w * k, "word", "word", p, readable=p is not None,
                                  pointer=p if tgt else None, target_type=tgt))
        return out, size // w > n
    table = hi.registry.table
    float_dtype = {4: np.dtype(proc.word_dtype.byteorder + "f4"), 8: np.dtype(proc.word_dtype.byteorder + "f8")}
    cut = False

    def leaf(path: str, off: int, t) -> None:
        a = base + off
        got: dict = {}
        ptr = None
        try:
            if t.kind in POINTER_KINDS:
                ptr = proc.read_ptr(a)
                got = {"value": ptr}
            elif t.kind is Kind.STRING:
                ptr = proc.read_ptr(a)
                n = proc.read_ptr(a + w)
                s = proc.read(ptr, min(n, STRING_PREFIX)).decode("utf-8", "replace") \
                    if ptr and n < 1 << 40 else ""
                got = {"value": s, "length": n, "truncated": n > STRING_PREFIX}
            elif t.kind is Kind.SLICE:
                ptr = proc.read_ptr(a)
                got = {"value": ptr, "length": proc.read_ptr(a + w), "capacity": proc.read_ptr(a + 2 * w)}
            elif t.kind in (Kind.IFACE, Kind.EFACE):
                w0, ptr = proc.read_ptr(a), proc.read_ptr(a + w)
                got = {"value": None, "words": (w0, ptr)}
            elif t.kind in (Kind.INT, Kind.UINT, Kind.UINTPTR, Kind.BOOL) and t.size in (1, 2, 4, 8):
                v = proc.read_int(a, t.size) if t.kind is Kind.INT else proc.read_uint(a, t.size)
                got = {"value": bool(v) if t.kind is Kind.BOOL else v}
            elif t.kind is Kind.FLOAT and t.size in (4, 8):
                got = {"value": float(np.frombuffer(proc.read(a, t.size), float_dtype[t.size])[0])}
            else:
                got = {"value": proc.read(a, min(t.size, RAW_PREFIX)), "truncated": t.size > RAW_PREFIX}
        except Error:  # an unreadable field costs only that field
            got = {"value": None, "readable": False}
        tgt = None
        if ptr:
            j = hi.heap.find_one(ptr)
            tgt = hi.name_of(j) if j >= 0 else None
        out.append(FieldValue(path, off, hi.registry.display_name(t.id), t.kind.value, pointer=ptr or None,
                              target_type=tgt, **got))
    def walk(path: str, off: int, tid: int, depth: int) -> None:
        nonlocal cut
        if len(out) >= limit:
            cut = True
            return
        t = table[tid]
        if t.kind is Kind.STRUCT and t.fields and depth < 16:
            for f in t.fields:
                walk(f"{path}.{f.name}" if path else f.name, off + f.offset, f.type, depth + 1)
        elif t.kind is Kind.ARRAY and t.elem is not None and t.len and depth < 16:
            es = table[t.elem].size
            for k in range(t.len):
                if len(out) >= limit:
                    cut = True
                    return
                walk(f"{path}[{k}]", off + k * es, t.elem, depth + 1)
        else:
            leaf(path or "value", off, t)

    walk("", int(hi.data_off[i]), tid, 0)
    return out, cut
