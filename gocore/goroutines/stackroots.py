"""Stack roots: the heap pointers each goroutine's stack holds, as the GC finds them.

This follows ``scanstack`` and ``scanframeworker`` in src/runtime/mgcmark.go (the same in
Go 1.19 and 1.21-1.27 apart from names) with the frame geometry of the runtime's unwinder
(``gentraceback`` in 1.19 traceback.go, ``unwinder.resolveInternal`` in 1.21+) and the
maps of ``getStackMap`` (1.19 stack.go, 1.21+ stkframe.go). For each machine frame of
``Goroutine.physical`` (``fp`` is the runtime's ``frame.fp``; the per-GOARCH numbers are
``archfacts.ArchFacts``):

* ``varp = fp - 8`` on amd64 (the return address), ``fp`` on arm64 (the callee saved LR
  at 0(SP) instead), less 8 more for the saved frame pointer when the frame is not empty;
  ``argp = fp + sys.MinFrameSize`` (0 on amd64, 8 on arm64); locals exist when
  ``varp - sp`` exceeds 0 (amd64) or ``sys.StackAlign`` (arm64);
* the continuation pc is the frame's pc, except below ``runtime.sigpanic``: the function's
  ``deferreturn`` call site (+1), or 0 when it has none (a dead frame: nothing scanned);
* the stack map index is ``PCDATA_StackMapIndex`` at ``continpc - 1`` (or -1 at the
  entry); -1 means 0 (the prologue);
* locals: ``FUNCDATA_LocalsPointerMaps`` bitmap over ``[varp - nbit*8, varp)`` when the
  frame has locals; args: ``FUNCDATA_ArgsPointerMaps`` over ``[argp, argp + nbit*8)``
  when ``_func.args`` is not zero. The args map covers the spill slots of register
  arguments (they are part of ``_func.args`` under the register ABI), so no separate
  spill region is scanned, as in the runtime. ``reflect.makeFuncStub`` and
  ``reflect.methodValueCall`` take their args map from the ``reflect.methodValue`` at
  0(SP), as ``argMapInternal`` does;
* ``FUNCDATA_StackObjects`` records (at ``varp + off`` when ``off < 0``, ``argp + off``
  otherwise; skipped below SP) are registered but **scanned only when a scanned word
  points into them** - the runtime's rule: a stack object that no live slot addresses is
  dead. Pointers into the stack come from scanned slots, ``g._panic`` and defer records;
  objects reached by precise pointers are scanned with their ``gcdata`` mask, objects
  reached only conservatively are scanned conservatively (precise ones first, as the
  runtime's two queues do);
* frames of ``runtime.asyncPreempt`` and ``runtime.debugCallV2`` and the frame just
  above each are scanned conservatively, every word of ``[sp, varp)`` and of the args;
  no stack objects are registered for them. On arm64 from go1.26 such a frame (and a
  conservatively scanned sigpanic) also covers the 16 bytes its caller's LR was pushed into;

Besides frames, ``scanstack`` scans ``g.sched.ctxt`` and, for each record of the
``g._defer`` list, ``d.fn``, ``d.link`` and (for heap records) ``d`` itself.

A dump can also hold goroutines the runtime never scans in that state: ones running on
a thread when the process stopped. Their innermost frame is stopped at an arbitrary pc,
so viewcore treats it as the runtime treats an asynchronously preempted frame: that
frame and the thread's general registers are scanned conservatively (``precise=False``,
area ``running frame`` / ``register``).

Only words that point into allocated heap objects (``Heap.find``) are returned.

Work is per distinct frame kind, not per frame: a plan (the scanned words as offsets
from SP, and the stack object records) is built once per (pc, frame size, mode); every
frame of every goroutine is then expanded with numpy (``ragged_arange``), its words read
with one vectorised gather, and stack objects of all goroutines are searched together,
one sorted table (stacks are disjoint), one round per level of stack-object nesting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from core import UnmappedAddress

from ..binary.archfacts import arch_facts
from ..heap.heap import heap_of
from ..memo import once_per
from ..binary.pclntab import (FUNCDATA_ARGS_POINTER_MAPS, FUNCDATA_LOCALS_POINTER_MAPS,
                      FUNCDATA_STACK_OBJECTS, PCDATA_STACK_MAP_INDEX)
from ..heap.gcprog import gc_program_mask
from ..heap.spans import U64, ragged_arange

if TYPE_CHECKING:
    from ..process import GoProcess

log = logging.getLogger(__name__)

ARGS_SIZE_UNKNOWN = -0x80000000          # internal/abi.ArgsSizeUnknown
_CONSERVATIVE_FUNCS = ("asyncPreempt", "debugCallV2")  # funcIDs scanframeworker checks
_REFLECT_STUBS = ("reflect.makeFuncStub", "reflect.methodValueCall")

# area codes (index into AREAS)
LOCALS, ARGS, FRAME, OBJECT, CTXT, DEFER_FN, DEFER_LINK, DEFER, RUNNING, REGISTER = range(10)
AREAS = ("locals", "args", "frame", "stack object", "sched.ctxt", "defer fn", "defer link",
         "heap defer", "running frame", "register")


@dataclass(frozen=True)
class StackRoot:
    """Where one root word was found.

    ``kind`` is ``"frame"`` for words in a frame (locals, args, a live stack object, a
    conservatively scanned frame) and ``"goroutine"`` for ``sched.ctxt``, defer records and
    registers. ``slot`` is the word's address (0 for a register); ``precise`` is False when
    the word was scanned conservatively (async-preempted or running frames).
    """

    ptr: int
    kind: str
    goid: int
    func: str | None
    sp: int | None
    slot: int
    area: str
    precise: bool


class StackRootTable(NamedTuple):
    """The stack roots as parallel arrays (one row per root word hitting the heap)."""

    ptr: np.ndarray         # uint64 pointer value
    slot: np.ndarray        # uint64 address of the word (0: a register or a heap defer record)
    obj: np.ndarray         # int32 heap object id
    frame: np.ndarray       # int32 row in frame_sp/frame_func (-1: not a frame word)
    goro: np.ndarray        # int32 row in goids
    area: np.ndarray        # uint8 index into AREAS
    precise: np.ndarray     # bool
    frame_sp: np.ndarray    # uint64 per frame row
    frame_func: np.ndarray  # int32 per frame row, index into func_names
    func_names: list
    goids: np.ndarray       # int64 goroutine id per goroutine row
    frame_fp: np.ndarray | None = None   # uint64 per frame row: the caller's SP (the CFA)
    frame_pc: np.ndarray | None = None   # uint64 per frame row: the pc its variables are
                                         # located at (pc at a trap, else the call: pc - 1)
    frame_goro: np.ndarray | None = None  # int32 per frame row: its row in goids

    def __len__(self) -> int:
        return len(self.ptr)

    def row(self, i: int) -> StackRoot:
        """Return root ``i`` as a StackRoot."""
        f = int(self.frame[i])
        func = self.func_names[int(self.frame_func[f])] if f >= 0 else None
        sp = int(self.frame_sp[f]) if f >= 0 else None
        area = int(self.area[i])
        kind = "frame" if area in (LOCALS, ARGS, FRAME, OBJECT, RUNNING) else "goroutine"
        return StackRoot(int(self.ptr[i]), kind, int(self.goids[int(self.goro[i])]), func, sp,
                         int(self.slot[i]), AREAS[area], bool(self.precise[i]))


# ---- per-function metadata (cached: many goroutines share functions) ----

class _FuncMaps:
    """Stack maps of one function, read from the dump once."""

    __slots__ = ("func", "locals", "args", "objects", "problem")

    def __init__(self, func):
        self.func = func
        self.locals = None       # (n, nbit, bytes addr) of the locals stackmap, or None
        self.args = None
        self.objects = None      # list of (off, size, ptr word offsets np.int64) or None
        self.problem = None


class _Ctx:
    """What scanning needs from the process, resolved once."""

    def __init__(self, gp: GoProcess):
        self.gp = gp
        self.proc = gp.process
        self.tab = gp.pclntab
        self.bias = gp.process.exe_bias
        self.ptr = gp.process.ptr_size     # a stack slot: the GC scans pointer-sized words
        self.arch = arch_facts(gp.process.goarch)
        self.lr_bump = self.arch.uses_lr and gp.facts.conservative_scan_covers_pushed_lr
        L = gp.layout
        self.sm_n = L.offset("runtime.stackmap", "n")
        self.sm_nbit = L.offset("runtime.stackmap", "nbit")
        self.sm_data = L.offset("runtime.stackmap", "bytedata")
        self.so_size = L.size("runtime.stackObjectRecord")
        self.so_off = L.offset("runtime.stackObjectRecord", "off")
        self.so_len = L.offset("runtime.stackObjectRecord", "size")
        self.so_ptr = L.offset("runtime.stackObjectRecord", "ptrdata")
        self.so_gc = L.offset("runtime.stackObjectRecord", "gcdataoff")
        self.g_ctxt = L.offset("runtime.g", "sched.ctxt")
        self.g_defer = L.offset("runtime.g", "_defer")
        self.g_panic = L.offset("runtime.g", "_panic")
        self.d_fn = L.offset("runtime._defer", "fn")
        self.d_link = L.offset("runtime._defer", "link")
        hf = L.field("runtime._defer", "heap")
        self.d_heap = hf.offset
        self.rodata = gp.moduledata.rodata + self.bias
        self.funcs: dict[int, _FuncMaps] = {}
        self.bits: dict[tuple[int, int, str], np.ndarray] = {}
        self.threads = {t.tid: t for t in gp.process.threads}

    def maps(self, f) -> _FuncMaps:
        m = self.funcs.get(f.entry)
        if m is None:
            m = _FuncMaps(f)
            try:
                m.locals = self._stackmap(f, FUNCDATA_LOCALS_POINTER_MAPS)
                m.args = self._stackmap(f, FUNCDATA_ARGS_POINTER_MAPS)
                m.objects = self._objects(f)
            except (UnmappedAddress, ValueError) as e:
                m.problem = f"stack maps of {f.name} are unreadable ({e})"
            self.funcs[f.entry] = m
        return m

    def _stackmap(self, f, index: int):
        addr = f.funcdata(index)
        if addr is None:
            return None
        addr += self.bias
        n = self.proc.read_int(addr + self.sm_n, 4)           # int32 fields
        nbit = self.proc.read_int(addr + self.sm_nbit, 4)
        return n, nbit, addr + self.sm_data

    def bitmap(self, f, which: str, sm, index: int) -> np.ndarray | None:
        """Return the byte offsets of the pointer words of stackmap entry ``index``.

        None when the entry does not exist (the runtime throws "bad symbol table").
        """
        key = (f.entry, index, which)
        hit = self.bits.get(key)
        if hit is None:
            n, nbit, data = sm
            if not 0 <= index < n:
                return None
            nbytes = (nbit + 7) >> 3
            raw = np.frombuffer(self.proc.read(data + index * nbytes, nbytes), np.uint8)
            bits = np.unpackbits(raw, bitorder="little")[:nbit]
            hit = np.flatnonzero(bits).astype(np.int64) * self.ptr
            self.bits[key] = hit
        return hit

    def _objects(self, f):
        addr = f.funcdata(FUNCDATA_STACK_OBJECTS)
        if addr is None:
            return []
        addr += self.bias
        n = self.proc.read_ptr(addr)
        if n > 1 << 16:
            raise ValueError(f"{n} stack object records")
        out = []
        raw = self.proc.read(addr + self.ptr, n * self.so_size)
        order = self.proc.byte_order

        def i32(at: int, signed: bool = True) -> int:
            return int.from_bytes(raw[at:at + 4], order, signed=signed)
        for k in range(n):  # records of one function (a handful)
            r = k * self.so_size
            off, size, ptrdata = i32(r + self.so_off), i32(r + self.so_len), i32(r + self.so_ptr)
            gcoff = i32(r + self.so_gc, signed=False)
            out.append((off, size, self._object_mask(ptrdata, self.rodata + gcoff, size)))
        return out

    def _object_mask(self, ptrdata: int, gcdata: int, size: int) -> np.ndarray:
        """Return byte offsets of the pointer words of a stack object's type."""
        nwords = abs(ptrdata) // self.ptr
        if nwords == 0:
            return np.zeros(0, np.int64)
        if ptrdata < 0:  # a GC program (Go <= 1.23: stackObjectRecord.useGCProg)
            bits = gc_program_mask(self.proc.read, gcdata, nwords, abs(size) // self.ptr)
        else:
            raw = np.frombuffer(self.proc.read(gcdata, (nwords + 7) // 8), np.uint8)
            bits = np.unpackbits(raw, bitorder="little")[:nwords].astype(bool)
        return np.flatnonzero(bits).astype(np.int64) * self.ptr


# ---- frame plans: what to scan in a frame, relative to its SP, cached per (pc, mode) ----

PRECISE_MODE, CONSERVATIVE_MODE, RUNNING_MODE = range(3)


class _Plan:
    """The words scanframeworker scans in one kind of frame, as byte offsets from its SP."""

    __slots__ = ("func", "offs", "area", "precise", "objs", "problem")

    def __init__(self, func: str):
        self.func = func
        self.offs: list[np.ndarray] = []
        self.area: list[np.ndarray] = []
        self.precise: list[np.ndarray] = []
        # stack objects: (offset from SP, size, pointer word offsets, scan conservatively)
        self.objs: list[tuple[int, int, np.ndarray, bool]] = []
        self.problem: str | None = None

    def add(self, offs: np.ndarray, area: int, precise: bool) -> None:
        self.offs.append(offs.astype(np.int64, copy=False))
        self.area.append(np.full(len(offs), area, np.uint8))
        self.precise.append(np.full(len(offs), precise, bool))


def _words(lo: int, hi: int, ptr: int) -> np.ndarray:
    return np.arange(lo, max(lo, hi), ptr, dtype=np.int64)


def _build_plan(ctx: _Ctx, f, fr, mode: int, after_sigpanic: bool) -> _Plan:
    """Return the plan of frame ``fr`` of function ``f`` (scanframeworker + getStackMap)."""
    plan = _Plan(f.name)
    p, arch = ctx.ptr, ctx.arch
    size = fr.fp - fr.sp
    varp = size if arch.uses_lr else size - p  # amd64: the return address is at fp-8
    if varp > 0:
        varp -= p                          # the saved frame pointer (framepointer_enabled)
    argp = size + arch.min_frame_size
    if mode != PRECISE_MODE:
        area = RUNNING if mode == RUNNING_MODE else FRAME
        top = varp
        if varp > 0 and ctx.lr_bump and (f.func_id_name in _CONSERVATIVE_FUNCS or f.name == "runtime.sigpanic"):
            top += -(-arch.min_frame_size // arch.stack_align) * arch.stack_align
        plan.add(_words(0, top, p), area, False)
        plan.add(argp + _words(0, _arg_bytes(ctx, f, fr), p), area, False)
        return plan
    if after_sigpanic:  # continpc: the deferreturn call site, or a dead frame
        if not f.deferreturn:
            return plan
        continpc = f.entry + f.deferreturn + 1
    else:
        continpc = fr.pc - ctx.bias
    index = f.pcdata(PCDATA_STACK_MAP_INDEX, continpc - 1) if continpc != f.entry else -1
    if index == -1:
        index = 0
    maps = ctx.maps(f)
    if maps.problem:
        plan.problem = maps.problem
        return plan
    if varp > arch.locals_min_size:
        if maps.locals is None or maps.locals[0] <= 0:
            plan.problem = f"{f.name} has locals but no locals stack map"
        elif maps.locals[1] > 0:
            offs = ctx.bitmap(f, "locals", maps.locals, index)
            if offs is None:
                plan.problem = f"{f.name}: locals stack map index {index} out of range"
            else:
                plan.add(varp - maps.locals[1] * p + offs, LOCALS, True)
    objs = maps.objects or []
    if f.name in _REFLECT_STUBS and f.args == ARGS_SIZE_UNKNOWN:
        objs = _reflect_args(ctx, f, fr, plan, argp, varp)
    elif f.args > 0:
        if maps.args is None or maps.args[0] <= 0:
            plan.problem = f"{f.name} has args but no args stack map"
        elif maps.args[1] > 0:
            offs = ctx.bitmap(f, "args", maps.args, index)
            if offs is None:
                plan.problem = f"{f.name}: args stack map index {index} out of range"
            else:
                plan.add(argp + offs[offs < f.args], ARGS, True)
    for off, osize, mask in objs:
        at = (varp if off < 0 else argp) + off
        if at >= 0:  # below SP: not allocated in the frame yet
            if mask is None:  # the reflect stubs' abi.RegArgs: whole, conservatively
                plan.objs.append((at, osize, _words(0, osize, p), True))
            else:
                plan.objs.append((at, osize, mask, False))
    return plan


def _arg_bytes(ctx: _Ctx, f, fr) -> int:
    """Return ``stkframe.argBytes``: ``_func.args``, or the reflect stub's map size."""
    if f.args != ARGS_SIZE_UNKNOWN:
        return max(f.args, 0)
    mv = _reflect_method_value(ctx, fr)
    return 0 if mv is None else mv[1] * ctx.ptr


def _reflect_method_value(ctx: _Ctx, fr):
    """Return (bitmap addr, n words) of a reflect stub's args map, or None before its frame exists."""
    p, arch = ctx.ptr, ctx.arch
    arg0 = fr.sp + arch.min_frame_size
    if arg0 >= fr.fp - (0 if arch.uses_lr else p):  # the CALL pushed a word on amd64
        return None
    mv = ctx.proc.read_ptr(arg0)
    ret_valid = ctx.proc.read(arg0 + 4 * p, 1)[0]
    stack = ctx.proc.read_ptr(mv + p)         # reflect.methodValue{fn, stack *bitvector, argLen}
    arg_len = ctx.proc.read_ptr(mv + 2 * p)
    n = ctx.proc.read_int(stack, 4)           # bitvector.n int32
    data = ctx.proc.read_ptr(stack + p)
    if not ret_valid:
        n = min(n, (arg_len & ~(p - 1)) // p)
    return data, max(n, 0)


def _reflect_args(ctx: _Ctx, f, fr, plan: _Plan, argp: int, varp: int):
    """Scan a reflect stub's args with its methodValue's map; return its stack objects."""
    try:
        mv = _reflect_method_value(ctx, fr)
        if mv is None:
            return []
        data, n = mv
        raw = np.frombuffer(ctx.proc.read(data, (n + 7) // 8), np.uint8)
        offs = np.flatnonzero(np.unpackbits(raw, bitorder="little")[:n]).astype(np.int64) * ctx.ptr
        plan.add(argp + offs, ARGS, True)
    except UnmappedAddress as e:
        plan.problem = f"{f.name}: reflect args map unreadable ({e})"
    # the runtime fakes one stack object, an abi.RegArgs ending at varp; its type is not
    # read here, so the whole frame below varp stands for it, scanned conservatively
    return [(-varp, varp, None)] if varp > 0 else []


# ---- all goroutines at once ----

def _concat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


class _Frames:
    """Every machine frame of every goroutine, flattened, with its plan."""

    def __init__(self, ctx: _Ctx, gs: list):
        plan_ids: dict[tuple, int] = {}
        plans: list[_Plan] = []
        fr_plan: list[int] = []
        fr_sp: list[int] = []
        fr_fp: list[int] = []
        fr_pc: list[int] = []
        fr_g: list[int] = []
        finfo: dict[int, tuple] = {}
        unknown = 0
        for gi, g in enumerate(gs):
            cons = False
            running = g.status == "running"
            callee = None
            for i, fr in enumerate(g.physical):
                info = finfo.get(fr.pc)
                if info is None:
                    f = ctx.tab.find_func(fr.pc - ctx.bias)
                    info = (f, f is not None and f.func_id_name in _CONSERVATIVE_FUNCS,
                            f is not None and f.name in _REFLECT_STUBS and f.args == ARGS_SIZE_UNKNOWN)
                    finfo[fr.pc] = info
                f, special, dynamic = info
                if f is None:
                    unknown += 1
                    callee = fr.func
                    continue
                if cons or special:
                    mode = CONSERVATIVE_MODE
                elif running and i == 0 and fr.trap:
                    mode = RUNNING_MODE
                else:
                    mode = PRECISE_MODE
                after_sigpanic = mode == PRECISE_MODE and callee == "runtime.sigpanic"
                key = (fr.pc, fr.fp - fr.sp, mode, after_sigpanic, fr.sp if dynamic else 0)
                pid = plan_ids.get(key)
                if pid is None:
                    try:
                        plan = _build_plan(ctx, f, fr, mode, after_sigpanic)
                    except UnmappedAddress as e:
                        plan = _Plan(f.name)
                        plan.problem = f"{f.name}: frame metadata unreadable ({e})"
                    pid = plan_ids[key] = len(plans)
                    plans.append(plan)
                fr_plan.append(pid)
                fr_sp.append(fr.sp)
                fr_fp.append(fr.fp)
                fr_pc.append(fr.pc if fr.trap else fr.pc - 1)
                fr_g.append(gi)
                cons = special
                callee = fr.func
        self.plans = plans
        self.plan = np.array(fr_plan, np.int64)
        self.sp = np.array(fr_sp, U64)
        self.fp = np.array(fr_fp, U64)
        self.pc = np.array(fr_pc, U64)
        self.g = np.array(fr_g, np.int32)
        self.unknown = unknown
        names: dict[str, int] = {}
        self.plan_func = np.array([names.setdefault(p.func, len(names)) for p in plans], np.int32)
        self.func_names = list(names)
        lens = np.array([sum(len(o) for o in p.offs) for p in plans], np.int64)
        self.plan_len = lens
        self.plan_start = np.cumsum(lens) - lens
        self.offs = _concat([o for p in plans for o in p.offs], np.int64)
        self.area = _concat([a for p in plans for a in p.area], np.uint8)
        self.precise = _concat([a for p in plans for a in p.precise], bool)

    def slots(self):
        """Return (slot addr, frame row, area, precise) of every planned word of every frame."""
        owner, k = ragged_arange(self.plan_len[self.plan])
        idx = self.plan_start[self.plan[owner]] + k
        return (self.sp[owner] + self.offs[idx].astype(U64), owner.astype(np.int32),
                self.area[idx], self.precise[idx])

    def objects(self):
        """Return (addr, size, mask row, conservative, frame row) of the registered stack objects,
        plus the masks as CSR (start, length, offsets)."""
        rows, masks = [], []
        for pid, p in enumerate(self.plans):
            for off, size, mask, cons in p.objs:
                rows.append((pid, off, size, len(masks), cons))
                masks.append(mask)
        if not rows:
            z = np.zeros(0, np.int64)
            return (np.zeros(0, U64), z, z, np.zeros(0, bool), np.zeros(0, np.int32)), (z, z, z)
        r_pid = np.array([r[0] for r in rows], np.int64)
        order = np.argsort(r_pid, kind="stable")
        r_pid = r_pid[order]
        r_off = np.array([r[1] for r in rows], np.int64)[order]
        r_size = np.array([r[2] for r in rows], np.int64)[order]
        r_mask = np.array([r[3] for r in rows], np.int64)[order]
        r_cons = np.array([r[4] for r in rows], bool)[order]
        per_plan = np.bincount(r_pid, minlength=len(self.plans))
        first = np.cumsum(per_plan) - per_plan
        owner, k = ragged_arange(per_plan[self.plan])
        j = first[self.plan[owner]] + k
        mlen = np.array([len(m) for m in masks], np.int64)
        return ((self.sp[owner] + r_off[j].astype(U64), r_size[j], r_mask[j], r_cons[j],
                 owner.astype(np.int32)),
                (np.cumsum(mlen) - mlen, mlen, _concat(masks, np.int64)))


class _Out:
    """Root words collected so far: parallel array chunks."""

    def __init__(self):
        self.cols: list[tuple] = []

    def add(self, slot, val, frame, goro, area, precise) -> None:
        n = len(slot)
        if n:
            full = (lambda v, dt: np.full(n, v, dt) if np.ndim(v) == 0 else np.asarray(v, dt))
            self.cols.append((np.asarray(slot, U64), np.asarray(val, U64), full(frame, np.int32),
                              full(goro, np.int32), full(area, np.uint8), full(precise, bool)))

    def arrays(self):
        types = (U64, U64, np.int32, np.int32, np.uint8, bool)
        return tuple(_concat([c[k] for c in self.cols], t) for k, t in enumerate(types))


def _g_words(ctx: _Ctx, gs: list, g_addr: np.ndarray, gather, out: _Out, warn) -> np.ndarray:
    """Add sched.ctxt and the defer records' words; return g._panic per goroutine."""
    proc = ctx.proc
    ctxt, ok1 = gather.words(g_addr + U64(ctx.g_ctxt))
    defer, ok2 = gather.words(g_addr + U64(ctx.g_defer))
    panic, ok3 = gather.words(g_addr + U64(ctx.g_panic))
    bad = int((~(ok1 & ok2 & ok3)).sum())
    if bad:
        warn(f"stack roots: {bad} goroutines' sched.ctxt/_defer/_panic are unreadable")
    has = np.flatnonzero(ok1 & (ctxt != 0))
    out.add(g_addr[has] + U64(ctx.g_ctxt), ctxt[has], -1, has, CTXT, True)
    unreadable = 0
    for gi in np.flatnonzero(ok2 & (defer != 0)):  # goroutines with defer records (few)
        d, seen = int(defer[gi]), 0
        try:
            while d and seen < 100_000:
                seen += 1
                fn = proc.read_ptr(d + ctx.d_fn)
                if fn:
                    out.add([d + ctx.d_fn], [fn], -1, gi, DEFER_FN, True)
                link = proc.read_ptr(d + ctx.d_link)
                if link:
                    out.add([d + ctx.d_link], [link], -1, gi, DEFER_LINK, True)
                if proc.read(d + ctx.d_heap, 1)[0]:
                    out.add([0], [d], -1, gi, DEFER, True)  # the heap record itself
                d = link
        except UnmappedAddress:
            unreadable += 1
    if unreadable:
        warn(f"stack roots: defer records of {unreadable} goroutines are unreadable")
    return np.where(ok3, panic, 0)


def _registers(ctx: _Ctx, gs: list, out: _Out) -> None:
    """Add the registers of goroutines running on a thread's own stack (conservative)."""
    for gi, g in enumerate(gs):
        if g.status != "running" or not g.physical or not g.physical[0].trap:
            continue
        th = ctx.threads.get(g.thread)
        regs = ctx.arch.gp_regs
        if th is not None and g.stack_lo <= th.sp < g.stack_hi:
            out.add(np.zeros(len(regs), U64), [th.regs.get(r, 0) for r in regs],
                    -1, gi, REGISTER, False)


def _stack_objects(frames: _Frames, lo: np.ndarray, hi: np.ndarray, pending: list,
                   gather, out: _Out) -> None:
    """Scan the stack objects that scanned words point into, precise pointers first.

    ``pending`` holds (pointer, goroutine row, precise) arrays of words pointing into
    their goroutine's stack. Stacks are disjoint, so one sorted object table serves all.
    """
    (addr, size, mask, cons, frame), (m_start, m_len, m_offs) = frames.objects()
    if not len(addr):
        return
    order = np.argsort(addr, kind="stable")
    addr, size, mask, cons, frame = addr[order], size[order], mask[order], cons[order], frame[order]
    ends = addr + size.astype(U64)
    ogoro = frames.g[frame]
    scanned = np.zeros(len(addr), bool)
    while pending:
        ptrs = _concat([p[0] for p in pending], U64)
        pprec = _concat([p[2] for p in pending], bool)
        pending = []
        oi = np.searchsorted(addr, ptrs, side="right").astype(np.int64) - 1
        hit = (oi >= 0) & (ptrs < ends[np.maximum(oi, 0)])
        oi, pprec = oi[hit], pprec[hit]
        oi_new = ~scanned[oi]
        oi, pprec = oi[oi_new], pprec[oi_new]
        if not len(oi):
            break
        if pprec.any():
            take, precise = np.unique(oi[pprec]), True
            later = oi[~pprec]  # conservative pointers wait for the precise queue to drain
            if len(later):
                pending.append((addr[later], None, np.zeros(len(later), bool)))
        else:
            take, precise = np.unique(oi), False
        scanned[take] = True
        owner, k = ragged_arange(m_len[mask[take]])
        t = take[owner]
        slots = addr[t] + m_offs[m_start[mask[t]] + k].astype(U64)
        vals, ok = gather.words(slots)
        prec = np.full(len(slots), precise) & ~cons[t]
        out.add(slots[ok], vals[ok], frame[t][ok], ogoro[t][ok], OBJECT, prec[ok])
        g = ogoro[t]
        inside = ok & (vals >= lo[g]) & (vals < hi[g])
        if inside.any():
            pending.append((vals[inside], None, prec[inside]))


# ---- public API ----

@once_per
def stack_root_table(gp: GoProcess) -> StackRootTable:
    """Return every goroutine's stack roots that hit heap objects, as arrays (cached per gp)."""
    heap = heap_of(gp)
    gather = heap.gather
    ctx = _Ctx(gp)
    warn = gp.process.warn
    gs = [g for g in gp.goroutines() if g.status != "dead"]
    lo = np.array([g.stack_lo for g in gs], U64)
    hi = np.array([g.stack_hi for g in gs], U64)
    g_addr = np.array([g.address for g in gs], U64)
    frames = _Frames(ctx, gs)
    if frames.unknown:
        warn(f"stack roots: {frames.unknown} frames are in no Go function and are not scanned")
    bad = {}
    for pid in np.unique(frames.plan):
        if frames.plans[pid].problem:
            bad[frames.plans[pid].problem] = int((frames.plan == pid).sum())
    for problem, n in bad.items():
        warn(f"stack roots are partial: {problem} ({n} frames)")
    out = _Out()
    slot, frame, area, prec = frames.slots()
    vals, ok = gather.words(slot)
    if not ok.all():
        warn(f"stack roots: {int((~ok).sum())} stack words are not in the dump")
    goro = frames.g[frame]
    out.add(slot[ok], vals[ok], frame[ok], goro[ok], area[ok], prec[ok])
    panic = _g_words(ctx, gs, g_addr, gather, out, warn)
    _registers(ctx, gs, out)
    # words pointing into their own goroutine's stack start the stack object search
    s_slot, s_val, s_frame, s_goro, s_area, s_prec = out.arrays()
    inside = (s_val >= lo[s_goro]) & (s_val < hi[s_goro]) if len(s_val) else np.zeros(0, bool)
    pending = [(s_val[inside], None, s_prec[inside])]
    has_panic = np.flatnonzero(panic != 0)
    pending.append((panic[has_panic], None, np.ones(len(has_panic), bool)))
    _stack_objects(frames, lo, hi, pending, gather, out)
    s_slot, s_val, s_frame, s_goro, s_area, s_prec = out.arrays()
    obj = heap.find(s_val)
    keep = obj >= 0
    return StackRootTable(s_val[keep], s_slot[keep], obj[keep], s_frame[keep], s_goro[keep],
                       s_area[keep], s_prec[keep], frames.sp, frames.plan_func[frames.plan],
                       frames.func_names, np.array([g.id for g in gs], np.int64),
                       frames.fp, frames.pc, frames.g)


def stack_roots(gp: GoProcess) -> list[StackRoot]:
    """Return the stack roots of every goroutine, one StackRoot per word hitting the heap
    (for inspection; the heap's roots table reads ``stack_root_table`` directly)."""
    t = stack_root_table(gp)
    return [t.row(i) for i in range(len(t))]
