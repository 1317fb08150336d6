"""Heap objects as parallel numpy arrays, from the spans' alloc bits.

An object is an int id into arrays sorted by address: ``addr`` (uint64, the start of the
allocation slot, malloc header included), ``size`` (uint32 slot size = ``elemsize``; large
objects can exceed 4 GiB only in theory and are clipped) and ``span`` (int32 row in
``Spans``). A slot is allocated when its bit in ``mspan.allocBits`` is set or its index is
below ``mspan.freeindex`` (slots handed out since the last sweep are not in allocBits;
src/runtime/mbitmap.go ``nextFreeIndex``). Just after ``runtime.GC()`` that is the live
set plus whatever was allocated since.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from .spans import U64, Arenas, MemGather, Spans, ragged_arange, read_spans


@dataclass
class Heap:
    """The allocated heap objects of a dump (ids index every array)."""

    spans: Spans
    arenas: Arenas
    gather: MemGather
    addr: np.ndarray   # uint64, sorted
    size: np.ndarray   # uint32 slot size
    span: np.ndarray   # int32 row in spans

    def __len__(self) -> int:
        return len(self.addr)

    @property
    def count(self) -> int:
        """Return the number of allocated objects."""
        return len(self.addr)

    @property
    def bytes(self) -> int:
        """Return the total slot size of the allocated objects."""
        return int(self.size.sum(dtype=np.uint64))

    def find(self, ptrs: np.ndarray) -> np.ndarray:
        """Return the id of the object containing each pointer (interior ones too), or -1."""
        ptrs = np.asarray(ptrs, dtype=U64)
        if len(self.addr) == 0:
            return np.full(len(ptrs), -1, dtype=np.int32)
        i = np.searchsorted(self.addr, ptrs, side="right").astype(np.int64) - 1
        ok = i >= 0
        j = np.where(ok, i, 0)
        ok &= ptrs < self.addr[j] + self.size[j].astype(U64)
        return np.where(ok, j, -1).astype(np.int32)

    def find_one(self, ptr: int) -> int:
        """Return the id of the object containing ``ptr``, or -1."""
        return int(self.find(np.array([ptr], dtype=U64))[0])


def _allocated(spans: Spans, gather: MemGather) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (addr, size, span) of every allocated slot of the in-use spans."""
    rows = np.flatnonzero(spans.in_use)
    nelems = spans.nelems[rows]
    nbytes = (nelems + 7) // 8
    owner, k = ragged_arange(nbytes)
    raw, ok = gather.u8(spans.alloc_bits[rows][owner] + k.astype(U64))
    raw[~ok] = 0
    bits = np.unpackbits(raw, bitorder="little").astype(bool)
    # bit j of byte k of span r -> slot index 8k+j
    bowner = np.repeat(owner, 8)
    slot = np.repeat(k * 8, 8) + np.tile(np.arange(8, dtype=np.int64), len(k))
    alloc = bits | (slot < spans.freeindex[rows][bowner])
    alloc &= slot < nelems[bowner]
    sel = np.flatnonzero(alloc)
    srow = rows[bowner[sel]]
    addr = spans.base[srow] + slot[sel].astype(U64) * spans.elemsize[srow]
    size = np.minimum(spans.elemsize[srow], U64(0xFFFFFFFF)).astype(np.uint32)
    order = np.argsort(addr, kind="stable")
    return addr[order], size[order], srow[order].astype(np.int32)


def read_heap(gp) -> Heap:
    """Read spans and allocated objects of ``gp`` (a GoProcess)."""
    gather = MemGather(gp.process)
    spans, arenas = read_spans(gp, gather)
    addr, size, span = _allocated(spans, gather)
    return Heap(spans=spans, arenas=arenas, gather=gather, addr=addr, size=size, span=span)


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def heap_of(gp) -> Heap:
    """Return the Heap of ``gp``, read once per GoProcess."""
    h = _CACHE.get(gp)
    if h is None:
        h = read_heap(gp)
        _CACHE[gp] = h
    return h
