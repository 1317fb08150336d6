"""Goroutines from ``runtime.allgs``: status, wait reason, creator, and unwound stacks.

Stacks are unwound the way the runtime's own traceback does (runtime/traceback.go): the
frame size of each function at its pc comes from the pclntab's pcsp table, the return
address sits just below the caller's SP (amd64) or at the lowest word of the callee's own
frame, 0(RSP), on link-register machines (arm64: ``archfacts.ArchFacts``), inlined calls
are expanded from the inline tree, and unwinding stops at a top frame (goexit, mstart, rt0_go). A goroutine
whose stack cannot be read is returned with what could be read and ``partial`` set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from core import UnmappedAddress

from ..binary.archfacts import arch_facts
from ..errors import BadRuntimeData
from ..generated.waitreasons import WAIT_REASONS

if TYPE_CHECKING:
    from core import Thread

    from ..process import GoProcess
    from ..values import Value

# runtime/runtime2.go: goroutine status values; _Gscan is or-ed in while the GC scans.
STATUS_NAMES = {0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting",
                5: "moribund", 6: "dead", 7: "enqueue", 8: "copystack", 9: "preempted",
                10: "leaked", 11: "deadextra"}
G_SCAN = 0x1000
G_DEAD = 6
G_DEADEXTRA = 11  # go1.27: a dead g kept for an extra M's cgo callbacks (traceback skips it)
G_SYSCALL = 3
MAX_FRAMES = 1000  # a corrupt stack must not loop forever

# Functions whose goroutines are the user's even though they live in package runtime
# (runtime/traceback.go: isSystemGoroutine).
_USER_RUNTIME_STARTS = {"runtime.main", "runtime.handleAsyncEvent", "runtime.corostart"}
# Calls the runtime injects into a goroutine's stack: the frame below them was stopped
# by a trap, so its pc is not a return address (unwinder.symPC / unwindTrap).
_INJECTED = {"runtime.sigpanic", "runtime.asyncPreempt", "runtime.debugCallV2"}


@dataclass(slots=True)
class Frame:
    """One frame as the runtime's traceback prints it (inlined calls are frames too).

    ``func`` (also ``function``) is the printed name, ``pc`` and ``sp`` run-time addresses;
    ``fp`` is the machine frame's CFA (the runtime's ``frame.fp``: sp plus the frame size,
    plus the pushed return address on amd64) and ``trap`` says the frame
    was stopped by a trap (its pc is not a return address). ``offset`` is the pc's offset
    from its function's entry, the ``+0x…`` the traceback prints after file:line; None for
    an inlined call's frame, which it prints without one.
    """

    func: str
    file: str
    line: int
    pc: int
    sp: int
    inlined: bool = False
    fp: int = 0
    trap: bool = False
    offset: int | None = None
    _gp: GoProcess | None = field(default=None, repr=False, compare=False)
    _locals: dict | None = field(default=None, repr=False, compare=False)

    @property
    def function(self) -> str:
        """Return the function's name as the traceback prints it (``main.handle``)."""
        return self.func

    @property
    def locals(self) -> dict[str, Value]:
        """Return the frame's arguments and locals live at ``pc``, by name, as Values (DWARF
        locations; empty without DWARF, and for an inlined call's frame: its variables are
        the enclosing machine frame's). Read on first access."""
        if self._locals is None:
            from ..frames import frame_locals
            self._locals = frame_locals(self._gp, self) if self._gp is not None else {}
        return self._locals


class PhysicalFrame(NamedTuple):
    """One machine frame: ``sp`` is its lowest address, ``fp`` its CFA (``frame.fp``).

    ``trap`` says the frame was stopped by a trap (its pc is not a return address), which
    the runtime's stack maps care about: they are looked up at ``pc`` then, not ``pc-1``.
    """

    pc: int
    sp: int
    fp: int
    func: str
    trap: bool


