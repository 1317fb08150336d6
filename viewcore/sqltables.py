"""The heap index as Arrow tables for DuckDB: the index's numpy arrays, not copied.

Each table is made when a query first names it (``TABLES``), so a query over ``objects``
never walks the edges or computes the dominator tree. Numeric columns are Arrow views of
the index's arrays (``pyarrow`` wraps a numpy buffer without copying it); type names are
dictionary-encoded over the type ids, so a ``GROUP BY type`` groups integers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from gocore import GoProcess

# what each table holds; ``objects`` is a view of ``heap_objects`` (live objects only, as
# everywhere in viewcore), made by ``register``
TABLES = {
    "heap_objects": "id, address, size, type, live: every allocated object the heap walk found",
    "objects": "id, address, size, type, live, retained, retained_objects: the live objects",
    "edges": "src, dst, offset, field: one row per pointer from object src into object dst",
    "roots": "kind, name, goroutine, function, variable, address, object: root words into the heap",
    "goroutines": "id, status, wait_reason, system, created_by, creator_id, frames, top_function",
    "frames": "goroutine, depth, func, file, line, pc, sp, inlined",
    "types": "id, name, count, bytes: the types of live objects",
}


def named_tables(query: str) -> list[str]:
    """Return the tables of ``TABLES`` that ``query`` names (as words), in TABLES order."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query.lower()))
    return [t for t in TABLES if t in words]


