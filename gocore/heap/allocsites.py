"""Types that the amd64 code states: at its allocation calls (closure contexts, package
variables) and at its calls taking a package variable (maps, pointer-method receivers).

The compiler passes the type descriptor of what it allocates to the allocation call:

* ``runtime.newobject(typ)``: ``LEAQ type(SB), AX; CALL runtime.newobject(SB)``
  (src/runtime/malloc.go ``newobject``; ABIInternal passes ``typ`` in AX);
* from Go 1.27 (``GOEXPERIMENT=sizespecializedmalloc``, on by default; up to 80 bytes):
  ``CALL runtime.mallocgcSmallScanNoHeaderSC<N>(size, typ, needzero)`` with ``typ`` in BX
  (cmd/compile/internal/ssagen/ssa.go ``newObject``, src/runtime/malloc_generated.go).

No-ops and moves of constants into the other argument registers may sit between the
type's LEAQ and the call. The result is in AX. Two uses are read from what follows:

* **closure contexts** (``closure_sites``): an escaping closure is a heap object of the
  compiler's struct ``struct { F uintptr; X0 T0; ... }`` (cmd/compile/internal/typecheck/
  func.go ``ClosureType``), allocated so, then the closure function's entry is stored in
  its word 0: ``LEAQ pkg.f.func1(SB), R; MOVQ R, 0(AX)`` right after the call (a spill
  ``MOVQ AX, off(SP)`` may come first). A closure function seen with two descriptors is
  not typed from code.
* **package variables** (``global_sites``): ``MOVQ AX, pkg.v(SB)`` after the call, every
  instruction between them one that leaves AX as it is (stores to memory, loads and
  constants into other registers, the write barrier's ``CMPL runtime.writeBarrier(SB), $0``,
  its conditional jump, its ``CALL runtime.gcWriteBarrier*``, which preserves every
  register, and its buffer stores). The word ``v`` then held a ``*T``. It is kept only
  when *every* instruction of the text that writes ``v`` by its address is such a store
  of the same T (a ``MOVQ $0`` storing nil aside), no instruction takes ``v``'s address
  (``LEAQ``; Go 1.19/1.21's write barrier ``LEAQ v(SB), DI; CALL runtime.gcWriteBarrier``
  aside) and no data word holds it: so no code the program has can have put another
  type there, short of writing through the address of an enclosing variable.

* **package variables by their uses** (``global_uses``): a variable loaded and passed as
  ``m`` to a map runtime function whose ``t`` is a ``LEAQ type(SB)``, or as the receiver
  of a direct call of ``pkg.(*T).M`` (see there).

The scan is numpy over the whole text (calls, stores and RIP-relative operands found by
their bytes); only the candidate sites are decoded one by one. Other architectures:
nothing is found.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from core.errors import Error

from ..memo import once_per

if TYPE_CHECKING:
    from ..process import GoProcess

log = logging.getLogger(__name__)

AX_ALLOCATORS = ("runtime.newobject",)
BX_ALLOCATOR_PREFIX = "runtime.mallocgcSmallScanNoHeaderSC"   # Go 1.27+: (size, typ, needzero)
WRITE_BARRIER_PREFIX = "runtime.gcWriteBarrier"
LEAQ_AX, LEAQ_BX = 0x05, 0x1D        # ModRM of LEAQ disp32(RIP) into AX / BX
MAX_BACK = 24                         # bytes between the type's LEAQ and the call, at most
MAX_TEXT = 1 << 30                    # a text larger than this is not read (bad moduledata)
MAX_TO_STORE = 256                    # bytes between an allocation call and the global's store
# Go's no-ops (cmd/internal/obj/x86 asm6.go ``nop``)
_NOPS = (b"\x90", b"\x66\x90", b"\x0f\x1f\x00", b"\x0f\x1f\x40\x00", b"\x0f\x1f\x44\x00\x00",
         b"\x66\x0f\x1f\x44\x00\x00", b"\x0f\x1f\x80\x00\x00\x00\x00",
         b"\x0f\x1f\x84\x00\x00\x00\x00\x00", b"\x66\x0f\x1f\x84\x00\x00\x00\x00\x00")


class _Text:
    """The module's text as bytes, with its allocation calls found."""

    def __init__(self, gp: GoProcess, raw: bytes):
        pt, md = gp.pclntab, gp.moduledata
        self.raw = raw
        self.t = np.frombuffer(raw, dtype=np.uint8)
        self.base = int(md.text)                   # link-time address of raw[0]
        self.bias = gp.process.exe_bias
        self.allocators: dict[int, int] = {}       # entry -> ModRM of the type's LEAQ
        for name in AX_ALLOCATORS:
            f = pt.lookup(name)
            if f is not None:
                self.allocators[f.entry] = LEAQ_AX
        self.barriers: set[int] = set()
        for i, name in enumerate(pt.names):
            if name.startswith(BX_ALLOCATOR_PREFIX):
                self.allocators[int(pt.entries[i])] = LEAQ_BX
            elif name.startswith(WRITE_BARRIER_PREFIX):
                self.barriers.add(int(pt.entries[i]))
        n = len(self.t)
        calls = np.flatnonzero(self.t[:max(n - 24, 0)] == 0xE8)
        calls = calls[calls >= 7]
        tgt = self.base + calls + 5 + self.int32_at(calls + 1)
        keep = np.isin(tgt, np.fromiter(self.allocators, dtype=np.int64, count=len(self.allocators)))
        self.calls, self.call_targets = calls[keep], tgt[keep]   # sorted by position

    def int32_at(self, pos: np.ndarray) -> np.ndarray:
        """Return the little-endian int32 at each byte position."""
        t = self.t
        v = (t[pos].astype(np.uint32) | (t[pos + 1].astype(np.uint32) << 8)
             | (t[pos + 2].astype(np.uint32) << 16) | (t[pos + 3].astype(np.uint32) << 24))
        return v.view(np.int32).astype(np.int64)

    def call_target(self, p: int) -> int | None:
        """Return the link-time target of a ``CALL rel32`` at ``p`` (None: not one)."""
        if not 0 <= p <= len(self.raw) - 5 or self.raw[p] != 0xE8:
            return None
        return self.base + p + 5 + int.from_bytes(self.raw[p + 1:p + 5], "little", signed=True)

    def type_argument(self, call: int) -> int | None:
        """Return the run-time address of the type descriptor an allocation call at text
        offset ``call`` is passed (None: not loaded just before it as described)."""
        modrm = self.allocators[self.base + call + 5 + int.from_bytes(
            self.raw[call + 1:call + 5], "little", signed=True)]
        raw = self.raw
        for p in range(call - 7, max(call - 7 - MAX_BACK, -1), -1):
            if raw[p] == 0x48 and raw[p + 1] == 0x8D and raw[p + 2] == modrm:
                if _only_fillers(raw[p + 7:call], modrm == LEAQ_BX):
                    disp = int.from_bytes(raw[p + 3:p + 7], "little", signed=True)
                    return self.base + p + 7 + disp + self.bias
        return None


