"""Typed leaves of one heap object, for the ``object`` command: field paths and values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..binary.gotypes import Kind
from .spans import U64
from .typeinfer import UNKNOWN

MAX_FIELDS = 256        # leaves shown by ``fields`` before "..."


@dataclass(frozen=True)
class FieldValue:
    """One leaf of a typed view of an object."""

    path: str
    offset: int               # from the object's address (slot start)
    type: str
    value: str
    pointer: int | None = None
    target_type: str | None = None


def field_path(table, tid: int, off: int) -> str | None:
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


def object_fields(hi, i: int, limit: int = MAX_FIELDS) -> tuple[list[FieldValue], bool]:
    """Return the typed leaves of object ``i`` (or its raw words when untyped) and
    whether the list was cut at ``limit``."""
    tid = int(hi.type_id[i])
    base = int(hi.heap.addr[i])
    size = int(hi.heap.size[i])
    proc = hi.gp.process
    out: list[FieldValue] = []
    if tid == UNKNOWN:
        n = min(size // 8, limit)
        words, ok = hi.heap.gather.u64(base + np.arange(n, dtype=U64) * U64(8))
        dst = hi.heap.find(np.where(ok, words, 0))
        for k in range(n):
            p = int(words[k]) if ok[k] else None
            tgt = None
            if p is not None and dst[k] >= 0 and dst[k] != i:
                tgt = hi.name_of(int(dst[k]))
            out.append(FieldValue(f"+{8 * k:#x}", 8 * k, "word",
                                  f"{p:#x}" if p is not None else "?", p if tgt else None, tgt))
        return out, size // 8 > n
    table = hi.registry.table
    cut = False

    def leaf(path: str, off: int, t) -> None:
        a = base + off
        name = hi.registry.display_name(t.id)
        val, ptr = "?", None
        try:
            if t.kind in (Kind.PTR, Kind.UNSAFE_PTR, Kind.MAP, Kind.CHAN, Kind.FUNC):
                ptr = proc.read_ptr(a)
                val = f"{ptr:#x}" if ptr else "nil"
            elif t.kind is Kind.STRING:
                ptr = proc.read_ptr(a)
                n = proc.read_ptr(a + 8)
                s = proc.read(ptr, min(n, 64)).decode("utf-8", "replace") if ptr and n < 1 << 40 else ""
                val = repr(s + ("..." if n > 64 else "")) + f" (len {n})"
            elif t.kind is Kind.SLICE:
                ptr = proc.read_ptr(a)
                val = f"{ptr:#x} len {proc.read_ptr(a + 8)} cap {proc.read_ptr(a + 16)}"
            elif t.kind in (Kind.IFACE, Kind.EFACE):
                w0, ptr = proc.read_ptr(a), proc.read_ptr(a + 8)
                val = f"({w0:#x}, {ptr:#x})"
            elif t.kind in (Kind.INT, Kind.UINT, Kind.UINTPTR, Kind.BOOL) and t.size in (1, 2, 4, 8):
                v = int.from_bytes(proc.read(a, t.size), "little", signed=t.kind is Kind.INT)
                val = ("true" if v else "false") if t.kind is Kind.BOOL else (
                    f"{v:#x}" if t.kind is Kind.UINTPTR else str(v))
            elif t.kind is Kind.FLOAT and t.size in (4, 8):
                val = repr(float(np.frombuffer(proc.read(a, t.size), "<f8" if t.size == 8 else "<f4")[0]))
            else:
                val = proc.read(a, min(t.size, 16)).hex() + ("..." if t.size > 16 else "")
        except Exception:  # noqa: BLE001 - an unreadable field costs only that field
            val = "?"
        tgt = None
        if ptr:
            j = hi.heap.find_one(ptr)
            tgt = hi.name_of(j) if j >= 0 else None
        out.append(FieldValue(path, off, name, val, ptr or None, tgt))

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
