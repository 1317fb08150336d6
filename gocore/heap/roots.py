"""The roots table: every root word that points into a heap object, one row each.

Roots as ``markroot`` in src/runtime/mgcmark.go sees them:

* globals: the data and bss words of the module's pointer masks (1 bit per word),
  ``moduledata.gcdatamask`` / ``gcbssmask`` as the runtime expanded them in the dump, or
  the GC programs ``moduledata.gcdata`` / ``gcbss`` expanded here; a word is named by the
  DWARF global holding it (``main.list+0x8``), else ``data+0x1f0`` / ``bss+0x88``;
* goroutine stacks: the rows of ``gocore.goroutines.stackroots.StackRootTable`` (frame
  words, typed by the frame's DWARF variables where they locate one; ``sched.ctxt``,
  defer records and registers are kind ``other``);
* finalizers, with the GC's semantics (``markrootSpans``): the words of an object with a
  finalizer (what it points to) and the finalizer's ``fn`` closure; never the object
  itself, which its finalizer does not keep alive.

The table is struct-of-arrays, filled in bulk; a row becomes text only when shown
(``RootTable.describe``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from core import UnmappedAddress
from core.errors import Error

from ..goroutines.stackroots import (AREAS, ARGS, FRAME as STACK_FRAME, LOCALS, OBJECT,
                                     RUNNING, StackRootTable)
from .gcprog import run_gc_program
from .spans import U64

if TYPE_CHECKING:
    from ..process import GoProcess
    from .edges import Edges
    from .heap import Heap

log = logging.getLogger(__name__)

ROOT_KINDS = ("global", "frame", "finalizer", "other")  # the contract's root kinds
GLOBAL, FRAME, FINALIZER, OTHER = range(4)
NO_AREA = 255                      # ``area`` of rows that are not stack words
_FRAME_AREAS = (LOCALS, ARGS, STACK_FRAME, OBJECT, RUNNING)
_AREA_WORD = {LOCALS: "local", ARGS: "arg", OBJECT: "stack object", STACK_FRAME: "frame",
              RUNNING: "running frame"}   # a frame word's area, before its CFA offset


@dataclass(frozen=True)
class RootInfo:
    """What a root row is: its kind, the memory holding it, its goroutine, frame and type."""

    name: str
    kind: str                 # global | frame | finalizer | other
    address: int | None       # start of the root's memory (global variable, stack slot)
    offset: int               # byte offset of the pointer word from ``address``
    goroutine: int | None
    type: str | None
    function: str | None = None   # the frame's function, for stack roots in a frame
    variable: str | None = None   # the frame's variable holding the word, with its field path


@dataclass
class FrameTable:
    """The goroutine frames that hold roots (rows of ``RootTable.frame``)."""

    goroutine: np.ndarray   # int64 goroutine id
    func: np.ndarray        # int32 index into ``func_names``
    pc: np.ndarray          # uint64 the pc its variables are located at
    fp: np.ndarray          # uint64 the caller's SP (the CFA)
    func_names: list[str]
    var_names: list[str] = field(default_factory=list)   # rows of ``RootTable.var``

    def __len__(self) -> int:
        return len(self.func)

    def function(self, f: int) -> str:
        """Return the function name of frame row ``f``."""
        return self.func_names[int(self.func[f])]


def _empty_frames() -> FrameTable:
    return FrameTable(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, U64),
                      np.zeros(0, U64), [])


@dataclass
class RootTable:
    """Root words that hit heap objects, one row per word, as parallel arrays.

    ``name`` indexes ``names`` (a DWARF global, ``data``/``bss``, or one finalizer
    record's ``finalizer of 0x...`` / ``finalizer fn of 0x...``), -1 for stack words,
    whose text is made from their frame. ``base`` is the start of the root's memory (the
    global variable, the section, the object with a finalizer; 0 otherwise), so the
    word's offset is ``slot - base``. ``type`` is the DWARF type id of the memory at
    ``type_address`` that holds the word (-1 unknown). ``area`` and ``precise`` say how a
    stack word was found (``stackroots.AREAS``; ``NO_AREA`` for other rows). ``var``
    indexes ``frames.var_names``: the frame variable (and field path) holding a stack
    word, -1 when DWARF names none.

    A stack word's text is its function and variable (``main.handle.r``), else its
    function, area and offset from the frame's CFA (``main.handle local-0x48``); its
    goroutine is the ``goroutine`` column, not part of the name.
    """

    ptr: np.ndarray           # uint64 the pointer value
    obj: np.ndarray           # int32 heap object id it points into
    slot: np.ndarray          # uint64 address of the word (0: not in memory, a register)
    kind: np.ndarray          # uint8 index into ROOT_KINDS
    goroutine: np.ndarray     # int64 goroutine id, -1
    frame: np.ndarray         # int32 row in ``frames``, -1
    name: np.ndarray          # int32 index into ``names``, -1
    base: np.ndarray          # uint64 start of the root's memory, 0
    type: np.ndarray          # int32 DWARF type id of the memory holding the word, -1
    type_address: np.ndarray  # uint64 where that typed memory starts, 0
    area: np.ndarray          # uint8 stack area, NO_AREA
    precise: np.ndarray       # bool: False for conservatively scanned words
    var: np.ndarray           # int32 index into ``frames.var_names``, -1
    names: list[str]
    always_offset: list[bool]   # per name: its text always carries ``+offset``
    frames: FrameTable

    def __len__(self) -> int:
        return len(self.obj)

    def kind_of(self, r: int) -> str:
        """Return root ``r``'s kind: global, frame, finalizer or other."""
        return ROOT_KINDS[int(self.kind[r])]

    def goroutine_of(self, r: int) -> int | None:
        """Return the goroutine id of a stack root, else None."""
        g = int(self.goroutine[r])
        return None if g < 0 else g

    def function_of(self, r: int) -> str | None:
        """Return the function of the frame holding root ``r``, or None."""
        f = int(self.frame[r])
        return self.frames.function(f) if f >= 0 else None

    def variable_of(self, r: int) -> str | None:
        """Return the frame variable (with its field path) holding stack root ``r``, or None."""
        v = int(self.var[r])
        return self.frames.var_names[v] if v >= 0 else None

    def describe(self, r: int) -> str:
        """Return root ``r``'s text: ``main.list+0x8``, ``data+0x1f0``,
        ``finalizer of 0x...+0x8``, ``main.handle.r`` (a frame's variable),
        ``main.f local-0x48`` (a frame word no variable names: its CFA offset),
        ``goroutine 7 sched.ctxt`` (a goroutine's word outside its frames)."""
        n = int(self.name[r])
        if n >= 0:
            base = int(self.base[r])
            off = int(self.slot[r]) - base if base else 0
            if base and (off or self.always_offset[n]):
                return f"{self.names[n]}+{off:#x}"
            return self.names[n]
        tail = "" if self.precise[r] else ", conservative"
        func = self.function_of(r)
        var = self.variable_of(r)
        if func is None:
            return f"goroutine {int(self.goroutine[r])} {AREAS[int(self.area[r])]}{tail}"
        if var is not None:
            return f"{func}.{var}{tail}"
        off = int(self.slot[r]) - int(self.frames.fp[int(self.frame[r])])
        area = _AREA_WORD.get(int(self.area[r]), AREAS[int(self.area[r])])
        return f"{func} {area}{off:+#x}{tail}"

    def group_name(self, r: int) -> str:
        """Return the name of the root *group* of row ``r``: a DWARF global's words are its
        variable (``main.g``), a frame's words the frame (``goroutine 7 main.f``); other
        roots (section words, finalizers, registers, defer records) stand alone."""
        k = int(self.kind[r])
        n = int(self.name[r])
        if k == GLOBAL and n >= 0 and not self.always_offset[n]:
            return self.names[n]
        if k == FRAME and int(self.frame[r]) >= 0:
            return self.function_of(r)
        return self.describe(r)

    def info(self, r: int, type_name: Callable[[int], str]) -> RootInfo:
        """Return RootInfo of row ``r``; ``type_name(tid)`` spells a DWARF type id."""
        k = int(self.kind[r])
        kind = ROOT_KINDS[k]
        tid = int(self.type[r])
        tname = type_name(tid) if tid >= 0 else None
        n = int(self.name[r])
        slot, base = int(self.slot[r]), int(self.base[r])
        if n < 0:   # a stack word
            return RootInfo(self.describe(r), kind, slot or None, 0, self.goroutine_of(r), tname,
                            self.function_of(r), self.variable_of(r))
        if k == GLOBAL and not self.always_offset[n]:
            return RootInfo(self.names[n], kind, base, slot - base, None, tname)
        if k == GLOBAL:  # a section word no DWARF global holds
            return RootInfo(self.describe(r), kind, slot, 0, None, None)
        return RootInfo(self.describe(r), kind, base or None, slot - base if base else 0, None, None)

    def take(self, rows: np.ndarray) -> RootTable:
        """Return the table of rows ``rows`` (indices or a bool mask) only, same names and frames."""
        cols = {k: getattr(self, k)[rows] for k in _Part._fields}
        return RootTable(**cols, names=self.names, always_offset=self.always_offset,
                         frames=self.frames)

    def typed_memory(self) -> list[tuple[int, int]]:
        """Return (address, DWARF type id) of the typed stack memory holding roots."""
        rows = np.flatnonzero((self.type >= 0) & (self.name < 0) & (self.slot != 0))
        return list(zip(self.type_address[rows].tolist(), self.type[rows].tolist()))


