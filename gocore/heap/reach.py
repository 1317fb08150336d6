"""Roots and marking: which heap objects are reachable, and a path from a root to each.

Roots (as ``markroot`` in src/runtime/mgcmark.go sees them, so far):

* the data and bss sections, through the module's pointer masks (1 bit per word):
  ``moduledata.gcdatamask`` / ``gcbssmask`` as the runtime expanded them in the dump, or
  the GC programs ``moduledata.gcdata`` / ``gcbss`` expanded here; a root is named by the
  DWARF global holding the word (``main.list``), else ``data+0x1f0`` / ``bss+0x88``;
* objects with a finalizer (``mspan.specials`` of kind ``_KindSpecialFinalizer``) and the
  finalizer's ``fn`` closure;
* ``extra_roots``: (pointer value, description) pairs supplied by other layers (goroutine
  stacks).

Marking is a breadth-first search over the CSR edges, one numpy frontier per level (long
thin chains switch to a small queue loop). ``parent`` (int32, -1 for roots and unreached)
and ``root_of`` give a shortest path from a root to every reached object.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from core import UnmappedAddress

from .edges import Edges, edges_of
from .heap import Heap
from .gcprog import run_gc_program
from .ptrmaps import PTR
from .spans import U64

log = logging.getLogger(__name__)


ROOT_KINDS = ("global", "frame", "finalizer", "other")  # the contract's root kinds
GLOBAL, FRAME, FINALIZER, OTHER = range(4)


@dataclass
class Roots:
    """Root pointers that hit heap objects: one row per root word."""

    obj: np.ndarray      # int32 object id pointed to
    name: np.ndarray     # int32 index into ``names``
    addr: np.ndarray     # uint64 address of the root word (0 when not in memory)
    ptr: np.ndarray      # uint64 the pointer value
    names: list[str] = field(default_factory=list)
    kind: np.ndarray | None = None   # uint8 index into ROOT_KINDS
    goid: np.ndarray | None = None   # int64 goroutine id of a stack root, -1 otherwise

    def kind_of(self, r: int) -> str:
        """Return root ``r``'s kind: global, frame, finalizer or other."""
        return ROOT_KINDS[int(self.kind[r])] if self.kind is not None else "other"

    def goroutine_of(self, r: int) -> int | None:
        """Return the goroutine id of a stack root, else None."""
        if self.goid is None or self.goid[r] < 0:
            return None
        return int(self.goid[r])

    def __len__(self) -> int:
        return len(self.obj)

    def describe(self, r: int) -> str:
        """Return the root's description ("main.list", "data+0x10", "finalizer of 0x...")."""
        return self.names[int(self.name[r])]


