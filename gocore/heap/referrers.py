"""Who points at an object: the live objects and the roots whose pointers land in it.

Each pointer is one ``Referrer``, located in its source by byte offset and, where the
source's type says, by field path (``Items[0]``, ``Target``; a global's field from its
DWARF type). From the reverse edges (``HeapIndex.referrers``) and the roots table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import UnmappedAddress

from .typeinfer import UNKNOWN


@dataclass(frozen=True)
class Referrer:
    """One pointer into the object: from a live heap object (``object`` its id, ``root``
    None) or from a root (``root`` its RootInfo, ``object`` -1). ``address`` is the start of
    the source (object slot, or the root's memory), ``offset`` the pointer's byte offset in
    it, ``field`` its field path or None, ``type`` the source's type (None: unknown),
    ``target_offset`` where in the object the pointer lands (None: unreadable)."""

    object: int
    root: object
    address: int | None
    size: int | None
    type: str | None
    offset: int
    field: str | None
    target_offset: int | None


@dataclass(frozen=True)
class Referrers:
    """The referrers of object ``id`` (objects first, by address, then roots in table
    order), cut at ``limit``: ``objects`` and ``roots`` count them all."""

    id: int
    rows: list[Referrer]
    objects: int
    roots: int


def _target_offset(hi, where: int, target: int) -> int | None:
    try:
        return hi.gp.process.read_ptr(where) - target
    except UnmappedAddress:
        return None


def referrers_of(hi, i: int, limit: int = 1000) -> Referrers:
    """Return the pointers into object ``i`` from live objects and from roots (at most
    ``limit`` rows, objects first)."""
    rev = hi.referrers()
    a, b = int(rev.start[i]), int(rev.start[i + 1])
    src, off = rev.dst[a:b], rev.off[a:b].astype(np.int64)
    keep = hi.live[src]
    src, off = src[keep], off[keep]
    order = np.lexsort((off, hi.heap.addr[src]))
    src, off = src[order], off[order]
    rows_ = np.flatnonzero(hi.roots.obj == i)
    target = int(hi.heap.addr[i])
    rows: list[Referrer] = []
    for s, o in zip(src[:limit].tolist(), off[:limit].tolist()):
        tid = int(hi.type_id[s])
        base = int(hi.heap.addr[s])
        field = hi.field_path(tid, o - int(hi.data_off[s])) if tid != UNKNOWN else None
        rows.append(Referrer(s, None, base, int(hi.heap.size[s]),
                             hi.type_name(tid) if tid != UNKNOWN else None, o, field,
                             _target_offset(hi, base + o, target)))
    roots = hi.roots
    for r in rows_[:max(limit - len(rows), 0)].tolist():
        info = hi.root_info(r)
        tid = int(roots.type[r])
        field = None
        if info.kind == "global" and tid >= 0 and info.offset:
            field = hi.field_path(tid, info.offset)
        rows.append(Referrer(-1, info, info.address, None, info.type, info.offset, field,
                             int(roots.ptr[r]) - target))
    return Referrers(i, rows, len(src), len(rows_))
