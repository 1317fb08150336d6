"""Result records of the commands: the JSON contract (../shared/docs/cli-contract.md).

Each result knows its JSON form (``to_json``); renderers in ``viewcore.render`` turn the
same record into tables for people.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gocore import Summary

from .render.rowtext import RowText


@dataclass
class Overview:
    """What the dump is (gocore's Summary: format, platform, Go version, threads,
    goroutines, live heap) and the warnings raised while finding it out."""

    summary: Summary
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the contract's ``overview`` object."""
        s = self.summary
        heap = None if s.heap_objects is None else {"objects": s.heap_objects, "bytes": s.heap_bytes}
        return {"dump_format": s.dump_format, "goos": s.goos, "goarch": s.goarch,
                "go_version": s.go_version, "go_version_source": s.go_version_source, "pid": s.pid, "threads": s.threads,
                "goroutines": s.goroutines, "heap": heap, "executable": s.executable,
                "signal": s.signal, "partial": s.partial, "warnings": list(self.warnings)}


@dataclass
class MappingRow:
    """One mapping of the address space."""

    start: int
    end: int
    perms: str
    file: str | None
    file_offset: int
    present: bool

    def to_json(self) -> dict[str, Any]:
        """Return the mapping as a JSON object."""
        return asdict(self) | {"size": self.end - self.start}


@dataclass
class ThreadRow:
    """One OS thread with its key registers."""

    tid: int
    pc: int
    sp: int
    fp: int
    function: str | None
    crashed: bool
    signal: int | None

    def to_json(self) -> dict[str, Any]:
        """Return the thread as a JSON object."""
        return asdict(self)


@dataclass
class Rows:
    """A list result (mappings, threads, ...): JSON is the list of its rows."""

    kind: str
    rows: list
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> list[Any]:
        """Return the rows as a JSON list."""
        return [r.to_json() for r in self.rows]


@dataclass
class FrameRow:
    """One stack frame as the runtime prints it."""

    func: str
    file: str
    line: int
    pc: int
    sp: int
    inlined: bool
    offset: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the frame as a JSON object."""
        return {"func": self.func, "file": self.file, "line": self.line, "pc": self.pc,
                "sp": self.sp, "inlined": self.inlined, "offset": self.offset}


@dataclass
class GoroutineRow:
    """One goroutine: the contract's fields plus creator and stack bounds."""

    id: int
    status: str
    wait_reason: str | None
    system: bool
    frames: list[FrameRow]
    created_by: str | None
    creator_id: int | None
    created_at: str | None
    address: int
    thread: int | None
    stack_lo: int
    stack_hi: int
    partial: bool
    problem: str | None
    detail: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the contract's goroutine object."""
        return {"id": self.id, "status": self.status, "wait_reason": self.wait_reason,
                "system": self.system, "frames": [f.to_json() for f in self.frames],
                "created_by": self.created_by, "creator_id": self.creator_id,
                "created_at": self.created_at, "address": self.address, "thread": self.thread,
                "stack_lo": self.stack_lo, "stack_hi": self.stack_hi, "partial": self.partial,
                "problem": self.problem}

    def stack_key(self) -> tuple:
        """Return what makes two goroutines "the same" for grouping: status and frames."""
        return (self.status, self.wait_reason, tuple((f.func, f.file, f.line) for f in self.frames))


def goroutine_row(g, detail: bool = False) -> GoroutineRow:
    """Return the GoroutineRow of a gocore Goroutine."""
    created_at = f"{g.created_file}:{g.created_line}" if g.created_file else None
    return GoroutineRow(
        id=g.id, status=g.status, wait_reason=g.wait_reason, system=g.system,
        frames=[FrameRow(f.func, f.file, f.line, f.pc, f.sp, f.inlined, f.offset) for f in g.frames],
        created_by=g.created_by, creator_id=g.creator_id, created_at=created_at, address=g.address,
        thread=g.thread, stack_lo=g.stack_lo, stack_hi=g.stack_hi, partial=g.partial,
        problem=g.problem, detail=detail)


