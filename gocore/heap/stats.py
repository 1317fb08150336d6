"""Where the process's memory goes: heap (live, unreachable, free, released), stacks,
runtime metadata, data/bss.

With DWARF the figures are the runtime's own, read the way ``runtime.readmemstats_m``
computes ``MemStats`` (src/runtime/mstats.go): ``gcController.heapInUse``, ``heapFree``,
``heapReleased``; ``memstats.heapStats.stats[0..2]`` summed (``inStacks``, ``inWorkBufs``,
``inPtrScalarBits``: the three generations of ``consistentHeapStats`` add up to the current
totals); ``memstats.stacks_sys``, ``mspan_sys``, ``mcache_sys``, ``buckhash_sys``,
``gcMiscSys``, ``other_sys``. Stripped binaries get what the spans say: heap in use from
in-use spans, stacks from manual spans, the rest of the arenas as idle (free and released
cannot be told apart, so ``released`` is None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core import Error, UnmappedAddress

from .spans import U64

if TYPE_CHECKING:
    from ..process import GoProcess


@dataclass(frozen=True)
class Breakdown:
    """Memory figures in bytes (None: not known for this dump)."""

    live: int                      # reachable heap objects (slot bytes)
    unreachable: int               # allocated slots no root reaches
    heap_in_use: int               # MemStats.HeapInuse: bytes in in-use spans
    heap_free: int | None          # idle, not returned to the OS
    heap_released: int | None      # MemStats.HeapReleased
    heap_idle: int | None          # free + released
    stacks: int | None             # MemStats.StackInuse
    stacks_sys: int | None         # MemStats.StackSys
    metadata: int | None           # mspan, mcache, buckhash, GC, other, work bufs
    data_bss: int                  # the executable's data, bss, noptrdata, noptrbss
    sys: int | None                # MemStats.Sys (mapped by the runtime)
    source: str                    # "runtime statistics" or "spans"

    @property
    def fragmentation(self) -> int:
        """Return the bytes of in-use spans that hold no allocated object."""
        return max(self.heap_in_use - self.live - self.unreachable, 0)

    @property
    def total(self) -> int:
        """Return everything counted: what the runtime mapped, plus data/bss."""
        if self.sys is not None:
            return self.sys + self.data_bss
        return sum(v or 0 for v in (self.heap_in_use, self.heap_idle, self.stacks_sys,
                                    self.metadata)) + self.data_bss


def _field(types, tid: int, path: str) -> tuple[int, int]:
    """Return (offset, type id) of dotted field ``path`` in DWARF type ``tid``."""
    off = 0
    for name in path.split("."):
        f = types[tid].field(name)
        if f is None:
            raise KeyError(f"{types[tid].name}.{name}")
        off += f.offset
        tid = f.type
    return off, tid


def _read_field(gp: GoProcess, glob, path: str) -> int:
    """Return the unsigned integer at dotted field ``path`` of DWARF global ``glob``."""
    types = gp.dwarf.types
    off, tid = _field(types, glob.type, path)
    size = types[tid].size
    return gp.process.read_uint(glob.addr + gp.process.exe_bias + off, size if size in (1, 2, 4, 8) else 8)


def runtime_figure(gp: GoProcess, name: str, struct: str, path: str) -> int | None:
    """Return the unsigned integer field ``path`` of runtime global ``name`` whose type is
    ``struct`` (``"runtime.mheap_"``, ``"runtime.mheap"``, ``"pagesInUse"``), read through
    the layout (DWARF or the built-in tables), or None (no such global or field, unreadable)."""
    L = gp.layout
    base = gp.global_address(name)
    if base is None or not L.has(struct, path):
        return None
    f = L.field(struct, path)
    try:
        return gp.process.read_uint(base + f.offset, f.size)
    except UnmappedAddress:
        return None


def runtime_object_counts(gp: GoProcess) -> tuple[np.ndarray, int] | None:
    """Return (objects per small size class, large objects) the runtime counts as allocated
    and not yet freed: ``smallAllocCount - smallFreeCount`` and ``largeAllocCount -
    largeFreeCount`` of ``memstats.heapStats``, summed over its generations (as
    ``readmemstats_m`` does), read through the layout; None when the release or the dump
    lacks them.

    The counts lag behind the alloc bits: a span's allocations are added when an mcache
    gives the span back (``mcache.refill``), so the runtime never counts more than is there.
    """
    L = gp.layout
    base = gp.global_address("runtime.memstats")
    if base is None or not L.has("runtime.mstats", "heapStats.stats") \
            or not L.has("runtime.heapStatsDelta"):
        return None
    stats = L.field("runtime.mstats", "heapStats.stats")   # [3]heapStatsDelta
    esize = L.size("runtime.heapStatsDelta")
    gens = stats.size // esize
    # int64 deltas: one generation may hold a negative part of the total
    i8 = np.dtype(f"{'<' if gp.process.byte_order == 'little' else '>'}i8")
    try:
        raw = np.frombuffer(gp.process.read(base + stats.offset, esize * gens), dtype=np.uint8)
        raw = raw.reshape(gens, esize)

        def total(name: str) -> np.ndarray:
            f = L.field("runtime.heapStatsDelta", name)
            return raw[:, f.offset:f.offset + f.size].copy().view(i8).sum(axis=0)

        small = total("smallAllocCount") - total("smallFreeCount")
        large = int((total("largeAllocCount") - total("largeFreeCount"))[0])
    except UnmappedAddress:
        return None
    small[0] = 0          # size class 0 is the large objects
    return small, large


def _runtime_stats(gp: GoProcess) -> dict[str, int] | None:
    """Return MemStats-like figures read from the runtime's globals (needs DWARF)."""
    dw = gp.dwarf
    if dw is None or "runtime.memstats" not in dw.globals or "runtime.gcController" not in dw.globals:
        return None
    types = dw.types
    proc = gp.process
    bias = proc.exe_bias
    ms = dw.globals["runtime.memstats"]
    gc = dw.globals["runtime.gcController"]

    def u(glob, path: str) -> int:
        return _read_field(gp, glob, path)

    try:
        out = {k: u(gc, k) for k in ("heapInUse", "heapFree", "heapReleased")}
        for k in ("stacks_sys", "mspan_sys", "mcache_sys", "buckhash_sys", "gcMiscSys", "other_sys"):
            out[k] = u(ms, k)
        soff, stid = _field(types, ms.type, "heapStats.stats")
        arr = types[stid]
        if arr.elem is None:
            raise KeyError("memstats.heapStats.stats has no element type")
        delta = types[arr.elem]
        esize = delta.size
        for k in ("inStacks", "inWorkBufs", "inPtrScalarBits"):
            f = delta.field(k)
            if f is None:          # go1.27 dropped inPtrScalarBits
                out[k] = 0
                continue
            fs = types[f.type].size
            total = 0
            for g in range(arr.len or 0):
                # int64 deltas may be negative in one generation
                total += proc.read_int(ms.addr + bias + soff + g * esize + f.offset, fs)
            out[k] = total
    except (KeyError, Error) as e:  # a field DWARF lacks, or memory the dump lacks: use the spans
        proc.warn(f"breakdown: runtime statistics unreadable ({e}); using the spans")
        return None
    return out