def _only_fillers(code: bytes, writes_ax_ok: bool) -> bool:
    """Return whether ``code`` is a run of no-ops (and, when the type is in BX, constant
    moves into AX or CX): nothing in it writes the register holding the type."""
    i = 0
    while i < len(code):
        for nop in _NOPS:
            if code.startswith(nop, i):
                i += len(nop)
                break
        else:
            b = code[i]
            if writes_ax_ok and b in (0xB8, 0xB9) and i + 5 <= len(code):   # MOVL $imm32, AX|CX
                i += 5
            elif writes_ax_ok and code.startswith(b"\x31\xc9", i):          # XORL CX, CX
                i += 2
            else:
                return False
    return True


@once_per
def _text(gp: GoProcess) -> _Text | None:
    if gp.process.goarch != "amd64":
        return None
    md = gp.moduledata
    base, end = int(md.text), int(md.etext)
    if end <= base or end - base > MAX_TEXT:
        return None
    try:
        raw = gp.process.read(base + gp.process.exe_bias, end - base)
    except Error as e:
        log.warning("allocation sites: text unreadable: %s", e)
        return None
    return _Text(gp, raw)


# ---- closure contexts ----

_CLOSURE_NAME = re.compile(r"\.(func|gowrap|deferwrap)\d+(\.\d+)*$|-fm$")