@dataclass
class GoroutineGroups:
    """Goroutines with identical status and stack merged, largest group first."""

    groups: list[tuple[int, list[int], GoroutineRow]]  # count, ids, a representative
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, rows: list[GoroutineRow], warnings: list[str]) -> "GoroutineGroups":
        """Return the groups of ``rows``."""
        by_key: dict[tuple, list[GoroutineRow]] = {}
        for r in rows:
            by_key.setdefault(r.stack_key(), []).append(r)
        groups = [(len(rs), [r.id for r in rs], rs[0]) for rs in by_key.values()]
        groups.sort(key=lambda g: (-g[0], g[1][0]))
        return cls(groups, warnings)

    def to_json(self) -> list[Any]:
        """Return one object per group: count, ids, status, wait reason, frames."""
        return [{"count": n, "ids": ids, "status": r.status, "wait_reason": r.wait_reason,
                 "frames": [f.to_json() for f in r.frames]} for n, ids, r in self.groups]


# ---- heap ----

@dataclass
class HistogramRow:
    """Live objects of one type and slot size; or, ``backing_arrays``, the arrays ``[N]T``
    of every N that back slices ``[]T`` (``type``), ``size`` None when their slots differ."""

    type: str
    count: int
    size: int | None
    bytes: int
    backing_arrays: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the contract's histogram row (``backing_arrays: true`` added to a group)."""
        row = {"type": self.type, "count": self.count, "size": self.size, "bytes": self.bytes}
        if self.backing_arrays:
            row["backing_arrays"] = True
        return row


@dataclass
class Histogram:
    """The live heap by type: rows as sorted, and the totals of all rows (not only shown)."""

    rows: list[HistogramRow]
    total_count: int
    total_bytes: int
    shown_of: int
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> list[Any]:
        """Return the rows as a JSON list."""
        return [r.to_json() for r in self.rows]


@dataclass
class ObjectRow:
    """One live heap object."""

    address: int
    size: int
    type: str

    def to_json(self) -> dict[str, Any]:
        """Return the contract's object row."""
        return {"address": self.address, "size": self.size, "type": self.type}


@dataclass
class ObjectList:
    """Live objects in address order (maybe cut at ``limit``), held as columns: a row is
    made only while it is written (``chunks``), so a list of millions costs its arrays.

    ``type_row`` indexes ``type_names`` per object."""

    address: np.ndarray
    size: np.ndarray
    type_row: np.ndarray
    type_names: list[str]
    total: int
    warnings: list[str] = field(default_factory=list)

    CHUNK = 1 << 16

    def __len__(self) -> int:
        return len(self.address)

    def chunks(self) -> Iterator[tuple[list[int], list[int], list[str]]]:
        """Yield (addresses, sizes, type names) of consecutive runs of rows."""
        names = self.type_names
        for a in range(0, len(self.address), self.CHUNK):
            b = a + self.CHUNK
            yield (self.address[a:b].tolist(), self.size[a:b].tolist(),
                   [names[t] for t in self.type_row[a:b].tolist()])

    @property
    def rows(self) -> Iterator[ObjectRow]:
        """Yield the rows as ObjectRow records."""
        for addrs, sizes, types in self.chunks():
            yield from map(ObjectRow, addrs, sizes, types)

    def to_json(self) -> list[Any]:
        """Return the rows as a JSON list."""
        return [r.to_json() for r in self.rows]

    def json_chunks(self) -> Iterator[str | bytes]:
        """Yield the text of ``to_json()`` as compact JSON, in pieces (streamed output; the
        rows as UTF-8 bytes)."""
        quoted = [json.dumps(n) for n in self.type_names]
        yield "["
        for a in range(0, len(self.address), self.CHUNK):
            b = a + self.CHUNK
            text = (RowText(len(self.address[a:b])).literal(',{"address":').number(self.address[a:b])
                    .literal(',"size":').number(self.size[a:b]).literal(',"type":')
                    .names(self.type_row[a:b], quoted).literal("}").bytes())
            yield text[1:] if a == 0 else text
        yield "]"

    def text_chunks(self, address_width: int, size_width: int) -> Iterator[bytes]:
        """Yield the rows as UTF-8 text lines (address, size, type), in pieces."""
        for a in range(0, len(self.address), self.CHUNK):
            b = a + self.CHUNK
            yield (RowText(len(self.address[a:b])).number(self.address[a:b], 16, "0x", address_width, left=True)
                   .literal("  ").number(self.size[a:b], width=size_width).literal("  ")
                   .names(self.type_row[a:b], self.type_names).literal("\n").bytes())


