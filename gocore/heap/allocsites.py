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
  (``LEAQ``; Go 1.19/1.21's write barrier ``LEAQ v(SB), DI``, at most one instruction
  putting the value in a register, ``CALL runtime.gcWriteBarrier<R>`` aside) and no data
  word holds it: so no code the program has can have put another type there, short of
  writing through the address of an enclosing variable. The kinds of instruction allowed
  are capstone's (``_Isa.line_kinds``: moves, integer arithmetic, logic, shifts, compares,
  LEAQ, SSE moves and zeroing); writing AX is writing any part of it, implicitly or not
  (capstone's ``regs_access``).

* **package variables by their uses** (``global_uses``): a variable loaded and passed as
  ``m`` to a map runtime function whose ``t`` is a ``LEAQ type(SB)``, or as the receiver
  of a direct call of ``pkg.(*T).M`` (see there).

The scan is numpy over the whole text (calls, stores and RIP-relative operands found by
their bytes); only the candidate sites are decoded, one by one and a few hundred bytes
each, by capstone (its detail mode: the operands and the registers each instruction
writes, implicit ones included). Other architectures: nothing is found.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from functools import cache, cached_property, lru_cache
from itertools import islice
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from core.errors import Error

from ..memo import once_per

if TYPE_CHECKING:
    import capstone

    from ..process import GoProcess
    from .funcresults import Results

log = logging.getLogger(__name__)

AX_ALLOCATORS = ("runtime.newobject",)
BX_ALLOCATOR_PREFIX = "runtime.mallocgcSmallScanNoHeaderSC"   # Go 1.27+: (size, typ, needzero)
WRITE_BARRIER_PREFIX = "runtime.gcWriteBarrier"
LEAQ_AX, LEAQ_BX = 0x05, 0x1D        # ModRM of LEAQ disp32(RIP) into AX / BX
MAX_BACK = 24                         # bytes between the type's LEAQ and the call, at most
MAX_TEXT = 1 << 30                    # a text larger than this is not read (bad moduledata)
MAX_CHAIN = 4                         # calls returning their argument followed back, at most
MAX_TO_STORE = 256                    # bytes between an allocation call and the global's store
AX, CX, BX, _DI = 0, 1, 3, 7           # register numbers (ModRM order, as _Isa.gpr gives them)
# the registers other than the type's that may be set to a constant between its LEAQ and
# the call: the other arguments (Go 1.27's size in AX and needzero in CX)
_OTHER_ARGS = {LEAQ_AX: frozenset(), LEAQ_BX: frozenset({AX, CX})}


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
        self.pt = pt

    @cached_property
    def entry_calls(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (text offsets, link-time targets) of the direct calls of a function's
        entry but the write barrier's (which keeps every register), sorted by position
        (the allocation calls among them)."""
        t = self.t
        calls = np.flatnonzero(t[:max(len(t) - 24, 0)] == 0xE8)
        calls = calls[calls >= 7]
        tgt = self.base + calls + 5 + self.int32_at(calls + 1)
        keep = np.isin(tgt, self.pt.entries[:-1].astype(np.int64))
        keep &= ~np.isin(tgt, np.fromiter(self.barriers, dtype=np.int64, count=len(self.barriers)))
        return calls[keep], tgt[keep]

    def int32_at(self, pos: np.ndarray) -> np.ndarray:
        """Return the little-endian int32 at each byte position."""
        t = self.t
        v = (t[pos].astype(np.uint32) | (t[pos + 1].astype(np.uint32) << 8)
             | (t[pos + 2].astype(np.uint32) << 16) | (t[pos + 3].astype(np.uint32) << 24))
        return v.view(np.int32).astype(np.int64)

    def type_argument(self, call: int) -> int | None:
        """Return the run-time address of the type descriptor an allocation call at text
        offset ``call`` is passed (None: not loaded just before it as described)."""
        modrm = self.allocators[self.base + call + 5 + int.from_bytes(
            self.raw[call + 1:call + 5], "little", signed=True)]
        raw = self.raw
        for p in range(call - 7, max(call - 7 - MAX_BACK, -1), -1):
            if raw[p] == 0x48 and raw[p + 1] == 0x8D and raw[p + 2] == modrm:
                if p + 7 == call or _only_fillers(raw[p + 7:call], _OTHER_ARGS[modrm]):
                    disp = int.from_bytes(raw[p + 3:p + 7], "little", signed=True)
                    return self.base + p + 7 + disp + self.bias
        return None


def _gpr_numbers(x86) -> dict[int, int]:
    """Return {capstone register id: number of the general register (0 AX ... 15 R15) it is
    all or part of}: a write of EAX, AX or AL is a write of AX."""
    out = {}
    for n, r in enumerate(("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")):
        wide = r.endswith("x")
        names = ["r" + r, "e" + r, r, (r[0] if wide else r) + "l"] + ([r[0] + "h"] if wide else [])
        for name in names:
            out[getattr(x86, f"X86_REG_{name.upper()}")] = n
    for n in range(8, 16):
        for suffix in ("", "D", "W", "B"):
            out[getattr(x86, f"X86_REG_R{n}{suffix}")] = n
    return out


class _Isa:
    """capstone's amd64 decoder in detail mode and the ids read here. capstone is imported
    only when some code is to be decoded (its import takes about 0.1 s)."""

    def __init__(self):
        import capstone
        from capstone import x86
        self.cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        self.cs.detail = True
        self.GRP_CALL, self.GRP_JUMP = capstone.CS_GRP_CALL, capstone.CS_GRP_JUMP
        self.NOP, self.MOV, self.LEA = x86.X86_INS_NOP, x86.X86_INS_MOV, x86.X86_INS_LEA
        self.XOR, self.CALL, self.JMP = x86.X86_INS_XOR, x86.X86_INS_CALL, x86.X86_INS_JMP
        self.OP_IMM, self.OP_REG, self.OP_MEM = x86.X86_OP_IMM, x86.X86_OP_REG, x86.X86_OP_MEM
        self.RIP, self.RDI = x86.X86_REG_RIP, x86.X86_REG_RDI
        self.gpr = _gpr_numbers(x86)
        self.gpr64 = frozenset(getattr(x86, f"X86_REG_{r}") for r in (
            "RAX RCX RDX RBX RSP RBP RSI RDI R8 R9 R10 R11 R12 R13 R14 R15".split()))
        # The kinds of instruction a straight line may hold besides no-ops, conditional
        # jumps and the write barrier's call: moves (loads, stores, constants), integer
        # arithmetic, logic, shifts and compares, LEAQ, and the SSE moves and zeroing Go
        # uses to copy and clear memory.
        self.line_kinds = frozenset(getattr(x86, f"X86_INS_{k}") for k in (
            "MOV MOVABS MOVZX MOVSX MOVSXD LEA ADD OR ADC SBB AND SUB XOR CMP TEST "
            "SHL SHR SAR SAL ROL ROR RCL RCR MOVUPS MOVUPD MOVAPS MOVAPD MOVDQA MOVDQU "
            "MOVQ MOVD MOVSS MOVSD XORPS XORPD PXOR").split())
        self.mov_lea = frozenset({self.MOV, self.LEA})


@cache
def _isa() -> _Isa:
    """Return the one _Isa."""
    return _Isa()


def _decode(tx: _Text, i: int, end: int) -> Iterator[capstone.CsInsn]:
    """Return capstone's instructions of text offsets ``i`` to ``end`` (the last one may run
    past ``end``), at their link-time addresses."""
    return _isa().cs.disasm(tx.raw[i:min(end + 15, len(tx.raw))], tx.base + i)


def _written(ins: capstone.CsInsn) -> set[int]:
    """Return the general registers ``ins`` writes (capstone's, implicit ones included)."""
    gpr = _isa().gpr
    return {gpr[r] for r in ins.regs_access()[1] if r in gpr}


def _call_target(ins: capstone.CsInsn) -> int | None:
    """Return the link-time target of a direct call (None: not one)."""
    k = _isa()
    if ins.id != k.CALL or ins.operands[0].type != k.OP_IMM:
        return None
    return ins.operands[0].imm


def _rip_target(ins: capstone.CsInsn, op) -> int | None:
    """Return the link-time address a RIP-relative memory operand ``op`` of ``ins`` names
    (None: not RIP-relative)."""
    k = _isa()
    if op.type != k.OP_MEM or op.mem.base != k.RIP or op.mem.index != 0:
        return None
    return ins.address + ins.size + op.mem.disp


@lru_cache(maxsize=1 << 12)
def _only_fillers(code: bytes, other_args: frozenset[int]) -> bool:
    """Return whether ``code`` (between the type's LEAQ and the call) is only no-ops and
    constants put into ``other_args`` (``MOVL $c, R``, ``XORL R, R``): nothing writes the
    type's register. Kept per byte string: the same few sit before thousands of calls."""
    k = _isa()
    at = 0
    for ins in k.cs.disasm(code, 0):
        at += ins.size
        if ins.id == k.NOP:
            continue
        ops = ins.operands
        constant = (ins.id == k.MOV and ops[1].type == k.OP_IMM) or (
            ins.id == k.XOR and ops[0].type == ops[1].type == k.OP_REG and ops[0].reg == ops[1].reg)
        written = _written(ins)
        if not (constant and written and written <= other_args):
            return False
    return at == len(code)


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
    # first what needs no decoding: a store with no allocation call shortly before it, a
    # LEAQ other than REX.W 8D 3D (into DI: the write barrier's), any other write, a data
    # word holding the variable's address; then only what is left is decoded
    stores, stored = q[store_ax] - 2, target[store_ax]
    calls = tx.entry_calls[0]
    prev = np.searchsorted(calls, stores) - 1
    near = (prev >= 0) & (stores - calls[np.maximum(prev, 0)] <= MAX_TO_STORE)
    # or an allocation call shortly after it: a rotated loop whose allocation's line jumps
    # back to the store (Go 1.27's ``for ... { v = &T{Next: v} }``)
    nxt = np.minimum(np.searchsorted(tx.calls, stores), len(tx.calls) - 1)
    near |= (tx.calls[nxt] > stores) & (tx.calls[nxt] - stores <= MAX_TO_STORE)
    lea = (op == 0x8D) & ~two
    leas, leaed = q[lea] - 2, target[lea]
    to_di = (t[leas] == 0x48) & (t[q[lea]] == 0x3D)
    cand = np.setdiff1d(np.unique(stored), np.concatenate([stored[~near], leaed[~to_di]]))
    # every other write, as the bytes [start, start+width) it may cover (every immediate
    # size tried when the opcode's is not certain)
    other = writes & ~store_ax & ~nil
    width = np.where(two, 16, np.where(np.isin(op, [0x88, 0xC6, 0x80, 0xFE, 0x86]), 1,
                                       np.where((pre & 0xF8) == 0x48, 8, 4)))[other]
    starts = np.concatenate([disp_end[other] + k for k in (0, 1, 2, 4)])
    widths = np.tile(width, 4)
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
    keep = to_di & np.isin(leaed, cand)
    bad = {v for p, v in zip(leas[keep].tolist(), leaed[keep].tolist()) if not _barrier_slot(tx, p)}
    typ_of: dict[int, set[int]] = {}
    keep = np.isin(stored, cand)
    from .funcresults import shared_results
    results = shared_results(gp)
    for p, v in zip(stores[keep].tolist(), stored[keep].tolist()):
        if v in bad:
            continue
        typ = _stored_allocation(tx, p, results)
        if typ is None:
            typ = _allocation_jumping_to(tx, p)
        ts = typ_of.setdefault(v, set())
        ts.add(typ)
        if typ is None or len(ts) > 1:
            bad.add(v)
    out = {v + tx.bias: next(iter(ts)) for v, ts in typ_of.items() if v not in bad}
    log.debug("allocation sites: %d package variables typed from code", len(out))
    return out


def _stored_allocation(tx: _Text, store: int, results: Results) -> int | None:
    """Return the descriptor of what the call before the ``MOVQ AX, v(SB)`` at text
    offset ``store`` returned, when AX reaches the store unchanged (else None): an
    allocation call's type, or T of a function returning only a fresh ``new(T)``
    (``results.Results``); through calls returning their first argument (AX) to the
    call before them, AX unchanged between (``new(T).M()``, M returning its receiver)."""
    calls, targets = tx.entry_calls
    end = store
    for _ in range(MAX_CHAIN):
        i = int(np.searchsorted(calls, end)) - 1
        if i < 0 or end - int(calls[i]) > MAX_TO_STORE:
            return None
        call, target = int(calls[i]), int(targets[i])
        if not _ax_kept(tx, call + 5, end):
            return None
        if target in tx.allocators:
            return tx.type_argument(call)
        if not results.returns_first_argument(target):
            return results.result_type(target)
        end = call
    return None


MAX_PATH = 64        # instructions followed from an allocation call to a store, at most
MAX_PATH_JUMPS = 4   # unconditional jumps followed on that path, at most


def _allocation_jumping_to(tx: _Text, store: int) -> int | None:
    """Return the descriptor of the allocation call (within ``MAX_TO_STORE`` bytes of the
    ``MOVQ AX, v(SB)`` at text offset ``store``, either side, nearest first) whose line
    reaches the store with AX unchanged, direct jumps followed (``_path_keeps_ax``); None
    when none does. A rotated loop puts the store before the allocation and jumps back."""
    calls = tx.calls
    lo, hi = np.searchsorted(calls, [store - MAX_TO_STORE, store + MAX_TO_STORE])
    near = sorted(calls[lo:hi].tolist(), key=lambda c: abs(c - store))
    for c in near:
        if _path_keeps_ax(tx, c + 5, store):
            return tx.type_argument(c)
    return None


def _path_keeps_ax(tx: _Text, i: int, end: int) -> bool:
    """Return whether the path from text offset ``i`` arrives at ``end`` with AX unwritten:
    instructions of ``_Isa.line_kinds``, no-ops, the write barrier's calls and conditional
    jumps (falling through) as ``_registers`` reads them, and direct unconditional jumps
    followed (at most ``MAX_PATH_JUMPS``, ``MAX_PATH`` instructions in all)."""
    k = _isa()
    gpr = k.gpr
    at, jumps, n = i, 0, 0
    while n < MAX_PATH and 0 <= at < len(tx.raw) - 16:
        if at == end:
            return True
        ins = next(_decode(tx, at, at + 1), None)
        if ins is None:
            return False
        n += 1
        at += ins.size
        kind = ins.id
        if kind in k.line_kinds:
            if AX in {gpr[r] for r in ins.regs_access()[1] if r in gpr}:
                return False
        elif kind == k.CALL:
            if _call_target(ins) not in tx.barriers:
                return False
        elif kind == k.JMP:
            t = _call_target_jmp(ins)
            if t is None or jumps >= MAX_PATH_JUMPS:
                return False
            at, jumps = t - tx.base, jumps + 1
        elif kind != k.NOP and not ins.group(k.GRP_JUMP):
            return False
    return False


def _call_target_jmp(ins: capstone.CsInsn) -> int | None:
    """Return the link-time target of a direct jump (None: an indirect one)."""
    k = _isa()
    op = ins.operands[0] if ins.operands else None
    return op.imm if op is not None and op.type == k.OP_IMM else None


def _barrier_slot(tx: _Text, p: int) -> bool:
    """Return whether the LEAQ at ``p`` is Go 1.19/1.21's write barrier: ``LEAQ v(SB), DI``,
    then at most one instruction putting the value in a register (no-ops aside; it leaves
    DI as it is), then ``CALL runtime.gcWriteBarrier*`` (src/runtime/asm_amd64.s: the
    slot in DI, the value in the register the variant names)."""
    if p < 0:
        return False
    k = _isa()
    insns = _decode(tx, p, p + 64)
    first = next(insns, None)
    if first is None or first.id != k.LEA or first.operands[0].reg != k.RDI:
        return False
    value_set = False
    for ins in islice(insns, 8):
        if ins.id == k.NOP:
            continue
        if ins.group(k.GRP_CALL):
            return _call_target(ins) in tx.barriers
        if value_set or ins.group(k.GRP_JUMP) or _DI in _written(ins):
            return False
        value_set = True
    return False


def _ax_kept(tx: _Text, i: int, end: int) -> bool:
    """Return whether the instructions from text offset ``i`` to ``end`` are all of the
    kinds the module doc lists, none writing AX (decoded in a straight line)."""
    return _registers(tx, i, end, keep=AX) is not None


_OTHER = ("other",)


def _how_written(ins: capstone.CsInsn, reads: list[int], writes: list[int],
                 regs: dict[int, tuple]) -> tuple:
    """Return how the MOV or LEA ``ins`` (reading and writing the registers ``reads`` and
    ``writes``) sets its register, as ``_registers`` says. Its operands (slow to read from
    capstone) are read only for a RIP-relative one."""
    k = _isa()
    if len(writes) != 1 or writes[0] not in k.gpr64:
        return _OTHER
    if k.RIP in reads:
        src = ins.operands[1]
        a = _rip_target(ins, src)
        if a is None:
            return _OTHER
        if ins.id == k.LEA:
            return ("lea", a)
        return ("load", a) if src.size == 8 else _OTHER
    if ins.id == k.MOV and len(reads) == 1 and reads[0] in k.gpr64 and "[" not in ins.op_str:
        return regs.get(k.gpr[reads[0]], _OTHER)                          # a copy
    return _OTHER


def _registers(tx: _Text, i: int, end: int, keep: int | None = None) -> dict[int, tuple] | None:
    """Decode the straight line of instructions from text offset ``i`` to ``end`` and
    return {general register number: how it was last written}: ``("lea", a)`` /
    ``("load", a)`` for ``LEAQ a(SB), R`` / ``MOVQ a(SB), R`` (``a`` link-time), what the
    source held for ``MOVQ R1, R2``, ``("other",)`` for any other write. None when an
    instruction is not of ``_Isa.line_kinds``, a no-op, a conditional jump (passed through: the
    fall-through path) or a call of the write barrier (which preserves every register), or
    the line does not end exactly at ``end``. With ``keep`` (a register number), also None
    as soon as an instruction writes ``keep``, and how the others were written is not
    worked out (it is empty)."""
    if i < 0 or end > len(tx.raw) - 16:     # an instruction is read whole: stay clear of the end
        return None
    k = _isa()
    gpr = k.gpr
    regs: dict[int, tuple] = {}
    at = i
    for ins in _decode(tx, i, end):
        if at >= end:
            break
        at += ins.size
        kind = ins.id
        if kind in k.line_kinds:
            reads, writes = ins.regs_access()
            written = {gpr[r] for r in writes if r in gpr}
            if keep is not None:
                if keep in written:
                    return None
            elif written:
                state = _how_written(ins, reads, writes, regs) if kind in k.mov_lea else _OTHER
                for r in written:
                    regs[r] = state
        elif kind == k.CALL:
            if _call_target(ins) not in tx.barriers:
                return None
        elif kind != k.NOP and (kind == k.JMP or not ins.group(k.GRP_JUMP)):
            return None
    return regs if at == end else None


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
    AX or BX on the way (``MOVQ R, AX``). Only straight lines of the instruction kinds
    ``_registers`` reads are followed, and a variable named two ways is left out."""
    empty = GlobalUses({}, {})
    tx = _text(gp)
    if tx is None or not len(slots):
        return empty
    t, base = tx.t, tx.base
    kinds = _call_kinds(gp)
    if not kinds:
        return empty
    calls, tgt = _calls_of(tx, kinds)
    want = np.unique(np.asarray(slots, dtype=np.int64) - tx.bias)
    # MOVQ v(SB), R: REX.W 8B, ModRM 00 rrr 101 (R is then copied into AX or BX, or is one)
    q = np.flatnonzero((t[1:len(t) - 6] == 0x8B) & ((t[2:len(t) - 5] & 0xC7) == 0x05)
                       & ((t[:len(t) - 7] == 0x48) | (t[:len(t) - 7] == 0x4C)))
    v = base + q + 7 + tx.int32_at(q + 3)
    hit = np.isin(v, want)
    q, v = q[hit], v[hit]
    q, v, c, ct = _next_calls(calls, tgt, q, v)
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
                     {k + tx.bias: min(s) for k, s in recv.items()     # min: the same each run
                      if len({r for r, _ in s}) == 1 and k not in both})
    log.debug("allocation sites: %d map and %d pointer variables typed by their uses",
              len(out.maps), len(out.receivers))
    return out


@once_per
def _call_kinds(gp: GoProcess) -> dict[int, tuple]:
    """Return {link-time entry: ("map",) | ("recv", "*pkg.T", M)} of the map runtime
    functions and the pointer methods ``pkg.(*T).M`` (method value wrappers aside)."""
    pt = gp.pclntab
    kinds: dict[int, tuple] = {}
    for i, name in enumerate(pt.names):
        if _MAP_FUNCS.match(name):
            kinds[int(pt.entries[i])] = ("map",)
        elif not name.endswith("-fm"):
            m = _POINTER_METHOD.match(name)
            if m is not None:
                kinds[int(pt.entries[i])] = ("recv", f"*{m['pkg']}.{m['T']}", m["M"])
    return kinds


# Go 1.24+: sync.Map is ``struct { _ noCopy; m isync.HashTrieMap[any, any] }`` and each of
# its methods ``return m.m.M(...)`` (src/sync/hashtriemap.go), inlined: the call left in the
# code is the generic HashTrieMap method's, with ``&m.m`` (the sync.Map's own address: ``m``
# is its first field, after the zero-size noCopy) as the receiver
_HASH_TRIE_METHOD = "internal/sync.(*HashTrieMap["
_SYNC_MAP_METHOD = re.compile(r"^sync\.\(\*Map\)\.(?P<M>\w+)$")


def _inlined_sync_map(pt, pc: int) -> tuple[str, str, str] | None:
    """Return ("recv", "*sync.Map", M) when the call at link-time ``pc`` lies, innermost,
    in an inlined ``sync.(*Map).M`` (its pclntab inline tree), else None."""
    f = pt.find_func(pc)
    try:
        chain = f.inline_chain(pc) if f is not None else []
    except Error:
        return None
    m = _SYNC_MAP_METHOD.match(chain[0].name) if chain else None
    return ("recv", "*sync.Map", m["M"]) if m is not None else None


def _next_calls(calls: np.ndarray, tgt: np.ndarray, q: np.ndarray, v: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (q, v, call offset, callee) for the 7-byte instructions at text offsets ``q``
    (their variables ``v``) followed within ``MAX_TO_CALL`` bytes by one of ``calls``
    (sorted; callees ``tgt``); the others dropped."""
    nxt = np.searchsorted(calls, q + 7)
    ok = nxt < len(calls)
    q, v, nxt = q[ok], v[ok], nxt[ok]
    c = calls[nxt]
    ok = c - q <= MAX_TO_CALL
    return q[ok], v[ok], c[ok], tgt[nxt[ok]]


def _calls_of(tx: _Text, entries) -> tuple[np.ndarray, np.ndarray]:
    """Return (text offsets, link-time targets) of the direct calls of the functions whose
    entries are ``entries`` (from ``entry_calls``, by position)."""
    calls, tgt = tx.entry_calls
    keep = np.isin(tgt, np.fromiter(entries, dtype=np.int64, count=len(entries)))
    return calls[keep], tgt[keep]


MAX_VARIABLE = 1 << 16   # bytes from a receiver's address to an untyped root word it may hold


def addressed_receivers(gp: GoProcess, slots: np.ndarray) -> dict[int, tuple[str, str]]:
    """Return {run-time address v in data or bss: (``*pkg.T``, M)} for the package variables
    that may hold one of the words ``slots`` (run-time addresses; within 64 KiB after v)
    and whose address the code passes as the receiver of a direct call of ``pkg.(*T).M``:
    ``LEAQ v(SB), R`` (REX.W 8D, ModRM 00 rrr 101) reaching the call with v in AX (the
    receiver is the first argument, src/cmd/compile/abi-internal.md), perhaps through
    register copies, in a straight line of the kinds ``_registers`` reads. The receiver
    points at a T: the memory at v holds one (a variable of type T, or a T field or element
    of one at that address). From Go 1.24 a ``sync.Map``'s methods are inlined: a call of
    a generic ``internal/sync.(*HashTrieMap[...]).M`` inside an inlined ``sync.(*Map).M``
    (the inline tree at the call) takes the sync.Map's address (``_inlined_sync_map``).
    A variable named by two receiver types is left out (one
    may be the first field of the other: which one is whole is not known here)."""
    tx = _text(gp)
    if tx is None:
        return {}
    kinds = {e: k for e, k in _call_kinds(gp).items() if k[0] == "recv"}
    pt = gp.pclntab
    for i, name in enumerate(pt.names):
        if name.startswith(_HASH_TRIE_METHOD):
            kinds[int(pt.entries[i])] = ("sync.Map",)
    if not kinds:
        return {}
    md, t, base = gp.moduledata, tx.t, tx.base
    calls, tgt = _calls_of(tx, kinds)
    want = np.unique(np.asarray(slots, dtype=np.int64) - tx.bias)
    if not len(calls) or not len(want):
        return {}
    q = np.flatnonzero((t[1:len(t) - 6] == 0x8D) & ((t[2:len(t) - 5] & 0xC7) == 0x05)
                       & ((t[:len(t) - 7] == 0x48) | (t[:len(t) - 7] == 0x4C)))
    v = base + q + 7 + tx.int32_at(q + 3)
    inside = np.zeros(len(v), dtype=bool)
    for lo, hi in ((int(md.data), int(md.edata)), (int(md.bss), int(md.ebss))):
        inside |= (v >= lo) & (v < hi)
    # only variables that may hold one of ``slots``: an untyped root word in [v, v+64 KiB)
    j = np.searchsorted(want, v)
    inside &= (j < len(want)) & (want[np.minimum(j, len(want) - 1)] < v + MAX_VARIABLE)
    q, v = q[inside], v[inside]
    q, v, c, ct = _next_calls(calls, tgt, q, v)
    found: dict[int, set] = {}
    for lea, var, call, callee in zip(q.tolist(), v.tolist(), c.tolist(), ct.tolist()):
        kind = kinds[callee]
        if kind[0] == "sync.Map":
            kind = _inlined_sync_map(pt, tx.base + call)
            if kind is None:
                continue
        regs = _registers(tx, lea, call)
        if regs is not None and regs.get(AX) == ("lea", var):
            found.setdefault(var, set()).add(kind[1:])
    out = {k + tx.bias: min(s) for k, s in found.items()      # min: the same each run
           if len({r for r, _ in s}) == 1}
    log.debug("allocation sites: %d package variables typed as pointer-method receivers", len(out))
    return out