class _Part(NamedTuple):
    """Rows of one producer, before the table is assembled."""

    ptr: np.ndarray
    obj: np.ndarray
    slot: np.ndarray
    kind: np.ndarray
    goroutine: np.ndarray
    frame: np.ndarray
    name: np.ndarray
    base: np.ndarray
    type: np.ndarray
    type_address: np.ndarray
    area: np.ndarray
    precise: np.ndarray
    var: np.ndarray


def _part(ptr, obj, slot, kind, *, goroutine=-1, frame=-1, name=-1, base=0, type=-1,
          type_address=0, area=NO_AREA, precise=True, var=-1) -> _Part:
    n = len(ptr)

    def col(v, dt):
        return np.full(n, v, dt) if np.ndim(v) == 0 else np.asarray(v, dt)
    return _Part(col(ptr, U64), col(obj, np.int32), col(slot, U64), col(kind, np.uint8),
                 col(goroutine, np.int64), col(frame, np.int32), col(name, np.int32),
                 col(base, U64), col(type, np.int32), col(type_address, U64),
                 col(area, np.uint8), col(precise, bool), col(var, np.int32))


class _Names:
    """The table's names, interned."""

    def __init__(self):
        self.names: list[str] = []
        self.always_offset: list[bool] = []
        self._index: dict[str, int] = {}

    def add(self, name: str, always_offset: bool) -> int:
        i = self._index.get(name)
        if i is None:
            i = self._index[name] = len(self.names)
            self.names.append(name)
            self.always_offset.append(always_offset)
        return i


