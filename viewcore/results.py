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