def closure_function(name: str) -> bool:
    """Return whether ``name`` is a function the compiler makes for a closure or a method
    value (``pkg.f.func1``, ``pkg.f.func1.2``, ``pkg.glob..func1``, ``pkg.f.gowrap1``,
    ``pkg.(*T).M-fm``): its entry pc is stored only in a funcval (a named function's
    funcval is static, never a heap object)."""
    last = name[name.rfind("/") + 1:]
    # ``pkg.func1`` is a top-level function of that name: a closure's has an outer function
    return bool(_CLOSURE_NAME.search(last)) and (last.endswith("-fm") or last.count(".") >= 2)


@once_per
def closure_sites(gp: GoProcess) -> dict[int, int]:
    """Return {link-time entry of a closure function: run-time address of the closure
    struct's type descriptor} read from the code allocating its contexts (empty when the
    text is unreadable or not amd64)."""
    tx = _text(gp)
    if tx is None or not len(tx.calls):
        return {}
    t, n = tx.t, len(tx.t)
    # after the call (and perhaps a spill MOVQ AX, d8/d32(SP)): LEAQ fn(SB), R; MOVQ R, 0(AX)
    calls = tx.calls
    s = calls + 5
    spill = (t[s] == 0x48) & (t[s + 1] == 0x89) & (t[s + 3] == 0x24)
    s = s + np.where(spill & (t[s + 2] == 0x44), 5, np.where(spill & (t[s + 2] == 0x84), 8, 0))
    keep = s < n - 10
    calls, s = calls[keep], s[keep]
    rex, op, modrm = t[s], t[s + 1], t[s + 2]
    lea = ((rex == 0x48) | (rex == 0x4C)) & (op == 0x8D) & ((modrm & 0xC7) == 0x05)
    reg = (modrm >> 3) & 7
    mov = (t[s + 7] == rex) & (t[s + 8] == 0x89) & (t[s + 9] == (reg << 3))
    ok = lea & mov
    calls, s = calls[ok], s[ok]
    fn = tx.base + s + 7 + tx.int32_at(s + 3)
    found: dict[int, set[int]] = {}
    for c, f in zip(calls.tolist(), fn.tolist()):
        typ = tx.type_argument(c)
        if typ is not None:
            found.setdefault(f, set()).add(typ)
    pt = gp.pclntab
    out = {}
    for f, typs in found.items():
        fi = pt.find_index(f)
        if len(typs) != 1 or fi < 0 or int(pt.entries[fi]) != f:
            continue
        if closure_function(pt.func(int(fi)).name):
            out[f] = typs.pop()
    log.debug("allocation sites: %d closure functions typed from code", len(out))
    return out


# ---- package variables ----

# opcodes (after any prefixes and REX) whose RIP-relative ModRM operand is written
_WRITES = {0x88, 0x89, 0xC6, 0xC7, 0x86, 0x87, 0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31,
           0x80, 0x81, 0x83, 0xD1, 0xD3, 0xF7, 0xFF, 0xFE}
_WRITES_0F = {0xB0, 0xB1, 0xC1, 0x11, 0x29, 0x7F, 0xD6, 0xAB, 0xB3, 0xBA}
_IMM_SIZE = {0xC6: 1, 0xC7: 4, 0x80: 1, 0x81: 4, 0x83: 1, 0xBA: 1}
_READ_ONLY_GROUP = {0x80: 7, 0x81: 7, 0x83: 7}      # CMP: the /7 of the immediate groups
_MEMORY_READS = {0xF7: (0, 1), 0xFF: (6,)}          # TEST (/0,/1), PUSH (/6): reads