@dataclass
class FieldRow:
    """One leaf of an object's typed view (or one raw word of an untyped object)."""

    path: str
    offset: int
    type: str
    value: str
    pointer: int | None
    target_type: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the field as a JSON object."""
        return asdict(self)


@dataclass
class ObjectDetail:
    """One heap object: where, how big, its type, whether live, its fields."""

    address: int
    size: int
    type: str
    live: bool
    query: int
    data_offset: int
    fields: list[FieldRow]
    truncated: bool
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the object as a JSON object."""
        return {"address": self.address, "size": self.size, "type": self.type, "live": self.live,
                "query": self.query, "data_offset": self.data_offset,
                "fields": [f.to_json() for f in self.fields], "truncated": self.truncated}


@dataclass
class PathRoot:
    """``path[0]`` of ``reachable``: the root."""

    root: str
    kind: str
    goroutine: int | None
    address: int | None
    offset: int
    type: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the contract's root element."""
        return {"root": self.root, "kind": self.kind, "goroutine": self.goroutine,
                "address": self.address, "offset": self.offset, "type": self.type}


@dataclass
class PathObject:
    """A heap object on a root path; ``offset``/``field`` are None on the last one."""

    address: int
    size: int
    type: str
    offset: int | None
    field: str | None

    def to_json(self, last: bool) -> dict[str, Any]:
        """Return the contract's path element."""
        out: dict[str, Any] = {"address": self.address, "size": self.size, "type": self.type}
        if not last:
            out["offset"] = self.offset
            out["field"] = self.field
        return out


class PathObjects:
    """The heap objects of a path held as gocore's columns (``HeapIndex.path_columns``):
    a sequence of PathObject made while iterated (a path may be millions long)."""

    def __init__(self, columns):
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns)

    def __iter__(self) -> Iterator[PathObject]:
        for s in self.columns.steps():
            yield PathObject(s.address, s.size, s.type, s.offset, s.field)

    def json_rows(self) -> Iterator[str]:
        """Yield ``,``-led runs of the compact JSON of each PathObject (``to_json``), made
        from the columns directly."""
        c = self.columns
        types = [json.dumps(t) for t in c.type_names]
        fields = [json.dumps(f) for f in c.field_names]
        n = len(c)
        step = 1 << 16
        for a in range(0, n, step):
            rows = []
            for k, (x, sz, off, t, f) in enumerate(zip(
                    c.address[a:a + step].tolist(), c.size[a:a + step].tolist(),
                    c.offset[a:a + step].tolist(), c.type_row[a:a + step].tolist(),
                    c.field_row[a:a + step].tolist()), start=a):
                if k == n - 1:
                    rows.append(f'{{"address":{x},"size":{sz},"type":{types[t]}}}')
                else:
                    fld = fields[f] if f >= 0 else "null"
                    o = off if off >= 0 else "null"
                    rows.append(f'{{"address":{x},"size":{sz},"type":{types[t]},"offset":{o},"field":{fld}}}')
            yield "," + ",".join(rows)


@dataclass
class ReachablePath:
    """``reachable``: a shortest path from a root to the object holding ``address``.

    ``objects`` is a list of PathObject or a PathObjects (columns)."""

    address: int
    type: str
    root: PathRoot
    objects: list[PathObject] | PathObjects
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the contract's reachable document."""
        n = len(self.objects)
        return {"address": self.address, "type": self.type,
                "path": [self.root.to_json()] + [o.to_json(k == n - 1) for k, o in enumerate(self.objects)]}

    def json_chunks(self) -> Iterator[str]:
        """Yield the text of ``to_json()`` as compact JSON, in pieces (streamed output)."""
        head = json.dumps({"address": self.address, "type": self.type}, separators=(",", ":"))
        yield head[:-1] + ',"path":[' + json.dumps(self.root.to_json(), separators=(",", ":"))
        if isinstance(self.objects, PathObjects):
            yield from self.objects.json_rows()
            yield "]}"
            return
        n = len(self.objects)
        run: list[str] = []
        for k, o in enumerate(self.objects):
            run.append(json.dumps(o.to_json(k == n - 1), separators=(",", ":")))
            if len(run) >= 1 << 14:
                yield "," + ",".join(run)
                run = []
        if run:
            yield "," + ",".join(run)
        yield "]}"


@dataclass
class ReachableAll:
    """``reachable --all``: every root path found (one per distinct root that reaches it)."""

    paths: list[ReachablePath]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> list[Any]:
        """Return a list of reachable documents."""
        return [p.to_json() for p in self.paths]


