"""Pointer edges between heap objects, as CSR arrays.

For every object the pointer words given by ``PointerMaps`` are gathered from the dump in
batches (one numpy gather per batch and memory segment), looked up with ``Heap.find``, and
those pointing into another object become edges. Pointers into the object itself are
dropped, as ``scanobject`` does. ``edge_start[i]:edge_start[i+1]`` are object i's edges;
``edge_off`` is the byte offset of the pointer word inside the source object.
"""

from __future__ import annotations

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

    start: np.ndarray   # int64[N+1]
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


RELEASE_BATCHES = 16  # batches of pointer words read between two releases of dump pages


def build_edges(heap: Heap, pmaps: PointerMaps, max_words: int = 1 << 20,
                release: Callable[[], None] | None = None) -> Edges:
    """Scan every object's pointer words and return the CSR edges between objects.

    Batches are ascending runs of ids and ``slots`` gives pairs by object, so the sources
    come sorted: only the per-object counts are kept (no source array), and each batch's
    destinations and offsets are kept at their final dtypes. ``release`` (when given) is
    called every ``RELEASE_BATCHES`` batches to drop the dump pages read so far from the
    resident set: the scan reads the whole heap once, which would otherwise stay resident
    (a 1 GB core: 1 GB).
    """
    n = len(heap)
    start = np.zeros(n + 1, dtype=np.int64)
    dsts, offs, deltas = [], [], []
    for batch, ids in enumerate(pmaps.batches(max_words)):
        if release is not None and batch and batch % RELEASE_BATCHES == 0:
            release()
        o, k = pmaps.slots(ids)
        if len(o) == 0:
            continue
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
        lo = int(ids[0])
        start[lo + 1:lo + 1 + len(ids)] += np.bincount(o - lo, minlength=len(ids))[:len(ids)]
        dsts.append(d.astype(np.int32, copy=False))
        deltas.append(delta)
        k *= np.uint32(heap.word_size)
        offs.append(k.astype(np.uint32, copy=False))
        del o, d, k
    dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int32)
    del dsts
    off = np.concatenate(offs) if offs else np.zeros(0, np.uint32)
    del offs
    delta = np.concatenate(deltas) if deltas else np.zeros(0, np.uint8)
    del deltas
    np.cumsum(start, out=start)
    return Edges(start, dst, off, delta)


@once_per
def edges_of(gp: GoProcess) -> tuple[Heap, PointerMaps, Edges]:
    """Return (heap, pointer maps, edges) of ``gp``, built once per GoProcess."""
    heap = heap_of(gp)
    pm = PointerMaps(gp, heap)
    return heap, pm, build_edges(heap, pm, release=gp.process.release_resident)