@dataclass
class Goroutine:
    """One goroutine of ``runtime.allgs``."""

    id: int
    address: int
    status: str
    scanning: bool
    wait_reason: str | None
    wait_since: int | None
    stack_lo: int
    stack_hi: int
    thread: int | None
    system: bool
    start_func: str | None
    created_by: str | None
    creator_id: int | None
    created_file: str | None
    created_line: int | None
    frames: list[Frame] = field(default_factory=list)
    physical: list[PhysicalFrame] = field(default_factory=list)
    partial: bool = False
    problem: str | None = None


def print_name(name: str) -> str:
    """Return ``name`` as the runtime's traceback prints it.

    ``runtime.gopanic`` prints as ``panic``; a generic function's type arguments (from the
    first ``[`` to the last ``]``) print as ``[...]`` (runtime funcNamePiecesForPrint).
    """
    if name == "runtime.gopanic":
        return "panic"
    i, j = name.find("["), name.rfind("]")
    if 0 <= i < j:
        return name[:i] + "[...]" + name[j + 1:]
    return name


class _G:
    """Field reader over one g's bytes; offsets resolved once per process (``fields``)."""

    __slots__ = ("fields", "raw", "order")

    def __init__(self, fields: dict[str, tuple[int, int]], raw: bytes, order: str):
        self.fields = fields
        self.raw = raw
        self.order = order  # the process's byte order

    def u(self, path: str, default: int | None = None) -> int | None:
        loc = self.fields.get(path)
        if loc is None:
            return default
        off, size = loc
        return int.from_bytes(self.raw[off:off + size], self.order)


G_FIELDS = ("goid", "atomicstatus", "waitreason", "waitsince", "stack.lo", "stack.hi", "sched.sp",
            "sched.pc", "sched.lr", "syscallsp", "syscallpc", "m", "gopc", "startpc", "parentGoid")


def _g_fields(layout) -> dict[str, tuple[int, int]]:
    return {p: (layout.offset("runtime.g", p), layout.field_size("runtime.g", p))
            for p in G_FIELDS if layout.has("runtime.g", p)}


def read_goroutines(gp: GoProcess) -> list[Goroutine]:
    """Return every goroutine in ``runtime.allgs`` that is not dead, in allgs order."""
    proc, layout = gp.process, gp.layout
    allgs = gp.global_address("runtime.allgs")
    if allgs is None:
        proc.warn("cannot find runtime.allgs: goroutines are not listed")
        return []
    try:
        ptr, length = proc.read_ptr(allgs), proc.read_ptr(allgs + proc.ptr_size)  # []*g
    except UnmappedAddress as e:
        raise BadRuntimeData(f"runtime.allgs is unreadable ({e.reason})", allgs) from e
    length = _allgs_length(gp, ptr, length)
    try:
        gptrs = proc.array(ptr, length).tolist() if length else []
    except UnmappedAddress as e:
        raise BadRuntimeData(f"the array of runtime.allgs is unreadable ({e.reason})", ptr) from e
    gsize = layout.size("runtime.g")
    fields = _g_fields(layout)
    threads_by_m = _threads_by_m(gp)
    unwinder = Unwinder(gp)
    reasons = _wait_reasons(gp)
    out = []
    for gaddr in gptrs:
        try:
            raw = proc.read(gaddr, gsize)
        except UnmappedAddress:
            proc.warn(f"goroutine at {gaddr:#x} is not in the dump")
            continue
        g = _G(fields, raw, proc.byte_order)
        status = g.u("atomicstatus")
        if status & ~G_SCAN in (G_DEAD, G_DEADEXTRA):
            continue
        out.append(_goroutine(gp, g, gaddr, status, reasons, threads_by_m, unwinder))
    return out


