"""Result records of the heap-walking commands (``referrers``, ``globals``, ``print``,
``suspects``): each knows its JSON form (docs/cli.md); ``viewcore.render.walk`` draws them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ReferrerRow:
    """One pointer into the object: from a heap object (``source`` "object") or a root."""

    source: str
    address: int | None
    type: str | None
    size: int | None
    offset: int
    field: str | None
    target_offset: int | None
    root: str | None
    kind: str | None
    goroutine: int | None

    def to_json(self) -> dict[str, Any]:
        """Return the referrer as a JSON object."""
        return asdict(self)


@dataclass
class ReferrersResult:
    """``referrers ADDR``: the object and who points into it."""

    address: int
    query: int
    type: str
    size: int
    rows: list[ReferrerRow]
    objects: int
    roots: int
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return ``{address, query, type, size, objects, roots, referrers: [...]}``."""
        return {"address": self.address, "query": self.query, "type": self.type, "size": self.size,
                "objects": self.objects, "roots": self.roots,
                "referrers": [r.to_json() for r in self.rows], "partial": bool(self.warnings)}


@dataclass
class GlobalRow:
    """One package-level variable: its type, size and what it alone keeps alive."""

    name: str
    type: str
    address: int
    size: int
    retained: int
    retained_objects: int

    def to_json(self) -> dict[str, Any]:
        """Return the global as a JSON object."""
        return asdict(self)


@dataclass
class GlobalsResult:
    """``globals``: the package variables, sorted as asked."""

    sort: str
    rows: list[GlobalRow]
    total: int
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> list[Any]:
        """Return the rows as a JSON list."""
        return [r.to_json() for r in self.rows]


@dataclass
class PrintResult:
    """``print EXPR``: the value as a tree of plain data (``value_tree``)."""

    expr: str
    value: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return ``{expr, value}``."""
        return {"expr": self.expr, "value": self.value}


@dataclass
class HeldRow:
    """Objects of one type retained below a suspect's accumulation point."""

    type: str
    count: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        """Return the row as a JSON object."""
        return asdict(self)


@dataclass
class SuspectRow:
    """One leak suspect: the root (or shared object), its retained bytes and share, the
    accumulation point, the types it holds and the path from the root to the point."""

    root: str | None
    kind: str | None
    goroutine: int | None
    root_type: str | None
    shared: bool              # several roots hold it: ``root`` is the marking's path's
    retained: int
    retained_objects: int
    share: float
    point: dict[str, Any] | None
    held: list[HeldRow]
    held_more: int
    path: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """Return the suspect as a JSON object."""
        return {"root": self.root, "kind": self.kind, "goroutine": self.goroutine,
                "root_type": self.root_type, "shared": self.shared, "retained": self.retained,
                "retained_objects": self.retained_objects, "share": self.share,
                "point": self.point, "held": [h.to_json() for h in self.held],
                "held_more": self.held_more, "path": self.path}


@dataclass
class SuspectsResult:
    """``suspects``: the roots and objects that each retain more than ``share``."""

    share: float
    over: bool
    rows: list[SuspectRow]
    live_bytes: int
    live_objects: int
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return ``{share, over, live: {bytes, objects}, suspects: [...]}``."""
        return {"share": self.share, "over": self.over,
                "live": {"bytes": self.live_bytes, "objects": self.live_objects},
                "suspects": [r.to_json() for r in self.rows], "partial": bool(self.warnings)}