@dataclass
class BreakdownRow:
    """One line of the memory breakdown; ``depth`` 1 rows split the row above them."""

    what: str
    bytes: int | None
    percent: float | None
    depth: int = 0

    def to_json(self) -> dict[str, Any]:
        """Return the row as a JSON object."""
        return {"what": self.what, "bytes": self.bytes, "percent": self.percent, "depth": self.depth}


@dataclass
class BreakdownResult:
    """Where the memory goes, with the source of the figures."""

    rows: list[BreakdownRow]
    total: int
    source: str
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the breakdown as a JSON object."""
        return {"total": self.total, "source": self.source, "rows": [r.to_json() for r in self.rows]}


@dataclass
class MemoryRead:
    """Raw bytes of the dump."""

    address: int
    data: bytes
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return address, size and the bytes as hex."""
        return {"address": self.address, "size": len(self.data), "hex": self.data.hex()}


@dataclass
class WrittenFile:
    """A file an export command wrote, and what it holds."""

    path: str
    format: str
    size: int
    objects: int
    bytes: int
    entries: int

    def to_json(self) -> dict[str, Any]:
        """Return the file's path, format and totals."""
        return {"file": self.path, "format": self.format, "size": self.size,
                "objects": self.objects, "bytes": self.bytes, "entries": self.entries}


@dataclass
class HeapDiffRow:
    """One type (or, ``backing_arrays``, the backing arrays of one slice type ``[]T``) in
    two dumps: objects and bytes in the dump and in the base."""

    type: str
    count: int
    bytes: int
    base_count: int
    base_bytes: int
    backing_arrays: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the row with its changes."""
        row = {"type": self.type, "count": self.count,
               "bytes": self.bytes, "base_count": self.base_count, "base_bytes": self.base_bytes,
               "delta_count": self.count - self.base_count, "delta_bytes": self.bytes - self.base_bytes}
        if self.backing_arrays:
            row["backing_arrays"] = True
        return row


@dataclass
class GoroutineDiffRow:
    """Goroutines of one stack (as ``goroutines --group`` groups them) in two dumps."""

    status: str
    wait_reason: str | None
    frames: list[str]
    count: int
    base_count: int

    def to_json(self) -> dict[str, Any]:
        """Return the group with its change."""
        return {"status": self.status, "wait_reason": self.wait_reason, "frames": self.frames,
                "count": self.count, "base_count": self.base_count,
                "delta_count": self.count - self.base_count}


@dataclass
class RootDiffRow:
    """A root (as ``top`` names it) whose retained bytes grew."""

    root: str
    kind: str
    retained: int
    base_retained: int
    retained_objects: int
    base_retained_objects: int

    def to_json(self) -> dict[str, Any]:
        """Return the root with its change."""
        return {"root": self.root, "kind": self.kind, "retained": self.retained,
                "base_retained": self.base_retained, "retained_objects": self.retained_objects,
                "base_retained_objects": self.base_retained_objects,
                "delta_retained": self.retained - self.base_retained}


@dataclass
class HeapDiff:
    """Changes between a base dump and this one: per type (backing arrays by slice type
    unless ``by_slot``), goroutines per stack, roots that retain more, types that are new."""

    rows: list[HeapDiffRow]
    types: int
    goroutines: list[GoroutineDiffRow] = field(default_factory=list)
    goroutine_totals: tuple[int, int] = (0, 0)
    roots: list[RootDiffRow] = field(default_factory=list)
    new_types: list[HeapDiffRow] = field(default_factory=list)
    by_slot: bool = False
    warnings: list[str] = field(default_factory=list)
    listed: bool = False          # --json without --all: the documented list of type rows

    def to_json(self) -> dict[str, Any] | list[Any]:
        """Return the type rows (``listed``: the documented list), or ``{types, types_total,
        goroutines, goroutine_count, roots, new_types}`` (``diff --all``)."""
        if self.listed:
            return [r.to_json() for r in self.rows]
        return {"types": [r.to_json() for r in self.rows], "types_total": self.types,
                "by_slot": self.by_slot,
                "goroutines": [g.to_json() for g in self.goroutines],
                "goroutine_count": {"count": self.goroutine_totals[0],
                                    "base_count": self.goroutine_totals[1]},
                "roots": [r.to_json() for r in self.roots],
                "new_types": [r.to_json() for r in self.new_types],
                "partial": bool(self.warnings)}


# ---- top: what keeps the most alive ----

@dataclass
class RetainedObject:
    """``top``: one object and what it alone keeps alive (itself and all it dominates)."""

    address: int
    type: str
    size: int
    retained: int
    retained_objects: int
    root: str | None          # the root of its path (as ``reachable`` shows it)
    root_kind: str | None
    shared: bool              # two or more roots reach it: no one root alone holds it

    def to_json(self) -> dict[str, Any]:
        """Return the object row."""
        return {"address": self.address, "type": self.type, "size": self.size,
                "retained": self.retained, "retained_objects": self.retained_objects,
                "root": self.root, "root_kind": self.root_kind, "shared": self.shared}


@dataclass
class RetainedRoot:
    """``top``: one root (a global variable, a goroutine frame, ...) and what it alone keeps alive."""

    root: str
    kind: str
    goroutine: int | None
    type: str | None
    retained: int
    retained_objects: int

    def to_json(self) -> dict[str, Any]:
        """Return the root row."""
        return {"root": self.root, "kind": self.kind, "goroutine": self.goroutine, "type": self.type,
                "retained": self.retained, "retained_objects": self.retained_objects}


@dataclass
class TopRetained:
    """``top``: the objects and the roots that keep the most memory alive."""

    by: str
    nested: bool
    objects: list[RetainedObject]
    roots: list[RetainedRoot]
    live_objects: int
    live_bytes: int
    shared_bytes: int         # what only several roots together keep alive
    shared_objects: int
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return ``{by, objects, roots, shared, live}``."""
        return {"by": self.by, "objects": [o.to_json() for o in self.objects],
                "roots": [r.to_json() for r in self.roots],
                "shared": {"bytes": self.shared_bytes, "objects": self.shared_objects},
                "live": {"bytes": self.live_bytes, "objects": self.live_objects}}