@once_per
def global_sites(gp: GoProcess) -> dict[int, int]:
    """Return {run-time address of a pointer word in data or bss: run-time address of the
    descriptor of T} for the package variables the code fills only with a fresh ``new(T)``
    as the module doc says (empty when the text is unreadable or not amd64)."""
    tx = _text(gp)
    if tx is None or not len(tx.calls):
        return {}
    md = gp.moduledata
    t, base = tx.t, tx.base
    ranges = [(int(md.data), int(md.edata)), (int(md.bss), int(md.ebss)),
              (int(md.noptrdata), int(md.enoptrdata)), (int(md.noptrbss), int(md.enoptrbss))]

    def in_globals(a: np.ndarray) -> np.ndarray:
        ok = np.zeros(len(a), dtype=bool)
        for lo, hi in ranges:
            ok |= (a >= lo) & (a < hi)
        return ok

    # every RIP-relative operand: ModRM mod=00 rm=101 at q, its disp32 at q+1; the
    # opcode's last byte at q-1 (0F-escaped when q-2 holds 0x0F)
    q = np.flatnonzero((t[2:len(t) - 9] & 0xC7) == 0x05) + 2
    op = t[q - 1].astype(np.int64)
    two = t[q - 2] == 0x0F
    disp_end = base + q + 5 + tx.int32_at(q + 1)     # the target when no immediate follows
    near = in_globals(disp_end) | in_globals(disp_end + 4)
    q, op, two, disp_end = q[near], op[near], two[near], disp_end[near]
    pre = t[q - 2]
    reg = (t[q] >> 3) & 7
    writes = np.isin(op, list(_WRITES)) | (two & np.isin(op, list(_WRITES_0F)))
    for code, r in _READ_ONLY_GROUP.items():
        writes &= ~((op == code) & (reg == r) & ~two)
    for code, regs in _MEMORY_READS.items():
        writes &= ~((op == code) & np.isin(reg, regs) & ~two)
    imm = np.zeros(len(q), dtype=np.int64)
    for code, size in _IMM_SIZE.items():
        imm[(op == code) & (two == (code == 0xBA))] = size
    imm[(pre == 0x66) & np.isin(op, [0xC7, 0x81])] = 2
    target = disp_end + imm
    # MOVQ AX, v(SB) (48 89 05): the candidate stores; MOVQ $0, v(SB): nil
    store_ax = (op == 0x89) & (t[q] == 0x05) & (pre == 0x48) & ~two
    nil = (op == 0xC7) & (t[q] == 0x05) & (pre == 0x48) & (tx.int32_at(q + 5) == 0) & ~two
    typ_of: dict[int, set[int]] = {}
    bad: set[int] = set()
    for p, v in zip((q[store_ax] - 2).tolist(), target[store_ax].tolist()):
        typ = _stored_allocation(tx, p)
        if typ is None:
            bad.add(v)
        else:
            typ_of.setdefault(v, set()).add(typ)
    for p, v in zip((q[(op == 0x8D) & ~two] - 2).tolist(), target[(op == 0x8D) & ~two].tolist()):
        if not _barrier_slot(tx, p):
            bad.add(v)                  # the address escapes: any store may go through it
    # every other write, as the bytes [start, start+width) it may cover (every immediate
    # size tried when the opcode's is not certain)
    other = writes & ~store_ax & ~nil
    width = np.where(two, 16, np.where(np.isin(op, [0x88, 0xC6, 0x80, 0xFE, 0x86]), 1,
                                       np.where((pre & 0xF8) == 0x48, 8, 4)))[other]
    starts = np.concatenate([disp_end[other] + k for k in (0, 1, 2, 4)])
    widths = np.tile(width, 4)
    cand = np.array([v for v, ts in typ_of.items() if len(ts) == 1 and v not in bad], dtype=np.int64)
    if len(cand) and len(starts):
        order = np.argsort(starts)
        starts, widths = starts[order], widths[order]
        lo = np.searchsorted(starts, cand - 16)
        hi = np.searchsorted(starts, cand + 8)
        hit = np.zeros(len(cand), dtype=bool)
        for i in np.flatnonzero(hi > lo).tolist():
            s_, w_ = starts[lo[i]:hi[i]], widths[lo[i]:hi[i]]
            hit[i] = bool(np.any(s_ + w_ > cand[i]))
        cand = cand[~hit]
    if len(cand):
        cand = np.array(_not_in_data(gp, tx, cand), dtype=np.int64)
    out = {int(v) + tx.bias: next(iter(typ_of[int(v)])) for v in cand}
    log.debug("allocation sites: %d package variables typed from code", len(out))
    return out


