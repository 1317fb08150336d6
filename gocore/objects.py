"""Handles on the live heap: ``Object`` (one heap object) and ``Root`` (one root word).

Both are small views over the heap index's numpy arrays (an object id, a root row), made only
for what a caller iterates or asks for; nothing about the heap is copied into them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .values import Types, Value

if TYPE_CHECKING:
    from .heap.heapindex import HeapIndex
    from .process import GoProcess

UNKNOWN_TYPE = "unknown"


def heap_types(gp: GoProcess) -> Types:
    """Return the Types of the heap index's registry (building the index on first use)."""
    got = gp.__dict__.get("_api_heap_types")
    if got is None:
        got = gp.__dict__["_api_heap_types"] = Types(gp, gp.heap_index().registry)
    return got


class Object:
    """A live heap object: its allocation slot, its type, its value and its pointer graph.

    ``id`` is the object's row in the heap index's numpy arrays (``hi.heap.addr[id]``).
    Two Objects are equal when they are the same object of the same process.
    """

    __slots__ = ("_gp", "id")

    def __init__(self, gp: GoProcess, object_id: int):
        self._gp = gp
        self.id = object_id

    @property
    def _hi(self) -> HeapIndex:
        return self._gp.heap_index()

    @property
    def address(self) -> int:
        """Return the object's address (the start of its allocation slot)."""
        return int(self._hi.heap.addr[self.id])

    @property
    def size(self) -> int:
        """Return the size of the object's allocation slot in bytes (the size class)."""
        return int(self._hi.heap.size[self.id])

    @property
    def type_name(self) -> str:
        """Return the Go spelling of the object's type, ``"unknown"`` when it is not known.
        An object holding several values of a type (a slice's backing array) is ``[N]T``."""
        return self._hi.name_of(self.id)

    @property
    def value(self) -> Value | None:
        """Return the object's Value (after a malloc header, where one precedes the data), or
        None when its type is unknown."""
        hi = self._hi
        tid = int(hi.type_id[self.id])
        if tid < 0:
            return None
        return heap_types(self._gp).value(tid, self.address + int(hi.data_off[self.id]))

    def __getitem__(self, field: str | int) -> Value:
        """Return ``obj.value[field]``; raises TypeError when the type is unknown."""
        v = self.value
        if v is None:
            raise TypeError(f"object at {self.address:#x} has no known type")
        return v[field]

    def pointers(self) -> Iterator[tuple[int, Object]]:
        """Iterate (byte offset from ``address``, Object) for each pointer of this object
        into a heap object, in offset order."""
        dst, off = self._hi.edges.out(self.id)
        for d, o in zip(dst.tolist(), off.tolist()):
            yield o, Object(self._gp, d)

    def referrers(self) -> Iterator[Object | Root]:
        """Iterate the live heap Objects that point into this object, then the Roots (globals,
        frame words, finalizers) whose pointer lands in it."""
        hi = self._hi
        rev = hi.referrers()
        a, b = int(rev.start[self.id]), int(rev.start[self.id + 1])
        src = np.unique(rev.dst[a:b])
        for s in src[hi.live[src]].tolist():
            yield Object(self._gp, s)
        for r in np.flatnonzero(hi.roots.obj == self.id).tolist():
            yield Root(self._gp, r)

    @property
    def retained(self) -> int:
        """Return the bytes this object alone keeps alive: its own slot plus every object only
        reachable through it (the dominator tree, computed once per process)."""
        return int(dominators(self._gp).retained[self.id])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Object) and other._gp is self._gp and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<Object {self.type_name} at {self.address:#x} size {self.size}>"


class Root:
    """One root word the GC starts marking from: a global, a frame slot, a finalizer.

    ``kind`` is ``"global"``, ``"frame"``, ``"finalizer"`` or ``"other"``; ``name`` the
    variable (``main.orders``) or a description of the word; ``goroutine`` and ``function``
    say whose frame a frame root is in (None otherwise); ``address`` is where the root's
    memory starts (None when it is in no memory, e.g. a register); ``type_name`` its Go
    type or ``"unknown"``; ``row`` its row in the heap index's roots table.
    """

    __slots__ = ("_gp", "row", "kind", "name", "goroutine", "function", "address", "type_name")

    def __init__(self, gp: GoProcess, row: int):
        info = gp.heap_index().root_info(row)
        self._gp = gp
        self.row = row
        self.kind: str = info.kind
        self.name: str = info.name
        self.goroutine: int | None = info.goroutine
        self.function: str | None = info.function
        self.address: int | None = info.address
        self.type_name: str = info.type or UNKNOWN_TYPE

    @property
    def object(self) -> Object | None:
        """Return the live heap Object the root points into, or None."""
        hi = self._gp.heap_index()
        i = int(hi.roots.obj[self.row])
        return Object(self._gp, i) if 0 <= i < len(hi.live) and hi.live[i] else None

    def __repr__(self) -> str:
        return f"<Root {self.kind} {self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Root) and other._gp is self._gp and other.row == self.row

    def __hash__(self) -> int:
        return hash(("root", self.row))


def object_at(gp: GoProcess, addr: int) -> Object | None:
    """Return the live Object whose slot contains ``addr``, or None (free or unallocated
    memory, an object the GC would free, an address outside the heap)."""
    if not 0 <= addr < 1 << 64:
        return None
    hi = gp.heap_index()
    i = hi.find(addr)
    if not 0 <= i < len(hi.live) or not hi.live[i]:   # -1 must not index the last object
        return None
    return Object(gp, i)


def objects(gp: GoProcess, type_name: str | None = None) -> Iterator[Object]:
    """Iterate the live Objects (of Go type ``type_name`` exactly, or all) by address."""
    for i in gp.heap_index().objects_of(type_name).tolist():
        yield Object(gp, i)


def roots(gp: GoProcess) -> Iterator[Root]:
    """Iterate every Root of the heap index, in root-table order."""
    for r in range(len(gp.heap_index().roots)):
        yield Root(gp, r)


def dominators(gp: GoProcess):
    """Return the dominator tree of the live heap (``heap.dominators``), built once."""
    got = gp.__dict__.get("_api_dominators")
    if got is None:
        from .heap.dominators import dominators_of
        got = gp.__dict__["_api_dominators"] = dominators_of(gp.heap_index())
    return got


class _ByType:
    """The live object ids grouped by type id (one stable argsort of the live objects), so
    the objects of a type are a slice, in address order, whatever the heap's size."""

    def __init__(self, hi: HeapIndex):
        ids = hi.live_ids
        tids = hi.type_id[ids]
        order = np.argsort(tids, kind="stable")     # stable: address order within a type
        self.ids = ids[order]
        sorted_tids = tids[order]
        cut = np.flatnonzero(np.diff(sorted_tids)) + 1
        self.starts = np.concatenate([[0], cut, [len(ids)]]).astype(np.int64)
        self.tids = sorted_tids[self.starts[:-1]] if len(ids) else sorted_tids[:0]
        self.by_name: dict[str, list[int]] = {}    # one entry per type, not per object
        for k, t in enumerate(self.tids.tolist()):
            self.by_name.setdefault(hi.type_name(t), []).append(k)
        self._merged: dict[str, np.ndarray] = {}

    def ids_of(self, type_name: str) -> np.ndarray:
        """Return the live ids of type ``type_name`` by address (several type ids may share
        a Go spelling: their objects are merged once and kept)."""
        groups = self.by_name.get(type_name, [])
        if len(groups) == 1:
            k = groups[0]
            return self.ids[self.starts[k]:self.starts[k + 1]]
        got = self._merged.get(type_name)
        if got is None:
            parts = [self.ids[self.starts[k]:self.starts[k + 1]] for k in groups]
            got = np.sort(np.concatenate(parts)) if parts else self.ids[:0]
            self._merged[type_name] = got
        return got


def objects_page(gp: GoProcess, type_name: str | None, offset: int, limit: int) -> tuple[list[Object], int]:
    """Return (up to ``limit`` live Objects of type ``type_name``, or of any type, from
    position ``offset`` in address order; how many such objects there are)."""
    hi = gp.heap_index()
    if type_name is None:
        ids = hi.live_ids
    else:
        by_type = gp.__dict__.get("_api_by_type")
        if by_type is None:
            by_type = gp.__dict__["_api_by_type"] = _ByType(hi)
        ids = by_type.ids_of(type_name)
    offset = max(offset, 0)
    page = ids[offset:offset + max(limit, 0)]
    return [Object(gp, i) for i in page.tolist()], len(ids)
