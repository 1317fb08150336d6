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
import mmap
from collections.abc import Callable, Iterator
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
    """Sorted, disjoint segments with overlay insertion and bounded reads.

    ``explain_miss``, when set, turns the ``UnmappedAddress`` of a failed ``read``/``view``
    into the error the dump's format has to say about it (a minidump without full memory
    says how to get one).
    """

    def __init__(self, segments: list[Segment] | None = None,
                 explain_miss: Callable[[int, int, UnmappedAddress], UnmappedAddress] | None = None
                 ) -> None:
        """Hold ``segments``, which must be sorted and disjoint (``overlay`` makes them so)."""
        self._segs: list[Segment] = list(segments or ())
        self._starts: list[int] = [s.start for s in self._segs]
        self.explain_miss = explain_miss
        self.generation = 0  # bumped by every change, so a Gather knows when it is stale

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
        self.generation += 1

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

    def release_resident(self) -> int:
        """Drop the pages of every memory-mapped file behind the segments from this
        process's resident set and return how many maps were released.

        The page cache keeps them, so a later read faults them back in cheaply; what
        goes is their share of the process's RSS, which a pass over a dump of many GB
        leaves behind (read-only shared maps: nothing can be lost)."""
        maps = {id(s.buf): s.buf for s in self._segs if isinstance(s.buf, mmap.mmap) and not s.buf.closed}
        for m in maps.values():
            m.madvise(mmap.MADV_DONTNEED)
        return len(maps)

    def segments_in(self, start: int, end: int) -> Iterator[Segment]:
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
        try:
            return self._view(addr, n)
        except UnmappedAddress as e:
            if self.explain_miss is None:
                raise
            raise self.explain_miss(addr, n, e) from e

    def read(self, addr: int, n: int) -> bytes:
        """Return ``n`` bytes at ``addr``; raises UnmappedAddress if any byte is missing."""
        try:
            return self._read(addr, n)
        except UnmappedAddress as e:
            if self.explain_miss is None:
                raise
            raise self.explain_miss(addr, n, e) from e

    def _view(self, addr: int, n: int) -> memoryview:
        seg = self.find(addr)
        if seg is None:
            raise UnmappedAddress(addr, n, "not mapped in the process")
        if addr + n <= seg.end:
            if seg.buf is None:
                raise UnmappedAddress(addr, n, seg.absent_reason)
            return seg.view(addr, addr + n)
        return memoryview(self._read(addr, n))

    def _read(self, addr: int, n: int) -> bytes:
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
    return Memory(out)


