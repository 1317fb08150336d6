"""Stack roots: the heap pointers each goroutine's stack holds, as the GC finds them.

This follows ``scanstack`` and ``scanframeworker`` in src/runtime/mgcmark.go (the same in
Go 1.19 and 1.21-1.27 apart from names) with the frame geometry of the runtime's unwinder
(``gentraceback`` in 1.19 traceback.go, ``unwinder.resolveInternal`` in 1.21+) and the
maps of ``getStackMap`` (1.19 stack.go, 1.21+ stkframe.go). For each machine frame of
``Goroutine.physical`` (amd64):

* ``varp = fp - 8`` (the return address), less 8 more for the saved frame pointer when the
  frame is not empty; ``argp = fp``;
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
  no stack objects are registered for them.

Besides frames, ``scanstack`` scans ``g.sched.ctxt`` and, for each record of the
``g._defer`` list, ``d.fn``, ``d.link`` and (for heap records) ``d`` itself.

A dump can also hold goroutines the runtime never scans in that state: ones running on
a thread when the process stopped. Their innermost frame is stopped at an arbitrary pc,
so viewcore treats it as the runtime treats an asynchronously preempted frame: that
frame and the thread's general registers are scanned conservatively (``precise=False``,
area ``running frame`` / ``register``).

Only words that point into allocated heap objects (``Heap.find``) are returned.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from core import UnmappedAddress

from .heap import heap_of
from .pclntab import (FUNCDATA_ARGS_POINTER_MAPS, FUNCDATA_LOCALS_POINTER_MAPS,
                      FUNCDATA_STACK_OBJECTS, PCDATA_STACK_MAP_INDEX)
from .ptrmaps import run_gc_program
from .spans import U64

log = logging.getLogger(__name__)

PTR = 8
ARGS_SIZE_UNKNOWN = -0x80000000          # internal/abi.ArgsSizeUnknown
_CONSERVATIVE_FUNCS = ("asyncPreempt", "debugCallV2")  # funcIDs scanframeworker checks
_REFLECT_STUBS = ("reflect.makeFuncStub", "reflect.methodValueCall")
_GP_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15")

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

    def __str__(self) -> str:
        where = f"goroutine {self.goid}"
        if self.func is not None:
            where += f" {self.func}"
        tail = "" if self.precise else ", conservative"
        if self.area == "register":
            return f"{where}: register{tail}"
        return f"{where}: {self.area} at {self.slot:#x}{tail}"


class StackRootTable(NamedTuple):
    """The stack roots as parallel arrays (one row per root word hitting the heap)."""

    ptr: np.ndarray      # uint64 pointer value
    slot: np.ndarray     # uint64 address of the word (0 for registers)
    obj: np.ndarray      # int32 heap object id
    frame: np.ndarray    # int32 row in ``frames`` (-1: not a frame word)
    goro: np.ndarray     # int32 row in ``goids``
    area: np.ndarray     # uint8 index into AREAS
    precise: np.ndarray  # bool
    frames: list         # (func name, sp) per frame row
    goids: list          # goroutine id per goroutine row

    def __len__(self) -> int:
        return len(self.ptr)

    def row(self, i: int) -> StackRoot:
        """Return root ``i`` as a StackRoot."""
        f = int(self.frame[i])
        func, sp = self.frames[f] if f >= 0 else (None, None)
        area = int(self.area[i])
        kind = "frame" if area in (LOCALS, ARGS, FRAME, OBJECT, RUNNING) else "goroutine"
        return StackRoot(int(self.ptr[i]), kind, self.goids[int(self.goro[i])], func, sp,
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

    def __init__(self, gp):
        self.gp = gp
        self.proc = gp.process
        self.tab = gp.pclntab
        self.bias = gp.process.exe_bias
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
        n = int.from_bytes(self.proc.read(addr + self.sm_n, 4), "little", signed=True)
        nbit = int.from_bytes(self.proc.read(addr + self.sm_nbit, 4), "little", signed=True)
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
            hit = np.flatnonzero(bits).astype(np.int64) * PTR
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
        raw = self.proc.read(addr + PTR, n * self.so_size)
        for k in range(n):  # records of one function (a handful)
            r = k * self.so_size
            off = int.from_bytes(raw[r + self.so_off:r + self.so_off + 4], "little", signed=True)
            size = int.from_bytes(raw[r + self.so_len:r + self.so_len + 4], "little", signed=True)
            ptrdata = int.from_bytes(raw[r + self.so_ptr:r + self.so_ptr + 4], "little", signed=True)
            gcoff = int.from_bytes(raw[r + self.so_gc:r + self.so_gc + 4], "little")
            out.append((off, size, self._object_mask(ptrdata, self.rodata + gcoff)))
        return out

    def _object_mask(self, ptrdata: int, gcdata: int) -> np.ndarray:
        """Return byte offsets of the pointer words of a stack object's type."""
        nwords = abs(ptrdata) // PTR
        if nwords == 0:
            return np.zeros(0, np.int64)
        if ptrdata < 0:  # a GC program (Go <= 1.23: stackObjectRecord.useGCProg)
            plen = self.proc.read_u32(gcdata)
            bits = run_gc_program(self.proc.read(gcdata + 4, plen), nwords)[:nwords]
        else:
            raw = np.frombuffer(self.proc.read(gcdata, (nwords + 7) // 8), np.uint8)
            bits = np.unpackbits(raw, bitorder="little")[:nwords].astype(bool)
        return np.flatnonzero(bits).astype(np.int64) * PTR


# ---- one goroutine ----

class _Scan:
    """Accumulates the scanned words of one goroutine (chunks of arrays, concatenated once)."""

    def __init__(self):
        self.slots: list[np.ndarray] = []
        self.frame: list[np.ndarray] = []
        self.area: list[np.ndarray] = []
        self.precise: list[np.ndarray] = []
        self.objects: list[tuple[int, int, np.ndarray | None, int]] = []  # (addr, size, mask, frame)
        self.direct: list[int] = []  # root values not read from a word (heap defer records)

    def add(self, slots: np.ndarray, frame: int, area: int, precise: bool) -> None:
        if len(slots):
            self.slots.append(slots.astype(U64, copy=False))
            self.frame.append(np.full(len(slots), frame, np.int32))
            self.area.append(np.full(len(slots), area, np.uint8))
            self.precise.append(np.full(len(slots), precise, bool))


def _range(lo: int, hi: int) -> np.ndarray:
    return np.arange(lo, max(lo, hi), PTR, dtype=np.int64).astype(U64)


def _scan_frames(ctx: _Ctx, g, scan: _Scan, frames: list, problems: list) -> None:
    """Add the words of every frame of ``g`` to ``scan`` (scanframeworker)."""
    conservative = False
    running = g.status == "running"
    for i, fr in enumerate(g.physical):
        f = ctx.tab.find_func(fr.pc - ctx.bias)
        fi = len(frames)
        frames.append((fr.func, fr.sp))
        if f is None:
            problems.append(f"no function at pc {fr.pc:#x}")
            continue
        callee = g.physical[i - 1].func if i else None
        varp = fr.fp - PTR
        if varp > fr.sp:
            varp -= PTR  # the saved frame pointer (framepointer_enabled on amd64)
        argp = fr.fp
        special = f.func_id_name in _CONSERVATIVE_FUNCS
        innermost_trap = running and i == 0 and fr.trap
        if conservative or special or innermost_trap:
            area = RUNNING if innermost_trap else FRAME
            scan.add(_range(fr.sp, varp), fi, area, False)
            nargs = _arg_bytes(ctx, f, fr)
            scan.add(_range(argp, argp + nargs), fi, area, False)
            conservative = special
            continue
        # continpc (traceback: a frame below sigpanic stopped at a fault)
        if callee == "runtime.sigpanic":
            if not f.deferreturn:
                continue  # a dead frame: no maps (getStackMap returns empty)
            continpc = f.entry + f.deferreturn + 1
        else:
            continpc = fr.pc - ctx.bias
        index = -1
        if continpc != f.entry:
            index = f.pcdata(PCDATA_STACK_MAP_INDEX, continpc - 1)
        if index == -1:
            index = 0
        maps = ctx.maps(f)
        if maps.problem:
            problems.append(maps.problem)
            continue
        if varp - fr.sp > 0:  # sys.MinFrameSize is 0 on amd64
            if maps.locals is None or maps.locals[0] <= 0:
                problems.append(f"{f.name} has locals but no locals stack map")
            elif maps.locals[1] > 0:
                offs = ctx.bitmap(f, "locals", maps.locals, index)
                if offs is None:
                    problems.append(f"{f.name}: stack map index {index} out of range")
                else:
                    base = varp - maps.locals[1] * PTR
                    scan.add(U64(base) + offs.astype(U64), fi, LOCALS, True)
        objects = maps.objects
        if f.name in _REFLECT_STUBS and f.args == ARGS_SIZE_UNKNOWN:
            objects = _reflect_args(ctx, f, fr, argp, varp, scan, fi, problems)
        elif f.args > 0:
            if maps.args is None or maps.args[0] <= 0:
                problems.append(f"{f.name} has args but no args stack map")
            elif maps.args[1] > 0:
                offs = ctx.bitmap(f, "args", maps.args, index)
                if offs is None:
                    problems.append(f"{f.name}: args stack map index {index} out of range")
                else:
                    scan.add(U64(argp) + offs[offs < f.args].astype(U64), fi, ARGS, True)
        for off, size, mask in objects or ():
            addr = (varp if off < 0 else argp) + off
            if addr >= fr.sp:
                scan.objects.append((addr, size, mask, fi))


def _arg_bytes(ctx: _Ctx, f, fr) -> int:
    """Return ``stkframe.argBytes``: ``_func.args``, or the reflect stub's map size."""
    if f.args != ARGS_SIZE_UNKNOWN:
        return max(f.args, 0)
    mv = _reflect_method_value(ctx, fr)
    return 0 if mv is None else mv[1] * PTR


def _reflect_method_value(ctx: _Ctx, fr):
    """Return (bitmap addr, n words) of a reflect stub's args map, or None before its frame exists."""
    arg0 = fr.sp
    if arg0 >= fr.fp - PTR:
        return None
    mv = ctx.proc.read_ptr(arg0)
    ret_valid = ctx.proc.read(arg0 + 4 * PTR, 1)[0]
    stack = ctx.proc.read_ptr(mv + PTR)       # reflect.methodValue{fn, stack *bitvector, argLen}
    arg_len = ctx.proc.read_ptr(mv + 2 * PTR)
    n = int.from_bytes(ctx.proc.read(stack, 4), "little", signed=True)
    data = ctx.proc.read_ptr(stack + PTR)
    if not ret_valid:
        n = min(n, (arg_len & ~(PTR - 1)) // PTR)
    return data, max(n, 0)


def _reflect_args(ctx, f, fr, argp, varp, scan, fi, problems):
    """Scan a reflect stub's args with its methodValue's map; return its stack objects."""
    try:
        mv = _reflect_method_value(ctx, fr)
        if mv is None:
            return []
        data, n = mv
        raw = np.frombuffer(ctx.proc.read(data, (n + 7) // 8), np.uint8)
        offs = np.flatnonzero(np.unpackbits(raw, bitorder="little")[:n]).astype(np.int64) * PTR
        scan.add(U64(argp) + offs.astype(U64), fi, ARGS, True)
    except UnmappedAddress as e:
        problems.append(f"{f.name}: reflect args map unreadable ({e})")
    # the runtime fakes one stack object, an abi.RegArgs ending at varp; its type is not
    # read here, so the whole frame below varp stands for it, scanned conservatively
    return [(-(varp - fr.sp), varp - fr.sp, None)] if varp > fr.sp else []


def _goroutine_words(ctx: _Ctx, g, scan: _Scan, problems: list) -> None:
    """Add sched.ctxt, the defer records and (running) registers: scanstack's other roots."""
    proc = ctx.proc
    try:
        if proc.read_ptr(g.address + ctx.g_ctxt):
            scan.add(np.array([g.address + ctx.g_ctxt], U64), -1, CTXT, True)
        d, seen = proc.read_ptr(g.address + ctx.g_defer), 0
        while d and seen < 100_000:
            seen += 1
            if proc.read_ptr(d + ctx.d_fn):
                scan.add(np.array([d + ctx.d_fn], U64), -1, DEFER_FN, True)
            link = proc.read_ptr(d + ctx.d_link)
            if link:
                scan.add(np.array([d + ctx.d_link], U64), -1, DEFER_LINK, True)
            if proc.read(d + ctx.d_heap, 1)[0]:
                scan.direct.append(d)  # the record itself is a root
            d = link
    except UnmappedAddress as e:
        problems.append(f"defer records unreadable ({e})")


def _goroutine_roots(ctx: _Ctx, g, frames: list, problems: list):
    """Return (slot, value, frame, area, precise) arrays of one goroutine's root words."""
    scan = _Scan()
    _scan_frames(ctx, g, scan, frames, problems)
    _goroutine_words(ctx, g, scan, problems)
    lo, hi = g.stack_lo, g.stack_hi
    try:
        stack = ctx.proc.array(lo, (hi - lo) // PTR)
    except UnmappedAddress as e:
        problems.append(f"stack [{lo:#x}, {hi:#x}) is not in the dump ({e})")
        return None
    objs = sorted(scan.objects, key=lambda o: o[0])
    out_slot, out_val, out_frame, out_area, out_prec = [], [], [], [], []

    def read(slots: np.ndarray) -> np.ndarray:
        inside = (slots >= U64(lo)) & (slots < U64(hi))
        vals = np.zeros(len(slots), U64)
        k = ((slots[inside] - U64(lo)) // U64(PTR)).astype(np.int64)
        vals[inside] = stack[k]
        for j in np.flatnonzero(~inside):  # g fields and defer records: a few per goroutine
            vals[j] = ctx.proc.read_ptr(int(slots[j]))
        return vals

    def emit(slots, frame, area, precise):
        vals = read(slots)
        out_slot.append(slots)
        out_val.append(vals)
        out_frame.append(frame)
        out_area.append(area)
        out_prec.append(precise)
        return vals

    if scan.slots:
        vals = emit(np.concatenate(scan.slots), np.concatenate(scan.frame),
                    np.concatenate(scan.area), np.concatenate(scan.precise))
        prec = out_prec[0]
    else:
        vals, prec = np.zeros(0, U64), np.zeros(0, bool)
    # stack objects: scanned only when something points into them (precise pointers first)
    starts = np.array([o[0] for o in objs], U64)
    ends = starts + np.array([max(o[1], 0) for o in objs], U64)
    scanned = np.zeros(len(objs), bool)
    stackp = (vals >= U64(lo)) & (vals < U64(hi))
    pending = [(vals[stackp], prec[stackp])]
    try:
        panic = ctx.proc.read_ptr(g.address + ctx.g_panic)
    except UnmappedAddress:
        panic = 0
    if panic:
        pending.append((np.array([panic], U64), np.ones(1, bool)))
    for _ in range(10_000):
        if not pending or not len(objs):
            break
        ptrs = np.concatenate([p for p, _ in pending])
        pprec = np.concatenate([c for _, c in pending])
        pending = []
        oi = np.searchsorted(starts, ptrs, side="right").astype(np.int64) - 1
        hit = (oi >= 0) & (ptrs < ends[np.maximum(oi, 0)])
        oi, pprec = oi[hit], pprec[hit]
        oi_p = np.unique(oi[pprec])
        oi_p = oi_p[~scanned[oi_p]]
        if len(oi_p):
            take, precise = oi_p, True
            rest = ~pprec  # conservative pointers wait until no precise ones are left
            if rest.any():
                pending.append((starts[oi[rest]], np.zeros(int(rest.sum()), bool)))
        else:
            take = np.unique(oi)
            take, precise = take[~scanned[take]], False
        if not len(take):
            continue
        scanned[take] = True
        for t in take:  # live stack objects of one goroutine (a few)
            addr, size, mask, fi = objs[int(t)]
            # conservatively reached objects are still limited to their type's pointer
            # words (scanConservative with the gcdata mask); only the fake reflect
            # RegArgs object (mask None) is scanned whole
            slots = _range(addr, addr + size) if mask is None else U64(addr) + mask.astype(U64)
            is_prec = precise and mask is not None
            v = emit(slots, np.full(len(slots), fi, np.int32), np.full(len(slots), OBJECT, np.uint8),
                     np.full(len(slots), is_prec, bool))
            sp_ = (v >= U64(lo)) & (v < U64(hi))
            if sp_.any():
                pending.append((v[sp_], np.full(int(sp_.sum()), is_prec, bool)))
    if scan.direct:
        n = len(scan.direct)
        out_slot.append(np.zeros(n, U64))
        out_val.append(np.array(scan.direct, U64))
        out_frame.append(np.full(n, -1, np.int32))
        out_area.append(np.full(n, DEFER, np.uint8))
        out_prec.append(np.ones(n, bool))
    if g.status == "running" and g.physical and g.physical[0].trap and g.thread in ctx.threads:
        th = ctx.threads[g.thread]
        if lo <= th.sp < hi:  # the thread's registers are the goroutine's
            regs = np.array([th.regs.get(r, 0) for r in _GP_REGS], U64)
            out_slot.append(np.zeros(len(regs), U64))
            out_val.append(regs)
            out_frame.append(np.full(len(regs), -1, np.int32))
            out_area.append(np.full(len(regs), REGISTER, np.uint8))
            out_prec.append(np.zeros(len(regs), bool))
    if not out_slot:
        return None
    return (np.concatenate(out_slot), np.concatenate(out_val), np.concatenate(out_frame),
            np.concatenate(out_area), np.concatenate(out_prec))


# ---- public API ----

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def stack_root_table(gp) -> StackRootTable:
    """Return every goroutine's stack roots that hit heap objects, as arrays (cached per gp)."""
    hit = _CACHE.get(gp)
    if hit is not None:
        return hit
    heap = heap_of(gp)
    ctx = _Ctx(gp)
    frames: list = []
    goids: list = []
    parts = []
    for g in gp.goroutines:
        if g.status == "dead":
            continue
        problems: list[str] = []
        try:
            r = _goroutine_roots(ctx, g, frames, problems)
        except UnmappedAddress as e:
            problems.append(str(e))
            r = None
        if problems:
            gp.process.warn(f"stack roots of goroutine {g.id} are partial: {problems[0]}"
                            + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""))
        if r is None:
            continue
        slot, val, frame, area, prec = r
        gi = len(goids)
        goids.append(g.id)
        parts.append((slot, val, frame, area, prec, np.full(len(slot), gi, np.int32)))
    if parts:
        slot, val, frame, area, prec, goro = (np.concatenate([p[k] for p in parts]) for k in range(6))
    else:
        slot = val = np.zeros(0, U64)
        frame = goro = np.zeros(0, np.int32)
        area, prec = np.zeros(0, np.uint8), np.zeros(0, bool)
    obj = heap.find(val)
    keep = obj >= 0
    t = StackRootTable(val[keep], slot[keep], obj[keep], frame[keep].astype(np.int32),
                       goro[keep], area[keep], prec[keep], frames, goids)
    _CACHE[gp] = t
    return t


def stack_roots(gp) -> list[StackRoot]:
    """Return the stack roots of every goroutine, one StackRoot per word hitting the heap."""
    t = stack_root_table(gp)
    return [t.row(i) for i in range(len(t))]


def extra_roots(gp) -> list[tuple[int, str]]:
    """Return the stack roots as ``(pointer, description)`` for ``collect_roots``/``reach_of``."""
    return [(r.ptr, str(r)) for r in stack_roots(gp)]
