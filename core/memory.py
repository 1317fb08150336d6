"""The address space of a dump: sources overlaid into sorted, disjoint segments.

Each source (a PT_LOAD of the core, a segment of the executable, a minidump memory
range) covers ``[start, end)`` with bytes from a buffer, or is *absent* (the range is
mapped in the process but its bytes are not in the dump). Later sources override earlier
ones where they overlap; ``Memory.add`` trims or splits what was there, so every address
has exactly one segment.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass

import numpy as np

from .errors import CorruptDump, UnmappedAddress

ADDRESS_SPACE_END = 1 << 64  # no segment reaches past this (readers clip or refuse)


@dataclass(frozen=True)
class Segment:
    """``[start, end)`` backed by ``buf[offset:offset + (end - start)]``, or absent if buf is None."""

    start: int
    end: int
    buf: object | None  # an mmap or bytes; None when the dump lacks the bytes
    offset: int
    perms: str
    source: str  # "core", "exe", "minidump", "zero"; "truncated": absent, past the end of a cut-short dump

    @property
    def absent_reason(self) -> str:
        """Return why an absent segment's bytes are missing, as UnmappedAddress says it."""
        return "past the end of the truncated dump" if self.source == "truncated" else "not saved in the dump"

    @property
    def present(self) -> bool:
        """Return whether this segment's bytes are available."""
        return self.buf is not None

    def view(self, start: int | None = None, end: int | None = None) -> memoryview:
        """Return a zero-copy view of ``[start, end)`` (default: the whole segment)."""
        start = self.start if start is None else start
        end = self.end if end is None else end
        if self.buf is None:
            raise UnmappedAddress(start, end - start, self.absent_reason)
        lo = self.offset + (start - self.start)
        return memoryview(self.buf)[lo: lo + (end - start)]

    def _slice(self, start: int, end: int) -> "Segment":
        return Segment(start, end, self.buf, self.offset + (start - self.start), self.perms, self.source)