class HeapTables:
    """Makes the Arrow tables of one process's heap index, each once."""

    def __init__(self, gp: GoProcess):
        import pyarrow as pa
        self.pa = pa
        self.gp = gp
        self.hi = gp.heap_index()
        self._types: pa.Array | None = None

    def type_column(self) -> pa.DictionaryArray:
        """Return each object's type name: dictionary indices are the type ids plus one
        (0: ``unknown``) over the names of every id up to the largest (a few thousand
        names; counting which ids occur would cost a pass over the objects)."""
        if self._types is None:
            pa, hi = self.pa, self.hi
            # the one copy: ids shifted past unknown (on the plain ndarray: arithmetic on the
            # np.memmap subclass costs several times more)
            idx = np.add(np.asarray(hi.type_id), 1, dtype=np.int32)
            names = [hi.type_name(k - 1) for k in range(int(idx.max(initial=0)) + 1)]
            self._types = pa.DictionaryArray.from_arrays(pa.array(idx), pa.array(names, pa.string()))
        return self._types

    def heap_objects(self) -> pa.Table:
        """Return every object: id, address, size, type, live."""
        pa, heap = self.pa, self.hi.heap
        n = len(heap.addr)
        return pa.table({"id": pa.array(np.arange(n, dtype=np.int32)), "address": pa.array(heap.addr),
                         "size": pa.array(heap.size), "type": self.type_column(),
                         "live": pa.array(self.hi.live)})

    def retained(self) -> pa.Table:
        """Return id, retained, retained_objects of every object (0 for dead ones)."""
        pa = self.pa
        dom = self.gp.dominators()
        n = len(dom.retained)
        return pa.table({"id": pa.array(np.arange(n, dtype=np.int32)),
                         "retained": pa.array(dom.retained), "retained_objects": pa.array(dom.retained_count)})

    def edges(self) -> pa.Table:
        """Return one row per pointer: src, dst, offset and the field path of the word
        (null where the source's type does not say)."""
        pa, hi = self.pa, self.hi
        e = hi.edges
        counts = np.diff(e.start)
        src = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        # field paths per distinct (source type, offset in its value): few, however many edges
        tid = hi.type_id[src].astype(np.int64)
        off = e.off.astype(np.int64) - hi.data_off[src].astype(np.int64)
        key = (tid + 1) << 32 | (off & 0xFFFFFFFF)
        uniq, inv = np.unique(key, return_inverse=True)
        names = []
        for k in uniq.tolist():
            t, o = (k >> 32) - 1, k & 0xFFFFFFFF
            names.append(hi.field_path(t, o) if t >= 0 and o < 1 << 31 else None)
        field = pa.DictionaryArray.from_arrays(pa.array(inv.ravel().astype(np.int32)),
                                               pa.array(names, pa.string()))
        return pa.table({"src": pa.array(src), "dst": pa.array(e.dst), "offset": pa.array(e.off),
                         "field": field})

    def roots(self) -> pa.Table:
        """Return one row per root word that points into the heap."""
        pa, hi = self.pa, self.hi
        rt = hi.roots
        rows = [hi.root_info(r) for r in range(len(rt))]   # one per root word, not per object
        names = [i.name for i in rows]
        return pa.table({
            "kind": pa.array([i.kind for i in rows], pa.string()),
            "name": pa.array([rt.group_name(r) for r in range(len(rt))], pa.string()),
            "goroutine": pa.array([i.goroutine for i in rows], pa.int64()),
            "function": pa.array([i.function for i in rows], pa.string()),
            "variable": pa.array(names, pa.string()),
            "address": pa.array(rt.slot), "object": pa.array(rt.obj)})

    def goroutines(self) -> pa.Table:
        """Return one row per goroutine."""
        gs = self.gp.goroutines()
        return self.pa.Table.from_pylist([
            {"id": g.id, "status": g.status, "wait_reason": g.wait_reason, "system": g.system,
             "created_by": g.created_by, "creator_id": g.creator_id, "frames": len(g.frames),
             "top_function": g.frames[0].func if g.frames else None} for g in gs],
            schema=self.pa.schema([("id", "int64"), ("status", "string"), ("wait_reason", "string"),
                                   ("system", "bool"), ("created_by", "string"), ("creator_id", "int64"),
                                   ("frames", "int64"), ("top_function", "string")]))

    def frames(self) -> pa.Table:
        """Return one row per frame of every goroutine, innermost first (depth 0)."""
        rows = [{"goroutine": g.id, "depth": d, "func": f.func, "file": f.file, "line": f.line,
                 "pc": f.pc, "sp": f.sp, "inlined": f.inlined}
                for g in self.gp.goroutines() for d, f in enumerate(g.frames)]
        return self.pa.Table.from_pylist(rows, schema=self.pa.schema([
            ("goroutine", "int64"), ("depth", "int64"), ("func", "string"), ("file", "string"),
            ("line", "int64"), ("pc", "uint64"), ("sp", "uint64"), ("inlined", "bool")]))

    def types(self) -> pa.Table:
        """Return the types of live objects with their counts and bytes."""
        hi = self.hi
        idx = hi.type_id[hi.live_ids].astype(np.int64) + 1
        count = np.bincount(idx)
        nbytes = np.bincount(idx, weights=hi.heap.size[hi.live_ids].astype(np.float64))
        present = np.flatnonzero(count)
        return self.pa.table({"id": self.pa.array(present - 1),
                              "name": self.pa.array([hi.type_name(int(k) - 1) for k in present], self.pa.string()),
                              "count": self.pa.array(count[present]),
                              "bytes": self.pa.array(nbytes[present].astype(np.int64))})


def needs_retained(query: str) -> bool:
    """Return whether ``query`` may read ``objects.retained`` (it names it, or selects ``*``;
    ``count(*)`` is no ``*``):
    only then is the dominator tree computed (or read back from the kept index)."""
    return re.search(r"(?<!\()\*", query) is not None or "retained" in query.lower()


def register(con, tables: HeapTables, names: list[str], retained: bool = True) -> None:
    """Register the tables ``names`` (of ``TABLES``) on DuckDB connection ``con``;
    ``objects`` without its retained columns unless ``retained``."""
    if "objects" in names or "heap_objects" in names:
        con.register("heap_objects", tables.heap_objects())
    if "objects" in names and retained:
        con.register("_retained", tables.retained())
        con.execute("CREATE OR REPLACE TEMP VIEW objects AS SELECT o.id, o.address, o.size, o.type, "
                    "o.live, r.retained, r.retained_objects FROM heap_objects o "
                    "POSITIONAL JOIN _retained r WHERE o.live")
    elif "objects" in names:
        con.execute("CREATE OR REPLACE TEMP VIEW objects AS SELECT id, address, size, type, live "
                    "FROM heap_objects WHERE live")
    for name in ("edges", "roots", "goroutines", "frames", "types"):
        if name in names:
            con.register(name, getattr(tables, name)())
