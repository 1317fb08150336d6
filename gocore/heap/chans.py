"""Channels as ``makechan`` lays them out: telling an ``hchan`` object, typing its buffer.

src/runtime/chan.go ``makechan(t, size)`` (the same from Go 1.19 to 1.27) makes one of three
shapes, with ``mem = elem.Size_ * size``:

* ``mem == 0``: ``mallocgc(hchanSize, nil, true)`` (a pointer-free slot) and
  ``buf = &c.buf`` (``raceaddr``);
* elements without pointers: ``mallocgc(hchanSize+mem, nil, true)``, ``buf = c + hchanSize``;
* elements with pointers: ``new(hchan)`` and ``buf = mallocgc(mem, elem, true)``, a separate
  object holding ``[size]T``;

then ``elemsize = elem.Size_``, ``elemtype = elem``, ``dataqsiz = size``. An object is taken
for an hchan only when all of that holds: ``elemtype`` is a readable type descriptor in the
module's type section whose size is ``elemsize``, ``qcount <= dataqsiz``, ``sendx`` and
``recvx`` index the queue, ``closed`` is 0 or 1, and ``buf`` and the slot sizes are exactly
those of one of the three shapes (sizes from ``gocore.heap.sizeclasses``, span kinds from the
span class). Such a record is what the runtime wrote, not a resemblance.

The buffer of the third shape is then ``[N]T`` with T from ``elemtype`` (N from the slot, as
for every array; the runtime's malloc header says the same from Go 1.22 when it is over
512 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .sizeclasses import alloc_slots

if TYPE_CHECKING:
    from ..process import GoProcess
    from .typeinfer import TypeRegistry, _HeapView

_FIELDS = ("qcount", "dataqsiz", "buf", "elemsize", "closed", "elemtype", "sendx", "recvx")
HCHAN_NAMES = ("runtime.hchan", "hchan<")   # the runtime's struct; DWARF's hchan<T> copies


def is_hchan_name(name: str) -> bool:
    """Return whether a type name is the runtime's hchan (``runtime.hchan``, ``hchan<T>``)."""
    return name == HCHAN_NAMES[0] or name.startswith(HCHAN_NAMES[1])


@dataclass(frozen=True)
class ChanCheck:
    """The result of checking objects as hchans: per object, and the element type."""

    ok: np.ndarray          # bool
    elem: np.ndarray        # int32 type id of the element (UNKNOWN where not ok)
    buf_obj: np.ndarray     # int32 object id of a separate buffer (-1: none or inline)


