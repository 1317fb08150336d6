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

Here each function holding a store to a candidate variable is decoded whole and followed
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
a map header of a map type the code does not name there. A function that cannot be followed
(an indirect jump, longer than ``MAX_BYTES``, not decoded whole) makes every candidate it
writes untyped. As in ``global_sites``, a write through the address of an enclosing variable
is not seen.

Only the words of ``slots`` (the untyped package variables still pointing at an untyped
object: tens to a few thousand) are looked for: numpy finds their RIP-relative operands in
the text; capstone decodes only the functions holding them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .allocsites import _barrier_slot, _isa, _not_in_data, _text
from .funcresults import MAP_HEADER, NIL, Results, _Insn

__all__ = ["MAP_HEADER", "fresh_stores"]

if TYPE_CHECKING:
    import capstone

    from ..process import GoProcess
    from .allocsites import _Text

log = logging.getLogger(__name__)

MAX_BYTES = 1 << 15       # a function longer than this is not followed (init functions: a few KB)
WORD = 8


def fresh_stores(gp: GoProcess, slots: np.ndarray) -> dict[int, tuple]:
    """Return {run-time address of a word of ``slots``: ``("new", run-time address of T's
    descriptor)``, ``("slice", the element type's)`` or ``MAP_HEADER``} for the package
    variables the code fills only with a fresh allocation as the module doc says (empty when
    the text is unreadable or not amd64)."""
    tx = _text(gp)
    if tx is None or not len(slots):
        return {}
    want = np.unique(np.asarray(slots).astype(np.int64) - tx.bias)
    want = want[want % WORD == 0]
    hits = _operand_hits(tx, want)
    if not len(hits):
        return {}
    pt = gp.pclntab
    fi = pt.find_index(tx.base + hits)
    results = Results(gp, tx)
    values: dict[int, set] = {}
    bad: set[int] = set()
    for f in np.unique(fi).tolist():
        at = hits[fi == f]
        entry = int(pt.entries[f]) if f >= 0 else -1
        got = _function_stores(tx, results, entry, at, want) if f >= 0 else None
        if got is None:          # not followed: every variable it may write is left out
            bad.update(_near(want, tx.base + at).tolist())
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


def _operand_hits(tx: _Text, want: np.ndarray) -> np.ndarray:
    """Return the text offsets of the ModRM bytes of RIP-relative operands (by their bytes:
    mod=00 rm=101, the disp32 after it, an immediate of 0, 1, 2 or 4 bytes after that) whose
    16 bytes from their address (the widest operand, an SSE move) overlap a word of ``want``
    (link-time, sorted)."""
    t = tx.t
    q = np.flatnonzero((t[2:max(len(t) - 9, 2)] & 0xC7) == 0x05) + 2
    disp_end = tx.base + q + 5 + tx.int32_at(q + 1)
    near = np.zeros(len(q), dtype=bool)
    for imm in (0, 1, 2, 4):
        a = disp_end + imm
        i = np.minimum(np.searchsorted(want, a - WORD, side="right"), len(want) - 1)
        near |= (want[i] > a - WORD) & (want[i] < a + 16)        # [a, a+16) meets [v, v+8)
    return q[near]


def _near(want: np.ndarray, addrs: np.ndarray) -> np.ndarray:
    """Return the words of ``want`` within 32 bytes of any of ``addrs``."""
    lo = np.searchsorted(want, addrs - 32)
    hi = np.searchsorted(want, addrs + 32)
    return np.unique(np.concatenate([want[a:b] for a, b in zip(lo, hi)] or [want[:0]]))


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
                state = results.flow(entry, insns)
            out += [(int(v), _stored(ins, a, int(v), state.get(n))) for v in hit]
    return out


def _stored(ins: capstone.CsInsn, a: int, v: int, before) -> tuple | None:
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
    got = before[0].get(k.gpr[src.reg])
    return got if got is not None and (got == NIL or got == MAP_HEADER or got[0] in ("new", "slice")) \
        else None


def _one(tx: _Text, insn: _Insn) -> capstone.CsInsn | None:
    """Return capstone's decoding (with operands) of the instruction ``insn``."""
    i = insn.addr - tx.base
    return next(_isa().cs.disasm(tx.raw[i:insn.next - tx.base], insn.addr), None)


def _write_access() -> int:
    import capstone
    return capstone.CS_AC_WRITE
