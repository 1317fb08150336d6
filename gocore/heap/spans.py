"""The heap's spans, read from ``runtime.mheap_`` into parallel numpy arrays.

Spans come from ``mheap_.allspans`` (every mspan ever made, in any state); arenas from
``mheap_.allArenas`` and the arena index ``mheap_.arenas[l1][l2] -> *heapArena``
(src/runtime/mheap.go). Every mspan field is read with one vectorised gather per field
(``core.Gather``, the process's), never one Python read per span and field. Each span is validated (state,
page alignment, inside known arenas, ``nelems * elemsize <= npages * pageSize``, readable
alloc bits, no overlap); a bad span is dropped with one warning, never an exception for the
whole heap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core import Gather

from ..errors import BadRuntimeData

if TYPE_CHECKING:
    from ..binary.layout import Layout
    from ..process import GoProcess


U64 = np.uint64


def ragged_arange(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (owner, k): for each i, ``counts[i]`` rows with owner i and k = 0..counts[i]-1."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    return owner, k


# ---- spans ----

@dataclass
class Spans:
    """In-use and manual spans as parallel arrays, sorted by ``base`` (one row per span)."""

    mspan: np.ndarray       # uint64 address of the runtime.mspan
    base: np.ndarray        # uint64 startAddr
    npages: np.ndarray      # uint64
    nelems: np.ndarray      # int64
    elemsize: np.ndarray    # uint64
    limit: np.ndarray       # uint64
    freeindex: np.ndarray   # int64
    spanclass: np.ndarray   # uint8: sizeclass << 1 | noscan
    state: np.ndarray       # uint8 (runtime.mSpanInUse / mSpanManual)
    alloc_bits: np.ndarray  # uint64 pointer to the gcBits of allocated slots
    gcmark_bits: np.ndarray  # uint64
    specials: np.ndarray    # uint64 head of the specials list
    large_type: np.ndarray  # uint64 mspan.largeType (go1.22+; 0 otherwise)
    page_size: int
    in_use_state: int
    manual_state: int

    def __len__(self) -> int:
        return len(self.base)

    @property
    def end(self) -> np.ndarray:
        """Return ``base + npages * pageSize`` per span."""
        return self.base + self.npages * U64(self.page_size)

    @property
    def noscan(self) -> np.ndarray:
        """Return whether each span's objects hold no pointers (spanclass bit 0)."""
        return (self.spanclass & 1).astype(bool)

    @property
    def sizeclass(self) -> np.ndarray:
        """Return each span's size class (0 = one large object)."""
        return self.spanclass >> 1

    @property
    def in_use(self) -> np.ndarray:
        """Return whether each span holds heap objects (mSpanInUse)."""
        return self.state == self.in_use_state

    def subset(self, mask: np.ndarray) -> "Spans":
        """Return the spans where ``mask`` is true."""
        kw = {k: (v[mask] if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}
        return Spans(**kw)


@dataclass
class Arenas:
    """The heap arenas: index, base address and ``*heapArena`` per arena, sorted by base."""

    index: np.ndarray       # uint64 arena index (arenaIdx)
    base: np.ndarray        # uint64 first address
    heap_arena: np.ndarray  # uint64 address of the runtime.heapArena
    arena_bytes: int
    base_offset: int        # runtime.arenaBaseOffset (amd64: 0xffff800000000000)

    def find(self, addrs: np.ndarray) -> np.ndarray:
        """Return the row of the arena holding each address, or -1."""
        addrs = np.asarray(addrs, dtype=U64)
        i = np.searchsorted(self.base, addrs, side="right").astype(np.int64) - 1
        ok = i >= 0
        j = np.where(ok, i, 0)
        ok &= addrs < self.base[j] + U64(self.arena_bytes) if len(self.base) else ok
        return np.where(ok, i, -1)


# arenaBaseOffset candidates (src/runtime/malloc.go): 0 on most platforms, 1<<47 folded to the
# high half on amd64 (0xffff800000000000).
_BASE_OFFSETS = (0, 0xFFFF800000000000)


def _slice_header(gather: Gather, addr: int, what: str) -> tuple[int, int, int]:
    w = gather.word_size
    v, ok = gather.words(np.array([addr, addr + w, addr + 2 * w], dtype=U64))
    if not ok.all():
        raise BadRuntimeData(f"{what} is unreadable", addr)
    return int(v[0]), int(v[1]), int(v[2])


def runtime_slice(gp: GoProcess, gather: Gather, addr: int, what: str) -> tuple[int, int]:
    """Return (array address, entries to read) of the runtime slice whose header is at
    ``addr``.

    The length is bounded by the bytes present from the array on before anything is
    allocated: a garbage length (or one past ``cap``) reads only the entries the dump
    holds, with a warning; none at all is an error naming ``what``.
    """
    p, n, cap = _slice_header(gather, addr, f"the slice header of {what}")
    if n == 0:
        return p, 0
    have = gather.run_length(p) // gather.word_size
    if have == 0:
        raise BadRuntimeData(f"the {n} entries of {what} are unreadable", p)
    if n > have or n > cap:
        gp.process.warn(f"heap: {what} claims {n} entries (cap {cap}) but the dump holds "
                        f"{have} from {p:#x}; reading {min(n, have)}")
    return p, min(n, have)


def mheap_address(gp: GoProcess) -> int:
    """Return the run-time address of ``runtime.mheap_`` (DWARF, symbols, then the
    runtime's code: ``GoProcess.global_address``); a failure there names its cause."""
    addr = gp.global_address("runtime.mheap_")
    if addr is None:
        raise BadRuntimeData("cannot find runtime.mheap_ (no DWARF, symbols or recognisable code)")
    return addr


def read_arenas(gp: GoProcess, gather: Gather | None = None) -> Arenas:
    """Return the heap arenas listed in ``mheap_.allArenas`` with their heapArena pointers."""
    L = gp.layout
    gather = gather or gp.process.gather
    w = gather.word_size
    mheap = mheap_address(gp)
    l1_bits = L.const("runtime.arenaL1Bits")
    l2_bits = L.const("runtime.arenaL2Bits")
    arena_bytes = L.const("runtime.heapArenaBytes")
    arenas_field = mheap + L.offset("runtime.mheap", "arenas")
    if L.has("runtime.mheap", "allArenas"):
        hdr = mheap + L.offset("runtime.mheap", "allArenas")
        p, n, _cap = _slice_header(gather, hdr, "the slice header of mheap_.allArenas")
        have = gather.run_length(p) // w
        idx = np.zeros(0, dtype=U64)
        if n <= min(have, 1 << (l1_bits + l2_bits)):
            idx, _ = gather.words(np.uint64(p) + np.arange(n, dtype=U64) * U64(w))
            idx = idx[idx < U64(1 << (l1_bits + l2_bits))]
        if len(idx) < n:
            # A dump cut short may have lost the list but kept mheap_.arenas: scan that.
            gp.process.warn(f"heap: mheap_.allArenas at {p:#x} ({n} entries) is unreadable or "
                            "damaged; arenas found by scanning mheap_.arenas")
            idx = _arenas_in_l2(gp, gather, arenas_field, l1_bits, l2_bits)
    else:
        idx = _arenas_in_l2(gp, gather, arenas_field, l1_bits, l2_bits)
    idx = np.unique(idx.astype(U64))
    l1 = (idx >> U64(l2_bits)).astype(U64)
    l2 = idx & U64((1 << l2_bits) - 1)
    l2arr, ok1 = gather.words(U64(arenas_field) + l1 * U64(w))
    ha, ok2 = gather.words(l2arr + l2 * U64(w))
    good = ok1 & ok2 & (l2arr != 0) & (ha != 0)
    if not good.all():
        gp.process.warn(f"heap: {int((~good).sum())} of {len(idx)} heap arenas have no readable heapArena")
    idx, ha = idx[good], ha[good]
    return Arenas(index=idx, base=np.zeros(len(idx), dtype=U64), heap_arena=ha,
                  arena_bytes=arena_bytes, base_offset=0)


def _arenas_in_l2(gp: GoProcess, gather: Gather, arenas_field: int, l1_bits: int, l2_bits: int) -> np.ndarray:
    """Return the arena indexes whose ``mheap_.arenas`` entry is non-nil, in the readable
    parts of the L2 arrays."""
    parts = []
    w = gather.word_size
    for l1 in range(1 << l1_bits):
        (l2p,), ok = gather.words(np.array([arenas_field + w * l1], dtype=U64))
        if not ok[0] or not l2p:
            continue
        l2p = int(l2p)
        end = l2p + (w << l2_bits)
        for seg in gp.process.memory.segments_in(l2p, end):
            if not seg.present:
                continue
            lo = max(seg.start, l2p)
            lo += -(lo - l2p) % w
            hi = min(seg.end, end)
            hi -= (hi - l2p) % w
            if hi > lo:
                arr = np.frombuffer(seg.view(lo, hi), dtype=gp.process.word_dtype)
                first = (l1 << l2_bits) + (lo - l2p) // w
                parts.append(np.flatnonzero(arr).astype(U64) + U64(first))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=U64)


