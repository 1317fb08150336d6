"""Result records of the commands: the JSON contract (../shared/docs/cli-contract.md).

Each result knows its JSON form (``to_json``); renderers in ``viewcore.render`` turn the
same record into tables for people.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Overview:
    """What the dump is: format, platform, Go version, threads, goroutines, live heap."""

    dump_format: str
    goos: str
    goarch: str
    go_version: str | None
    pid: int | None
    threads: int
    goroutines: int | None
    heap_objects: int | None
    heap_bytes: int | None
    executable: str | None
    signal: int | None
    partial: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the contract's ``overview`` object."""
        heap = None
        if self.heap_objects is not None:
            heap = {"objects": self.heap_objects, "bytes": self.heap_bytes}
        return {"dump_format": self.dump_format, "goos": self.goos, "goarch": self.goarch,
                "go_version": self.go_version, "pid": self.pid, "threads": self.threads,
                "goroutines": self.goroutines, "heap": heap, "executable": self.executable,
                "signal": self.signal, "partial": self.partial, "warnings": list(self.warnings)}


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

    def to_json(self) -> dict[str, Any]:
        """Return the frame as a JSON object."""
        return {"func": self.func, "file": self.file, "line": self.line, "pc": self.pc,
                "sp": self.sp, "inlined": self.inlined}


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
        frames=[FrameRow(f.func, f.file, f.line, f.pc, f.sp, f.inlined) for f in g.frames],
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
