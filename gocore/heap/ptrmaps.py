"""Which words of each heap object may hold pointers, decided as the dump's runtime decides.

Four encodings (src/runtime/mbitmap.go of each release):

* ``arena2`` (go1.19 and older): ``heapArena.bitmap`` holds 2 bits per heap word; byte i
  covers words 4i..4i+3, pointer bits in the low nibble, scan bits in the high nibble. The
  object's pointers end at its first word whose scan bit is 0 (``scanobject``).
* ``arena1`` (go1.20, go1.21): ``heapArena.bitmap`` holds 1 bit per word, little-endian;
  ``heapBitsSetType`` + ``flush`` write every word of the object, so the bits are exact.
* malloc headers (go1.22+): objects of at most ``minSizeForMallocHeader`` bytes take their
  bits from the bitmap at the end of their span (``span.heapBits``; green tea GC puts the
  inline mark bits after it, ``spanHeapBitsRange``). Larger objects in small size classes
  start with a header word ``*_type``; large objects (size class 0) use
  ``mspan.largeType``. Either way the type's GC mask is *tiled*: repeated every
  ``Size_`` bytes over the whole slot (``typePointers.next``) — an array of 1000 pointers
  has a one-word element type.
* noscan spans have no pointers.

Type masks come from ``abi.Type.GCData`` (go1.24+: with ``TFlagGCMaskOnDemand`` it holds a
pointer to the mask, built on first use; an unbuilt mask is taken as "every word up to
PtrBytes", and counted in ``conservative_types``). A type whose GC data is a GC program
(``kindGCProg``, before go1.24) is expanded with ``gocore.heap.gcprog``.

``PointerMaps.slots(ids)`` returns the (object id, word index) pairs of the pointer words of
a batch of objects; everything is vectorised over objects and words.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core import Error

from .gcprog import gc_program_mask
from .heap import Heap
from .spans import U64, ragged_arange

if TYPE_CHECKING:
    from ..process import GoProcess

log = logging.getLogger(__name__)


@dataclass
class TypeMasks:
    """GC masks of the runtime types met in malloc headers and largeType, by row."""

    addr: np.ndarray      # uint64 *_type, sorted
    size: np.ndarray      # uint64 Size_
    ptr_words: np.ndarray  # int64 PtrBytes / word size
    mask_off: np.ndarray  # int64 offset of the type's bits in ``bits``
    bits: np.ndarray      # bool, all masks concatenated
    valid: np.ndarray     # bool: the type could be read

    def rows(self, typs: np.ndarray) -> np.ndarray:
        """Return the row of each type address (-1 if unknown)."""
        i = np.searchsorted(self.addr, typs)
        j = np.minimum(i, max(len(self.addr) - 1, 0))
        ok = (i < len(self.addr)) & (self.addr[j] == typs) if len(self.addr) else np.zeros(len(typs), bool)
        return np.where(ok, j, -1)


class PointerMaps:
    """Pointer words of heap objects for one dump (see the module doc)."""

    def __init__(self, gp: GoProcess, heap: Heap):
        self.gp = gp
        self.heap = heap
        L = gp.layout
        F = gp.facts
        self.facts = F
        self.gather = heap.gather
        self.word = heap.word_size  # bytes per heap word: one bit of a pointer map each
        sp = heap.spans
        self.conservative_types = 0
        self.bad_types = 0
        if F.arena_heap_bitmap and not F.malloc_headers:
            bm = L.field("runtime.heapArena", "bitmap")
            words_per_arena = heap.arenas.arena_bytes // self.word
            self.bitmap_off = bm.offset
            # 2 bits per word (go1.19) or 1 bit per word (go1.20+), by the bitmap's size
            self.mode = "arena2" if bm.size * 4 == words_per_arena else "arena1"
            if self.mode == "arena1" and bm.size * 8 != words_per_arena:
                raise ValueError(f"heapArena.bitmap of {bm.size} bytes fits no known encoding")
        else:
            self.mode = "headers"
        self.max_small = L.const("runtime.minSizeForMallocHeader", self.word * 64)
        inline = 0
        if F.inline_mark_bits and L.has("runtime.spanInlineMarkBits"):
            inline = L.size("runtime.spanInlineMarkBits")
        span_bytes = sp.npages * U64(sp.page_size)
        hb = sp.base + span_bytes - span_bytes // U64(self.word * 8)
        uses_inline = (sp.elemsize <= U64(self.max_small)) & (sp.elemsize >= U64(16))
        self.span_heap_bits = np.where(uses_inline, hb - U64(inline), hb) if inline else hb
        self.types = self._read_types() if self.mode == "headers" else None

    # ---- type masks ----

    def _type_of(self, ids: np.ndarray) -> np.ndarray:
        """Return the *_type of header and large objects (0 for others)."""
        h, sp = self.heap, self.heap.spans
        s = h.span[ids]
        large = sp.sizeclass[s] == 0
        t = np.where(large, sp.large_type[s], 0).astype(U64)
        hdr = ~large & (sp.elemsize[s] > U64(self.max_small)) & ~sp.noscan[s]
        if hdr.any():
            v, ok = self.gather.words(h.addr[ids[hdr]])
            t[hdr] = np.where(ok, v, 0)
        return t

    def pointer_rows(self, ids: np.ndarray) -> np.ndarray:
        """Return the ``types`` row of each object's recorded type (malloc header or
        largeType), -1 where it has none or that type holds no pointers."""
        T = self.types
        row = T.rows(self._type_of(ids))
        keep = row >= 0
        keep[keep] &= T.ptr_words[row[keep]] > 0
        return np.where(keep, row, -1)

    def _read_types(self) -> TypeMasks:
        h, sp, L, g = self.heap, self.heap.spans, self.gp.layout, self.gather
        ids = np.flatnonzero(~sp.noscan[h.span] & ((sp.sizeclass[h.span] == 0)
                                                   | (h.size > np.uint32(self.max_small))))
        typs = np.unique(self._type_of(ids))
        typs = typs[typs != 0]
        T = "runtime._type"

        def field(name: str) -> tuple[np.ndarray, np.ndarray]:
            f = L.field(T, name)
            return g.uint(typs + U64(f.offset), f.size)

        size, ok1 = field("size")
        ptrb, ok2 = field("ptrdata")
        tflag, ok3 = field("tflag")
        kind, ok4 = field("kind")
        gcdata, ok5 = field("gcdata")
        valid = ok1 & ok2 & ok3 & ok4 & ok5 & (size > 0) & (ptrb <= size) & (ptrb % U64(self.word) == 0)
        valid &= size < U64(1 << 40)
        pw = np.where(valid, ptrb // U64(self.word), 0).astype(np.int64)
        on_demand = L.const("internal/abi.TFlagGCMaskOnDemand", 0) if self.facts.gc_mask_on_demand else 0
        gcprog = L.const("internal/abi.KindGCProg", 0) if self.facts.gc_programs else 0
        masks: list[np.ndarray] = []
        proc = self.gp.process
        for i in range(len(typs)):  # one per distinct type (hundreds), not per object
            n = int(pw[i])
            m = None
            if valid[i] and n:
                src = int(gcdata[i])
                try:
                    if gcprog and int(kind[i]) & gcprog:
                        m = gc_program_mask(proc.read, src, n, int(size[i]) // self.word, proc.byte_order)
                    else:
                        if on_demand and int(tflag[i]) & on_demand:
                            src = proc.read_ptr(src)
                        if src:
                            raw = np.frombuffer(proc.read(src, (n + 7) // 8), np.uint8)
                            m = np.unpackbits(raw, bitorder="little")[:n].astype(bool)
                        else:  # on-demand mask never built: every word may be a pointer
                            self.conservative_types += 1
                            m = np.ones(n, dtype=bool)
                except Error as e:  # unreadable or bad mask: one bad type costs only its objects
                    log.debug("type %#x: %s", int(typs[i]), e)
                    m = None
            if m is None:
                if n or not valid[i]:
                    self.bad_types += 1
                valid[i] = valid[i] and n == 0
                m = np.zeros(0, dtype=bool)
                pw[i] = 0
            masks.append(m)
        if self.bad_types:
            self.gp.process.warn(f"heap: {self.bad_types} object types have unreadable GC masks; "
                                 "their objects are scanned as pointer-free")
        if self.conservative_types:
            self.gp.process.warn(f"heap: {self.conservative_types} types have no GC mask built yet; "
                                 "every word of their pointer prefix is taken as a pointer")
        lens = np.array([len(m) for m in masks], dtype=np.int64)
        off = np.cumsum(lens) - lens
        bits = np.concatenate(masks) if masks else np.zeros(0, dtype=bool)
        return TypeMasks(typs, size, pw, off, bits, valid)

    # ---- slots ----

    def slots(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (object ids int32, word indexes uint32) of the pointer words of ``ids``.

        Words are counted from the start of the slot (a malloc header is word 0). Pairs come
        in the order of ``ids`` and, per object, by word.
        """
        h, sp = self.heap, self.heap.spans
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[~sp.noscan[h.span[ids]]]
        if len(ids) == 0:
            return np.zeros(0, np.int32), np.zeros(0, np.uint32)
        if self.mode == "headers":
            s = h.span[ids]
            small = (sp.elemsize[s] <= U64(self.max_small)) & (sp.sizeclass[s] != 0)
            a_i, a_k = self._small_slots(ids[small])
            b_i, b_k = self._typed_slots(ids[~small])
            if len(b_i) == 0:
                return a_i.astype(np.int32), a_k.astype(np.uint32)
            if len(a_i) == 0:
                return b_i.astype(np.int32), b_k.astype(np.uint32)
            # two runs, each by object then word, over disjoint objects: a stable sort by
            # object (timsort: one merge) gives the order of lexsort((k, obj))
            obj = np.concatenate([a_i, b_i]).astype(np.int32)
            k = np.concatenate([a_k, b_k]).astype(np.uint32)
            del a_i, a_k, b_i, b_k
            order = np.argsort(obj, kind="stable")
            return obj[order], k[order]
        o, k = self._arena_slots(ids)
        return o.astype(np.int32), k.astype(np.uint32)

    def _words(self, ids: np.ndarray, skip: np.ndarray | None = None):
        words = (self.heap.size[ids] // self.word).astype(np.int64)
        owner, k = ragged_arange(words)
        return owner, k, words

    def _arena_slots(self, ids: np.ndarray):
        h, ar, g = self.heap, self.heap.arenas, self.gather
        owner, k, words = self._words(ids)
        wa = h.addr[ids][owner] + k.astype(U64) * U64(self.word)
        ai = ar.find(wa)
        inarena = ai >= 0
        ai = np.where(inarena, ai, 0)
        w = ((wa - ar.base[ai]) // U64(self.word)).astype(np.int64)
        hab = ar.heap_arena[ai] + U64(self.bitmap_off)
        if self.mode == "arena2":
            b, ok = g.u8(hab + (w // 4).astype(U64))
            sh = (w % 4).astype(np.uint8)
            ptr = ((b >> sh) & 1).astype(bool) & ok & inarena
            scan = ((b >> (sh + 4)) & 1).astype(bool) & ok & inarena
            # pointers end at the object's first word whose scan bit is clear
            starts = np.cumsum(words) - words
            big = np.int64(1 << 62)
            first_dead = np.minimum.reduceat(np.where(scan, big, k), starts) if len(k) else k
            ptr &= k < first_dead[owner]
        else:
            b, ok = g.u8(hab + (w // 8).astype(U64))
            ptr = ((b >> (w % 8).astype(np.uint8)) & 1).astype(bool) & ok & inarena
        sel = np.flatnonzero(ptr)
        return ids[owner[sel]], k[sel]

    def _small_slots(self, ids: np.ndarray):
        """Pointer words of small objects (no header) from their spans' heap bits.

        Works from the bitmap, not from every word: the spans' bitmaps (one bit per word,
        a 64th of the span) are gathered and unpacked, and only the set bits are mapped
        back to objects; words of free slots map to no object and drop out.
        """
        h, sp, g = self.heap, self.heap.spans, self.gather
        if len(ids) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        want = np.zeros(len(h), dtype=bool)
        want[ids] = True
        spans = np.unique(h.span[ids])
        used_words = (sp.nelems[spans].astype(U64) * sp.elemsize[spans]) // U64(self.word)
        owner, kb = ragged_arange(((used_words + U64(7)) // U64(8)).astype(np.int64))
        b, ok = g.u8(self.span_heap_bits[spans][owner] + kb.astype(U64))
        b[~ok] = 0
        bit = np.flatnonzero(np.unpackbits(b, bitorder="little"))
        byte = bit >> 3
        row = owner[byte]
        w = (kb[byte] << 3) + (bit & 7)
        inside = w.astype(U64) < used_words[row]
        waddr = sp.base[spans[row[inside]]] + w[inside].astype(U64) * U64(self.word)
        obj = h.find(waddr).astype(np.int64)
        keep = obj >= 0
        keep[keep] = want[obj[keep]]
        obj = obj[keep]
        k = ((waddr[keep] - h.addr[obj]) // U64(self.word)).astype(np.int64)
        return obj, k

    def _typed_slots(self, ids: np.ndarray):
        h, sp, T = self.heap, self.heap.spans, self.types
        if len(ids) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        row = self.pointer_rows(ids)
        keep = row >= 0
        ids, row = ids[keep], row[keep]
        if len(ids) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        large = sp.sizeclass[h.span[ids]] == 0
        first = np.where(large, 0, 1).astype(np.int64)      # header word
        owner, k, _ = self._words(ids)
        j = k - first[owner]                                # word index in the tiled data
        r = row[owner]
        elem_words = (T.size[r] // U64(self.word)).astype(np.int64)
        inelem = np.where(j >= 0, j % np.maximum(elem_words, 1), -1)
        ptr = (j >= 0) & (inelem < T.ptr_words[r])
        idx = np.where(ptr, T.mask_off[r] + np.maximum(inelem, 0), 0)
        if len(T.bits):
            ptr &= T.bits[np.minimum(idx, len(T.bits) - 1)]
        else:
            ptr[:] = False
        sel = np.flatnonzero(ptr)
        return ids[owner[sel]], k[sel]

    def batches(self, max_words: int = 1 << 23) -> Iterator[np.ndarray]:
        """Yield arrays of object ids (ascending) whose slots total at most ~``max_words``
        words (more only for one span's objects), cut at span boundaries."""
        h = self.heap
        n = len(h)
        if n == 0:
            return
        # an object's ids are contiguous within its span (ids ascend by address): the words
        # are summed per span run, not per object (two 20 M-object temporaries spared)
        first = np.flatnonzero(np.r_[True, h.span[1:] != h.span[:-1]])
        row = h.span[first]
        objs = np.diff(np.r_[first, n])
        words = objs * (h.size[first] // self.word).astype(np.int64)
        words[h.spans.noscan[row]] = 0
        cum = np.cumsum(words)
        run = 0
        while run < len(first):
            base = cum[run - 1] if run else 0
            end = max(int(np.searchsorted(cum, base + max_words, side="right")), run + 1)
            hi = int(first[end]) if end < len(first) else n
            yield np.arange(int(first[run]), hi, dtype=np.int64)
            run = end