def _fix_arena_bases(arenas: Arenas, span_bases: np.ndarray) -> Arenas:
    """Choose arenaBaseOffset so that the most span bases fall inside the listed arenas."""
    best, best_hits = None, -1
    for off in _BASE_OFFSETS:
        with np.errstate(over="ignore"):
            base = arenas.index * U64(arenas.arena_bytes) + U64(off)
        order = np.argsort(base)
        cand = Arenas(arenas.index[order], base[order], arenas.heap_arena[order],
                      arenas.arena_bytes, off)
        hits = int((cand.find(span_bases) >= 0).sum())
        if hits > best_hits:
            best, best_hits = cand, hits
    return best


def _in_span_map(gather: Gather, L, arenas: Arenas, mspans: np.ndarray, first: np.ndarray,
                 last: np.ndarray, page: int) -> np.ndarray:
    """Return whether ``heapArena.spans`` names each mspan at its first and last page."""
    if len(arenas.base) == 0:
        return np.zeros(len(mspans), dtype=bool)
    off = U64(L.offset("runtime.heapArena", "spans"))
    out = np.ones(len(mspans), dtype=bool)
    for addr in (first, last):
        row = arenas.find(addr)
        r = np.where(row >= 0, row, 0)
        slot = arenas.heap_arena[r] + off + (addr - arenas.base[r]) // U64(page) * U64(gather.word_size)
        v, ok = gather.words(slot)
        out &= (row >= 0) & ok & (v == mspans)
    return out