def _stored_allocation(tx: _Text, store: int) -> int | None:
    """Return the descriptor of what the allocation call before the ``MOVQ AX, v(SB)`` at
    text offset ``store`` allocated, when AX reaches the store unchanged (else None)."""
    i = int(np.searchsorted(tx.calls, store)) - 1
    if i < 0 or store - int(tx.calls[i]) > MAX_TO_STORE:
        return None
    call = int(tx.calls[i])
    if not _ax_kept(tx, call + 5, store):
        return None
    return tx.type_argument(call)


def _barrier_slot(tx: _Text, p: int) -> bool:
    """Return whether the LEAQ at ``p`` is Go 1.19/1.21's write barrier: ``LEAQ v(SB), DI``
    followed, within one more instruction, by ``CALL runtime.gcWriteBarrier*``."""
    raw = tx.raw
    if p < 0 or raw[p] != 0x48 or raw[p + 2] != 0x3D:
        return False
    for c in (p + 7, p + 12, p + 15):              # next, or after a MOVQ off(SP), R
        if tx.call_target(c) in tx.barriers:
            return True
    return False


def _modrm_len(raw: bytes, i: int) -> tuple[int, int, int]:
    """Return (length of ModRM+SIB+displacement, mod, rm) of the ModRM byte ``raw[i]``."""
    m = raw[i]
    mod, rm = m >> 6, m & 7
    n = 1
    if mod != 3 and rm == 4:
        sib = raw[i + 1]
        n += 1
        if mod == 0 and sib & 7 == 5:
            n += 4
    if mod == 0 and rm == 5:
        n += 4
    elif mod == 1:
        n += 1
    elif mod == 2:
        n += 4
    return n, mod, rm


def _ax_kept(tx: _Text, i: int, end: int) -> bool:
    """Return whether the instructions from text offset ``i`` to ``end`` are all of the
    kinds the module doc lists, none writing AX (decoded in a straight line)."""
    got = _registers(tx, i, end)
    return got is not None and AX not in got


AX, BX = 0, 3                         # register numbers (ModRM order)
_ALU_TO_RM = {0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x89, 0x88}       # op r/m, r
_ALU_TO_REG = {0x03, 0x0B, 0x13, 0x1B, 0x23, 0x2B, 0x33, 0x8B, 0x8A, 0x63}  # op r, r/m
_COMPARES = {0x39, 0x3B, 0x38, 0x3A, 0x85, 0x84}
_XMM_0F = {0x10, 0x11, 0x28, 0x29, 0x57, 0xEF, 0xD6, 0x6F, 0x7F, 0x7E, 0x6E}
_MOVX_0F = {0xB6, 0xB7, 0xBE, 0xBF}