@dataclass
class RootsRow:
    """``top --by root``: the roots of one name (a global, or a function's frames holding
    their words through one variable, ``main.handle.r``) and what they alone keep alive."""

    root: str
    kind: str
    type: str | None
    roots: int                # how many roots (frames, one per goroutine; 1 for a global)
    goroutines: int
    retained: int
    retained_objects: int

    def to_json(self) -> dict[str, Any]:
        """Return the row."""
        return {"root": self.root, "kind": self.kind, "type": self.type, "roots": self.roots,
                "goroutines": self.goroutines, "retained": self.retained,
                "retained_objects": self.retained_objects}


@dataclass
class TopRoots:
    """``top --by root``: roots summed by name, the most retained first."""

    rows: list[RootsRow]
    named_variables: bool     # False: no DWARF, frames are named by function alone
    live_objects: int
    live_bytes: int
    shared_bytes: int
    shared_objects: int
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return ``{by: "root", roots, named_variables, shared, live}``."""
        return {"by": "root", "roots": [r.to_json() for r in self.rows],
                "named_variables": self.named_variables,
                "shared": {"bytes": self.shared_bytes, "objects": self.shared_objects},
                "live": {"bytes": self.live_bytes, "objects": self.live_objects}}


@dataclass
class LocalRow:
    """``goroutine ID --locals``: one argument or local of a frame, from DWARF."""

    name: str
    type: str
    address: int                 # where it lives in the frame
    value: Any                   # int, float, bool, str (a string's text); None otherwise
    pointer: int | None          # what a pointer, map, chan, func, slice or string points at
    text: str                    # the value as viewcore shows it

    def to_json(self) -> dict[str, Any]:
        """Return the local."""
        return {"name": self.name, "type": self.type, "address": self.address,
                "value": self.value, "pointer": self.pointer}


@dataclass
class GoroutineLocals:
    """``goroutine ID --locals``: the goroutine, each frame with its arguments and locals."""

    row: GoroutineRow
    locals: list[list[LocalRow]]    # per frame of ``row.frames``
    dwarf: bool                     # False: the executable has no DWARF, no frame has locals
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the goroutine object, each frame with ``locals``, and ``dwarf``."""
        doc = self.row.to_json()
        for f, loc in zip(doc["frames"], self.locals):
            f["locals"] = [x.to_json() for x in loc]
        doc["dwarf"] = self.dwarf
        return doc
