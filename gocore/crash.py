"""The crash as data: the panic chain, the signal that caused it, who crashed, a signature.

What the runtime prints when a Go program dies (runtime/panic.go ``printpanics``,
``dopanic_m``) is read back from the state it leaves: the crashing goroutine's ``g._panic``
chain (each ``_panic.arg`` an ``any``; ``preprintpanics`` has already replaced error and
Stringer values by their ``Error()``/``String()`` text before the first line is printed),
and the signal a fault panicked with (``g.sig``, ``g.sigcode0`` = the code, ``g.sigcode1`` =
the fault address, ``g.sigpc``), which ``sighandler`` stores before it arranges
``sigpanic``. The signature is the crashing goroutine's innermost frames outside package
runtime, by function name only: equal across runs and address-space layouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core import UnmappedAddress

from .errors import GoCoreError

if TYPE_CHECKING:
    from .goroutines.goroutines import Frame, Goroutine
    from .process import GoProcess

SIGNATURE_FRAMES = 5       # how many frames a crash signature keeps
MAX_PANICS = 64            # a damaged chain must not loop forever
MAX_PANIC_TEXT = 1 << 16   # the most of a panic string read (a damaged length is not a reason to read GBs)

# runtime/sigtab_linux_generic.go: the runtime's own names of the signals (what it prints
# after "[signal "), for the ones that kill or panic a Go program.
SIGNAL_NAMES = {
    1: "SIGHUP: terminal line hangup", 2: "SIGINT: interrupt", 3: "SIGQUIT: quit",
    4: "SIGILL: illegal instruction", 5: "SIGTRAP: trace trap", 6: "SIGABRT: abort",
    7: "SIGBUS: bus error", 8: "SIGFPE: floating-point exception", 9: "SIGKILL: kill",
    11: "SIGSEGV: segmentation violation", 13: "SIGPIPE: write to broken pipe",
    15: "SIGTERM: termination", 16: "SIGSTKFLT: stack fault", 24: "SIGXCPU: cpu limit exceeded",
    25: "SIGXFSZ: file size limit exceeded", 31: "SIGSYS: bad system call",
}

# Kinds of runtime type descriptors (internal/abi.Kind) printpanicval prints by value.
_INT_KINDS = {2: (8, True), 3: (1, True), 4: (2, True), 5: (4, True), 6: (8, True),
              7: (8, False), 8: (1, False), 9: (2, False), 10: (4, False), 11: (8, False),
              12: (8, False)}
_BOOL, _STRING = 1, 24


@dataclass(frozen=True)
class PanicValue:
    """One panic of a goroutine's chain: its value's Go type and the text the runtime prints
    for it after ``panic: `` (``None`` when the value could not be read)."""

    type_name: str | None      # the value's dynamic type, as the runtime spells it ("string")
    text: str | None           # e.g. "heapkeeper fixture panic"
    recovered: bool = False
    repanicked: bool = False
    address: int = 0           # where the runtime's _panic record is


@dataclass(frozen=True)
class SignalInfo:
    """The signal a goroutine faulted with, as ``[signal ...]`` shows it."""

    number: int
    name: str                  # "SIGSEGV"
    description: str           # "SIGSEGV: segmentation violation" (the runtime's own text)
    code: int
    fault_address: int
    pc: int


@dataclass(frozen=True)
class FrameOffset:
    """A frame of a goroutine with the offset of its pc in its function (Go's ``+0x...``;
    None for an inlined call, which the traceback prints without one)."""

    function: str
    file: str
    line: int
    pc: int
    offset: int | None
    inlined: bool


@dataclass(frozen=True)
class GoroutineGroup:
    """Goroutines with the same status, wait reason and functions on the stack."""

    count: int
    ids: list[int]
    status: str
    wait_reason: str | None
    functions: list[str]       # innermost first


@dataclass
class Crash:
    """How the process died, as far as the dump tells (``GoProcess.crash()``)."""

    panics: list[PanicValue]               # oldest first: the order the runtime prints them
    signal: SignalInfo | None              # the fault a panic came from (g.sig), else None
    fatal_signal: int | None               # the signal the dump was written for (cursig; 0 for gcore)
    goroutine: int | None                  # id of the goroutine that panicked or faulted
    thread: int | None                     # tid of the thread it ran on, else the dump's crashing thread
    frames: list[FrameOffset] = field(default_factory=list)   # the crashing goroutine's stack
    signature: list[str] | None = None     # innermost non-runtime function names, at most SIGNATURE_FRAMES
    partial: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def panicked(self) -> bool:
        """Return whether the process died of a panic."""
        return bool(self.panics)

    @property
    def message(self) -> str | None:
        """Return the first printed panic's value text (the runtime's first line after
        ``panic: ``), or None without a panic."""
        return self.panics[0].text if self.panics else None


def signal_name(number: int | None) -> str | None:
    """Return the runtime's short name of signal ``number`` ("SIGSEGV"), or None."""
    if not number:
        return None
    desc = SIGNAL_NAMES.get(number)
    return desc.split(":", 1)[0] if desc else f"signal {number}"