def _registers(tx: _Text, i: int, end: int) -> dict[int, tuple] | None:
    """Decode the straight line of instructions from text offset ``i`` to ``end`` and
    return {register: how it was last written}: ``("lea", a)`` / ``("load", a)`` for
    ``LEAQ a(SB), R`` / ``MOVQ a(SB), R`` (``a`` link-time), ``("other",)`` for any other
    write. None when an instruction is not one of the few kinds known here (calls other
    than the write barrier, which preserves every register, included), or the line does not
    end exactly at ``end``. Conditional jumps are passed through (the fall-through path)."""
    raw, base = tx.raw, tx.base
    regs: dict[int, tuple] = {}
    if i < 0 or end > len(raw) - 16:     # an instruction is read whole: stay clear of the end
        return None
    while i < end:
        for nop in _NOPS:
            if raw.startswith(nop, i):
                i += len(nop)
                break
        else:
            opsize16 = False
            while raw[i] == 0x66:
                opsize16, i = True, i + 1
            rex = 0
            if 0x40 <= raw[i] <= 0x4F:
                rex, i = raw[i], i + 1
            b = raw[i]
            r_ext = 8 if rex & 4 else 0
            b_ext = 8 if rex & 1 else 0
            imm32 = 2 if opsize16 else 4
            if 0x70 <= b <= 0x7F:                               # Jcc rel8
                i += 2
                continue
            if b == 0xE8:                                       # CALL: a write barrier only
                if tx.call_target(i) not in tx.barriers:
                    return None
                i += 5
                continue
            if 0xB8 <= b <= 0xBF:                               # MOV $imm, r
                regs[(b - 0xB8) + b_ext] = ("other",)
                i += 1 + (8 if rex & 8 else imm32)
                continue
            two = b == 0x0F
            if two:
                i += 1
                b = raw[i]
                if 0x80 <= b <= 0x8F:                           # Jcc rel32
                    i += 5
                    continue
                if b not in _XMM_0F and b not in _MOVX_0F:
                    return None
            elif not (b in _ALU_TO_RM or b in _ALU_TO_REG or b in _COMPARES
                      or b in (0x8D, 0xC7, 0xC6, 0x83, 0x81, 0x80, 0xC1, 0xD1)):
                return None
            n, mod, rm = _modrm_len(raw, i + 1)
            reg = ((raw[i + 1] >> 3) & 7) + r_ext
            imm = 0
            if not two:
                imm = {0xC7: imm32, 0x81: imm32, 0xC6: 1, 0x83: 1, 0x80: 1, 0xC1: 1}.get(b, 0)
            i += 1 + n + imm
            rip = base + i + int.from_bytes(raw[i - imm - 4:i - imm], "little", signed=True) \
                if mod == 0 and rm == 5 else None
            if two:
                if b in _MOVX_0F:
                    regs[reg] = ("other",)
                elif b == 0x7E and mod == 3:                    # MOVQ X, r
                    regs[rm + b_ext] = ("other",)
                continue
            if b in _COMPARES:
                continue
            if mod == 3 and rex & 8 and b in (0x89, 0x8B):    # MOVQ r, r: a copy
                src, dst = (reg, rm + b_ext) if b == 0x89 else (rm + b_ext, reg)
                regs[dst] = regs.get(src, ("other",))
            elif b == 0x8D:
                regs[reg] = ("lea", rip) if rip is not None else ("other",)
            elif b in _ALU_TO_REG:
                regs[reg] = ("load", rip) if rip is not None and b == 0x8B and rex & 8 else ("other",)
            elif mod == 3 and not (b in (0x83, 0x81, 0x80) and (reg & 7) == 7):
                regs[rm + b_ext] = ("other",)                   # a register destination
    return regs if i == end else None