class Gather:
    """Vectorised reads of many small integers at many addresses of a Memory.

    The dump's present segments are few (tens); a batch of addresses is split by segment
    and each part is one numpy fancy-index into a zero-copy view of that segment. Integers
    are ``byte_order`` ("little" or "big"); a word is ``word_size`` bytes (the process's
    pointer size). Made by ``Process.gather``, which rebuilds it when the memory changes.
    """

    def __init__(self, memory: Memory, word_size: int = 8, byte_order: str = "little"):
        segs = [s for s in memory.segments if s.present]
        self._segs = segs
        self.memory = memory
        self.generation = memory.generation
        self.word_size = word_size
        self.byte_order = byte_order
        self.starts = np.array([s.start for s in segs], dtype=np.uint64)
        # a segment may end at 2**64 itself, which uint64 cannot hold: the address space's
        # last byte is then not read in bulk (no runtime structure lives there)
        self.ends = np.array([min(s.end, ADDRESS_SPACE_END - 1) for s in segs], dtype=np.uint64)
        self._u8: dict[int, np.ndarray] = {}

    def segment_bytes(self, i: int) -> np.ndarray:
        """Return present segment ``i`` (an index into ``starts``/``ends``) as a read-only
        uint8 array over the dump's bytes (no copy)."""
        a = self._u8.get(i)
        if a is None:
            a = np.frombuffer(self._segs[i].view(), dtype=np.uint8)
            self._u8[i] = a
        return a

    def segment_of(self, addrs: np.ndarray, width: int = 1) -> np.ndarray:
        """Return the index (into ``starts``/``ends``) of the present segment holding
        ``[a, a+width)`` per address, or -1."""
        addrs = np.asarray(addrs, dtype=np.uint64)
        if len(self.starts) == 0:
            return np.full(len(addrs), -1, dtype=np.int64)
        i = np.searchsorted(self.starts, addrs, side="right").astype(np.int64) - 1
        ok = i >= 0
        j = np.where(ok, i, 0)
        end = addrs + np.uint64(width)
        ok &= end <= self.ends[j]
        ok &= end > addrs  # no wrap-around
        return np.where(ok, i, -1)

    def run_length(self, addr: int) -> int:
        """Return how many bytes from ``addr`` on are present without a gap (0 if none):
        the most a runtime array starting there can hold."""
        i = int(np.searchsorted(self.starts, np.uint64(addr), side="right")) - 1
        if i < 0 or addr >= int(self.ends[i]):
            return 0
        j = i
        while j + 1 < len(self.starts) and self.starts[j + 1] == self.ends[j]:
            j += 1
        return int(self.ends[j]) - addr

    def readable(self, addrs: np.ndarray, width: int = 1) -> np.ndarray:
        """Return whether ``[a, a+width)`` lies inside one present segment, per address."""
        return self.segment_of(addrs, width) >= 0

    def uint(self, addrs: np.ndarray, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (values uint64, ok bool): the unsigned ``width``-byte integer (default: a
        word) at each address, in the process's byte order; 0 where ``ok`` is false."""
        width = self.word_size if width is None else width
        addrs = np.asarray(addrs, dtype=np.uint64)
        seg = self.segment_of(addrs, width)
        out = np.zeros(len(addrs), dtype=np.uint64)
        ok = seg >= 0
        if not ok.any():
            return out, ok
        lo_seg, hi_seg = int(seg.min()), int(seg.max())
        if lo_seg == hi_seg:                  # one segment (the usual case): no grouping
            groups = [(lo_seg, None)]
        elif lo_seg >= 0 and hi_seg - lo_seg < 64 and not (seg[1:] < seg[:-1]).any():
            # ascending addresses: each segment's addresses are one run, no sort needed
            cuts = np.searchsorted(seg, np.arange(lo_seg, hi_seg + 2))
            groups = [(si, slice(int(cuts[si - lo_seg]), int(cuts[si - lo_seg + 1])))
                      for si in range(lo_seg, hi_seg + 1) if cuts[si - lo_seg + 1] > cuts[si - lo_seg]]
        else:
            order = np.argsort(seg, kind="stable")
            sseg = seg[order]
            bounds = np.flatnonzero(np.diff(sseg)) + 1
            groups = [(int(sseg[lo]), order[lo:hi])
                      for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(sseg)])]
        dtype = np.dtype(f"{'<' if self.byte_order == 'little' else '>'}u{width}") \
            if width in (2, 4, 8) else None
        for si, idx in groups:
            if si < 0:
                continue
            a = addrs if idx is None else addrs[idx]
            off = (a - self.starts[si]).astype(np.int64)
            del a
            if idx is None:
                idx = slice(None)
            buf = self.segment_bytes(si)
            if dtype is not None and self._segs[si].start % width == 0 and len(buf) % width == 0 \
                    and not (off & (width - 1)).any():
                out[idx] = buf.view(dtype)[off // width]
            elif width == 1:
                out[idx] = buf[off]
            else:
                v = np.zeros(len(off), dtype=np.uint64)
                for b in range(width):
                    shift = 8 * b if self.byte_order == "little" else 8 * (width - 1 - b)
                    v |= buf[off + b].astype(np.uint64) << np.uint64(shift)
                out[idx] = v
        return out, ok

    def words(self, addrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (words, ok) for the pointer-sized words at ``addrs``."""
        return self.uint(addrs, self.word_size)

    def u8(self, addrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (bytes as uint8, ok) at ``addrs``."""
        v, ok = self.uint(addrs, 1)
        return v.astype(np.uint8), ok
