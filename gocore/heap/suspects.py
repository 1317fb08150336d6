"""Leak suspects: the roots and objects that each alone keep a large share of the heap alive.

As Eclipse MAT's leak-suspects report, on the dominator tree (``dominators``): a suspect is
a root (a global, or the frames of one function holding their words through one variable,
summed over goroutines as ``Dominators.roots_by_name`` sums them: 3000 parked
``main.handle`` frames holding ``r`` are one suspect, ``main.handle.r``) or an object held
through several roots that retains more than ``share`` of the live heap. For each, the
*accumulation point*: from the suspect down the dominator tree while one child retains most
(over half) of its parent, the last object reached, where the memory spreads over many
children (a map's group array, a slice's backing array, a list head); the types of the
objects retained below it, by bytes; and the marking's path from a root to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    """One root (its groups summed by name) or object retaining a large share of the live heap.

    ``root`` is the root that alone keeps it alive (None when several roots share it; for
    frames of several goroutines, named by function and variable with no goroutine or
    address); ``group`` its first root group; ``roots`` how many root groups it sums and
    ``goroutines`` how many goroutines they are in; ``object`` the first object below the
    root the walk went into (-1 when the root's memory is spread over several objects at
    once); ``chain`` the object ids walked from it down to ``point``, the accumulation
    point (``object`` first; empty when it is the root itself); ``children`` how many
    objects the point immediately dominates (the root's top objects when it is the root);
    ``held`` the types retained below the point, most bytes first; ``path`` the marking's
    path from a root to the point (RootInfo, PathSteps), or when the root itself is the
    point, to the largest object it holds (one example); None when it holds none.
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
    roots: int = 1
    goroutines: int = 0


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
             live: int, root: RootInfo | None, roots: int = 1, goroutines: int = 0) -> Suspect:
    """Return the Suspect of ``root`` (None: several roots), first root group ``group``
    (-1: none), whose top-level objects are ``top`` (most retained first)."""
    from .domkernels import _under_set
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
        point, point_retained, children = -1, retained, len(top)
        path = hi.path(first) if first >= 0 else None
        inside = np.zeros(len(dom.idom), bool)
        inside[top] = True
    inside = _under_set(dom.order, dom.idom, inside)
    held, more = _held(hi, dom, inside)
    return Suspect(root, group, first if point >= 0 else -1, retained, count,
                   retained / max(live, 1), chain, point, point_retained, children, held, more,
                   path, roots, goroutines)


def _named_root(hi, dom, by, i: int) -> tuple[RootInfo, np.ndarray]:
    """Return (the RootInfo, the top-level objects, most retained first) of row ``i`` of
    ``by`` (``Dominators.roots_by_name``)."""
    k = int(by.group[i])
    info = dom.group_info(k)
    if by.groups[i] == 1:
        return info, dom.group_children(k)
    top = dom.top_level
    holder = dom.holder[top]
    mine = top[(holder >= 0) & (by.row_of_group[np.maximum(holder, 0)] == i)]
    mine = mine[np.lexsort((mine, -dom.retained[mine].astype(np.float64)))]
    goroutine = info.goroutine if by.goroutines[i] <= 1 else None
    many = goroutine is None
    return replace(info, name=by.name[i], goroutine=goroutine,
                   address=None if many else info.address, offset=0 if many else info.offset), mine


def find_suspects(hi, dom, share: float = 0.10, limit: int = 10) -> Suspects:
    """Return the root groups and shared top-level objects of dominator tree ``dom`` (of
    heap index ``hi``) that each retain more than ``share`` of the live heap, largest first
    (at most ``limit``); when none does, the ``limit`` that retain the most."""
    live = hi.live_bytes
    by = dom.roots_by_name()
    shared = dom.top_level[dom.holder[dom.top_level] < 0]
    if len(shared) > limit:
        shared = shared[np.argsort(-dom.retained[shared].astype(np.float64), kind="stable")[:limit]]
    cands = [(int(by.retained[r]), 0, r, -1) for r in range(min(limit, len(by))) if by.retained[r]]
    cands += [(int(dom.retained[i]), 1, -1, int(i)) for i in shared.tolist()]
    cands.sort(key=lambda c: (-c[0], c[1], c[2], c[3]))
    over = [c for c in cands if c[0] > share * live]
    rows = []
    for retained, _, r, i in (over or cands)[:limit]:
        if r >= 0:
            info, top = _named_root(hi, dom, by, r)
            rows.append(_suspect(hi, dom, int(by.group[r]), top, retained,
                                 int(by.retained_objects[r]), live, info, int(by.groups[r]),
                                 int(by.goroutines[r])))
        else:
            rows.append(_suspect(hi, dom, -1, np.array([i], np.int32), retained,
                                 int(dom.retained_count[i]), live, None))
    return Suspects(rows, share, live, hi.live_count, bool(over))
