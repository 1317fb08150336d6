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

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from core import Gather

from .heapcheck import check_heap
from ..memo import once_per
from .spans import U64, Arenas, Spans, ragged_arange, read_spans

if TYPE_CHECKING:
    from ..process import GoProcess


@dataclass
class Heap:
    """The allocated heap objects of a dump (ids index every array)."""

    spans: Spans
    arenas: Arenas
    gather: Gather
    addr: np.ndarray   # uint64, sorted
    size: np.ndarray   # uint32 slot size
    span: np.ndarray   # int32 row in spans

    def __len__(self) -> int:
        return len(self.addr)

    @property
    def word_size(self) -> int:
        """Return the bytes of a heap word (the process's pointer size)."""
        return self.gather.word_size

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
        idx = self._slots
        if idx is not None:
            return idx.find(ptrs)
        i = np.searchsorted(self.addr, ptrs, side="right").astype(np.int64) - 1
        ok = i >= 0
        j = np.where(ok, i, 0)
        ok &= ptrs < self.addr[j] + self.size[j].astype(U64)
        return np.where(ok, j, -1).astype(np.int32)

    @cached_property
    def _slots(self) -> "_SlotIndex | None":
        return _SlotIndex.build(self)

    def find_one(self, ptr: int) -> int:
        """Return the id of the object containing ``ptr``, or -1."""
        if "_slots" in self.__dict__ or not len(self.addr):
            return int(self.find(np.array([ptr], dtype=U64))[0])
        # one lookup: a binary search, not the page table ``find`` builds for many
        i = int(np.searchsorted(self.addr, U64(ptr), side="right")) - 1
        return i if i >= 0 and ptr < int(self.addr[i]) + int(self.size[i]) else -1


