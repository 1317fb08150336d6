"""``suspects``: the roots and objects that each alone keep a large share of the heap alive.

From gocore's leak suspects (``GoProcess.suspects``): each with what it retains, its
accumulation point (where the memory spreads over many children: a map's groups, a slice's
backing array), the types held there and the path from its root to that point.
"""

from __future__ import annotations

import argparse

from ..walkresults import HeldRow, SuspectRow, SuspectsResult
from ._heap import heap_index, positive

HELP = ("leak suspects: roots and objects that each retain over a share of the live heap "
        "(10 percent by default), with where the memory accumulates and what it is")


def share(text: str) -> float:
    """Parse a share of the heap: ``0.1``, ``10%`` or ``10`` (percent when above 1)."""
    t = text.strip().rstrip("%")
    try:
        v = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a share: {text!r} (e.g. 10% or 0.1)") from None
    if text.strip().endswith("%") or v > 1:
        v /= 100
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 100 %: {text!r}")
    return v


def add_arguments(parser) -> None:
    """Add --share and --n."""
    parser.add_argument("--share", type=share, default=0.10,
                        help="report what retains more than this share of the live heap (default 10%%)")
    parser.add_argument("--n", type=positive, default=10, help="at most N suspects (default 10)")


def _path(root, steps) -> list[dict]:
    out = [{"root": root.name, "kind": root.kind, "goroutine": root.goroutine,
            "address": root.address, "offset": root.offset, "type": root.type}]
    out += [{"address": s.address, "size": s.size, "type": s.type, "offset": s.offset,
             "field": s.field} for s in steps]
    return out


def run(gp, args) -> SuspectsResult:
    """Return the suspects, largest first."""
    hi = heap_index(gp)
    found = gp.suspects(args.share, args.n)
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
            path=_path(*s.path) if s.path else []))
    return SuspectsResult(found.share, found.over, rows, found.live_bytes, found.live_objects,
                          list(gp.warnings))
