"""Package variables stored from a map the code just handed a map runtime function (amd64).

A map runtime function takes the map's type descriptor ``t`` in AX and the map ``m`` in BX
(``mapassign_faststr(t *maptype, h *hmap, s string)``, ``mapaccess1``...; src/runtime/map*.go,
src/cmd/compile/abi-internal.md), and ``makemap(t, hint, h)`` returns a map of type ``t`` in
AX. Code that fills a package variable with a map it has just built (a map composite
literal in an ``init``: ``makemap_small()``, then ``mapassign_faststr`` calls, then the
store; ``aws-sdk-go``'s endpoint tables) reads, in one straight line::

    MOVQ S(SP), BX           // the map, spilled in stack slot S
    LEAQ type(SB), AX        // its map type
    CALL runtime.mapassign_faststr(SB)
    ...                      // the element's store through AX; S is not written
    MOVQ S(SP), AX
    MOVQ AX, v(SB)           // the package variable

or ``LEAQ type(SB), AX; CALL runtime.makemap(SB); MOVQ AX, v(SB)``. The word ``v`` then held a
map of that type (``map_flows``). The line is decoded by capstone as
``gocore.heap.funcresults`` decodes a function (its ``_Insn``): from a load of BX or the type's
LEAQ shortly before the map call to the store, the map call the last call before the store,
other calls only the write barrier's (which keeps every register and writes no stack slot)
and Duff's devices' (which write only through DI, the element's address in the map);
conditional jumps fall through and forward jumps (to the store's side of a write barrier
test) are followed: one path, along which the stored value is a map of that type, which
is then the variable's static type.
Followed per register and 8-byte stack slot: what a slot held is kept until a write may hit
it: a write at an overlapping ``off(SP)``, the callee's argument area at a call
(``_func.args`` bytes from SP, which the callee may write), any write through BP or through
a register that may hold a frame address. Only the map call's result is known not to: it
points into the storage of the map being stored, which escapes to a package variable and so
is on the heap (src/cmd/compile/internal/escape). Anything else ends the line.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import numpy as np

from .allocsites import MAX_TO_STORE, _call_kinds, _isa, _text

if TYPE_CHECKING:
    from ..process import GoProcess
    from .allocsites import _Text

log = logging.getLogger(__name__)

AX, BX, SP, BP, SI, DI = 0, 3, 4, 5, 6, 7
MAX_SETUP = 64          # bytes from the map call's first argument load to the call, at most
MAX_JUMPS = 4           # forward jumps followed on the way to the store, at most
_MAKEMAP = re.compile(r"^runtime\.makemap(64)?$")
# the byte patterns that may begin the argument setup before a map call: LEAQ t(SB), AX
# (48 8D 05) and MOVQ d8/d32(SP), BX (48 8B 5C 24 / 48 8B 9C 24)
_SETUP = (b"\x48\x8d\x05", b"\x48\x8b\x5c\x24", b"\x48\x8b\x9c\x24")


def map_flows(gp: GoProcess, slots: np.ndarray) -> dict[int, int]:
    """Return {run-time address of a data or bss word: run-time address of a map type
    descriptor} for the words among ``slots`` (run-time addresses) that the code stores,
    as the module doc says, from a map a map runtime function was just handed with that
    type; a word stored two types is left out. Empty when the text is unreadable or not
    amd64."""
    tx = _text(gp)
    if tx is None or not len(slots):
        return {}
    pt, t, base = gp.pclntab, tx.t, tx.base
    kinds = _call_kinds(gp)
    maps = {e for e, k in kinds.items() if k[0] == "map"}
    makemap = {int(pt.entries[i]) for i, n in enumerate(pt.names) if _MAKEMAP.match(n)}
    if not maps and not makemap:
        return {}
    # MOVQ R, v(SB): REX.W (48 / 4C) 89, ModRM 00 rrr 101, v in data or bss
    q = np.flatnonzero((t[1:len(t) - 6] == 0x89) & ((t[2:len(t) - 5] & 0xC7) == 0x05)
                       & ((t[:len(t) - 7] == 0x48) | (t[:len(t) - 7] == 0x4C)))
    v = base + q + 7 + tx.int32_at(q + 3)
    inside = np.isin(v, np.asarray(slots, dtype=np.int64) - tx.bias)
    q, v = q[inside], v[inside]
    calls, targets = tx.entry_calls
    prev = np.searchsorted(calls, q) - 1
    ok = prev >= 0
    q, v, prev = q[ok], v[ok], prev[ok]
    c, ct = calls[prev], targets[prev]
    ok = (q - c <= MAX_TO_STORE) & np.isin(ct, np.fromiter(maps | makemap, dtype=np.int64))
    duff = []                # Duff's devices: calls land inside them, not at their entry
    for name in ("runtime.duffcopy", "runtime.duffzero"):
        f = pt.lookup(name)
        if f is not None:
            duff.append((f.entry, f.end))
    found: dict[int, set[int]] = {}
    for store, var, call, callee in zip(q[ok].tolist(), v[ok].tolist(), c[ok].tolist(),
                                        ct[ok].tolist()):
        typ = _stored_map(tx, gp, store, call, callee in makemap, duff)
        if typ is not None:
            found.setdefault(var, set()).add(typ)
    out = {k + tx.bias: next(iter(s)) + tx.bias for k, s in found.items() if len(s) == 1}
    log.debug("map flows: %d package variables stored from typed maps", len(out))
    return out


def _stored_map(tx: _Text, gp: GoProcess, store: int, call: int, makemap: bool,
                duff: list[tuple[int, int]]) -> int | None:
    """Return the link-time map type descriptor of the map the ``MOVQ R, v(SB)`` at text
    offset ``store`` stores, when the line from the argument setup of the map call at
    ``call`` shows it (None otherwise)."""
    for start in _setup_starts(tx, call):
        got = _line(tx, start, call, {}, {}, duff)
        if got is None:
            continue
        regs, slots = got
        t = regs.get(AX)
        if t is None or t[0] != "lea":
            continue
        if makemap:
            regs, slots = {AX: ("map", t[1])}, _after_call(gp, tx, call, slots)
        else:
            m = regs.get(BX)
            if m is None or m[0] != "slot":
                continue
            slots = _after_call(gp, tx, call, slots)
            slots[m[1]] = ("map", t[1])
            regs = {AX: ("safe",)}          # the element's address in the map's storage
        got = _line(tx, call + 5, store, regs, slots, duff)
        if got is None:
            return None
        ins = next(_isa().cs.disasm(tx.raw[store:store + 15], tx.base + store), None)
        if ins is None or len(ins.operands) != 2:
            return None
        src = _isa().gpr.get(ins.operands[1].reg)
        val = got[0].get(src)
        return val[1] if val is not None and val[0] == "map" else None
    return None


def _setup_starts(tx: _Text, call: int) -> list[int]:
    """Return the text offsets before ``call`` (at most ``MAX_SETUP`` bytes) where a byte
    pattern of the map call's argument setup begins, earliest first."""
    raw = tx.raw
    lo = max(call - MAX_SETUP, 0)
    out = []
    for p in range(lo, call):
        if any(raw[p:p + len(s)] == s for s in _SETUP):
            out.append(p)
    return out


