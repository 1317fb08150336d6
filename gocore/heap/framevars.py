"""Which DWARF variable a goroutine frame's pointer word is: its name, field path and type.

A frame word at ``CFA + off`` (CFA: the caller's SP, amd64) is named, in this order, by

1. the variables whose location at the frame's pc (link-time: the pc a frame's variables
   are located at) places that word in memory (``located``);
2. where no variable is located there (common at call sites of optimized code: the list
   follows a value through registers and forgets its spill slot), the one variable whose
   location list puts it in that stack word elsewhere in the function, or whose register
   the function's own code stores to or reloads from that word while the list says the
   register holds it (``spill``). Callers ask only about words the stack map says are
   live pointers, and the variable's type must put a pointer there, so the two agree.

The code pass reads amd64 ``MOVQ reg, disp(SP)`` / ``MOVQ disp(SP), reg`` (what the Go
compiler emits for spills and reloads) and turns ``disp`` into a CFA offset with the
function's pcsp table at that instruction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from ..binary.dwarf import location_pieces
from ..binary.gotypes import Kind, TypeTable
from .fields import field_path
from .typeinfer import _is_shape, leaf_at

if TYPE_CHECKING:
    from ..binary.dwarf import DwarfData, FrameVar, Function, Piece

LOCATED, SPILL = "located", "spill"
_POINTER_SHAPED = (Kind.PTR, Kind.MAP, Kind.CHAN, Kind.FUNC, Kind.SLICE, Kind.STRING)
# DWARF register number -> x86 register encoding (System V amd64 psABI, DWARF numbering)
_DWARF_TO_X86 = (0, 2, 1, 3, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15)


class SlotVar(NamedTuple):
    """The variable holding a frame word: ``name`` with its field path (``r``,
    ``req.Body``; None when variables of different names claim the word), the DWARF type
    of the memory at ``slot - delta`` (-1 when they disagree or it holds no pointer there;
    ``delta`` is 8 for an interface's data word) and how it was found (LOCATED, SPILL)."""

    name: str | None
    type: int
    delta: int
    how: str


class FrameSlotVars:
    """Names and types of pointer words in goroutine frames, cached per (pc, CFA offset).

    ``code(lo, n)`` returns ``n`` bytes of the executable's text at link-time ``lo`` (or
    None), ``sp_delta(pc)`` the frame size below the return address at link-time ``pc``
    (the pcsp table); without them (or off amd64) only DWARF's lists are read.
    """

    def __init__(self, dwarf: DwarfData, table: TypeTable,
                 code: Callable[[int, int], bytes | None] | None = None,
                 sp_delta: Callable[[int], int] | None = None):
        self.dwarf = dwarf
        self.table = table        # DWARF's table, or a registry's (same ids for DWARF types)
        self.ps = table.ptr_size
        self.code = code
        self.sp_delta = sp_delta
        self._cache: dict[tuple[int, int], SlotVar | None] = {}
        self._spills: dict[int, dict[int, set]] = {}     # function low_pc -> off -> candidates

    def at(self, pc: int, cfa_off: int) -> SlotVar | None:
        """Return the SlotVar of the word at ``CFA + cfa_off`` of a frame at link-time
        ``pc``, or None when no variable is known to be there."""
        key = (pc, cfa_off)
        if key not in self._cache:
            self._cache[key] = self._at(pc, cfa_off)
        return self._cache[key]

    def _at(self, pc: int, cfa_off: int) -> SlotVar | None:
        fn = self.dwarf.function(pc=pc)
        if fn is None:
            return None
        found = []
        for v in self._vars(fn):
            pieces = v.pieces_at(pc)
            if pieces:
                found.extend(self._in_pieces(v, pieces, cfa_off))
        if found:
            return _agreed(found, LOCATED)
        spilled = [c for c in self._spill_table(fn).get(cfa_off, ()) if c[1] >= 0]
        return _agreed(spilled, SPILL) if spilled else None

    def _vars(self, fn: Function):
        return [v for v in fn.vars if v.type >= 0 and not _is_shape(self.table, v.type)]

    def _in_pieces(self, v: FrameVar, pieces: tuple[Piece, ...], cfa_off: int) -> list[tuple[str, int, int]]:
        """Return (name, type, delta) for each piece of ``v`` covering ``cfa_off`` (type -1
        where ``v``'s type holds no pointer word there)."""
        vsize = self.table[v.type].size
        out = []
        vo = 0
        for p in pieces:
            size = vsize if p.size is None else p.size
            if p.kind == "cfa" and p.value <= cfa_off < p.value + size:
                var_off = vo + cfa_off - p.value
                out.append(self._leaf(v, var_off, vo))
            vo += size
        return out

    def _leaf(self, v: FrameVar, var_off: int, piece_start: int) -> tuple[str, int, int]:
        table, ps = self.table, self.ps
        leaf = leaf_at(table, v.type, var_off)
        tid, delta = -1, 0
        if leaf is not None:
            ltid, loff = leaf
            k = table[ltid].kind
            if k in _POINTER_SHAPED and loff == 0:
                tid = ltid
            elif k in (Kind.EFACE, Kind.IFACE) and loff == ps and var_off - ps >= piece_start:
                tid, delta = ltid, ps
        path = field_path(table, v.type, var_off - delta)
        return (f"{v.name}.{path}" if path else v.name), tid, delta

    def _spill_table(self, fn: Function) -> dict[int, set]:
        """Return {CFA offset: {(name, type, delta)}} of the stack words each variable
        occupies anywhere in ``fn``: its location list's memory entries, and the words
        the code spills a register holding it to (or reloads it from)."""
        got = self._spills.get(fn.low_pc)
        if got is not None:
            return got
        got = {}
        text = None
        if self.code is not None and self.sp_delta is not None and self.ps == 8:
            text = self.code(fn.low_pc, fn.high_pc - fn.low_pc)
        for v in self._vars(fn):
            for lo, hi, expr in v.loclist or ():
                pieces = location_pieces(expr) if expr else None
                if not pieces:
                    continue
                vo = 0
                for p in pieces:
                    size = self.table[v.type].size if p.size is None else p.size
                    if p.kind == "cfa":
                        for w in range(0, size - size % self.ps, self.ps):
                            got.setdefault(p.value + w, set()).add(self._leaf(v, vo + w, vo))
                    vo += size
                if text is not None and len(pieces) == 1 and pieces[0].kind == "reg" \
                        and pieces[0].value < len(_DWARF_TO_X86):
                    for off in self._moves(text, fn.low_pc, lo, hi, _DWARF_TO_X86[pieces[0].value]):
                        got.setdefault(off, set()).add(self._leaf(v, 0, 0))
        self._spills[fn.low_pc] = got
        return got

    def _moves(self, text: bytes, base: int, lo: int, hi: int, reg: int) -> list[int]:
        """Return the CFA offsets of the stack words ``MOVQ reg, disp(SP)`` stores ``reg``
        to inside ``[lo, hi)`` and ``MOVQ disp(SP), reg`` loads it from just before ``lo``."""
        rex = 0x4C if reg >= 8 else 0x48
        r = (reg & 7) << 3
        out = []

        def word(at: int, opcode: int) -> int | None:
            """The SP displacement of a MOVQ with ``opcode`` at ``at``, or None."""
            i = at - base
            if i < 0 or i + 5 > len(text) or text[i] != rex or text[i + 1] != opcode \
                    or text[i + 3] != 0x24:
                return None
            modrm = text[i + 2]
            if modrm == 0x44 | r:
                return int.from_bytes(text[i + 4:i + 5], "little", signed=True)
            if modrm == 0x84 | r and i + 8 <= len(text):
                return int.from_bytes(text[i + 4:i + 8], "little", signed=True)
            return None

        def cfa(at: int, disp: int) -> int:
            return disp - self.sp_delta(at) - self.ps

        for at in (lo - 5, lo - 8):          # a reload ending where the register holds v
            disp = word(at, 0x8B)
            if disp is not None and at + (5 if -128 <= disp < 128 else 8) == lo:
                out.append(cfa(at, disp))
        for at in range(lo, max(lo, hi - 4)):
            disp = word(at, 0x89)
            if disp is not None:
                out.append(cfa(at, disp))
        return out


def _agreed(found: list[tuple[str, int, int]], how: str) -> SlotVar | None:
    """Return the SlotVar the candidates agree on: a type when all give one (type, delta),
    a name when all give one name."""
    kinds = {(t, d) for _, t, d in found}
    names = {n for n, _, _ in found}
    tid, delta = next(iter(kinds)) if len(kinds) == 1 else (-1, 0)
    name = next(iter(names)) if len(names) == 1 else None
    if name is None and tid < 0:
        return None
    return SlotVar(name, tid, delta, how)
