"""Leak suspects: the roots and objects that each alone keep a large share of the heap alive.

As Eclipse MAT's leak-suspects report, on the dominator tree (``dominators``): a suspect is
a root group (a global, a goroutine frame, ...) or an object held through several roots
that retains more than ``share`` of the live heap. For each, the *accumulation point*: from
the suspect down the dominator tree while one child retains most (over half) of its parent,
the last object reached, where the memory spreads over many children (a map's group array,
a slice's backing array, a list head); the types of the objects retained below it, by
bytes; and the marking's path from a root to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .roots import RootInfo

MOST = 0.5          # a child holding over half its parent's retained bytes is walked into
HELD_TYPES = 5      # types listed per suspect


@dataclass(frozen=True)
class HeldType:
    """Objects of one type retained below an accumulation point."""

    type: str
    count: int
    bytes: int


@dataclass(frozen=True)
class Suspect:
    """One root group or object retaining a large share of the live heap.

    ``root`` is the root that alone keeps it alive (None when several roots share it);
    ``object`` the first object below the root the walk went into (-1 when the root's
    memory is spread over several objects at once); ``chain`` the object ids walked from
    it down to ``point``, the accumulation point (``object`` first; empty when it is the
    root itself); ``children`` how many objects the point immediately dominates; ``held``
    the types retained below the point, most bytes first; ``path`` the marking's path from
    a root to the point (RootInfo, PathSteps), None when the point is the root.
    """

    root: RootInfo | None
    group: int
    object: int
    retained: int
    retained_objects: int
    share: float
    chain: np.ndarray
    point: int
    point_retained: int
    children: int
    held: list[HeldType]
    held_more: int
    path: tuple | None


@dataclass(frozen=True)
class Suspects:
    """The suspects, largest first, and what they were measured against: ``over`` says
    whether any passed ``share`` (else the largest ``limit`` are given)."""

    rows: list[Suspect]
    share: float
    live_bytes: int
    live_objects: int
    over: bool


def _held(hi, dom, inside: np.ndarray) -> tuple[list[HeldType], int]:
    """Return the types of the live objects in mask ``inside`` by bytes (at most
    HELD_TYPES), and how many more types there are."""
    ids = np.flatnonzero(inside & hi.live)
    tids = hi.type_id[ids].astype(np.int64) + 1               # 0: unknown
    sizes = hi.heap.size[ids].astype(np.int64)
    cnt = np.bincount(tids)
    byt = np.bincount(tids, weights=sizes).astype(np.int64)
    by_name: dict[str, list[int]] = {}
    for t in np.flatnonzero(cnt).tolist():                    # one per type, not per object
        row = by_name.setdefault(hi.type_name(t - 1), [0, 0])
        row[0] += int(cnt[t])
        row[1] += int(byt[t])
    held = sorted((HeldType(n, c, b) for n, (c, b) in by_name.items()),
                  key=lambda h: (-h.bytes, -h.count, h.type))
    return held[:HELD_TYPES], max(len(held) - HELD_TYPES, 0)


def _suspect(hi, dom, group: int, top: np.ndarray, retained: int, count: int,
             live: int) -> Suspect:
    """Return the Suspect of root group ``group`` (-1: none) whose top-level objects are
    ``top`` (most retained first)."""
    from .domkernels import _under_set
    root = dom.group_info(group) if group >= 0 else None
    first = int(top[0]) if len(top) else -1
    if first >= 0 and (len(top) == 1 or dom.retained[first] > MOST * retained):
        chain = dom.heaviest_chain(first, MOST)
        point = int(chain[-1])
        inside = np.zeros(len(dom.idom), bool)
        inside[point] = True
        point_retained, children = int(dom.retained[point]), len(dom.children(point))
        path = hi.path(point)
    else:                     # the root itself spreads its memory over several objects
        chain = np.zeros(0, np.int32)
        point, path, point_retained, children = -1, None, retained, len(top)
        inside = np.zeros(len(dom.idom), bool)
        inside[top] = True
    inside = _under_set(dom.order, dom.idom, inside)
    held, more = _held(hi, dom, inside)
    return Suspect(root, group, first if point >= 0 else -1, retained, count,
                   retained / max(live, 1), chain, point, point_retained, children, held, more,
                   path)


def find_suspects(hi, dom, share: float = 0.10, limit: int = 10) -> Suspects:
    """Return the root groups and shared top-level objects of dominator tree ``dom`` (of
    heap index ``hi``) that each retain more than ``share`` of the live heap, largest first
    (at most ``limit``); when none does, the ``limit`` that retain the most."""
    live = hi.live_bytes
    groups = dom.top_groups(limit).tolist()
    shared = dom.top_level[dom.holder[dom.top_level] < 0]
    if len(shared) > limit:
        shared = shared[np.argsort(-dom.retained[shared].astype(np.float64), kind="stable")[:limit]]
    cands = [(int(dom.group_retained[k]), 0, k, -1) for k in groups if dom.group_retained[k]]
    cands += [(int(dom.retained[i]), 1, -1, int(i)) for i in shared.tolist()]
    cands.sort(key=lambda c: (-c[0], c[1], c[2], c[3]))
    over = [c for c in cands if c[0] > share * live]
    rows = []
    for retained, _, k, i in (over or cands)[:limit]:
        if k >= 0:
            rows.append(_suspect(hi, dom, k, dom.group_children(k), retained,
                                 int(dom.group_count[k]), live))
        else:
            rows.append(_suspect(hi, dom, -1, np.array([i], np.int32), retained,
                                 int(dom.retained_count[i]), live))
    return Suspects(rows, share, live, hi.live_count, bool(over))