def spans_in_use_by_arenas(gather: Gather, L: Layout, arenas: Arenas) -> int | None:
    """Return the runtime's own count of in-use spans: the bits set in every arena's
    ``heapArena.pageInUse`` (one per mSpanInUse span, at its first page), or None when
    some arena's bitmap is not in the dump."""
    f = L.field("runtime.heapArena", "pageInUse")
    if len(arenas.heap_arena) == 0:
        return 0
    owner, k = ragged_arange(np.full(len(arenas.heap_arena), f.size, dtype=np.int64))
    bits, ok = gather.u8(arenas.heap_arena[owner] + U64(f.offset) + k.astype(U64))
    if not ok.all():
        return None
    return int(np.bitwise_count(bits).sum(dtype=np.int64))


_FIELDS = ("startAddr", "npages", "nelems", "elemsize", "limit", "freeindex", "spanclass",
           "state", "allocBits", "gcmarkBits", "specials")


def read_spans(gp: GoProcess, gather: Gather | None = None) -> tuple[Spans, Arenas]:
    """Return (in-use and manual spans sorted by base, arenas) of the dump's heap.

    Bad spans are dropped with a warning on the process.
    """
    L = gp.layout
    proc = gp.process
    gather = gather or proc.gather
    mheap = mheap_address(gp)
    page = L.const("runtime._PageSize")
    st_inuse = L.const("runtime.mSpanInUse")
    st_manual = L.const("runtime.mSpanManual")
    st_dead = L.const("runtime.mSpanDead")

    p, n = runtime_slice(gp, gather, mheap + L.offset("runtime.mheap", "allspans"),
                         "mheap_.allspans")
    ptrs, _ = gather.words(U64(p) + np.arange(n, dtype=U64) * U64(gather.word_size))   # all present
    ptrs = ptrs[ptrs != 0]

    vals: dict[str, np.ndarray] = {}
    okall = np.ones(len(ptrs), dtype=bool)
    for name in _FIELDS + (("largeType",) if L.has("runtime.mspan", "largeType") else ()):
        f = L.field("runtime.mspan", name)
        v, ok = gather.uint(ptrs + U64(f.offset), f.size)
        vals[name] = v
        okall &= ok
    if "largeType" not in vals:
        vals["largeType"] = np.zeros(len(ptrs), dtype=U64)

    state = vals["state"].astype(np.uint8)
    bad_reasons: dict[str, int] = {}

    def reject(mask: np.ndarray, why: str) -> None:
        nonlocal keep
        cnt = int((keep & mask).sum())
        if cnt:
            bad_reasons[why] = bad_reasons.get(why, 0) + cnt
            keep &= ~mask

    keep = np.ones(len(ptrs), dtype=bool)
    reject(~okall, "unreadable mspan")
    known = (state == st_inuse) | (state == st_manual) | (state == st_dead)
    reject(~known, "unknown state")
    keep &= state != st_dead
    base = vals["startAddr"]
    npages = vals["npages"]
    reject((base % U64(page)) != 0, "unaligned base")
    reject((npages == 0) | (npages > U64(1 << 40)), "bad npages")

    arenas = read_arenas(gp, gather)
    arenas = _fix_arena_bases(arenas, base[keep])
    with np.errstate(over="ignore"):
        end = base + npages * U64(page)
    reject((arenas.find(base) < 0) | (arenas.find(end - U64(1)) < 0) | (end <= base),
           "outside the heap arenas")
    # mheap.setSpans records every in-use and manual span in its arena's page -> span map:
    # a struct that merely looks like a span (a shifted or damaged segment) is not there.
    live = np.flatnonzero(keep)
    mapped = np.zeros(len(keep), dtype=bool)
    mapped[live] = _in_span_map(gather, L, arenas, ptrs[live], base[live], end[live] - U64(1), page)
    reject(~mapped, "not in its arena's span map")

    inuse = state == st_inuse
    elemsize = vals["elemsize"]
    nelems = vals["nelems"].astype(np.int64)
    span_bytes = npages * U64(page)
    reject(inuse & ((elemsize == 0) | (nelems <= 0)), "empty in-use span")
    # initSpan gives a large-object span (size class 0) one element; a span's alloc and mark
    # bits come from one gcBits chunk (newMarkBits), which bounds nelems.
    reject(inuse & ((vals["spanclass"] >> U64(1)) == 0) & (nelems != 1), "large span with nelems != 1")
    max_elems = 8 * (L.const("runtime.gcBitsChunkBytes") - L.const("runtime.gcBitsHeaderBytes"))
    reject(inuse & (nelems > max_elems), "nelems beyond one gcBits chunk")
    with np.errstate(over="ignore"):
        reject(inuse & (nelems.astype(U64) * elemsize > span_bytes), "nelems*elemsize exceeds the span")
        # limit is base + nelems*elemsize, the end of the slots before the span's heap bits
        # (go1.22+), or base + the requested size for large objects: only bound it.
        reject(inuse & ((vals["limit"] < base) | (vals["limit"] > end)), "limit outside the span")
    reject(inuse & (vals["freeindex"].astype(np.int64) > nelems), "freeindex beyond nelems")
    nbytes = ((nelems + 7) // 8).astype(np.int64)
    abits = vals["allocBits"]
    ab_ok = gather.readable(abits, 1) & gather.readable(abits + np.maximum(nbytes, 1).astype(U64) - U64(1), 1)
    reject(inuse & ~ab_ok, "unreadable allocBits")

    # overlapping spans: keep the first (by base) of each overlapping pair
    order = np.argsort(base, kind="stable")
    order = order[keep[order]]
    if len(order) > 1:
        b, e = base[order], end[order]
        prev_end = np.maximum.accumulate(e)
        overl = np.zeros(len(order), dtype=bool)
        overl[1:] = b[1:] < prev_end[:-1]
        if overl.any():
            m = np.zeros(len(keep), dtype=bool)
            m[order[overl]] = True
            reject(m, "overlaps another span")
            order = order[~overl]

    if bad_reasons:
        total = sum(bad_reasons.values())
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(bad_reasons.items()))
        proc.warn(f"heap: skipped {total} bad spans ({detail})")

    if not (state[order] == st_inuse).any():
        counted = spans_in_use_by_arenas(gather, L, arenas)
        says = f", but the heap arenas' page bitmaps count {counted}" if counted else ""
        raise BadRuntimeData(f"no readable in-use span among the {n} entries of mheap_.allspans"
                             f"{says}: span structures unreadable or damaged", p)
    spans = Spans(
        mspan=ptrs[order], base=base[order], npages=npages[order], nelems=nelems[order],
        elemsize=elemsize[order], limit=vals["limit"][order],
        freeindex=vals["freeindex"].astype(np.int64)[order],
        spanclass=vals["spanclass"].astype(np.uint8)[order], state=state[order],
        alloc_bits=abits[order], gcmark_bits=vals["gcmarkBits"][order],
        specials=vals["specials"][order], large_type=vals["largeType"][order],
        page_size=page, in_use_state=st_inuse, manual_state=st_manual)
    return spans, arenas