class Memory:
    """Sorted, disjoint segments with overlay insertion and bounded reads."""

    def __init__(self) -> None:
        self._segs: list[Segment] = []
        self._starts: list[int] = []

    def add(self, seg: Segment) -> None:
        """Overlay ``seg`` on what is there: it wins wherever it overlaps."""
        if seg.end <= seg.start:
            return
        _check_in_address_space(seg)
        out: list[Segment] = []
        for s in self._segs:
            if s.end <= seg.start or s.start >= seg.end:
                out.append(s)
                continue
            if s.start < seg.start:
                out.append(s._slice(s.start, seg.start))
            if s.end > seg.end:
                out.append(s._slice(seg.end, s.end))
        out.append(seg)
        out.sort(key=lambda s: s.start)
        self._segs = out
        self._starts = [s.start for s in out]

    def fill(self, seg: Segment) -> None:
        """Add ``seg`` only where no present segment already is (absent ones are replaced)."""
        pos = seg.start
        for s in list(self.segments_in(seg.start, seg.end)):
            if s.present:
                if s.start > pos:
                    self.add(seg._slice(pos, s.start))
                pos = max(pos, s.end)
        if pos < seg.end:
            self.add(seg._slice(pos, seg.end))

    @property
    def segments(self) -> list[Segment]:
        """Return every segment, sorted by address."""
        return list(self._segs)

    def segments_in(self, start: int, end: int):
        """Yield the segments overlapping ``[start, end)`` in address order."""
        i = max(0, bisect.bisect_right(self._starts, start) - 1)
        while i < len(self._segs) and self._segs[i].start < end:
            if self._segs[i].end > start:
                yield self._segs[i]
            i += 1

    def find(self, addr: int) -> Segment | None:
        """Return the segment containing ``addr``, or None."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._segs[i].end:
            return self._segs[i]
        return None

    def readable(self, addr: int, n: int = 1) -> bool:
        """Return whether all of ``[addr, addr + n)`` is present."""
        pos, end = addr, addr + n
        for s in self.segments_in(addr, end):
            if s.start > pos or not s.present:
                return False
            pos = s.end
            if pos >= end:
                return True
        return pos >= end

    def view(self, addr: int, n: int) -> memoryview:
        """Return ``n`` bytes at ``addr``: zero-copy within one segment, copied across several."""
        seg = self.find(addr)
        if seg is None:
            raise UnmappedAddress(addr, n, "not mapped in the process")
        if addr + n <= seg.end:
            if seg.buf is None:
                raise UnmappedAddress(addr, n, seg.absent_reason)
            return seg.view(addr, addr + n)
        return memoryview(self.read(addr, n))

    def read(self, addr: int, n: int) -> bytes:
        """Return ``n`` bytes at ``addr``; raises UnmappedAddress if any byte is missing."""
        parts = []
        pos, end = addr, addr + n
        for s in self.segments_in(addr, end):
            if s.start > pos:
                break
            if s.buf is None:
                raise UnmappedAddress(addr, n, f"{pos:#x} is {s.absent_reason}")
            hi = min(end, s.end)
            parts.append(s.view(pos, hi))
            pos = hi
            if pos >= end:
                break
        if pos < end:
            raise UnmappedAddress(addr, n, f"{pos:#x} is not mapped in the process")
        return b"".join(parts)

    def array(self, addr: int, count: int, dtype: str = "<u8") -> np.ndarray:
        """Return ``count`` items of ``dtype`` at ``addr`` as a read-only numpy array."""
        dt = np.dtype(dtype)
        return np.frombuffer(self.view(addr, count * dt.itemsize), dtype=dt)


def _check_in_address_space(seg: Segment) -> None:
    # Readers clip or refuse such ranges with their own message; this is the backstop that
    # keeps 64-bit consumers (numpy uint64 bounds) from overflowing.
    if seg.start < 0 or seg.end > ADDRESS_SPACE_END:
        raise CorruptDump(f"{seg.source} segment {seg.start:#x}-{seg.end:#x} lies outside the "
                          "64-bit address space")


def overlay(layers: list[Segment]) -> Memory:
    """Return a Memory of ``layers`` where a later segment wins wherever two overlap.

    A sweep over the boundaries with a heap of the covering segments (O(n log n)), where
    ``Memory.add`` costs O(n) per call: dumps hold tens of thousands of ranges. Neighbours
    that continue each other in the same buffer are merged.
    """
    for s in layers:
        _check_in_address_space(s)
    layers = [s for s in layers if s.end > s.start]
    events = sorted({p for s in layers for p in (s.start, s.end)})
    by_start = sorted(range(len(layers)), key=lambda i: layers[i].start)
    heap: list[tuple[int, int]] = []  # (-priority, index)
    out: list[Segment] = []
    j = 0
    for k in range(len(events) - 1):
        lo, hi = events[k], events[k + 1]
        while j < len(by_start) and layers[by_start[j]].start <= lo:
            heapq.heappush(heap, (-by_start[j], by_start[j]))
            j += 1
        while heap and layers[heap[0][1]].end <= lo:
            heapq.heappop(heap)
        if not heap:
            continue
        seg = layers[heap[0][1]]
        piece = seg._slice(lo, hi)
        prev = out[-1] if out else None
        if (prev is not None and prev.end == lo and prev.buf is piece.buf and prev.perms == piece.perms
                and prev.source == piece.source
                and (piece.buf is None or prev.offset + (prev.end - prev.start) == piece.offset)):
            out[-1] = Segment(prev.start, hi, prev.buf, prev.offset, prev.perms, prev.source)
        else:
            out.append(piece)
    memory = Memory()
    # Bulk load of sorted, disjoint segments: the invariant Memory.add keeps.
    memory._segs = out
    memory._starts = [s.start for s in out]
    return memory