class Channels:
    """hchan offsets of one program and the checks above, vectorised over objects."""

    def __init__(self, gp: GoProcess, reg: TypeRegistry, unknown: int = -1):
        L = gp.layout
        self.reg = reg
        self.unknown = unknown
        self.size = L.size("runtime.hchan")               # hchanSize: a multiple of 8
        self.off = {f: L.offset("runtime.hchan", f) for f in _FIELDS}
        self.headers = bool(gp.facts.malloc_headers)
        self.little = gp.process.byte_order == "little"
        self._elem: dict[int, tuple[int, int, bool]] = {}

    def _field(self, h, base: np.ndarray, name: str, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Read field ``name`` (``width`` bytes, naturally aligned) of hchans at ``base``
        out of the 8-byte word holding it (``h.read`` reads 8-byte words)."""
        a = base + np.uint64(self.off[name])
        at = a % np.uint64(8)                       # the field's first byte in the word
        if not self.little:
            at = np.uint64(8 - width) - at
        shift = at * np.uint64(8)
        w, ok = h.read(a - a % np.uint64(8))
        if width < 8:
            w = (w >> shift) & np.uint64((1 << (8 * width)) - 1)
        return w, ok

    def _elem_type(self, addr: int) -> tuple[int, int, bool]:
        """Return (type id, size, has pointers) of the descriptor at ``addr`` (id UNKNOWN if
        it is not one)."""
        got = self._elem.get(addr)
        if got is None:
            rts = self.reg.rts
            rt = rts.try_get(addr) if rts.in_types(addr) else None
            if rt is None or rt.size >= 1 << 16 or rt.align > 8:
                got = (self.unknown, -1, False)
            else:
                got = (self.reg.of_rtype(addr), rt.size, rt.ptrdata > 0)
            self._elem[addr] = got
        return got

    def check(self, h: _HeapView, objs: np.ndarray) -> ChanCheck:
        """Check objects ``objs`` (ids, -1 for none) as hchans made by ``makechan``."""
        n = len(objs)
        ok = np.zeros(n, dtype=bool)
        elem = np.full(n, self.unknown, dtype=np.int32)
        buf_obj = np.full(n, -1, dtype=np.int32)
        sel = np.flatnonzero(objs >= 0)
        if not len(sel) or h.noscan is None:
            return ChanCheck(ok, elem, buf_obj)
        o = objs[sel]
        sel, o = sel[h.data_off[o] == 0], o[h.data_off[o] == 0]     # no header: under 512 B
        base = h.base(o)
        et, ok0 = self._field(h, base, "elemtype", 8)
        rts = self.reg.rts
        good = ok0 & (et >= np.uint64(rts.types_base)) & (et < np.uint64(rts.types_end)) \
            & (et % np.uint64(8) == 0)
        sel, o, base, et = sel[good], o[good], base[good], et[good]
        if not len(o):
            return ChanCheck(ok, elem, buf_obj)
        u, inv = np.unique(et, return_inverse=True)
        info = [self._elem_type(int(a)) for a in u]            # per distinct element type
        inv = np.asarray(inv).ravel()
        etid = np.array([t for t, _, _ in info], dtype=np.int32)[inv]
        esz = np.array([s for _, s, _ in info], dtype=np.int64)[inv]
        eptr = np.array([p for _, _, p in info], dtype=bool)[inv]
        vals = {}
        good = etid != self.unknown
        for name, width in (("elemsize", 2), ("closed", 4), ("qcount", 8), ("dataqsiz", 8),
                            ("sendx", 8), ("recvx", 8), ("buf", 8)):
            v, vok = self._field(h, base, name, width)
            vals[name] = v
            good &= vok
        dq = vals["dataqsiz"].astype(np.int64)
        qlim = np.maximum(dq, 1).astype(np.uint64)
        good &= (vals["elemsize"].astype(np.int64) == esz) & (vals["closed"] <= 1) \
            & (vals["dataqsiz"] < np.uint64(1 << 40)) & (vals["qcount"] <= vals["dataqsiz"]) \
            & (vals["sendx"] < qlim) & (vals["recvx"] < qlim)
        mem = np.where(good, dq * np.maximum(esz, 0), 0)
        slot = h.size[o].astype(np.int64)
        noscan = h.noscan[o]
        buf = vals["buf"]
        own = alloc_slots(np.full(len(o), self.size), np.ones(len(o), bool), self.headers)
        # mem == 0: the pointer-free hchan alone, buf at its own buf field
        shape0 = (mem == 0) & noscan & (slot == own) \
            & (buf == base + np.uint64(self.off["buf"]))
        # pointer-free elements: one pointer-free slot, buf right after the hchan
        inline = alloc_slots(self.size + mem, np.zeros(len(o), bool), self.headers)
        shape1 = (mem > 0) & ~eptr & noscan & (slot == inline) \
            & (buf == base + np.uint64(self.size))
        # elements with pointers: new(hchan), and the buffer its own object of type elem
        shape2 = (mem > 0) & eptr & ~noscan & (slot == own)
        b = np.full(len(o), -1, dtype=np.int64)
        if shape2.any():
            bo = h.find(np.where(shape2, buf, 0)).astype(np.int64)
            want = alloc_slots(mem, np.ones(len(o), bool), self.headers)
            fine = (bo >= 0)
            bi = np.where(fine, bo, 0)
            fine &= ~h.noscan[bi] & (h.size[bi].astype(np.int64) == want)
            shape2 &= fine
            b = np.where(shape2, bo, -1)
        okl = good & (shape0 | shape1 | shape2)
        ok[sel] = okl
        elem[sel] = np.where(okl, etid, self.unknown)
        buf_obj[sel] = np.where(okl, b, -1)
        return ChanCheck(ok, elem, buf_obj)