def _allgs_length(gp: GoProcess, ptr: int, length: int) -> int:
    """Return how many entries of ``allgs`` to read: its length, checked against
    ``runtime.allglen`` (allgadd stores both together, under allglock) and bounded by the
    bytes the dump holds at ``ptr``, so a garbage length never drives an allocation."""
    proc = gp.process
    glen_addr = gp.global_address("runtime.allglen")
    try:
        allglen = proc.read_ptr(glen_addr) if glen_addr is not None else None  # a uintptr
    except UnmappedAddress:
        allglen = None
    if allglen is not None and allglen != length:
        # one of the two is damaged: the smaller cannot read past the real array
        proc.warn(f"goroutines: runtime.allgs has {length} entries but runtime.allglen says "
                  f"{allglen}; reading {min(length, allglen)}")
        length = min(length, allglen)
    if not length:
        return 0
    have = 0
    for seg in proc.memory.segments_in(ptr, ptr + proc.ptr_size * length):
        if not seg.present or seg.start > ptr + have:
            break
        have = seg.end - ptr
    have //= proc.ptr_size
    if have == 0:
        return length          # nothing readable: the read names why, allocating nothing
    if have < length:
        proc.warn(f"goroutines: runtime.allgs claims {length} entries but the dump holds "
                  f"{have} at {ptr:#x}; reading {have}")
    return min(length, have)


def _goroutine(gp: GoProcess, g: _G, gaddr: int, status: int, reasons, threads_by_m, unwinder) -> Goroutine:
    base = status & ~G_SCAN
    name = STATUS_NAMES.get(base, f"status {base}")
    reason_code = g.u("waitreason", 0)
    reason = None
    if name == "waiting":
        reason = reasons[reason_code] if reason_code < len(reasons) else f"waitReason {reason_code}"
        reason = reason or None
    start = unwinder.func_at(g.u("startpc", 0))
    creator, created_file, created_line = unwinder.creator(g.u("gopc", 0))
    m = g.u("m", 0)
    thread = threads_by_m.get(m)
    gor = Goroutine(
        id=g.u("goid"), address=gaddr, status=name, scanning=bool(status & G_SCAN),
        wait_reason=reason, wait_since=g.u("waitsince") or None,
        stack_lo=g.u("stack.lo"), stack_hi=g.u("stack.hi"),
        thread=thread.tid if thread is not None else None,
        system=_is_system(start),
        start_func=start,
        created_by=creator if g.u("goid") != 1 else None,
        creator_id=g.u("parentGoid") if g.u("goid") != 1 else None,
        created_file=created_file, created_line=created_line)
    pc, sp, lr, trap = _start_registers(g, base, thread, gor, unwinder)
    if pc:
        gor.frames, gor.physical, gor.problem = unwinder.unwind(pc, sp, gor.stack_lo, gor.stack_hi,
                                                                trap=trap, lr=lr)
        gor.partial = gor.problem is not None
        if gor.partial:
            gp.process.warn(f"goroutine {gor.id}: {gor.problem}")
    return gor


def _start_registers(g: _G, status: int, thread, gor: Goroutine,
                     unwinder) -> tuple[int, int, int, bool]:
    """Return (pc, sp, lr, trapped) to start unwinding ``g`` from, as the runtime's traceback
    does (``unwinder.initAt``); ``lr`` is the link register (0 where there is none)."""
    if status == G_SYSCALL and g.u("syscallsp"):
        return g.u("syscallpc"), g.u("syscallsp"), 0, False
    sp = g.u("sched.sp")
    if sp:
        return g.u("sched.pc"), sp, g.u("sched.lr", 0), False
    if thread is None:
        return 0, 0, 0, False
    if gor.stack_lo <= thread.sp < gor.stack_hi:
        # Running on its own stack: the thread's registers are the goroutine's.
        return thread.pc, thread.sp, unwinder.link_register(thread), True
    # The thread is in a signal handler on its signal stack (a crash): the goroutine's
    # registers are in the signal's ucontext.
    ctx = unwinder.signal_context(thread.pc, thread.sp, unwinder.link_register(thread))
    if ctx is not None and gor.stack_lo <= ctx[1] < gor.stack_hi:
        return ctx[0], ctx[1], ctx[2], True
    return 0, 0, 0, False


WINDOWS_G_SLOT = 0x28  # TEB.ArbitraryUserPointer: where Go before 1.20 kept g on windows/amd64


