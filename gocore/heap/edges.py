"""Pointer edges between heap objects, as CSR arrays.

For every object the pointer words given by ``PointerMaps`` are gathered from the dump in
batches (one numpy gather per batch and memory segment; for small objects of Go 1.22+ one
compiled pass per span run), looked up with ``Heap.find``, and those pointing into another
object become edges. Pointers into the object itself are
dropped, as ``scanobject`` does. ``edge_start[i]:edge_start[i+1]`` are object i's edges;
``edge_off`` is the byte offset of the pointer word inside the source object.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from .heap import Heap, heap_of
from ..memo import once_per
from .ptrmaps import PointerMaps
from .spans import U64

if TYPE_CHECKING:
    from ..process import GoProcess


@dataclass
class Edges:
    """Forward edges (CSR); ``reverse`` gives the incoming ones, built on first use."""

    start: np.ndarray   # uint32[N+1] (int64 from 4 G edges on)
    dst: np.ndarray     # int32[E]
    off: np.ndarray     # uint32[E] byte offset of the pointer in the source object
    # uint8[E] where in the target the pointer points (bytes from its slot start, 255 for
    # 255 and more): 0, or 8 past a malloc header, for a pointer to the value itself
    delta: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.dst)

    def out(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (destination ids, byte offsets) of object ``i``'s pointers."""
        a, b = int(self.start[i]), int(self.start[i + 1])
        return self.dst[a:b], self.off[a:b]

    def offset_to(self, i: int, j: int) -> int:
        """Return the byte offset of object ``i``'s first pointer to object ``j``, or -1."""
        a, b = int(self.start[i]), int(self.start[i + 1])
        hit = np.flatnonzero(self.dst[a:b] == j)
        return int(self.off[a + hit[0]]) if len(hit) else -1

    @cached_property
    def src(self) -> np.ndarray:
        """Return the source id of every edge (int32[E])."""
        n = len(self.start) - 1
        return np.repeat(np.arange(n, dtype=np.int32), np.diff(self.start))

    @cached_property
    def reverse(self) -> "Edges":
        """Return incoming edges as CSR: ``dst`` holds the sources, ``off`` their offsets."""
        n = len(self.start) - 1
        order = np.argsort(self.dst, kind="stable")
        counts = np.bincount(self.dst, minlength=n)
        start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        return Edges(start, self.src[order], self.off[order],
                     None if self.delta is None else self.delta[order])


RELEASE_BATCHES = 4  # batches of pointer words read between two releases of dump pages