def _data_bss(gp: GoProcess) -> int:
    md = gp.moduledata
    return sum(max(e - s, 0) for s, e in ((md.data, md.edata), (md.bss, md.ebss),
                                          (md.noptrdata, md.enoptrdata), (md.noptrbss, md.enoptrbss)))


def breakdown(gp: GoProcess) -> Breakdown:
    """Return the memory breakdown of ``gp``."""
    hi = gp.heap_index()
    heap = hi.heap
    live = hi.live_bytes
    allocated = int(heap.size.sum(dtype=np.uint64))
    sp = heap.spans
    span_bytes = sp.npages * U64(sp.page_size)
    rs = _runtime_stats(gp)
    if rs is not None:
        stacks = rs["inStacks"]
        meta = (rs["mspan_sys"] + rs["mcache_sys"] + rs["buckhash_sys"] + rs["gcMiscSys"]
                + rs["other_sys"] + rs["inWorkBufs"] + rs["inPtrScalarBits"])
        sys_ = (rs["heapInUse"] + rs["heapFree"] + rs["heapReleased"] + rs["stacks_sys"] + stacks
                + meta)
        return Breakdown(live=live, unreachable=allocated - live, heap_in_use=rs["heapInUse"],
                         heap_free=rs["heapFree"], heap_released=rs["heapReleased"],
                         heap_idle=rs["heapFree"] + rs["heapReleased"], stacks=stacks,
                         stacks_sys=stacks + rs["stacks_sys"], metadata=meta,
                         data_bss=_data_bss(gp), sys=sys_, source="runtime statistics")
    # Arenas are reserved whole but mapped lazily, so idle memory is not known from spans.
    in_use = int(span_bytes[sp.in_use].sum(dtype=np.uint64))
    manual = int(span_bytes[sp.state == sp.manual_state].sum(dtype=np.uint64))
    return Breakdown(live=live, unreachable=allocated - live, heap_in_use=in_use, heap_free=None,
                     heap_released=None, heap_idle=None,
                     stacks=manual, stacks_sys=None, metadata=None, data_bss=_data_bss(gp),
                     sys=None, source="spans")