def current_g(gp: GoProcess, thread: Thread) -> int | None:
    """Return the g a thread was running (its TLS slot), or None if it cannot be read.

    linux/amd64: the word just below the thread pointer (fs_base - 8). windows/amd64: a TEB
    slot holds the address of the M's ``tls`` array, whose first word is g; the slot's
    offset is what the runtime stored in ``runtime.tls_g`` at startup (Go 1.20+), else the
    TEB's ArbitraryUserPointer. linux/arm64: register R28, Go's g register (TPIDR_EL0 holds
    g only in cgo builds, and qemu-user writes no NT_ARM_TLS); R28 is trusted only when
    its g's M names it back as its g0, curg or gsignal, since C code may use R28 freely.
    The answer may be an M's g0 or gsignal.
    """
    proc = gp.process
    reg = arch_facts(proc.goarch).g_register
    if reg is not None:
        return _g_named_by_its_m(gp, thread.regs.get(reg, 0))
    base = thread.tls_base
    if not base:
        return None
    try:
        if proc.goos == "windows":
            tls_g = gp.global_address("runtime.tls_g")
            offset = proc.read_ptr(tls_g) if tls_g is not None else WINDOWS_G_SLOT
            m_tls = proc.read_ptr(base + offset)
            return proc.read_ptr(m_tls) if m_tls else None
        return proc.read_ptr(base - proc.ptr_size)
    except UnmappedAddress:
        return None


def _g_named_by_its_m(gp: GoProcess, g: int) -> int | None:
    """Return ``g`` when ``g.m`` is an M whose g0, curg or gsignal is ``g``, else None."""
    if not g:
        return None
    proc, layout = gp.process, gp.layout
    try:
        m = proc.read_ptr(g + layout.offset("runtime.g", "m"))
        if m and any(layout.has("runtime.m", f) and proc.read_ptr(m + layout.offset("runtime.m", f)) == g
                     for f in ("g0", "curg", "gsignal")):
            return g
    except UnmappedAddress:
        pass
    return None


def _is_system(start: str | None) -> bool:
    if start is None:
        return False
    return start.startswith("runtime.") and start not in _USER_RUNTIME_STARTS


def _threads_by_m(gp: GoProcess) -> dict[int, object]:
    """Return {m address: Thread}: from each thread's g in TLS (g.m), else m.procid == tid."""
    proc, layout = gp.process, gp.layout
    out = {}
    m_off = layout.offset("runtime.g", "m")
    for t in proc.threads:
        g = current_g(gp, t)
        try:
            m = proc.read_ptr(g + m_off) if g else 0
        except UnmappedAddress:
            m = 0
        if m:
            out[m] = t
    missing = {t.tid: t for t in proc.threads if t not in out.values()}
    allm = gp.global_address("runtime.allm")
    if not missing or allm is None:
        return out
    try:
        m = proc.read_ptr(allm)
        seen = set()
        while m and m not in seen and len(seen) < 100_000:
            seen.add(m)
            tid = proc.read_uint(m + layout.offset("runtime.m", "procid"),
                                 layout.field_size("runtime.m", "procid"))
            if tid in missing and m not in out:
                out[m] = missing[tid]
            m = proc.read_ptr(m + layout.offset("runtime.m", "alllink"))
    except UnmappedAddress as e:
        proc.warn(f"runtime.allm list is not fully in the dump: {e}")
    return out


