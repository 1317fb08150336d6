"""Backing arrays grouped by element type: the objects of one growing slice, one row.

A slice's backing array is a heap object typed ``[N]T`` by its slot count (``[1023]*main.Leak``),
so one slice that grew, or many slices of one element type, make as many histogram rows as
there are slot counts. ``slice_of`` names the slice type they back (``[]*main.Leak``) and
``grouped_histogram`` merges those rows (the rows of other types are kept as they are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_ARRAY = re.compile(r"^\[(\d+)\](.+)$")


def slice_of(type_name: str) -> str | None:
    """Return ``[]T`` for an array type named ``[N]T`` (what a slice's backing array is
    typed as), else None."""
    m = _ARRAY.match(type_name)
    return f"[]{m[2]}" if m else None


@dataclass(frozen=True)
class TypeGroup:
    """Live objects of one type (or the backing arrays of one slice type) in a histogram.

    ``type`` is the Go spelling: the objects' type, or ``[]T`` for the arrays ``[N]T`` of
    every N when ``backing_arrays``; ``size`` the slot size when every object has the same,
    else None; ``members`` how many (type, slot size) rows were merged into it; ``slice``
    the slice type ``[]T`` that arrays ``[N]T`` back (set on a ``[]T`` group and on each of
    its ``[N]T`` rows alike, so a by-slot row finds its group), else None.
    """

    type: str
    backing_arrays: bool
    size: int | None
    count: int
    bytes: int
    members: int
    slice: str | None = None


def grouped_histogram(names: list[str], sizes: np.ndarray, counts: np.ndarray, nbytes: np.ndarray,
                      by_slot: bool = False) -> list[TypeGroup]:
    """Return the histogram rows ``(names, sizes, counts, nbytes)`` as TypeGroups, largest
    bytes first (then count, then name): rows of one Go spelling and slot size merged, and
    unless ``by_slot`` the arrays ``[N]T`` merged by ``T`` into one ``[]T`` group."""
    merged: dict[tuple[str, bool, int | None], list] = {}
    for n, s, c, b in zip(names, sizes.tolist(), counts.tolist(), nbytes.tolist()):
        group = None if by_slot else slice_of(n)
        key = (group, True, None) if group is not None else (n, False, s)
        row = merged.get(key)
        if row is None:
            row = merged[key] = [s, 0, 0, set()]
        if row[0] != s:
            row[0] = None
        row[1] += c
        row[2] += b
        row[3].add((n, s))
    out = [TypeGroup(t, arrays, row[0], row[1], row[2], len(row[3]), t if arrays else slice_of(t))
           for (t, arrays, _), row in merged.items()]
    out.sort(key=lambda g: (-g.bytes, -g.count, g.type, g.backing_arrays))
    return out
