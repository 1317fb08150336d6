"""A HeapIndex read back from the index kept on disk (``indexstore``), part by part.

``open_heap_index`` is what ``GoProcess.heap_index`` calls: it returns the kept index when
there is one (``StoredHeapIndex``), else builds the index and keeps it. A stored index
loads each of its pieces (heap, edges, roots, marks, paths, types) the first time a command
touches it, so a command pays only for what it reads: a second ``histogram`` reads one
small part and nothing of the heap. When a piece turns out damaged, the kept index is
dropped, the user told, and the index computed afresh; the answer is the same.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..binary.gotypes import Field, Kind, Type, TypeTable
from .edges import Edges
from .heap import Heap
from .heapindex import HeapIndex, Progress
from .indexstore import IndexDamaged, IndexStore, PartWriter, StoredPart
from .reach import Reach
from .roots import FrameTable, RootTable
from .spans import Arenas, Spans
from .typeinfer import TypeInference, TypeRegistry

if TYPE_CHECKING:
    from ..process import GoProcess

BASE = "base"

_SPAN_ARRAYS = ("mspan", "base", "npages", "nelems", "elemsize", "limit", "freeindex",
                "spanclass", "state", "alloc_bits", "gcmark_bits", "specials", "large_type")
_ROOT_ARRAYS = ("ptr", "obj", "slot", "kind", "goroutine", "frame", "name", "base", "type",
                "type_address", "area", "precise", "var")
_FRAME_ARRAYS = ("goroutine", "func", "pc", "fp")
_PATH_ARRAYS = ("parent", "root")     # of Reach


def open_heap_index(gp: GoProcess, progress: Progress | None,
                    store: IndexStore | None) -> HeapIndex:
    """Return the heap index of ``gp``: the one kept in ``store`` when there is one, else
    computed (and kept there for the next process)."""
    if store is not None:
        try:
            base = store.load(BASE)
        except IndexDamaged as e:
            store.drop(BASE)
            gp.note(f"the kept heap index was damaged ({e}); computing it afresh")
            base = None
        if base is not None:
            say = progress or (lambda stage, frac: None)
            say("opening the kept heap index", 0.0)
            for w in base.warnings:
                gp.process.warn(w)
            hi = StoredHeapIndex(gp, store, base)
            say("done", 1.0)
            return hi
    before = len(gp.process.warnings)
    writer: list[PartWriter] = []

    def marked(heap: Heap, edges: Edges, reach: Reach) -> None:
        # written while the objects are typed: 2 s of disk writes at 20 M objects. The
        # paths (parent, root: 8 bytes an object) go first, and they and the objects'
        # columns are then read from their files: typing does not use the paths and span
        # rows (their memory, 240 MB at 20 M, is freed under its peak), and what it reads
        # of the addresses and sizes is page cache the kernel can take back
        swapped = {f"reach.{n}": (reach, n) for n in _PATH_ARRAYS}
        early = {name: getattr(obj, n) for name, (obj, n) in swapped.items()}
        early.update(_marked_arrays(heap, edges, reach))
        swapped.update({f"heap.{n}": (heap, n) for n in ("addr", "size", "span")})

        def written(name: str, mapped: np.ndarray) -> None:
            if name in swapped:
                setattr(*swapped[name], mapped)

        w = store.begin(BASE, early, later_bytes=heap.addr.nbytes, written=written)   # then the types
        del early
        if w is not None:
            writer.append(w)

    try:
        hi = HeapIndex.build(gp, progress, store, marked=marked if store is not None else None)
    except BaseException:
        for w in writer:
            w.abandon()
        raise
    if writer:
        arrays, meta, docs = _storable_base(hi)
        for name in _marked_arrays(hi.heap, hi.edges, hi.reach):
            del arrays[name]
        writer[0].finish(arrays, meta, gp.process.warnings[before:], docs)
    return hi


# ---- writing ----

def _marked_arrays(heap: Heap, edges: Edges, reach: Reach) -> dict[str, np.ndarray]:
    """Return the base part's arrays that are final once the heap is marked."""
    sp, ar = heap.spans, heap.arenas
    arrays = {"heap.addr": heap.addr, "heap.size": heap.size, "heap.span": heap.span,
              "arenas.index": ar.index, "arenas.base": ar.base, "arenas.heap_arena": ar.heap_arena,
              "edges.start": edges.start, "edges.dst": edges.dst, "edges.off": edges.off,
              "edges.delta": edges.delta, "live.reached": reach.reached}
    arrays.update({f"reach.{n}": getattr(reach, n) for n in _PATH_ARRAYS})
    arrays.update({f"spans.{n}": getattr(sp, n) for n in _SPAN_ARRAYS})
    return arrays