# ---- globals ----

def section_pointer_mask(gp: GoProcess, which: str) -> np.ndarray | None:
    """Return the pointer mask (bool per word) of the ``data`` or ``bss`` section, or None
    (with a warning) when neither the dump's mask nor the GC program can be read."""
    md = gp.moduledata
    L = gp.layout
    bias = gp.process.exe_bias
    lo, hi = getattr(md, which), getattr(md, "e" + which)
    nwords = (hi - lo) // gp.process.ptr_size
    mask_field = "gcdatamask" if which == "data" else "gcbssmask"
    try:  # the mask the runtime built at start-up (src/runtime/symtab.go moduledataverify1)
        base = md.addr + bias
        n_off = L.field("runtime.moduledata", f"{mask_field}.n")
        p_off = L.offset("runtime.moduledata", f"{mask_field}.bytedata")
        n = gp.process.read_uint(base + n_off.offset, n_off.size)
        p = gp.process.read_ptr(base + p_off)
        if 0 < n <= nwords + 64 and p:
            raw = np.frombuffer(gp.process.read(p, (n + 7) // 8), np.uint8)
            bits = np.unpackbits(raw, bitorder="little")[:min(n, nwords)].astype(bool)
            return np.r_[bits, np.zeros(nwords - len(bits), bool)]
    except Error as e:  # fall back to the GC program below
        log.debug("%s from the dump: %s", mask_field, e)
    try:
        prog = getattr(md, "gc" + which) + bias
        # the program is short; read what the segment holds (at most 1 MiB)
        seg_end = next((s.end for s in gp.process.segments() if s.start <= prog < s.end), prog)
        code = gp.process.read(prog, min(seg_end - prog, 1 << 20))
        bits = run_gc_program(code, nwords, nwords)  # it writes exactly the section
        return np.r_[bits, np.zeros(nwords - len(bits), bool)]
    except Error as e:
        gp.process.warn(f"roots: no pointer mask for the {which} section ({e})")
        return None


def global_roots(gp: GoProcess, heap: Heap, names: _Names) -> list[_Part]:
    """Return the data/bss words pointing into the heap (one part per section), named by
    the DWARF global holding them (with its type) or by the section."""
    md = gp.moduledata
    bias = gp.process.exe_bias
    gl = sorted(gp.dwarf.globals.values(), key=lambda g: g.addr) if gp.dwarf is not None else []
    # one empty sentinel when there is no DWARF, so that every lookup below has a row
    ga = np.array([g.addr for g in gl] or [0], dtype=U64)
    gs = np.array([max(g.size, 1) for g in gl] or [0], dtype=U64)
    gtype = np.array([g.type if g.type is not None and g.type >= 0 else -1 for g in gl] or [-1],
                     np.int32)
    out = []
    for which in ("data", "bss"):
        mask = section_pointer_mask(gp, which)
        if mask is None:
            continue
        lo = getattr(md, which)
        waddr = U64(lo + bias) + np.flatnonzero(mask).astype(U64) * U64(heap.word_size)
        vals, ok = heap.gather.words(waddr)
        d = heap.find(np.where(ok, vals, 0))
        hit = d >= 0
        waddr, vals, d = waddr[hit], vals[hit], d[hit]
        link = waddr - U64(bias)
        gi = np.searchsorted(ga, link, side="right").astype(np.int64) - 1
        gc = np.maximum(gi, 0)
        inside = (gi >= 0) & (link < ga[gc] + gs[gc])
        name = np.full(len(d), names.add(which, True), np.int32)
        held = np.unique(gi[inside])            # the globals holding root words (not objects)
        ids = np.array([names.add(gl[g].name, False) for g in held.tolist()], np.int32)
        name[inside] = ids[np.searchsorted(held, gi[inside])]
        base = np.where(inside, ga[gc] + U64(bias), U64(lo + bias))
        typ = np.where(inside, gtype[gc], -1)
        out.append(_part(vals, d, waddr, GLOBAL, name=name, base=base, type=typ,
                         type_address=np.where(typ >= 0, base, 0)))
    return out


# ---- goroutine stacks ----

def frame_slot_vars(gp: GoProcess, t: StackRootTable
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Return (rows, DWARF type ids, deltas, variable ids, variable names) for the precise
    frame words of stack root table ``t`` that a DWARF variable of their frame holds
    (``framevars.FrameSlotVars``: located at the frame's pc, else by its spill slot). A
    row's type id is -1 where the variable is named but its type is not agreed, its
    variable id -1 where the type is agreed but not the name; memory at ``slot - delta``
    holds a value of the type. Work is per distinct (pc, CFA offset), not per goroutine."""
    from .framevars import FrameSlotVars
    none = (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64),
            np.zeros(0, np.int32), [])
    if gp.dwarf is None or t.frame_fp is None or not len(t):
        return none
    rows = np.flatnonzero(t.precise & (t.frame >= 0) & np.isin(t.area, (LOCALS, ARGS, OBJECT)))
    if not len(rows):
        return none
    fr = t.frame[rows]
    pc = t.frame_pc[fr].astype(np.int64) - gp.process.exe_bias
    off = t.slot[rows].astype(np.int64) - t.frame_fp[fr].astype(np.int64)
    keys, inv = np.unique(np.stack([pc, off], axis=1), axis=0, return_inverse=True)
    code = sp_delta = None
    exe = gp.process.exe
    if gp.process.goarch == "amd64" and exe is not None:   # spills read from amd64 code
        code = exe.read_static

        def sp_delta(link_pc: int) -> int:
            f = gp.pclntab.find_func(link_pc)
            return f.sp_delta(link_pc) if f is not None else 0
    slots = FrameSlotVars(gp.dwarf, gp.dwarf.types, code, sp_delta)
    got = [slots.at(int(p), int(o)) for p, o in keys]    # per distinct frame slot
    var_names: dict[str, int] = {}
    tid = np.array([g.type if g is not None else -1 for g in got], np.int32)
    delta = np.array([g.delta if g is not None else 0 for g in got], np.int64)
    var = np.array([var_names.setdefault(g.name, len(var_names)) if g is not None and g.name
                    else -1 for g in got], np.int32)
    k = np.asarray(inv).ravel()
    known = (tid[k] >= 0) | (var[k] >= 0)
    return rows[known], tid[k][known], delta[k][known], var[k][known], list(var_names)


def frame_roots(gp: GoProcess, t: StackRootTable) -> tuple[_Part, FrameTable]:
    """Return the stack root words of table ``t`` (frame words of kind ``frame``, typed
    by their DWARF variable where it is found; ``sched.ctxt``, defer records and registers
    of kind ``other``) and the frames holding them."""
    from ..errors import GoCoreError
    frame_area = np.zeros(len(AREAS), bool)
    frame_area[list(_FRAME_AREAS)] = True
    kind = np.where(frame_area[t.area], FRAME, OTHER).astype(np.uint8)
    typ = np.full(len(t), -1, np.int32)
    taddr = np.zeros(len(t), U64)
    var = np.full(len(t), -1, np.int32)
    var_names: list[str] = []
    try:
        rows, tid, delta, var_ids, var_names = frame_slot_vars(gp, t)
    except GoCoreError as e:           # DWARF bodies unreadable: roots stay untyped
        gp.process.warn(f"heap: frame variables' types unavailable ({e})")
    else:
        typed = tid >= 0
        typ[rows[typed]] = tid[typed]
        taddr[rows[typed]] = t.slot[rows[typed]] - delta[typed].astype(U64)
        var[rows] = var_ids
    part = _part(t.ptr, t.obj, t.slot, kind, goroutine=t.goids[t.goro], frame=t.frame,
                 type=typ, type_address=taddr, area=t.area, precise=t.precise, var=var)
    frames = FrameTable(t.goids[t.frame_goro].astype(np.int64), t.frame_func.astype(np.int32),
                        t.frame_pc.astype(U64), t.frame_fp.astype(U64), list(t.func_names),
                        var_names=var_names)
    return part, frames


# ---- finalizers ----

class FinalizerRecord(NamedTuple):
    """One ``runtime.specialfinalizer``: the object, its ``fn`` closure and ``ot`` (its
    ``*ptrtype``; 0 where the layout has no ``ot``)."""

    obj: int
    fn: int
    ot: int


def finalizer_records(gp: GoProcess, heap: Heap) -> list[FinalizerRecord]:
    """Return every finalizer record on the in-use spans' specials lists.

    Spans with specials are few, so the lists are walked one record at a time; a broken
    list costs only its span, and the process is warned once.
    """
    L = gp.layout
    sp = heap.spans
    proc = gp.process
    try:
        kind_fin = L.const("runtime._KindSpecialFinalizer")
        o_next = L.offset("runtime.special", "next")
        f_off = L.field("runtime.special", "offset")
        o_kind = L.offset("runtime.special", "kind")
        o_fn = L.offset("runtime.specialfinalizer", "fn")
    except Error as e:
        proc.warn(f"roots: finalizers skipped ({e})")
        return []
    try:
        o_ot = L.offset("runtime.specialfinalizer", "ot")
    except Error:  # the record's type is a bonus, not needed for roots
        o_ot = None
    out: list[FinalizerRecord] = []
    bad = 0
    span_bytes = sp.npages * U64(sp.page_size)
    for r in np.flatnonzero(sp.in_use & (sp.specials != 0)):
        s = int(sp.specials[r])
        base, size = int(sp.base[r]), int(span_bytes[r])
        # addspecial keeps a span's list sorted by (offset, kind), every offset inside the
        # span: a record out of order, outside or seen before is garbage, ending the walk.
        last, seen = (-1, -1), set()
        while s:
            try:
                kind = proc.read_uint(s + o_kind, 1)
                off = proc.read_uint(s + f_off.offset, f_off.size)
                if off >= size or (off, kind) < last or s in seen:
                    bad += 1
                    break
                last = (off, kind)
                seen.add(s)
                if kind == kind_fin:
                    ot = proc.read_ptr(s + o_ot) if o_ot is not None else 0
                    out.append(FinalizerRecord(base + off, proc.read_ptr(s + o_fn), ot))
                s = proc.read_ptr(s + o_next)
            except UnmappedAddress:  # one broken list costs only its span
                bad += 1
                break
    if bad:
        proc.warn(f"roots: {bad} span specials lists are unreadable")
    return out


def finalizer_roots(gp: GoProcess, heap: Heap, edges: Edges, names: _Names) -> _Part:
    """Return the finalizer roots as the GC sees them: the words of an object with a
    finalizer that point into the heap, and the finalizer's closure; not the object itself,
    which a finalizer does not keep alive (src/runtime/mgcmark.go markrootSpans scans the
    object, never marks it)."""
    ptr, obj, slot, base, name = [], [], [], [], []
    for rec in finalizer_records(gp, heap):        # one per finalizer (few)
        i = heap.find_one(rec.obj)
        if i >= 0:
            dst, off = edges.out(i)
            at = int(heap.addr[i])
            k = names.add(f"finalizer of {rec.obj:#x}", True)
            obj.extend(dst.tolist())
            slot.extend((at + off.astype(np.int64)).tolist())
            base.extend([at] * len(dst))
            name.extend([k] * len(dst))
        j = heap.find_one(rec.fn) if rec.fn else -1
        if j >= 0:
            obj.append(j)
            slot.append(0)
            base.append(0)
            name.append(names.add(f"finalizer fn of {rec.obj:#x}", False))
            ptr.append((len(obj) - 1, rec.fn))
    slots = np.array(slot, U64)
    vals, _ = heap.gather.words(slots)
    for row, fn in ptr:                           # the closure is held by the record, not a word
        vals[row] = fn
    return _part(vals, obj, slots, FINALIZER, name=name, base=base)


# ---- the table ----

def collect_roots(gp: GoProcess, heap: Heap, edges: Edges) -> RootTable:
    """Return the roots of ``gp`` hitting the heap: globals, goroutine stacks, finalizers.

    The stacks are one root source among three: when they cannot be read the process is
    warned and the table holds the others (the live set then misses what only stacks hold).
    """
    from ..goroutines.stackroots import stack_root_table
    names = _Names()
    parts = global_roots(gp, heap, names)
    frames = _empty_frames()
    try:
        stack = stack_root_table(gp)
    except Error as e:
        gp.process.warn(f"heap: stack roots unavailable ({e})")
    else:
        part, frames = frame_roots(gp, stack)
        parts.append(part)
    parts.append(finalizer_roots(gp, heap, edges, names))
    cols = [np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dt)
            for k, dt in enumerate((U64, np.int32, U64, np.uint8, np.int64, np.int32, np.int32,
                                    U64, np.int32, U64, np.uint8, bool, np.int32))]
    return RootTable(*cols, names=names.names, always_offset=names.always_offset, frames=frames)