def frame_offsets(frames: list[Frame]) -> list[FrameOffset]:
    """Return ``frames`` with the offset of each machine frame's pc in its function."""
    return [FrameOffset(f.func, f.file, f.line, f.pc, f.offset, f.inlined) for f in frames]


def signature(frames: list[Frame], n: int = SIGNATURE_FRAMES) -> list[str]:
    """Return the innermost ``n`` function names of ``frames`` outside package runtime
    (``panic`` is ``runtime.gopanic``), inlined calls included."""
    out = []
    for f in frames:
        if f.func == "panic" or f.func.startswith("runtime."):
            continue
        out.append(f.func)
        if len(out) == n:
            break
    return out


def goroutine_groups(goroutines: list[Goroutine]) -> list[GoroutineGroup]:
    """Return the goroutines grouped by status, wait reason and the functions on their
    stacks (not lines: replicas of one program group alike), largest group first."""
    by_key: dict[tuple, list[Goroutine]] = {}
    for g in goroutines:
        key = (g.status, g.wait_reason, tuple(f.func for f in g.frames))
        by_key.setdefault(key, []).append(g)
    groups = [GoroutineGroup(len(gs), [g.id for g in gs], k[0], k[1], list(k[2]))
              for k, gs in by_key.items()]
    groups.sort(key=lambda x: (-x.count, x.ids[0]))
    return groups