def _not_in_data(gp: GoProcess, tx: _Text, cand: np.ndarray) -> list[int]:
    """Return the link-time addresses of ``cand`` that no word of the module's data,
    noptrdata or type section holds (``runtime.firstmoduledata``'s own section bounds
    aside): no static pointer to them."""
    md = gp.moduledata
    md_lo = int(md.addr)
    md_hi = md_lo + (gp.layout.size("runtime.moduledata") if gp.layout.has("runtime.moduledata") else 0)
    want = np.unique(cand + tx.bias).astype(np.uint64)
    held = np.zeros(len(want), dtype=bool)
    for lo, hi in ((int(md.noptrdata), int(md.enoptrdata)), (int(md.data), int(md.edata)),
                   (int(md.types), int(md.etypes))):
        if hi <= lo:
            continue
        try:
            raw = gp.process.read(lo + tx.bias, hi - lo)
        except Error:
            return []                  # unreadable: every candidate may be pointed at
        w = np.frombuffer(raw[:len(raw) // 8 * 8], dtype="<u8")
        if lo <= md_lo < hi:            # moduledata's own bounds (bss, ebss...): not pointers
            w = np.concatenate([w[:(md_lo - lo) // 8], w[(md_hi - lo + 7) // 8:]])
        i = np.minimum(np.searchsorted(want, w), len(want) - 1)
        held[i[want[i] == w]] = True
    return (want[~held].astype(np.int64) - tx.bias).tolist()


# ---- package variables by their uses ----

_MAP_FUNCS = re.compile(r"^runtime\.(mapaccess[12](_fast32|_fast64|_faststr|_fat)?|"
                        r"mapassign(_fast32ptr|_fast32|_fast64ptr|_fast64|_faststr)?|"
                        r"mapdelete(_fast32|_fast64|_faststr)?|mapiterinit|mapIterStart|mapclear)$")
_POINTER_METHOD = re.compile(r"^(?P<pkg>[^()\[\]]+)\.\(\*(?P<T>[^()\[\].*]+)\)\.(?P<M>[^()\[\].]+)$")
MAX_TO_CALL = 64                      # bytes from a variable's load to the call using it


class GlobalUses(NamedTuple):
    """What calls state about package variables: ``maps`` {slot: map type descriptor} (the
    map runtime functions' ``t``), ``receivers`` {slot: (``*pkg.T``, method)} (a pointer
    method's receiver). Slots are run-time addresses."""

    maps: dict[int, int]
    receivers: dict[int, tuple[str, str]]


def global_uses(gp: GoProcess, slots: np.ndarray) -> GlobalUses:
    """Return what the calls of the code state about the package variables at ``slots``
    (run-time addresses): ``MOVQ v(SB), BX`` with ``LEAQ type(SB), AX`` reaching a call of
    a map runtime function (``mapaccess1(t *maptype, m, key)``..., src/runtime/map*.go:
    ``t`` in AX, ``m`` in BX under ABIInternal) says v holds a map of that type;
    ``MOVQ v(SB), AX`` reaching a call of ``pkg.(*T).M`` says v holds a ``*T`` (the
    receiver is the first argument); the load may be into another register copied into
    AX or BX on the way (``MOVQ R, AX``). Only straight lines of the instructions ``_registers``
    knows are read, and a variable named two ways is left out."""
    empty = GlobalUses({}, {})
    tx = _text(gp)
    if tx is None or not len(slots):
        return empty
    pt, t, base = gp.pclntab, tx.t, tx.base
    kinds: dict[int, tuple] = {}
    for i, name in enumerate(pt.names):
        if _MAP_FUNCS.match(name):
            kinds[int(pt.entries[i])] = ("map",)
        elif not name.endswith("-fm"):
            m = _POINTER_METHOD.match(name)
            if m is not None:
                kinds[int(pt.entries[i])] = ("recv", f"*{m['pkg']}.{m['T']}", m["M"])
    if not kinds:
        return empty
    calls = np.flatnonzero(t[:max(len(t) - 5, 0)] == 0xE8)
    tgt = base + calls + 5 + tx.int32_at(calls + 1)
    keep = np.isin(tgt, np.fromiter(kinds, dtype=np.int64, count=len(kinds)))
    calls, tgt = calls[keep], tgt[keep]
    want = np.unique(np.asarray(slots, dtype=np.int64) - tx.bias)
    # MOVQ v(SB), R: REX.W 8B, ModRM 00 rrr 101 (R is then copied into AX or BX, or is one)
    q = np.flatnonzero((t[1:len(t) - 6] == 0x8B) & ((t[2:len(t) - 5] & 0xC7) == 0x05)
                       & ((t[:len(t) - 7] == 0x48) | (t[:len(t) - 7] == 0x4C)))
    v = base + q + 7 + tx.int32_at(q + 3)
    hit = np.isin(v, want)
    q, v = q[hit], v[hit]
    nxt = np.searchsorted(calls, q + 7)
    ok = nxt < len(calls)
    q, v, nxt = q[ok], v[ok], nxt[ok]
    c = calls[nxt]
    ok = c - q <= MAX_TO_CALL
    q, v, c, ct = q[ok], v[ok], c[ok], tgt[nxt[ok]]
    maps: dict[int, set] = {}
    recv: dict[int, set] = {}
    for load, var, call, callee in zip(q.tolist(), v.tolist(), c.tolist(), ct.tolist()):
        kind = kinds[callee]
        start = load - 7 if tx.raw[load - 7:load - 4] == b"\x48\x8d\x05" else load
        regs = _registers(tx, start, call)
        if regs is None:
            continue
        if kind[0] == "map" and regs.get(BX) == ("load", var):
            a = regs.get(AX)
            if a is not None and a[0] == "lea":
                maps.setdefault(var, set()).add(a[1] + tx.bias)
        elif kind[0] == "recv" and regs.get(AX) == ("load", var):
            recv.setdefault(var, set()).add(kind[1:])
    both = set(maps) & set(recv)
    out = GlobalUses({k + tx.bias: next(iter(s)) for k, s in maps.items() if len(s) == 1 and k not in both},
                     {k + tx.bias: next(iter(s)) for k, s in recv.items()
                      if len({r for r, _ in s}) == 1 and k not in both})
    log.debug("allocation sites: %d map and %d pointer variables typed by their uses",
              len(out.maps), len(out.receivers))
    return out
