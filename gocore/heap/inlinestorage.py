"""Objects known by a slice of theirs that points at an array inside themselves.

Some standard-library structs keep a small array in themselves as the storage of one of
their slices, saving an allocation for short contents. ``regexp/syntax.Regexp`` does so
for its runes (src/regexp/syntax/regexp.go: ``Rune0 [2]rune // storage for short Rune``;
parse.go ``re.Rune = re.Rune0[:n]``). Once a pattern is compiled, such a Regexp is reached
only through the program's ``Inst.Rune`` slices (compile.go ``c.rune(re.Rune, ...)``),
which land inside it, at ``Rune0``: the parse tree that pointed at its start is garbage,
and propagation follows only pointers to an object's start.

An untyped object X is taken for a ``T`` of ``CONTAINERS`` when all of these hold, which
no other layout meets by chance:

* X's slot is what ``new(T)`` takes: the size class of ``T.size``, a scan span, no header;
* X's pointer words (its heap bits) are exactly T's GC mask;
* the words of T's slice field in X are (X + the array field's offset, a length of at most
  the array's, a capacity equal to it): X's slice points at X's own array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..binary.gotypes import Kind
from ..errors import GoCoreError
from .sizeclasses import alloc_slots
from .spans import U64
from .typeinfer import UNKNOWN, _typelinked

if TYPE_CHECKING:
    from ..process import GoProcess
    from .ptrmaps import PointerMaps
    from .typeinfer import TypeRegistry, _HeapView

# (struct, its slice field, the array field that slice is stored in when short)
CONTAINERS = (("regexp/syntax.Regexp", "Rune", "Rune0"),)


def inline_storage_objects(gp: GoProcess, h: _HeapView, reg: TypeRegistry, pmaps: PointerMaps,
                           live: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Return (object ids, type ids) of the untyped objects that are a ``CONTAINERS``
    struct by the rules of the module doc (``live``: bool per object, or None for all)."""
    objs, tids = [np.zeros(0, np.int64)], [np.zeros(0, np.int32)]
    if h.noscan is None:
        return objs[0], tids[0]
    ps = gp.process.ptr_size
    for name, slice_field, array_field in CONTAINERS:
        got = _container(reg, name, slice_field, array_field)
        if got is None:
            continue
        tid, size, s_off, a_off, n, mask = got
        slot = int(alloc_slots(np.array([size]), np.array([True]), gp.facts.malloc_headers)[0])
        cand = (h.tid == UNKNOWN) & ~h.noscan & (h.data_off == 0) & (h.size == np.uint32(slot))
        if live is not None:
            cand &= live
        cand = np.flatnonzero(cand)
        if not len(cand):
            continue
        x = h.base(cand)
        ptr, ok0 = h.read(x + U64(s_off))
        ln, ok1 = h.read(x + U64(s_off + ps))
        cap, ok2 = h.read(x + U64(s_off + 2 * ps))
        keep = ok0 & ok1 & ok2 & (ptr == x + U64(a_off)) & (cap == U64(n)) & (ln <= U64(n))
        cand = cand[keep]
        if len(cand):
            cand = cand[_has_mask(pmaps, cand, mask)]
        objs.append(cand.astype(np.int64))
        tids.append(np.full(len(cand), tid, dtype=np.int32))
    return np.concatenate(objs), np.concatenate(tids)


def _container(reg: TypeRegistry, name: str, slice_field: str, array_field: str):
    """Return (type id, size, slice offset, array offset, array length, GC mask) of struct
    ``name`` when the program has it with those fields of one element type, else None."""
    tid = _typelinked(reg, name)
    if tid == UNKNOWN:
        return None
    table = reg.table
    t = table[tid]
    fields = {f.name: f for f in t.fields}
    s, a = fields.get(slice_field), fields.get(array_field)
    if t.kind is not Kind.STRUCT or s is None or a is None:
        return None
    st, at = table[s.type], table[a.type]
    if st.kind is not Kind.SLICE or at.kind is not Kind.ARRAY or st.elem is None \
            or st.elem != at.elem or not at.len:
        return None
    rt = reg.runtime_type(tid)
    if rt is None:
        return None
    try:
        mask = reg.rts.gc_mask(rt)
    except GoCoreError:
        return None
    return tid, t.size, s.offset, a.offset, int(at.len), mask


def _has_mask(pmaps: PointerMaps, objs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return whether each object's pointer words (from its slot start) are exactly
    ``mask``'s set words."""
    want = np.flatnonzero(mask)
    o, k = pmaps.slots(objs)
    row = np.searchsorted(objs, o)            # objs ascending; pairs come by object
    inside = k.astype(np.int64) < len(mask)
    hit = np.zeros(len(o), dtype=bool)
    hit[inside] = mask[k[inside].astype(np.int64)]
    count = np.bincount(row, minlength=len(objs))
    good = np.bincount(row, weights=hit, minlength=len(objs))
    return (count == len(want)) & (good == len(want))