class _Reader:
    """Reads the runtime's panic records of one process (offsets resolved once)."""

    def __init__(self, gp: GoProcess):
        self.gp = gp
        self.proc = gp.process
        self.L = gp.layout

    def g_word(self, gaddr: int, name: str) -> int | None:
        if not self.L.has("runtime.g", name):
            return None
        return self.proc.read_uint(gaddr + self.L.offset("runtime.g", name),
                                   self.L.field_size("runtime.g", name))

    def panics(self, first: int) -> tuple[list[PanicValue], list[str]]:
        """Return the chain from ``_panic`` record ``first``, oldest first, as printpanics
        prints it, and the problems met on the way."""
        L, proc = self.L, self.proc
        chain: list[tuple[int, int, int, bool, bool, bool]] = []
        problems: list[str] = []
        p, seen = first, set()
        while p and p not in seen and len(chain) < MAX_PANICS:
            seen.add(p)
            try:
                arg = p + L.offset("runtime._panic", "arg")
                typ, data = proc.read_ptr(arg), proc.read_ptr(arg + proc.ptr_size)
                recovered = bool(proc.read_uint(p + L.offset("runtime._panic", "recovered"), 1))
                goexit = bool(proc.read_uint(p + L.offset("runtime._panic", "goexit"), 1))
                repanicked = bool(self._optional_byte(p, "repanicked"))
                link = proc.read_ptr(p + L.offset("runtime._panic", "link"))
            except UnmappedAddress as e:
                problems.append(f"panic record at {p:#x} is not in the dump ({e.reason})")
                break
            chain.append((p, typ, data, recovered, goexit, repanicked))
            p = link
        out: list[PanicValue] = []
        # printpanics: from the oldest; it stops after a repanicked one, skips Goexit records
        for addr, typ, data, recovered, goexit, repanicked in reversed(chain):
            if not goexit:
                type_name, text = self.value(typ, data, problems)
                out.append(PanicValue(type_name, text, recovered, repanicked, addr))
            if repanicked:
                break
        return out, problems

    def _optional_byte(self, p: int, name: str) -> int:
        if not self.L.has("runtime._panic", name):
            return 0
        return self.proc.read_uint(p + self.L.offset("runtime._panic", name), 1)

    def value(self, typ: int, data: int, problems: list[str]) -> tuple[str | None, str | None]:
        """Return (type name, printed text) of the ``any`` (``typ``, ``data``) as
        ``printpanicval`` prints it."""
        if not typ:
            return None, "nil"
        from .binary.rtype import runtime_types
        rt = runtime_types(self.gp).try_get(typ)
        if rt is None:
            problems.append(f"panic value's type descriptor at {typ:#x} is unreadable")
            return None, None
        try:
            text = self._text(rt, data)
        except UnmappedAddress as e:
            problems.append(f"panic value of type {rt.name} at {data:#x} is not in the dump ({e.reason})")
            return rt.name, None
        return rt.name, text

    def _text(self, rt, data: int) -> str:
        proc = self.proc
        basic = "." not in rt.name   # printpanicval's own cases: the predeclared types
        if rt.kind == _STRING:
            ptr, n = proc.read_ptr(data), proc.read_ptr(data + proc.ptr_size)
            s = proc.read(ptr, min(n, MAX_PANIC_TEXT)).decode("utf-8", "replace") if n else ""
            s = s.replace("\n", "\n\t")     # printindented
            return s if basic else f'{rt.name}("{s}")'
        if rt.kind in _INT_KINDS or rt.kind == _BOOL:
            size, signed = _INT_KINDS.get(rt.kind, (1, False))
            # a value of a word or less sits in the data word itself only for pointer
            # shapes; for these kinds the data word points at it
            raw = int.from_bytes(proc.read(data, size), proc.byte_order, signed=signed)
            v = ("true" if raw else "false") if rt.kind == _BOOL else str(raw)
            return v if basic else f"{rt.name}({v})"
        # what printanycustomtype prints for every other type: its name and the data word
        return f"({rt.name}) {data:#x}"

    def signal(self, gaddr: int) -> SignalInfo | None:
        sig = self.g_word(gaddr, "sig")
        if not sig:
            return None
        desc = SIGNAL_NAMES.get(sig, f"signal {sig}")
        return SignalInfo(sig, signal_name(sig), desc, self.g_word(gaddr, "sigcode0") or 0,
                          self.g_word(gaddr, "sigcode1") or 0, self.g_word(gaddr, "sigpc") or 0)


def read_crash(gp: GoProcess) -> Crash:
    """Return how the process died: the panicking or faulting goroutine (the one whose
    ``g._panic`` or ``g.sig`` is set; the crashing thread's when several are), its panic
    chain and signal, frames with pc offsets and signature; every field empty for a dump
    of a live process (gcore) or of one killed by a signal (SIGQUIT)."""
    proc = gp.process
    reader = _Reader(gp)
    crash_thread = gp.crash_thread()
    fatal = crash_thread.signal if crash_thread is not None else proc.signal
    candidates: list[tuple[Goroutine, int, SignalInfo | None]] = []
    problems: list[str] = []
    for g in gp.goroutines():
        try:
            first = reader.g_word(g.address, "_panic") or 0
            sig = reader.signal(g.address)
        except UnmappedAddress as e:
            problems.append(f"goroutine {g.id}: its g is not in the dump ({e.reason})")
            continue
        except GoCoreError as e:  # a layout without the fields: say so once
            problems.append(str(e))
            break
        if first or sig is not None:
            candidates.append((g, first, sig))
    if not candidates:
        return Crash([], None, fatal, None, crash_thread.tid if crash_thread else None,
                     partial=bool(problems), problems=problems)
    # the goroutine on the crashing thread died; another with a live panic record only
    # panicked too (several can be panicking at once)
    tid = crash_thread.tid if crash_thread is not None else None
    candidates.sort(key=lambda c: (c[0].thread != tid, not c[1], c[0].id))
    g, first, sig = candidates[0]
    panics, more = reader.panics(first) if first else ([], [])
    problems += more
    for p in problems:
        proc.warn(f"crash: {p}")
    return Crash(panics=panics, signal=sig, fatal_signal=fatal, goroutine=g.id,
                 thread=g.thread if g.thread is not None else tid,
                 frames=frame_offsets(g.frames), signature=signature(g.frames),
                 partial=bool(problems) or g.partial, problems=problems)