class _SlotIndex:
    """Pointer -> object id without a search, as the runtime finds objects: page -> span
    (a dense page table over the in-use spans), slot = offset // elemsize, and the id is
    the rank of the slot's bit among the allocated slots (a bit per slot, plus a running
    count per 64 slots: ``firstIdx`` + popcount, as golang/debug's heapInfo). About 0.2
    bytes per slot and a few bytes per page; every step is a gather from small arrays.
    """

    MAX_PAGES = 1 << 23        # dense page table up to 64 GiB of address range (8 KiB pages)

    def __init__(self, lo, shift, table, base, elemsize, nelems, slot0, bits, prefix, clip):
        self.lo, self.shift, self.table = lo, shift, table
        self.base, self.elemsize, self.nelems, self.slot0 = base, elemsize, nelems, slot0
        self.bits, self.prefix, self.clip = bits, prefix, clip

    @classmethod
    def build(cls, heap: "Heap") -> "_SlotIndex | None":
        sp = heap.spans
        rows = np.flatnonzero(sp.in_use)
        page = int(sp.page_size)
        if len(rows) == 0 or page <= 0 or page & (page - 1):
            return None
        shift = page.bit_length() - 1
        base = sp.base[rows]
        end = base + sp.npages[rows] * U64(page)
        lo, hi = int(base.min()), int(end.max())
        npages = (hi - lo) >> shift
        if npages > cls.MAX_PAGES:
            return None
        table = np.full(npages, -1, dtype=np.int32)
        first = ((base - U64(lo)) >> U64(shift)).astype(np.int64)
        owner, k = ragged_arange(sp.npages[rows].astype(np.int64))
        table[first[owner] + k] = rows[owner]
        del owner, k
        nel = np.zeros(len(sp), dtype=np.int64)
        nel[rows] = sp.nelems[rows]
        slot0 = np.cumsum(nel) - nel
        total = int(nel.sum())
        alloc = np.zeros(((total + 63) // 64) * 64, dtype=bool)
        es = np.where(sp.in_use, sp.elemsize, U64(1))
        prev = -1
        for a in range(0, len(heap), 1 << 20):       # the slot of every object, by chunks
            s = heap.span[a:a + (1 << 20)]
            g = slot0[s] + ((heap.addr[a:a + (1 << 20)] - sp.base[s]) // es[s]).astype(np.int64)
            if (g[0] <= prev) or (len(g) > 1 and (g[1:] <= g[:-1]).any()):
                return None                          # not one object per slot, by address
            prev = int(g[-1])
            alloc[g] = True
        bits = np.packbits(alloc, bitorder="little").view("<u8")
        del alloc
        counts = np.bitwise_count(bits).astype(np.int32)
        prefix = np.cumsum(counts, dtype=np.int32) - counts
        clip = bool((sp.elemsize[rows] > U64(0xFFFFFFFF)).any())
        return cls(U64(lo), U64(shift), table, sp.base, es, nel, slot0, bits, prefix, clip)

    COMPILED_FROM = 1 << 16    # pointers per call from which the compiled lookup is used

    def find(self, ptrs: np.ndarray) -> np.ndarray:
        if len(ptrs) >= self.COMPILED_FROM:
            # the index build's millions (the edge scan: 2.5 s of numpy at 20 M objects);
            # fewer, as later commands ask, stay in numpy and never load numba
            from .markkernels import slot_find
            return slot_find(ptrs, self.lo, self.shift, self.table, self.base, self.elemsize,
                             self.nelems, self.slot0, self.bits, self.prefix, self.clip)
        return self._find_numpy(ptrs)

    def _find_numpy(self, ptrs: np.ndarray) -> np.ndarray:
        pg = (ptrs - self.lo) >> self.shift          # below lo wraps around: out of range
        ok = pg < U64(len(self.table))
        row = self.table[np.where(ok, pg, 0)]
        ok &= row >= 0
        row[~ok] = 0
        rel = ptrs - self.base[row]
        es = self.elemsize[row]
        slot = (rel // es).astype(np.int64)
        ok &= slot < self.nelems[row]
        if self.clip:                                 # sizes are clipped to 32 bits
            ok &= (rel - slot.astype(U64) * es) < np.minimum(es, U64(0xFFFFFFFF))
        del rel, es
        g = self.slot0[row] + slot
        del row, slot
        g[~ok] = 0
        w = g >> 6
        word = self.bits[w]
        b = (g & 63).astype(U64)
        del g
        ok &= ((word >> b) & U64(1)).astype(bool)
        word &= (U64(1) << b) - U64(1)
        out = self.prefix[w] + np.bitwise_count(word)
        out[~ok] = -1
        return out


ALLOC_BITS_CHUNK = 1 << 16   # bytes of alloc bits (512 K slots) masked per step of _alloc_bytes
_LOW = np.array([(1 << c) - 1 for c in range(9)], dtype=np.uint8)   # c low bits set, c = 0..8


def _allocated(spans: Spans, gather: Gather
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (addr, size, span) of every allocated slot of the in-use spans.

    Works at the byte level of the alloc bits: the "below freeindex" and "below nelems"
    rules are byte masks, and the set bits are expanded to slots in one compiled pass
    (``markkernels.expand_slots``; numpy in chunks took 0.9 s at 20 M objects), into
    output arrays sized by a popcount first. Spans are sorted by base and slots ascend
    within a span, so the result is sorted by address without a sort.
    """
    rows = np.flatnonzero(spans.in_use)
    nbytes = (spans.nelems[rows] + 7) // 8
    raw = _alloc_bytes(spans, gather, rows, nbytes)
    n = int(np.bitwise_count(raw).sum(dtype=np.int64))
    from .markkernels import expand_slots
    addr, size, span = np.empty(n, dtype=U64), np.empty(n, dtype=np.uint32), np.empty(n, dtype=np.int32)
    expand_slots(raw, rows, nbytes, spans.base, spans.elemsize, addr, size, span)
    return _sorted(addr, size, span)


def _alloc_bytes(spans: Spans, gather: Gather, rows: np.ndarray, nbytes: np.ndarray,
                 chunk: int = ALLOC_BITS_CHUNK) -> np.ndarray:
    """Return the alloc bits of spans ``rows`` (``nbytes`` bytes each, in turn) with the
    slots below ``freeindex`` set and those past ``nelems`` clear.

    Spans are taken about ``chunk`` bytes at a time: each byte needs several 8-byte
    temporaries (its span, its index, its address), and those of a whole 20 M-object heap
    were 20 MB each, fresh memory every time (about 250 MB of huge pages zeroed)."""
    ends = np.cumsum(nbytes)
    raw = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.uint8)
    cuts = np.unique(np.r_[0, np.searchsorted(ends, np.arange(chunk, raw.size, chunk), side="right"),
                           len(rows)])
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        r = rows[a:b]
        owner, k = ragged_arange(nbytes[a:b])      # one row per byte of alloc bits
        part, ok = gather.u8(spans.alloc_bits[r][owner] + k.astype(U64))
        part[~ok] = 0
        k8 = k * 8
        # slots below freeindex were handed out since the last sweep: allocated
        part |= _LOW[np.clip(spans.freeindex[r][owner] - k8, 0, 8)]
        part &= _LOW[np.clip(spans.nelems[r][owner] - k8, 0, 8)]
        lo = int(ends[a - 1]) if a else 0
        raw[lo:lo + len(part)] = part
    return raw


def _sorted(addr: np.ndarray, size: np.ndarray, span: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the objects by address (spans always come sorted by base: a check only)."""
    if len(addr) > 1 and (addr[1:] < addr[:-1]).any():
        order = np.argsort(addr, kind="stable")
        addr, size, span = addr[order], size[order], span[order]
    return addr, size, span


def read_heap(gp: GoProcess) -> Heap:
    """Read spans and allocated objects of ``gp`` (a GoProcess)."""
    gather = gp.process.gather
    spans, arenas = read_spans(gp, gather)
    addr, size, span = _allocated(spans, gather)
    _warn_absent(gp, spans, gather, span)
    check_heap(gp, spans, arenas, gather, span)
    return Heap(spans=spans, arenas=arenas, gather=gather, addr=addr, size=size, span=span)


def _warn_absent(gp: GoProcess, spans: Spans, gather: Gather, span: np.ndarray) -> None:
    """Warn (the answer is then partial) when in-use spans' memory is not all in the dump:
    their objects are counted from the alloc bits, but their pointers cannot be read."""
    rows = np.flatnonzero(spans.in_use)
    if len(rows) == 0:
        return
    base = spans.base[rows]
    last = base + spans.npages[rows] * U64(spans.page_size) - U64(1)
    s_lo, s_hi = gather.segment_of(base), gather.segment_of(last)
    ok = (s_lo >= 0) & (s_hi >= 0)
    for j in np.flatnonzero(ok & (s_lo != s_hi)):     # across segments (few): no gap allowed
        a, b = int(s_lo[j]), int(s_hi[j])
        ok[j] = bool((gather.ends[a:b] == gather.starts[a + 1:b + 1]).all())
    if ok.all():
        return
    bad = rows[~ok]
    objs = int(np.isin(span, bad.astype(np.int32)).sum())
    gp.process.warn(f"heap: {len(bad)} of {len(rows)} heap spans ({objs} objects) are not all in "
                    "the dump: their objects are counted, their pointers are not followed")


@once_per
def heap_of(gp: GoProcess) -> Heap:
    """Return the Heap of ``gp``, read once per GoProcess."""
    return read_heap(gp)
