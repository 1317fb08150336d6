"""The heap index: live objects with their types, built once per GoProcess.

A short pipeline, each stage reported to a ``progress(stage, fraction)`` callback: heap
(spans and objects, heap.py) -> pointer edges (edges.py) -> roots (roots.py: globals,
goroutine stacks, finalizers, one RootTable) -> marking (reach.py) -> types (typeinfer.py:
malloc headers, then spread from the typed roots along typed pointers, then what untyped
memory states: typeseeds.py).

Everything is per object id (the index into ``Heap.addr``): ``live`` (bool), ``type_id``
(int32, -1 unknown) and ``data_off`` (8 where a malloc header precedes the data). Python
objects are made only for the few objects a command shows (``fields``, ``path``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from .allocsites import closure_sites
from .edges import Edges, edges_of
from .fields import MAX_FIELDS, FieldValue, field_path, object_fields
from .heap import Heap
from .indexstore import IndexDamaged, IndexStore, StoredPart
from .reach import Reach, mark
from .roots import RootInfo, RootTable, collect_roots
from .spans import ragged_arange
from .typeinfer import (UNKNOWN, TypeInference, TypeRegistry, header_type_addresses,
                        infer_types)

if TYPE_CHECKING:
    from ..process import GoProcess
    from .dominators import Dominators

log = logging.getLogger(__name__)
R = TypeVar("R")

Progress = Callable[[str, float], None]

UNKNOWN_NAME = "unknown"
SHORT_CHAIN = 4096  # parent steps walked in Python before the compiled walk takes over
SCAN_RUN = 1 << 20  # objects per run when a column of every object is scanned
RELEASE_READS = 1 << 16  # words typing reads between two releases of the dump's pages


def _root_chain(parent: np.ndarray, edges: Edges, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``markkernels.root_chain``'s (ids, offsets) of the marking's path to ``i``.

    Most paths are a few steps: walking those in Python spares a command that asks for one
    path (``reachable ADDR``) loading numba (about 1 s); a long chain (a linked list of
    millions) goes to the compiled walk."""
    chain = [i]
    cur = i
    while len(chain) <= SHORT_CHAIN:
        cur = int(parent[cur])
        if cur < 0:
            ids = np.array(chain[::-1], dtype=np.int32)
            offs = np.array([edges.offset_to(int(p), int(c)) for p, c in zip(ids[:-1], ids[1:])]
                            + [-1], dtype=np.int64)
            return ids, offs
        chain.append(cur)
    from .markkernels import root_chain
    return root_chain(parent, edges.start, edges.dst, edges.off, np.int64(i))


@dataclass(frozen=True)
class PathStep:
    """One heap object on a root path; ``offset``/``field`` locate the pointer to the next."""

    id: int
    address: int
    size: int
    type: str
    offset: int | None
    field: str | None


@dataclass(frozen=True)
class PathColumns:
    """The heap objects of a root path as columns, the root's object first: ``offset`` is
    where in each object the pointer to the next sits (-1 on the last); ``type_row`` and
    ``field_row`` index ``type_names`` and ``field_names`` (-1: no field name known)."""

    ids: np.ndarray
    address: np.ndarray
    size: np.ndarray
    offset: np.ndarray
    type_row: np.ndarray
    type_names: list[str]
    field_row: np.ndarray
    field_names: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def steps(self) -> Iterator[PathStep]:
        """Yield the path's objects as PathStep records."""
        for i, a, s, o, t, f in zip(self.ids.tolist(), self.address.tolist(), self.size.tolist(),
                                    self.offset.tolist(), self.type_row.tolist(),
                                    self.field_row.tolist()):
            yield PathStep(i, a, s, self.type_names[t], o if o >= 0 else None,
                           self.field_names[f] if f >= 0 else None)


def _true_ids(flags: np.ndarray, chunk: int = 1 << 22) -> np.ndarray:
    """Return the indexes of ``flags``' true entries as int32, a chunk at a time
    (``np.flatnonzero`` makes int64: 160 MB at 20 M objects, at the build's peak)."""
    out = np.empty(int(np.count_nonzero(flags)), dtype=np.int32)
    k = 0
    for lo in range(0, len(flags), chunk):
        part = np.flatnonzero(flags[lo:lo + chunk])
        out[k:k + len(part)] = part + lo
        k += len(part)
    return out


