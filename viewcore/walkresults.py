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
    roots: int = 1            # root groups summed (one per goroutine for a frame variable)
    goroutines: int = 0       # goroutines they are in (0 for globals)

    def to_json(self) -> dict[str, Any]:
        """Return the suspect as a JSON object."""
        return {"root": self.root, "kind": self.kind, "goroutine": self.goroutine,
                "root_type": self.root_type, "shared": self.shared, "retained": self.retained,
                "retained_objects": self.retained_objects, "share": self.share,
                "point": self.point, "held": [h.to_json() for h in self.held],
                "held_more": self.held_more, "path": self.path, "roots": self.roots,
                "goroutines": self.goroutines}


def _path_json(root, steps) -> list[dict[str, Any]]:
    out = [{"root": root.name, "kind": root.kind, "goroutine": root.goroutine,
            "address": root.address, "offset": root.offset, "type": root.type}]
    out += [{"address": s.address, "size": s.size, "type": s.type, "offset": s.offset,
             "field": s.field} for s in steps]
    return out


def suspect_rows(hi, found) -> list[SuspectRow]:
    """Return the SuspectRows of ``found`` (``GoProcess.suspects()``) over heap index ``hi``:
    the one reading of gocore's suspects that ``suspects``, ``report`` and the web UI share."""
    rows = []
    for s in found.rows:
        info = s.root
        if info is None and s.object >= 0:      # held by several roots: name the marking's root
            info = hi.path(s.object)[0]
        point = None
        if s.point >= 0:
            point = {"address": int(hi.heap.addr[s.point]), "type": hi.name_of(s.point),
                     "size": int(hi.heap.size[s.point]), "retained": s.point_retained,
                     "children": s.children, "depth": len(s.chain) - 1}
        rows.append(SuspectRow(
            root=info.name if info else None, kind=info.kind if info else None,
            goroutine=info.goroutine if info else None,
            root_type=info.type if info and s.root is not None else None, shared=s.root is None,
            retained=s.retained, retained_objects=s.retained_objects, share=s.share, point=point,
            held=[HeldRow(h.type, h.count, h.bytes) for h in s.held], held_more=s.held_more,
            path=_path_json(*s.path) if s.path else [], roots=s.roots, goroutines=s.goroutines))
    return rows


@dataclass
class SuspectsResult:
    """``suspects``: the roots and objects that each retain more than ``share``."""

    share: float
    over: bool
    rows: list[SuspectRow]
    live_bytes: int
    live_objects: int
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, gp, found) -> SuspectsResult:
        """Return the result of ``found`` (``gp.suspects()``) with ``gp``'s warnings."""
        return cls(found.share, found.over, suspect_rows(gp.heap_index(), found),
                   found.live_bytes, found.live_objects, list(gp.warnings))

    def to_json(self) -> dict[str, Any]:
        """Return ``{share, over, live: {bytes, objects}, suspects: [...]}``."""
        return {"share": self.share, "over": self.over,
                "live": {"bytes": self.live_bytes, "objects": self.live_objects},
                "suspects": [r.to_json() for r in self.rows], "partial": bool(self.warnings)}


@dataclass
class ChildRow:
    """``top --under``: one child in the dominator tree and what it alone keeps alive."""

    address: int
    type: str
    size: int
    retained: int
    retained_objects: int
    goroutine: int | None        # under a frame root: the goroutine whose frame holds it

    def to_json(self) -> dict[str, Any]:
        """Return the child as a JSON object."""
        return asdict(self)


@dataclass
class UnderResult:
    """``top --under ADDR|ROOT``: the children of one node of the dominator tree (an object,
    or every root group of one name), the most retained first, cut at ``--n``."""

    kind: str                    # "object" or "root"
    address: int | None          # the object's (kind "object")
    type: str | None             # the object's type, or the root's variable type
    size: int | None             # the object's slot
    root: str | None             # the root name (kind "root")
    root_kind: str | None        # global, frame, ...
    roots: int                   # root groups of that name (goroutines' frames); 0 for an object
    retained: int                # what the node alone keeps alive (an object: its slot included)
    retained_objects: int
    rows: list[ChildRow]
    children: int                # all children, listed or not
    more_retained: int           # what the children not listed retain
    live_objects: int
    live_bytes: int
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return ``{under: {...}, children: [...], total, more: {children, retained}, live, partial}``."""
        under = {"kind": self.kind, "address": self.address, "type": self.type, "size": self.size,
                 "root": self.root, "root_kind": self.root_kind, "roots": self.roots,
                 "retained": self.retained, "retained_objects": self.retained_objects}
        return {"under": under, "children": [r.to_json() for r in self.rows], "total": self.children,
                "more": {"children": self.children - len(self.rows), "retained": self.more_retained},
                "live": {"bytes": self.live_bytes, "objects": self.live_objects},
                "partial": bool(self.warnings)}