def section_pointer_mask(gp, which: str) -> np.ndarray | None:
    """Return the pointer mask (bool per word) of the ``data`` or ``bss`` section."""
    md = gp.moduledata
    L = gp.layout
    bias = gp.process.exe_bias
    lo, hi = getattr(md, which), getattr(md, "e" + which)
    nwords = (hi - lo) // PTR
    mask_field = "gcdatamask" if which == "data" else "gcbssmask"
    try:  # the mask the runtime built at start-up (src/runtime/symtab.go moduledataverify1)
        base = md.addr + bias
        n_off = L.field("runtime.moduledata", f"{mask_field}.n")
        p_off = L.offset("runtime.moduledata", f"{mask_field}.bytedata")
        n = gp.process.read_uint(base + n_off.offset, n_off.size)
        p = gp.process.read_ptr(base + p_off)
        if 0 < n <= nwords + 64 and p:
            raw = np.frombuffer(gp.process.read(p, (n + 7) // 8), np.uint8)
            bits = np.unpackbits(raw, bitorder="little")[:min(n, nwords)].astype(bool)
            return np.r_[bits, np.zeros(nwords - len(bits), bool)]
    except Exception as e:  # noqa: BLE001 - fall back to the GC program below
        log.debug("%s from the dump: %s", mask_field, e)
    try:
        prog = getattr(md, "gc" + which) + bias
        # the program is short; read what the segment holds (at most 1 MiB)
        seg_end = next((s.end for s in gp.process.segments() if s.start <= prog < s.end), prog)
        code = gp.process.read(prog, min(seg_end - prog, 1 << 20))
        bits = run_gc_program(code, nwords, nwords)  # it writes exactly the section
        return np.r_[bits, np.zeros(nwords - len(bits), bool)]
    except Exception as e:  # noqa: BLE001
        gp.process.warn(f"roots: no pointer mask for the {which} section ({e})")
        return None


def _global_names(gp):
    """Return (sorted link-time addresses, sizes, names) of the DWARF globals, or None."""
    if gp.dwarf is None or not gp.dwarf.globals:
        return None
    gl = sorted(gp.dwarf.globals.values(), key=lambda g: g.addr)
    return (np.array([g.addr for g in gl], dtype=U64), np.array([max(g.size, 1) for g in gl], dtype=U64),
            [g.name for g in gl])


def data_roots(gp, heap: Heap, name_index: dict[str, int]):
    """Return (obj, name, addr, ptr) arrays of the data/bss words pointing into the heap."""
    md = gp.moduledata
    bias = gp.process.exe_bias
    globs = _global_names(gp)
    out = []
    for which in ("data", "bss"):
        mask = section_pointer_mask(gp, which)
        if mask is None:
            continue
        lo = getattr(md, which)
        waddr = U64(lo + bias) + np.flatnonzero(mask).astype(U64) * U64(PTR)
        vals, ok = heap.gather.u64(waddr)
        d = heap.find(np.where(ok, vals, 0))
        hit = d >= 0
        waddr, vals, d = waddr[hit], vals[hit], d[hit]
        link = waddr - U64(bias)
        labels = np.empty(len(d), dtype=object)
        if globs is not None:
            ga, gs, gn = globs
            gi = np.searchsorted(ga, link, side="right").astype(np.int64) - 1
            inside = (gi >= 0) & (link < ga[np.maximum(gi, 0)] + gs[np.maximum(gi, 0)])
        else:
            inside = np.zeros(len(d), bool)
        for j in range(len(d)):  # one per root word that hits the heap (globals, not objects)
            if inside[j]:
                g = int(gi[j])
                delta = int(link[j] - ga[g])
                labels[j] = gn[g] + (f"+{delta:#x}" if delta else "")
            else:
                labels[j] = f"{which}+{int(link[j]) - lo:#x}"
        idx = np.array([name_index.setdefault(s, len(name_index)) for s in labels], dtype=np.int32)
        out.append((d, idx, waddr, vals))
    return out


class FinalizerRecord(NamedTuple):
    """One ``runtime.specialfinalizer``: the object, its ``fn`` closure and ``ot`` (its
    ``*ptrtype``; 0 where the layout has no ``ot``)."""

    obj: int
    fn: int
    ot: int


def finalizer_records(gp, heap: Heap) -> list[FinalizerRecord]:
    """Return every finalizer record on the in-use spans' specials lists.

    Spans with specials are few, so the lists are walked one record at a time; a broken
    list costs only its span, and the process is warned once.
    """
    L = gp.layout
    sp = heap.spans
    proc = gp.process
    try:
        kind_fin = L.const("runtime._KindSpecialFinalizer")
        o_next = L.offset("runtime.special", "next")
        f_off = L.field("runtime.special", "offset")
        o_kind = L.offset("runtime.special", "kind")
        o_fn = L.offset("runtime.specialfinalizer", "fn")
    except Exception as e:  # noqa: BLE001
        proc.warn(f"roots: finalizers skipped ({e})")
        return []
    try:
        o_ot = L.offset("runtime.specialfinalizer", "ot")
    except Exception:  # noqa: BLE001 - the record's type is a bonus, not needed for roots
        o_ot = None
    out: list[FinalizerRecord] = []
    bad = 0
    span_bytes = sp.npages * U64(sp.page_size)
    for r in np.flatnonzero(sp.in_use & (sp.specials != 0)):
        s = int(sp.specials[r])
        base, size = int(sp.base[r]), int(span_bytes[r])
        # addspecial keeps a span's list sorted by (offset, kind), every offset inside the
        # span: a record out of order, outside or seen before is garbage, ending the walk.
        last, seen = (-1, -1), set()
        while s:
            try:
                kind = proc.read_uint(s + o_kind, 1)
                off = proc.read_uint(s + f_off.offset, f_off.size)
                if off >= size or (off, kind) < last or s in seen:
                    bad += 1
                    break
                last = (off, kind)
                seen.add(s)
                if kind == kind_fin:
                    ot = proc.read_ptr(s + o_ot) if o_ot is not None else 0
                    out.append(FinalizerRecord(base + off, proc.read_ptr(s + o_fn), ot))
                s = proc.read_ptr(s + o_next)
            except UnmappedAddress:  # one broken list costs only its span
                bad += 1
                break
    if bad:
        proc.warn(f"roots: {bad} span specials lists are unreadable")
    return out


def finalizer_roots(gp, heap: Heap) -> list[tuple[int, str]]:
    """Return (pointer, description) for objects with finalizers and their ``fn`` closures."""
    out: list[tuple[int, str]] = []
    for rec in finalizer_records(gp, heap):
        out.append((rec.obj, f"finalizer of {rec.obj:#x}"))
        if rec.fn:
            out.append((rec.fn, f"finalizer fn of {rec.obj:#x}"))
    return out


def _stack_part(stack, index: dict[str, int]):
    """Return a roots part (obj, name, addr, ptr, kind, goid) from a StackRootTable."""
    from ..goroutines.stackroots import AREAS, FRAME as S_FRAME, LOCALS, ARGS, OBJECT, RUNNING
    frame_areas = np.array([a in (LOCALS, ARGS, S_FRAME, OBJECT, RUNNING) for a in range(len(AREAS))])
    goid = stack.goids[stack.goro].astype(np.int64)
    labels = {}
    names = np.empty(len(stack), dtype=np.int32)
    for i in range(len(stack)):  # one per root word (stacks are small next to the heap)
        f, a = int(stack.frame[i]), int(stack.area[i])
        key = (int(goid[i]), f, a)
        if key not in labels:
            what = stack.func_names[int(stack.frame_func[f])] if f >= 0 else AREAS[a]
            labels[key] = index.setdefault(f"goroutine {key[0]} {what}", len(index))
        names[i] = labels[key]
    kind = np.where(frame_areas[stack.area], FRAME, OTHER).astype(np.uint8)
    return stack.obj, names, stack.slot, stack.ptr, kind, goid


def collect_roots(gp, heap: Heap, extra_roots=(), finalizers: bool = True, stack=None) -> Roots:
    """Return the roots hitting the heap: data/bss words, finalizers, ``stack`` (a
    StackRootTable) and ``extra_roots``: ``(pointer, description)`` or
    ``(pointer, slot address, description)`` tuples."""
    index: dict[str, int] = {}
    parts = [(d, i, a, p, np.full(len(d), GLOBAL, np.uint8), np.full(len(d), -1, np.int64))
             for d, i, a, p in data_roots(gp, heap, index)]
    if stack is not None and len(stack):
        parts.append(_stack_part(stack, index))
    groups = [(list(extra_roots), OTHER)]
    if finalizers:
        groups.append((finalizer_roots(gp, heap), FINALIZER))
    for extra, kind in groups:
        if not extra:
            continue
        ptrs = np.array([int(e[0]) for e in extra], dtype=U64)
        slots = np.array([int(e[1]) if len(e) == 3 else 0 for e in extra], dtype=U64)
        d = heap.find(ptrs)
        hit = np.flatnonzero(d >= 0)
        idx = np.array([index.setdefault(str(extra[i][-1]), len(index)) for i in hit], dtype=np.int32)
        parts.append((d[hit], idx, slots[hit], ptrs[hit], np.full(len(hit), kind, np.uint8),
                      np.full(len(hit), -1, np.int64)))
    names = [None] * len(index)
    for s, i in index.items():
        names[i] = s
    if not parts:
        z = np.zeros(0, np.int32)
        return Roots(z, z, np.zeros(0, U64), np.zeros(0, U64), names, np.zeros(0, np.uint8),
                     np.zeros(0, np.int64))
    cat = lambda k, dt: np.concatenate([p[k] for p in parts]).astype(dt)  # noqa: E731
    return Roots(cat(0, np.int32), cat(1, np.int32), cat(2, U64), cat(3, U64), names,
                 cat(4, np.uint8), cat(5, np.int64))


@dataclass
class Reach:
    """The result of marking: per object ``reached``, ``parent``, ``parent_off``, ``root``."""

    heap: Heap
    edges: Edges
    roots: Roots
    reached: np.ndarray     # bool[N]
    parent: np.ndarray      # int32[N]: the object that first reached it; -1 for roots/unreached
    parent_off: np.ndarray  # uint32[N]: byte offset of the pointer in the parent
    root: np.ndarray        # int32[N]: row in ``roots`` the object was reached from; -1 unreached

    @property
    def live_count(self) -> int:
        """Return the number of reached objects."""
        return int(self.reached.sum())

    @property
    def live_bytes(self) -> int:
        """Return the slot bytes of the reached objects."""
        return int(self.heap.size[self.reached].sum(dtype=np.uint64))

    def path(self, i: int) -> tuple[str | None, list[tuple[int, int]]]:
        """Return (root description, [(object id, byte offset of the next pointer)...]).

        The list runs from the root's object to ``i``; the offset of the last entry is -1.
        Unreached objects give (None, []).
        """
        if not self.reached[i]:
            return None, []
        chain = [(int(i), -1)]
        cur = int(i)
        for _ in range(len(self.parent)):
            p = int(self.parent[cur])
            if p < 0:
                break
            chain.append((p, int(self.parent_off[cur])))
            cur = p
        chain.reverse()
        return self.roots.describe(int(self.root[i])), chain


def mark(heap: Heap, edges: Edges, roots: Roots, small_frontier: int = 32,
         queue_limit: int = 4096) -> Reach:
    """Breadth-first marking from ``roots`` over ``edges``."""
    n = len(heap)
    reached = np.zeros(n, dtype=bool)
    parent = np.full(n, -1, dtype=np.int32)
    parent_off = np.zeros(n, dtype=np.uint32)
    root = np.full(n, -1, dtype=np.int32)
    objs, first = np.unique(roots.obj, return_index=True)
    reached[objs] = True
    root[objs] = first
    frontier = objs.astype(np.int64)
    start, dst, off = edges.start, edges.dst, edges.off
    while len(frontier):
        if len(frontier) < small_frontier:
            frontier = _queue_steps(frontier, start, dst, off, reached, parent, parent_off, root,
                                    queue_limit)
            continue
        frontier = _level(frontier, start, dst, off, reached, parent, parent_off, root)
    return Reach(heap, edges, roots, reached, parent, parent_off, root)


def _level(frontier, start, dst, off, reached, parent, parent_off, root, max_edges: int = 1 << 21):
    """Reach the unreached targets of ``frontier``'s edges (one BFS level); return them sorted.

    The level's edges are taken a run of frontier objects at a time (at most about
    ``max_edges`` edges), in frontier order, so each target keeps its first edge in that
    order as its parent, as if the whole level were done at once.
    """
    s = start[frontier]
    cnt = start[frontier + 1] - s
    cum = np.cumsum(cnt)
    out = []
    lo = 0
    while lo < len(frontier):
        base = int(cum[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(cum, base + max_edges, side="right")), lo + 1)
        c = cnt[lo:hi]
        cc = cum[lo:hi] - base                    # end of each object's edges in the run
        total = int(cc[-1])
        if total:
            e = np.arange(total, dtype=np.int64)
            e += np.repeat(s[lo:hi] - (cc - c), c)
            d = dst[e]
            pos = np.flatnonzero(~reached[d])
            d = d[pos]
            d, firsts = np.unique(d, return_index=True)
            pos = pos[firsts]
            src = frontier[lo + np.searchsorted(cc, pos, side="right")]
            reached[d] = True
            parent[d] = src
            parent_off[d] = off[e[pos]]
            root[d] = root[src]
            out.append(d)
            del e, pos, src
        lo = hi
    if not out:
        return np.zeros(0, dtype=np.int64)
    nxt = out[0] if len(out) == 1 else np.sort(np.concatenate(out), kind="stable")
    return nxt.astype(np.int64)


def _queue_steps(frontier, start, dst, off, reached, parent, parent_off, root, limit):
    """FIFO marking in Python while the frontier is thin (linked lists); returns a new frontier."""
    q = deque(int(x) for x in frontier)
    while q and len(q) < limit:
        u = q.popleft()
        a, b = int(start[u]), int(start[u + 1])
        if a == b:
            continue
        ds = dst[a:b]
        new = np.flatnonzero(~reached[ds]) if b - a > 8 else [j for j in range(b - a) if not reached[ds[j]]]
        ru = root[u]
        for j in new:
            v = int(ds[j])
            if reached[v]:
                continue
            reached[v] = True
            parent[v] = u
            parent_off[v] = off[a + j]
            root[v] = ru
            q.append(v)
    return np.array(q, dtype=np.int64)


def reach_of(gp, extra_roots=(), finalizers: bool = True, stack=None) -> Reach:
    """Build heap, edges and roots of ``gp`` and mark from them (``stack``: a StackRootTable)."""
    heap, _, edges = edges_of(gp)
    roots = collect_roots(gp, heap, extra_roots, finalizers, stack)
    return mark(heap, edges, roots)