class _SpanScan:
    """The pointers of small objects read by the compiled ``markkernels.span_edges``, span
    by span from the spans' heap bitmaps (Go 1.22+), where a span and its bitmap lie in one
    segment of the dump: the numpy path's bitmap expansion, reads and lookups took 4 s of
    CPU at 20 M objects, with temporaries of several arrays per pointer word. Objects with
    a recorded type (malloc header, largeType) in one segment go to
    ``markkernels.typed_edges`` the same way."""

    def __init__(self, heap: Heap, pmaps: PointerMaps, slots):
        self.heap, self.slots = heap, slots
        sp, g = heap.spans, heap.gather
        span_end = sp.base + sp.npages * U64(sp.page_size)
        self.used_words = (sp.nelems.astype(U64) * sp.elemsize) // U64(8)
        self.bitmap_at = pmaps.span_heap_bits
        bm_end = self.bitmap_at + (self.used_words + U64(7)) // U64(8)
        seg = g.segment_of(sp.base)
        aligned = np.array([g.starts[i] % 8 == 0 and len(g.segment_bytes(i)) % 8 == 0
                            for i in range(len(g.starts))] + [False], dtype=bool)
        self.fusable = sp.in_use & ~sp.noscan & (sp.sizeclass != 0) & \
            (sp.elemsize <= U64(pmaps.max_small)) & (seg >= 0) & aligned[seg] & \
            (g.segment_of(span_end - U64(1)) == seg) & (g.segment_of(self.bitmap_at) == seg) & \
            (g.segment_of(np.maximum(bm_end, U64(1)) - U64(1)) == seg)
        self.seg = seg
        self.pmaps = pmaps
        self.aligned = aligned

    @classmethod
    def make(cls, heap: Heap, pmaps: PointerMaps) -> "_SpanScan | None":
        """Return the scan for ``heap``, or None where it does not apply (heap bitmaps per
        arena before Go 1.22, no page-table lookup, 4-byte or big-endian words)."""
        g = heap.gather
        if pmaps.mode != "headers" or g.word_size != 8 or g.byte_order != "little" or not len(heap):
            return None
        slots = heap._slots
        return None if slots is None else cls(heap, pmaps, slots)

    def scan(self, ids: np.ndarray) -> tuple[list[tuple], np.ndarray]:
        """Return (the edges of the fusable objects of ``ids``, ascending runs of (sources,
        destinations, offsets, deltas)) and the ids left to scan."""
        from .markkernels import span_edges
        h, x = self.heap, self.slots
        s = h.span[ids]
        f = self.fusable[s]
        rest = ids[~f]
        sf = s[f]
        runs, rest = self._typed(rest)
        if not len(sf):
            return runs, rest
        rows = sf[np.r_[True, sf[1:] != sf[:-1]]].astype(np.int64)
        seg = self.seg[rows]
        cuts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1], True])
        lo, hi = int(ids[0]), int(ids[-1]) + 1
        for a, b in zip(cuts[:-1], cuts[1:]):
            r = rows[a:b]
            si = int(seg[a])
            mem8 = h.gather.segment_bytes(si)
            uw = self.used_words[r]
            runs.append(span_edges(r, self.bitmap_at[r], uw, int(uw.sum()), lo, hi, mem8,
                                   mem8.view(np.uint64), h.gather.starts[si], h.addr,
                                   x.lo, x.shift, x.table, x.base, x.elemsize, x.nelems,
                                   x.slot0, x.bits, x.prefix, x.clip))
        return runs, rest

    def _typed(self, ids: np.ndarray) -> tuple[list[tuple], np.ndarray]:
        """Return (the edges of the objects of ``ids`` with a recorded type, wholly in one
        segment, read by ``markkernels.typed_edges``: one ascending run per segment) and
        the ids left to scan."""
        from .markkernels import typed_edges
        h, x, pm, g = self.heap, self.slots, self.pmaps, self.heap.gather
        if not len(ids) or pm.types is None:
            return [], ids
        sp, T = h.spans, pm.types
        s = h.span[ids]
        typed = ~sp.noscan[s] & ((sp.sizeclass[s] == 0) | (sp.elemsize[s] > U64(pm.max_small)))
        cand = ids[typed]
        if not len(cand):
            return [], ids
        seg = g.segment_of(h.addr[cand])
        end = h.addr[cand] + h.size[cand].astype(U64) - U64(1)
        whole = (seg >= 0) & self.aligned[seg] & (g.segment_of(end) == seg)
        cand, seg = cand[whole], seg[whole]
        done = np.zeros(len(ids), dtype=bool)
        done[np.flatnonzero(typed)[whole]] = True
        # no recorded type, or one without pointers: no edges (as in the numpy path)
        row = pm.pointer_rows(cand) if len(T.bits) else np.full(len(cand), -1)
        keep = row >= 0
        cand, seg, row = cand[keep], seg[keep], row[keep]
        first = (sp.sizeclass[h.span[cand]] != 0).astype(np.int64)    # the header word
        nwords = (h.size[cand] // np.uint32(8)).astype(np.int64)
        elem_words = (T.size // U64(8)).astype(np.int64)
        runs = []
        for si in np.unique(seg):
            m = seg == si
            mem64 = g.segment_bytes(int(si)).view(np.uint64)
            runs.append(typed_edges(cand[m], row[m], first[m], nwords[m], elem_words,
                                    T.ptr_words, T.mask_off, T.bits, int(nwords[m].sum()),
                                    mem64, g.starts[si], h.addr, x.lo, x.shift, x.table,
                                    x.base, x.elemsize, x.nelems, x.slot0, x.bits, x.prefix,
                                    x.clip))
        return runs, ids[~done]


def _scan_numpy(heap: Heap, pmaps: PointerMaps, ids: np.ndarray) -> tuple | None:
    """Return (sources, destinations, offsets, deltas) of the pointers of ``ids``
    (ascending), by numpy from ``PointerMaps.slots``; None when they have none."""
    o, k = pmaps.slots(ids)
    if len(o) == 0:
        return None
    vals, ok = heap.gather.words(heap.addr[o] + k.astype(U64) * U64(heap.word_size))
    vals[~ok] = 0
    del ok
    d = heap.find(vals)
    keep = (d >= 0) & (d != o)
    o, d, k, vals = o[keep], d[keep], k[keep], vals[keep]
    del keep
    delta = np.minimum(vals - heap.addr[d], U64(255)).astype(np.uint8)
    del vals
    if len(o) > 1 and (o[1:] < o[:-1]).any():   # not expected: keep CSR order anyway
        order = np.argsort(o, kind="stable")
        o, d, k, delta = o[order], d[order], k[order], delta[order]
    k *= np.uint32(heap.word_size)
    return o, d.astype(np.int32, copy=False), k.astype(np.uint32, copy=False), delta


def _reserve(n: int, dtype) -> np.ndarray:
    """Return an uninitialised array of ``n`` items over anonymous memory reserved without
    being committed: only the pages written take memory. The edges' bound (every heap word a
    pointer) is several times what they need; reserving it lets each batch write its edges
    in place, with no final concatenation (a copy of every edge, and its peak)."""
    nbytes = max(n * np.dtype(dtype).itemsize, 1)
    if hasattr(mmap, "MAP_ANONYMOUS"):
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0)
        buf = mmap.mmap(-1, nbytes, flags=flags)
        if hasattr(mmap, "MADV_HUGEPAGE"):
            # a fault per 2 MiB written, not per 4 KiB (60 k faults at 20 M objects, each
            # 20 us on a virtual machine); what is never written stays uncommitted
            buf.madvise(mmap.MADV_HUGEPAGE)
    else:
        buf = mmap.mmap(-1, nbytes)
    return np.frombuffer(buf, dtype=dtype, count=n)


def build_edges(heap: Heap, pmaps: PointerMaps, max_words: int = 1 << 20,
                release: Callable[[], None] | None = None) -> Edges:
    """Scan every object's pointer words and return the CSR edges between objects.

    Batches are ascending runs of ids. A batch's pointers come in runs sorted by source
    (``_SpanScan`` for small objects where it applies, numpy for the rest), and each run is
    copied straight to its CSR places (``markkernels.place_edges``): no source array is
    kept, no sort or concatenation. ``release`` (when given) is called every
    ``RELEASE_BATCHES`` batches to drop the dump pages read so far from the resident set:
    the scan reads the whole heap once, which would otherwise stay resident (a 1 GB core:
    1 GB).
    """
    from .markkernels import place_edges
    n = len(heap)
    # per-object counts, then their running sum: uint32 while the edges are under 4 G
    # (80 MB less at 20 M objects); an object's count fits, its slot size being uint32
    start = np.zeros(n + 1, dtype=np.uint32)
    bound = int((heap.size // np.uint32(heap.word_size)).sum(dtype=np.int64))
    dst, off, delta = _reserve(bound, np.int32), _reserve(bound, np.uint32), _reserve(bound, np.uint8)
    e = 0
    fused = _SpanScan.make(heap, pmaps)

    def scan(ids: np.ndarray) -> list[tuple]:
        runs, rest = fused.scan(ids) if fused is not None else ([], ids)
        if len(rest):
            got = _scan_numpy(heap, pmaps, rest)
            if got is not None:
                runs.append(got)
        return [r for r in runs if len(r[0])]

    def place(ids: np.ndarray, runs: list[tuple]) -> None:
        nonlocal e
        if not runs:
            return
        lo, m = int(ids[0]), len(ids)
        counts = start[lo + 1:lo + 1 + m]
        for r in runs:
            counts += np.bincount(r[0] - lo, minlength=m)[:m].astype(np.uint32)
        if len(runs) == 1:
            _, d, k, dl = runs[0]
            dst[e:e + len(d)], off[e:e + len(d)], delta[e:e + len(d)] = d, k, dl
            e += len(d)
            return
        pos = np.empty(m, dtype=np.int64)
        pos[0] = e
        np.cumsum(counts[:-1], dtype=np.int64, out=pos[1:])
        pos[1:] += e
        for r in runs:
            place_edges(*r, lo, pos, dst, off, delta)
        e += sum(len(r[0]) for r in runs)

    for batch, ids in enumerate(pmaps.batches(max_words)):
        if release is not None and batch and batch % RELEASE_BATCHES == 0:
            release()
        place(ids, scan(ids))
    dst, off, delta = dst[:e], off[:e], delta[:e]
    if e < 1 << 32:
        np.cumsum(start, dtype=np.uint32, out=start)
    else:
        start = np.cumsum(start, dtype=np.int64)
    return Edges(start, dst, off, delta)


@once_per
def edges_of(gp: GoProcess) -> tuple[Heap, PointerMaps, Edges]:
    """Return (heap, pointer maps, edges) of ``gp``, built once per GoProcess."""
    heap = heap_of(gp)
    pm = PointerMaps(gp, heap)
    # reading the malloc headers' types faults one page per header, and the kernel maps
    # the 64 KiB around each (6,675 headers: 415 MiB resident at 20 M objects)
    gp.process.release_resident()
    return heap, pm, build_edges(heap, pm, release=gp.process.release_resident)