def _after_call(gp: GoProcess, tx: _Text, call: int, slots: dict) -> dict:
    """Return the slot facts that survive the direct call at text offset ``call``: the
    callee may write its argument area (``_func.args`` bytes from SP)."""
    target = tx.base + call + 5 + int.from_bytes(tx.raw[call + 1:call + 5], "little", signed=True)
    pt = gp.pclntab
    fi = int(pt.find_index(target))
    if fi < 0 or int(pt.entries[fi]) != target:
        return {}
    args = max(int(pt.func(fi).args), 0)
    return {o: v for o, v in slots.items() if o >= args}


def _line(tx: _Text, i: int, end: int, regs: dict, slots: dict,
          duff: list[tuple[int, int]]) -> tuple[dict, dict] | None:
    """Follow the straight line from text offset ``i`` to ``end`` (exclusive) and return
    (registers, slots) as the module doc says, or None when it is not such a line.
    Register values: ``("lea", a)``, ``("slot", off)`` (what slot ``off`` held, unknown),
    ``("map", t)``, ``("safe",)`` (an address known not to be in the frame)."""
    from .funcresults import _Insn
    regs, slots = dict(regs), dict(slots)
    at, jumps = i, 0
    code = _isa().cs.disasm(tx.raw[at:min(end + 15, len(tx.raw))], tx.base + at)
    while at < end:
        raw = next(code, None)
        if raw is None or raw.address != tx.base + at:
            return None
        at += raw.size
        ins = _Insn(raw)
        k = ins.kind
        if k == "nop" or k == "jcc":
            continue
        if k == "jmp" and at <= ins.target - tx.base <= end and jumps < MAX_JUMPS:
            at, jumps = ins.target - tx.base, jumps + 1     # a forward jump: one path
            code = _isa().cs.disasm(tx.raw[at:min(end + 15, len(tx.raw))], tx.base + at)
            continue
        if k == "call" and ins.target in tx.barriers:
            continue
        if k == "call" and any(lo <= ins.target < hi for lo, hi in duff):
            # duffcopy / duffzero (src/runtime/duff_amd64.s): write [DI...) and advance DI
            # and SI, nothing else; a copy into the map's storage leaves the frame as it is
            if regs.get(DI) != ("safe",):
                slots.clear()
                regs = {r: x for r, x in regs.items() if x[0] != "slot"}
            regs.pop(DI, None)
            regs.pop(SI, None)
            continue
        if k not in ("line", "set", "copy", "load", "spill", "regs") or ins.sp_write:
            return None
        if ins.mem is not None:
            b, disp, size = ins.mem
            if b == SP:
                gone = {o for o in slots if not (o + 8 <= disp or o >= disp + size)}
            elif b == -1 or regs.get(b) == ("safe",) or (regs.get(b) or ("",))[0] == "lea":
                gone = set()             # a package variable, or the map's own storage
            else:
                gone = set(slots)        # may be the frame
            for o in gone:
                slots.pop(o, None)
            regs = {r: x for r, x in regs.items() if not (x[0] == "slot" and x[1] in gone)}
        new = None
        if k == "set":
            new = ins.src if ins.src[0] == "lea" else None
        elif k == "copy":
            new = regs.get(ins.src)
        elif k == "load":
            new = slots.get(ins.src, ("slot", ins.src))
        elif k == "spill":
            val = regs.get(ins.src)
            if val is not None and val[0] in ("map", "lea"):
                slots[ins.mem[1]] = val
        for r in ins.writes:
            regs.pop(r, None)
        if new is not None and ins.dst is not None:
            regs[ins.dst] = new
    return (regs, slots) if at == end else None
