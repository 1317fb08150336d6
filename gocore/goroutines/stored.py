"""Goroutines kept with the heap index (``heap.indexstore``): unwound once per dump.

Unwinding every stack costs about half a millisecond per goroutine in Python; a dump's
goroutines never change, so the first process to read them keeps them as columns (one
row per goroutine, per frame, per machine frame; strings in one table) and later ones
rebuild the same ``Goroutine`` and ``Frame`` objects from those columns.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from ..heap.indexstore import IndexDamaged, IndexStore, StoredPart
from .goroutines import Frame, Goroutine, PhysicalFrame, read_goroutines

if TYPE_CHECKING:
    from ..process import GoProcess

PART = "goroutines"
_NONE = np.iinfo(np.int64).min         # an int field that is None
_G_FIELDS = [f.name for f in dataclasses.fields(Goroutine) if f.name not in ("frames", "physical")]
_F_FIELDS = [f.name for f in dataclasses.fields(Frame) if not f.name.startswith("_")]
_P_FIELDS = list(PhysicalFrame._fields)


def kept_goroutines(gp: GoProcess, store: IndexStore | None) -> list[Goroutine]:
    """Return the goroutines of ``gp``: from ``store`` when kept there, else read from the
    dump (and kept)."""
    if store is not None:
        try:
            part = store.load(PART)
            if part is not None:
                got = _stored(gp, part)
                for w in part.warnings:
                    gp.process.warn(w)
                return got
        except IndexDamaged as e:
            store.drop(PART)
            gp.note(f"the kept goroutines were damaged ({e}); reading them afresh")
    before = len(gp.process.warnings)
    got = read_goroutines(gp)
    if store is not None:
        arrays, strings = _storable(got)
        store.save(PART, arrays, {}, gp.process.warnings[before:], {"strings": strings})
    return got


class _Strings:
    """Interned strings: ``index(s)`` gives a row of ``table`` (-1 for None)."""

    def __init__(self):
        self.table: list[str] = []
        self._rows: dict[str, int] = {}

    def index(self, s: str | None) -> int:
        if s is None:
            return -1
        r = self._rows.get(s)
        if r is None:
            r = self._rows[s] = len(self.table)
            self.table.append(s)
        return r


def _columns(prefix: str, rows: list, names: list[str], strings: _Strings) -> dict[str, np.ndarray]:
    """Return one array per field of ``rows``: strings as rows of ``strings`` (int32), ints
    and bools as int64 (None as ``_NONE``)."""
    out = {}
    for name in names:
        vals = [getattr(r, name) for r in rows]
        if any(isinstance(v, str) for v in vals):
            out[f"{prefix}.{name}"] = np.array([strings.index(v) for v in vals], dtype=np.int32)
        else:
            out[f"{prefix}.{name}"] = np.array([_NONE if v is None else int(v) for v in vals],
                                               dtype=np.int64)
    return out


def _storable(gs: list[Goroutine]) -> tuple[dict[str, np.ndarray], list[str]]:
    strings = _Strings()
    frames = [f for g in gs for f in g.frames]
    physical = [p for g in gs for p in g.physical]
    arrays = _columns("g", gs, _G_FIELDS, strings)
    arrays.update(_columns("f", frames, _F_FIELDS, strings))
    arrays.update(_columns("p", physical, _P_FIELDS, strings))
    arrays["g.nframes"] = np.array([len(g.frames) for g in gs], dtype=np.int64)
    arrays["g.nphysical"] = np.array([len(g.physical) for g in gs], dtype=np.int64)
    return arrays, strings.table


def _values(part: StoredPart, prefix: str, names: list[str], kinds: dict, strings: list[str]) -> list[list]:
    """Return the columns of ``names`` as Python lists, strings and Nones restored."""
    cols = []
    for name in names:
        a = part.array(f"{prefix}.{name}")
        if a.dtype == np.int32:
            cols.append([strings[i] if i >= 0 else None for i in a.tolist()])
        else:
            conv = kinds.get(name, int)
            cols.append([None if v == _NONE else conv(v) for v in a.tolist()])
    return cols


def _bools(cls) -> dict:
    return {f.name: bool for f in dataclasses.fields(cls) if f.type in ("bool", bool)}


def _stored(gp: GoProcess, part: StoredPart) -> list[Goroutine]:
    strings = part.doc("strings")
    g_cols = _values(part, "g", _G_FIELDS, _bools(Goroutine), strings)
    f_cols = _values(part, "f", _F_FIELDS, _bools(Frame), strings)
    p_cols = _values(part, "p", _P_FIELDS, {"trap": bool}, strings)
    frames = [Frame(*vals, _gp=gp) for vals in zip(*f_cols)]
    physical = [PhysicalFrame(*vals) for vals in zip(*p_cols)]
    nf = part.array("g.nframes").tolist()
    npf = part.array("g.nphysical").tolist()
    if sum(nf) != len(frames) or sum(npf) != len(physical):
        raise IndexDamaged("goroutine frame counts do not add up")
    out = []
    fi = pi = 0
    for vals, a, b in zip(zip(*g_cols), nf, npf):
        g = Goroutine(**dict(zip(_G_FIELDS, vals)))
        g.frames, g.physical = frames[fi:fi + a], physical[pi:pi + b]
        fi, pi = fi + a, pi + b
        out.append(g)
    return out