def _wait_reasons(gp: GoProcess) -> tuple[str, ...]:
    """Return this runtime's waitReason strings: its own ``runtime.waitReasonStrings`` when
    DWARF or the symbol table locates it, else the table generated from the GOROOT of its
    release (the nearest older one, with a warning, for a release without a table)."""
    from ..binary.buildinfo import read_string_array
    from ..binary.facts import nearest_release, newest_release
    from ..binary.goversion import parse_go_version
    name = "runtime.waitReasonStrings"
    exe = gp.process.exe
    where = None
    if gp.dwarf is not None and name in gp.dwarf.globals:
        g = gp.dwarf.globals[name]
        where = (g.addr, g.size)
    elif exe is not None and name in exe.symbols:
        where = exe.symbols[name]
    if where is not None:
        ptr = gp.process.ptr_size
        got = read_string_array(exe, where[0], where[1] // (2 * ptr), ptr)
        if got is not None:
            return tuple(got)
    version = parse_go_version(gp.go_version)
    release = version.release if version is not None else None
    if release in WAIT_REASONS:
        return WAIT_REASONS[release]
    # a release older than every table, or none at all, is read as the newest known one
    chosen = (nearest_release(version, WAIT_REASONS) if version is not None else None) \
        or newest_release(WAIT_REASONS)
    gp.process.warn(f"no wait reason table for Go {release or '?'}; using Go {chosen}'s")
    return WAIT_REASONS[chosen]


class Unwinder:
    """Walks goroutine stacks with the pclntab; caches per-pc lookups across goroutines."""

    def __init__(self, gp: GoProcess):
        self.gp = gp
        self.proc = gp.process
        self.tab = gp.pclntab
        self.bias = gp.process.exe_bias
        self.word = gp.process.ptr_size  # the return address's size, pushed by CALL
        self.arch = arch_facts(gp.process.goarch)
        self._frames: dict[tuple[int, bool], tuple] = {}
        self._funcs: dict[int, str | None] = {}
        self._creators: dict[int, tuple] = {}

    def func_at(self, pc: int) -> str | None:
        """Return the name of the function holding run-time ``pc`` (0 → None), cached."""
        if not pc:
            return None
        if pc not in self._funcs:
            f = self.tab.find_func(pc - self.bias)
            self._funcs[pc] = f.name if f is not None else None
        return self._funcs[pc]

    def creator(self, gopc: int) -> tuple[str | None, str | None, int | None]:
        """Return (function, file, line) of the ``go`` statement at ``gopc``, cached."""
        if not gopc:
            return None, None, None
        hit = self._creators.get(gopc)
        if hit is None:
            link = gopc - self.bias
            f = self.tab.find_func(link)
            hit = (None, None, None) if f is None else (
                print_name(f.name), *f.file_line(self.tab.sym_pc(link, f.entry)))
            self._creators[gopc] = hit
        return hit

    def _lookup(self, pc: int, trap: bool):
        """Return (func, frame size, logical frames) for run-time ``pc``, cached."""
        key = (pc, trap)
        hit = self._frames.get(key)
        if hit is None:
            link = pc - self.bias
            f = self.tab.find_func(link)
            if f is None:
                hit = (None, -1, [])
            else:
                spd = f.sp_delta(link)
                sym = self.tab.sym_pc(link, f.entry, innermost_trap=trap)
                hit = (f, spd, f.inlined_frames(sym))
            self._frames[key] = hit
        return hit

    def link_register(self, thread) -> int:
        """Return the thread's link register (arm64 x30), 0 on machines without one."""
        return thread.regs.get("x30", 0) if self.arch.uses_lr else 0

    def _return_address(self, sp: int, fp: int, lr: int, innermost: bool) -> int:
        """Return the frame's return address as ``unwinder.resolveInternal`` derives it:
        pushed just below the CFA (amd64), or the link register saved at 0(RSP) once the
        frame exists, else still in the register (arm64). Raises UnmappedAddress."""
        if not self.arch.uses_lr:
            return self.proc.read_ptr(fp - self.word)
        if (innermost and sp < fp) or lr == 0:
            return self.proc.read_ptr(sp)
        return lr

    def signal_context(self, pc: int, sp: int, lr: int = 0) -> tuple[int, int, int] | None:
        """Return (pc, sp, lr) saved by the kernel for the signal being handled at (pc, sp),
        or None; lr is 0 on machines without a link register.

        Walks up to ``runtime.sigtramp``, whose frame top is the handler's first SP; the
        kernel's rt_sigframe lies there (its layout: ``ArchFacts.sigframe_*``).
        """
        arch = self.arch
        for i in range(64):
            f, spd, _logical = self._lookup(pc, False)
            if f is None or spd < 0:
                return None
            frame_top = sp + spd
            try:
                if f.name == "runtime.sigtramp":
                    saved_lr = arch.sigframe_lr
                    return (self.proc.read_ptr(frame_top + arch.sigframe_pc),
                            self.proc.read_ptr(frame_top + arch.sigframe_sp),
                            self.proc.read_ptr(frame_top + saved_lr) if saved_lr is not None else 0)
                fp = frame_top + (0 if arch.uses_lr else self.word)
                pc = self._return_address(sp, fp, lr, i == 0)
            except UnmappedAddress:
                return None
            sp, lr = fp, 0
        return None

    def unwind(self, pc: int, sp: int, lo: int, hi: int, *, trap: bool = False,
               lr: int = 0) -> tuple[list[Frame], list[PhysicalFrame], str | None]:
        """Return (logical frames, machine frames, problem or None) from (pc, sp) outward;
        ``lr`` is the link register at the start (arm64; 0: none)."""
        arch = self.arch
        pushed = 0 if arch.uses_lr else self.word  # the return address CALL pushes (amd64)
        frames: list[Frame] = []
        physical: list[PhysicalFrame] = []
        # a zero-copy view when the stack lies in one segment; else word by word (g.stack
        # comes from the dump: bounds spanning segments must not copy gigabytes)
        seg = self.proc.memory.find(lo) if 0 < hi - lo <= 1 << 30 else None
        stack = self.proc.view(lo, hi - lo) if seg is not None and seg.present and hi <= seg.end else None
        for n in range(MAX_FRAMES):
            f, spd, logical = self._lookup(pc, trap)
            if f is None:
                return frames, physical, f"pc {pc:#x} is not in any Go function"
            caller_sp = sp + spd + pushed if spd >= 0 else sp
            for i, lf in enumerate(logical):
                inlined = i < len(logical) - 1
                frames.append(Frame(print_name(lf.name), lf.file, lf.line, pc, sp,
                                    inlined=inlined, fp=caller_sp, trap=trap,
                                    offset=None if inlined else pc - self.bias - f.entry,
                                    _gp=self.gp))
            top = f.is_topframe or f.func_id_name in ("goexit", "mstart", "rt0_go")
            physical.append(PhysicalFrame(pc, sp, caller_sp, f.name, trap))
            if top:
                return frames, physical, None
            if spd < 0:
                return frames, physical, f"no frame size for {f.name} at {pc:#x}"
            if not lo <= caller_sp <= hi:
                return frames, physical, f"stack pointer {caller_sp:#x} left the stack [{lo:#x}, {hi:#x})"
            ra = caller_sp - self.word if pushed else sp  # where the return address is saved
            try:
                if not pushed and not ((n == 0 and sp < caller_sp) or lr == 0):
                    ret = lr  # a leaf without a frame: still in the link register
                elif stack is not None and lo <= ra and ra + self.word <= hi:
                    ret = int.from_bytes(stack[ra - lo: ra - lo + self.word], self.proc.byte_order)
                else:
                    ret = self.proc.read_ptr(ra)
            except UnmappedAddress:
                return frames, physical, f"stack at {ra:#x} is not in the dump"
            if ret == 0:
                return frames, physical, None
            trap = f.name in _INJECTED
            pc, sp, lr = ret, caller_sp, 0
            if trap and arch.uses_lr:
                pc, sp, lr = self._after_injected_call(pc, sp)
        return frames, physical, f"more than {MAX_FRAMES} frames"

    def _after_injected_call(self, pc: int, sp: int) -> tuple[int, int, int]:
        """Return (pc, sp, lr) of the frame a signal interrupted, below an injected call on a
        link-register machine: the handler saved that frame's LR at the injected call's CFA
        and bumped SP past it (``unwinder.next``: ``alignUp(sys.MinFrameSize, sys.StackAlign)``).
        Raises nothing: an unreadable word leaves the frame as it is."""
        arch = self.arch
        try:
            saved = self.proc.read_ptr(sp)
        except UnmappedAddress:
            return pc, sp, 0
        sp += -(-arch.min_frame_size // arch.stack_align) * arch.stack_align
        f, spd, _logical = self._lookup(pc, True)
        if f is None:
            return saved, sp, 0
        return pc, sp, saved if spd == 0 else 0