def _storable_base(hi: HeapIndex) -> tuple[dict, dict, dict]:
    """Return (arrays, meta, docs) of the index's base part."""
    sp, ar, roots = hi.heap.spans, hi.heap.arenas, hi.roots
    arrays = _marked_arrays(hi.heap, hi.edges, hi.reach)
    arrays.update({"types.type_id": hi.types.type_id,
                   "types.data_off": hi.types.data_off,
                   "types.from_header": hi.types.from_header})
    arrays.update({f"roots.{n}": getattr(roots, n) for n in _ROOT_ARRAYS})
    arrays.update({f"frames.{n}": getattr(roots.frames, n) for n in _FRAME_ARRAYS})
    meta = {"spans": {"page_size": sp.page_size, "in_use_state": sp.in_use_state,
                      "manual_state": sp.manual_state},
            "arenas": {"arena_bytes": ar.arena_bytes, "base_offset": ar.base_offset},
            "live_count": hi.live_count, "live_bytes": hi.live_bytes}
    reg = hi.registry
    docs = {"roots": {"names": roots.names, "always_offset": roots.always_offset,
                      "func_names": roots.frames.func_names,
                      "var_names": roots.frames.var_names},
            "types": {"ptr_size": reg.table.ptr_size, "prefix_types": sorted(int(t) for t in reg.prefix_types),
                      "types": [_type_row(t) for t in reg.table]}}
    return arrays, meta, docs


def _type_row(t: Type) -> list:
    return [t.name, t.kind.value, int(t.size), _int(t.elem), _int(t.key), _int(t.len),
            [[f.name, int(f.offset), int(f.type), bool(f.embedded)] for f in t.fields],
            _int(t.target), int(t.rtype_off), _int(t.dict_index), bool(t.not_in_heap)]


def _int(v) -> int | None:
    return None if v is None else int(v)


def _type_of(i: int, row: list) -> Type:
    (name, kind, size, elem, key, n, fields, target, rtype_off, dict_index, not_in_heap) = row
    return Type(i, name, Kind(kind), size, elem=elem, key=key, len=n,
                fields=tuple(Field(f[0], f[1], f[2], f[3]) for f in fields), target=target,
                rtype_off=rtype_off, dict_index=dict_index, not_in_heap=not_in_heap)


# ---- reading ----

class StoredHeapIndex(HeapIndex):
    """A HeapIndex whose pieces come from the kept index, each on first use."""

    def __init__(self, gp: GoProcess, store: IndexStore, base: StoredPart):
        self.gp = gp
        self.store = store
        self._base = base
        self._fresh: HeapIndex | None = None
        self._names: dict[int, str] = {}

    def _piece(self, name: str, load):
        """Return piece ``name`` from the kept index, or from a fresh build when the kept
        one is damaged (dropped, and the fresh one kept in its place)."""
        if self._fresh is None:
            try:
                return load(self._base)
            except IndexDamaged as e:
                self.store.drop(BASE)
                self.gp.note(f"the kept heap index was damaged ({e}); computing it afresh")
                self._fresh = open_heap_index(self.gp, None, self.store)
        return getattr(self._fresh, name)

    @cached_property
    def heap(self) -> Heap:
        def load(p: StoredPart) -> Heap:
            sm, am = p.meta["spans"], p.meta["arenas"]
            spans = Spans(**p.arrays("spans"), **sm)
            arenas = Arenas(**p.arrays("arenas"), **am)
            return Heap(spans, arenas, self.gp.process.gather, p.array("heap.addr"),
                        p.array("heap.size"), p.array("heap.span"))
        return self._piece("heap", load)

    @cached_property
    def edges(self) -> Edges:
        return self._piece("edges", lambda p: Edges(**p.arrays("edges")))

    @cached_property
    def roots(self) -> RootTable:
        def load(p: StoredPart) -> RootTable:
            doc = p.doc("roots")
            frames = FrameTable(**p.arrays("frames"), func_names=doc["func_names"],
                                var_names=doc["var_names"])
            return RootTable(**p.arrays("roots"), names=doc["names"],
                             always_offset=doc["always_offset"], frames=frames)
        return self._piece("roots", load)

    @cached_property
    def reach(self) -> Reach:
        return self._piece("reach", lambda p: Reach(self.heap, self.edges, self.roots, self.live,
                                                     **p.arrays("reach")))

    @cached_property
    def types(self) -> TypeInference:
        def load(p: StoredPart) -> TypeInference:
            doc = p.doc("types")
            table = TypeTable(doc["ptr_size"], [_type_of(i, r) for i, r in enumerate(doc["types"])])
            from ..binary.rtype import runtime_types
            gp = self.gp
            reg = TypeRegistry.restore(table, set(doc["prefix_types"]), lambda: runtime_types(gp),
                                       lambda: gp.layout)
            a = p.arrays("types")
            return TypeInference(a["type_id"], a["data_off"], reg, a["from_header"])
        return self._piece("types", load)

    @cached_property
    def live(self) -> np.ndarray:
        return self._piece("live", lambda p: p.array("live.reached"))

    @cached_property
    def type_id(self) -> np.ndarray:
        return self.types.type_id

    @cached_property
    def data_off(self) -> np.ndarray:
        return self.types.data_off

    @property
    def live_count(self) -> int:
        """Return the number of live (reachable) objects."""
        return int(self._base.meta["live_count"])

    @property
    def live_bytes(self) -> int:
        """Return the slot bytes of the live objects."""
        return int(self._base.meta["live_bytes"])