class HeapIndex:
    """Live heap objects of one process, their types, and lookups over them.

    ``store`` (an ``IndexStore``, or None) keeps what is computed on demand (histogram,
    dominators) for later processes; ``storedindex.open_heap_index`` makes one."""

    def __init__(self, gp: GoProcess, heap: Heap, edges: Edges, roots: RootTable, reach: Reach,
                 types: TypeInference, store: IndexStore | None = None):
        self.gp = gp
        self.heap = heap
        self.edges = edges
        self.roots = roots
        self.reach = reach
        self.types = types
        self.live: np.ndarray = reach.reached
        self.type_id: np.ndarray = types.type_id
        self.data_off: np.ndarray = types.data_off
        self.store = store
        self._names: dict[int, str] = {}

    @classmethod
    def build(cls, gp: GoProcess, progress: Progress | None = None,
              store: IndexStore | None = None,
              marked: Callable[[Heap, Edges, Reach], None] | None = None) -> HeapIndex:
        """Return the index computed from the dump: heap, edges, roots, marks, types.
        ``marked`` is called once the marks are known, before the typing (to start
        writing what is final)."""
        say = progress or (lambda stage, frac: None)
        from . import markkernels as mk
        from .domkernels import compiled_code_kept
        # the kernels every build calls (the others, used from some size or Go version
        # on, may never be compiled here, and the note would then never go away)
        if not compiled_code_kept((mk.expand_slots, mk.bfs_mark, mk.spread_pointers)):
            gp.note("compiling the heap-walk code (once after install: a few seconds)")
        say("reading spans and objects", 0.0)
        heap, pmaps, edges = edges_of(gp)
        # the pass above touched most of the dump's heap pages: as resident memory they
        # would sit under the marks and types computed next (900 MB of 3.3 GB at 20 M
        # objects); typing reads back only the words it needs
        gp.process.release_resident()
        say("collecting roots", 0.35)
        roots = collect_roots(gp, heap, edges)
        say("marking live objects", 0.45)
        reach = mark(heap, edges, roots)
        if marked is not None:
            marked(heap, edges, reach)
        say("typing objects", 0.6)
        types = _infer(gp, heap, roots, edges, pmaps, live=reach.reached)
        gp.process.release_resident()
        say("indexing", 0.95)
        hi = cls(gp, heap, edges, roots, reach, types, store)
        say("done", 1.0)
        return hi

    def remember(self, part: str, compute: Callable[[], R],
                 stored: Callable[[StoredPart], R], storable: Callable[[R], tuple[dict, dict]]) -> R:
        """Return a result computed once per index and kept in the store as ``part``:
        ``stored(part)`` reads it back, ``storable(result)`` gives its (arrays, meta)."""
        memo = self.__dict__.setdefault("_remembered", {})
        if part in memo:
            return memo[part]
        got = None
        if self.store is not None:
            try:
                kept = self.store.load(part)
                if kept is not None:
                    got = stored(kept)
                    for w in kept.warnings:
                        self.gp.process.warn(w)
            except IndexDamaged as e:
                self.store.drop(part)
                self.gp.note(f"the kept heap index was damaged ({e}); computed afresh")
                got = None
        if got is None:
            before = len(self.gp.process.warnings)
            got = compute()
            if self.store is not None:
                arrays, meta = storable(got)
                self.store.save(part, arrays, meta, self.gp.process.warnings[before:])
        memo[part] = got
        return got

    # ---- figures ----

    @property
    def registry(self) -> TypeRegistry:
        return self.types.registry

    @cached_property
    def live_ids(self) -> np.ndarray:
        """Return the ids of the live objects, ascending (int32), made on first use: the
        first command's histogram and figures scan the live flags instead (80 MB less at
        20 M objects, at the index build's peak)."""
        return _true_ids(self.live)

    @property
    def live_count(self) -> int:
        """Return the number of live (reachable) objects."""
        return int(np.count_nonzero(self.live))

    @property
    def live_bytes(self) -> int:
        """Return the slot bytes of the live objects."""
        size, live = self.heap.size, self.live
        return sum(int(size[a:a + SCAN_RUN][live[a:a + SCAN_RUN]].sum(dtype=np.uint64))
                   for a in range(0, len(size), SCAN_RUN))

    def type_name(self, tid: int) -> str:
        """Return the Go spelling of type id ``tid`` (``unknown`` for -1)."""
        if tid == UNKNOWN:
            return UNKNOWN_NAME
        got = self._names.get(tid)
        if got is None:
            got = self.registry.display_name(tid)
            self._names[tid] = got
        return got

    def name_of(self, i: int) -> str:
        """Return the type name of object ``i``."""
        return self.type_name(int(self.type_id[i]))

    def histogram(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Return (type names, slot size, count, bytes) per (type, size) row of the live heap.

        Rows are sorted by bytes, then count, descending (then by name for stability).
        """
        def stored(p: StoredPart):
            return p.meta["names"], p.array("size"), p.array("count"), p.array("bytes")

        def storable(h):
            return {"size": h[1], "count": h[2], "bytes": h[3]}, {"names": h[0]}

        return self.remember("histogram", self._histogram, stored, storable)

    def dominators(self) -> Dominators:
        """Return the dominator tree and retained sizes of the live objects."""
        from .dominators import compute, stored_dominators, storable_dominators

        def fresh() -> Dominators:
            from .domkernels import compiled_code_kept
            if not compiled_code_kept():
                self.gp.note("compiling the dominator-tree code (once after install: about 10 s)")
            return compute(self)

        return self.remember("dominators", fresh, lambda p: stored_dominators(self, p),
                             storable_dominators)

    def referrers(self) -> Edges:
        """Return the incoming edges as CSR (``Edges.reverse``: ``dst`` holds the sources),
        kept with the index once computed."""
        def stored(p: StoredPart) -> Edges:
            return Edges(**p.arrays("rev"))

        def storable(r: Edges):
            return {"rev.start": r.start, "rev.dst": r.dst, "rev.off": r.off}, {}

        return self.remember("referrers", lambda: self.edges.reverse, stored, storable)

    def _histogram(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        heap = self.heap
        # an object's slot size is its span's: the distinct sizes come from the spans, and
        # each object's size index from its span row (no sort over the objects)
        span_size = np.minimum(heap.spans.elemsize, np.uint64(0xFFFFFFFF)).astype(np.uint32)
        usize, span_sidx = np.unique(span_size, return_inverse=True)
        span_sidx = span_sidx.ravel().astype(np.int64)
        ns = max(len(usize), 1)
        ntypes = int(self.type_id.max(initial=-1)) + 2 if len(self.type_id) else 1
        counts = np.zeros(ntypes * ns, dtype=np.int64)
        live = self.live
        for a in range(0, len(live), SCAN_RUN):              # bounded temporaries
            m = live[a:a + SCAN_RUN]
            key = self.type_id[a:a + SCAN_RUN][m].astype(np.int64)
            key += 1                                           # 0 = unknown
            key *= ns
            key += span_sidx[heap.span[a:a + SCAN_RUN][m]]
            counts += np.bincount(key, minlength=len(counts))
            del key, m
        keys = np.flatnonzero(counts)
        counts = counts[keys]
        sizes = usize[keys % ns].astype(np.int64)
        tids = keys // ns - 1
        nbytes = counts * sizes
        names = [self.type_name(int(t)) for t in tids]           # one per row (types, not objects)
        order = sorted(range(len(keys)), key=lambda r: (-int(nbytes[r]), -int(counts[r]), names[r]))
        o = np.array(order, dtype=np.int64)
        return [names[r] for r in order], sizes[o], counts[o], nbytes[o]

    def objects_of(self, type_name: str | None = None) -> np.ndarray:
        """Return the ids of live objects (all, or of type ``type_name`` exactly), by address."""
        if type_name is None:
            return self.live_ids
        # the ids of that name among every type id (a few thousand names), not a sort of
        # the objects' ids (np.unique over 20 M objects cost 0.3 s)
        tid = np.asarray(self.type_id)
        want = np.array([t for t in range(UNKNOWN, int(tid.max(initial=-1)) + 1)
                         if self.type_name(t) == type_name], dtype=np.int32)
        if not len(want):
            return np.zeros(0, dtype=np.int32)
        # in runs over the per-object columns (live flags, type ids), not a gather of every
        # live object's type: that took two temporaries of 4 bytes per object
        live = self.live
        found = []
        for a in range(0, len(tid), SCAN_RUN):
            t = tid[a:a + SCAN_RUN]
            hit = (t == want[0]) if len(want) == 1 else np.isin(t, want)
            hit &= live[a:a + SCAN_RUN]
            found.append((np.flatnonzero(hit) + a).astype(np.int32))
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int32)

    # ---- one object ----

    def find(self, addr: int) -> int:
        """Return the id of the allocated object containing ``addr`` (interior too), or -1."""
        return self.heap.find_one(addr)

    def path(self, i: int) -> tuple[RootInfo, list[PathStep]] | None:
        """Return the root and the heap objects of a shortest path to live object ``i``."""
        got = self.path_columns(i)
        return None if got is None else (got[0], list(got[1].steps()))

    def path_columns(self, i: int) -> tuple[RootInfo, PathColumns] | None:
        """Return the root and, as columns, the heap objects of the marking's shortest path
        to live object ``i`` (None when it is not live): for paths of millions of objects
        (a long linked list) without a Python object per step."""
        if not self.live[i]:
            return None
        ids, offs = _root_chain(self.reach.parent, self.edges, i)
        root = self.root_info(int(self.reach.root[ids[0]]))
        tids = self.type_id[ids]
        ut, trow = np.unique(tids, return_inverse=True)
        # a field name per distinct (type, offset in the data) pair, not per step
        rel = offs - self.data_off[ids].astype(np.int64)
        named = (offs >= 0) & (tids != UNKNOWN)
        frow = np.full(len(ids), -1, dtype=np.int32)
        fields: list[str] = []
        if named.any():
            keys = np.stack([tids[named].astype(np.int64), rel[named]], axis=1)
            uk, kinv = np.unique(keys, axis=0, return_inverse=True)
            names = [self.field_path(int(t), int(o)) for t, o in uk]
            fields = [n for n in names if n is not None]
            slot = np.cumsum([n is not None for n in names]) - 1
            per = np.where([n is not None for n in names], slot, -1).astype(np.int32)
            frow[named] = per[np.asarray(kinv).ravel()]
        cols = PathColumns(ids, self.heap.addr[ids], self.heap.size[ids], offs,
                           np.asarray(trow).ravel().astype(np.int32),
                           [self.type_name(int(t)) for t in ut], frow, fields)
        return root, cols

    def all_paths(self, i: int, limit: int = 16) -> list[tuple[RootInfo, list[PathStep]]]:
        """Return a shortest path to object ``i`` from each distinct root that reaches it
        (at most ``limit``), the marking's own path first."""
        first = self.path(i)
        if first is None:
            return []
        n = len(self.heap)
        rev = self.referrers()
        anc = np.zeros(n, dtype=bool)         # objects from which i is reachable
        anc[i] = True
        frontier = np.array([i], dtype=np.int64)
        while len(frontier):
            s = rev.start[frontier]
            owner, k = ragged_arange(rev.start[frontier + 1] - s)
            src = np.unique(rev.dst[s[owner] + k].astype(np.int64))
            src = src[~anc[src]]
            anc[src] = True
            frontier = src
        rows = np.flatnonzero(anc[self.roots.obj])
        out = [first]
        seen = {first[0].name}
        for r in rows:
            info = self.root_info(int(r))
            if info.name in seen:
                continue
            seen.add(info.name)
            chain = self._bfs_chain(int(self.roots.obj[r]), i, anc)
            if chain is None:
                continue
            out.append((info, [self._step(o, off) for o, off in chain]))
            if len(out) >= limit:
                break
        return out

    def _bfs_chain(self, src: int, dst: int, allowed: np.ndarray) -> list[tuple[int, int]] | None:
        """Return [(object, offset of the next pointer)] of a shortest path src -> dst,
        through ``allowed`` objects only (BFS one frontier at a time, in numpy)."""
        start, edst, eoff = self.edges.start, self.edges.dst, self.edges.off
        parent = np.full(len(allowed), -1, dtype=np.int32)
        parent_off = np.zeros(len(allowed), dtype=np.uint32)
        seen = np.zeros(len(allowed), dtype=bool)
        seen[src] = True
        frontier = np.array([src], dtype=np.int64)
        while len(frontier) and not seen[dst]:
            s = start[frontier]
            owner, k = ragged_arange(start[frontier + 1] - s)
            e = s[owner] + k
            v = edst[e].astype(np.int64)
            keep = allowed[v] & ~seen[v]
            v, e, owner = v[keep], e[keep], owner[keep]
            v, first = np.unique(v, return_index=True)   # the first edge found reaches it
            seen[v] = True
            parent[v] = frontier[owner[first]]
            parent_off[v] = eoff[e[first]]
            frontier = v
        if not seen[dst]:
            return None
        chain = [(dst, -1)]
        cur = dst
        while cur != src:
            chain.append((int(parent[cur]), int(parent_off[cur])))
            cur = int(parent[cur])
        chain.reverse()
        return chain

    def _step(self, obj: int, off: int) -> PathStep:
        tid = int(self.type_id[obj])
        fld = None
        if off >= 0 and tid != UNKNOWN:
            fld = self.field_path(tid, off - int(self.data_off[obj]))
        return PathStep(obj, int(self.heap.addr[obj]), int(self.heap.size[obj]),
                        self.type_name(tid), off if off >= 0 else None, fld)

    def root_info(self, r: int) -> RootInfo:
        """Return what root row ``r`` of ``roots`` is (name, kind, memory, goroutine, type,
        function)."""
        return self.roots.info(r, self.registry.display_name)

    def field_path(self, tid: int, off: int) -> str | None:
        """Return the field path (``Next``, ``[12].A``, ``elems[3]``) of byte ``off`` in a
        value of type ``tid``, or None when the type does not say (``fields.field_path``)."""
        return field_path(self.registry.table, tid, off)

    def fields(self, i: int, limit: int = MAX_FIELDS) -> tuple[list[FieldValue], bool]:
        """Return the typed leaves of object ``i`` (or its raw words when untyped) and
        whether the list was cut at ``limit`` (``fields.object_fields``)."""
        return object_fields(self, i, limit)


def _typed_roots(gp: GoProcess, reg: TypeRegistry, roots: RootTable | None) -> list[tuple[int, int]]:
    """Return (address, type id) of the typed memory that holds roots: DWARF globals with
    pointers, and stack slots whose frame variable DWARF locates there (``roots``)."""
    out = []
    dw = gp.dwarf
    if dw is not None:
        bias = gp.process.exe_bias
        table = reg.table
        for g in dw.globals.values():
            if g.type is None or g.type < 0 or g.size <= 0:
                continue
            if len(table.pointer_offsets(g.type)):
                out.append((g.addr + bias, g.type))
    if roots is not None:
        out.extend(roots.typed_memory())
    return out


def _infer(gp: GoProcess, heap: Heap, roots: RootTable, edges: Edges, pmaps,
           use_dwarf: bool = True, live: np.ndarray | None = None) -> TypeInference:
    """Type every allocated object: malloc headers and largeType first, then typed roots
    (func values typed by their closure's DWARF), then what untyped memory states
    (``typeseeds``: interfaces, channels, finalizers). ``use_dwarf`` False types as if
    the executable had no DWARF (to compare both on one dump). ``live`` (bool per object)
    limits the scans of untyped memory to live objects."""
    from ..binary.rtype import runtime_types
    from .typeinfer import ClosureTypes
    from .typeseeds import UntypedFacts
    sp = heap.spans
    rts = runtime_types(gp)
    dwarf = gp.dwarf if use_dwarf else None
    reg = TypeRegistry(rts, dwarf.types if dwarf is not None else None)
    noscan = sp.noscan[heap.span]
    large = sp.sizeclass[heap.span] == 0
    hdrs = header_type_addresses(gp.process, heap.addr, heap.size, gp.facts, noscan=noscan,
                                 large=large,   # large objects: mspan.largeType (few objects)
                                 large_type=sp.large_type[heap.span[np.flatnonzero(large)]])
    del large
    closures = None
    if dwarf is not None:
        closures = ClosureTypes(dwarf, reg, gp.pclntab, gp.process.exe_bias,
                                sites=lambda: closure_sites(gp)).types

    read_since_release = [0]

    def read(addrs):
        # typing reads back the pointer slots of most objects: without a release now and
        # then the dump's pages it touched (1 GB of a 20 M-object core) stay resident
        # under the typing's own arrays; released after the read, so that a large read's
        # pages go before the work on its words
        got = heap.gather.words(addrs)
        read_since_release[0] += len(addrs)
        if read_since_release[0] >= RELEASE_READS:
            gp.process.release_resident()
            read_since_release[0] = 0
        return got

    typed = _typed_roots(gp, reg, roots) if dwarf is not None else []
    return infer_types(gp, heap.addr, heap.size, typed,
                       header_types=hdrs, read=read, registry=reg, closures=closures,
                       noscan=noscan,
                       seeds=UntypedFacts(gp, heap, edges, pmaps, roots, live), edges=edges,
                       locate=heap.find)
