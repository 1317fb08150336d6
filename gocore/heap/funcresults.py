"""Result types of functions, read from their amd64 code: ``f`` returns a fresh ``new(T)``.

A function whose every return leaves in AX (its first result under ABIInternal,
src/cmd/compile/abi-internal.md) either nil or the pointer an allocation call for T gave
(``runtime.newobject(T)``, or 1.27+'s ``mallocgcSmallScanNoHeaderSC<N>``, as
``gocore.heap.allocsites`` reads them), or the result of a call of a function of which
the same holds, returns a ``*T`` to the start of a T's slot (``regexp.MustCompile`` →
``Compile`` → ``compile``'s ``&Regexp{...}``; ``net.mustCIDR``...). A function whose every
return leaves nil or what AX held at its entry returns its first argument (a method
returning its receiver: ``new(big.Int).SetInt64(1)`` is the ``new(big.Int)``).

The function's instructions (``[entry, end)`` of its pclntab record) are decoded by
capstone and followed along every path (conditional jumps both ways, direct jumps) with,
per general register and per 8-byte stack slot ``off(SP)``, what it holds: a ``LEAQ
a(SB)``'s address, nil, a fresh T, or not known. Joining paths keeps only what they agree
on (nil and a fresh T join to "nil or a fresh T"). Any call but the write barrier's
(src/runtime/asm_amd64.s: it preserves every register) forgets every register (all are
caller-saved) and the stack slots the callee may write (its argument area: the callee's
``_func.args`` bytes from SP; every slot for an indirect call, or when the function
takes a stack address: ``LEAQ off(SP)`` into a register other than BP, but the large-frame
prologue's ``LEAQ -N(SP), R12; CMPQ R12, 16(R14)``, whose R12 is read by nothing else); a
write through any other register then forgets every slot too. ``runtime.makemap_small``
gives a fresh map header of a type its caller knows (``MAP_HEADER``), ``runtime.makeslice``
with ``LEAQ et(SB), AX`` a fresh array of ``et`` (``("slice", et)``). An instruction not read here forgets the
registers it writes and, when it has a memory operand or is a string instruction, every
slot. A function is not read when it has a jump table (an indirect jump), a ``deferreturn`` (a recovered panic resumes there
with results the paths do not show) or more than ``MAX_BYTES`` of code; a tail jump to
another function returns what that one returns. Recursion is cut (not known). The
runtime's own functions are not read: ``makemap_small``'s ``new(hmap)`` is a map header
whose map type only its caller knows (``allocsites.global_uses`` reads it from its uses).
``Results.flow`` gives the state before every instruction of a ``decoded`` function, for
readers of other instructions than its returns (``gocore.heap.storeflows``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .allocsites import LEAQ_AX, _isa, _Text
from ..memo import once_per

if TYPE_CHECKING:
    import capstone

    from ..process import GoProcess

MAX_BYTES = 1 << 12      # a function longer than this is not read (the cost: ~6 ms a function)
RUNTIME_PACKAGES = ("runtime.", "internal/runtime/")
MAX_DEPTH = 3            # calls followed into callees, at most
NIL = ("nil",)
_STRING = re.compile(r"rep|stos|movs[bwdq]?$|cmps|scas|lods|ins|outs")
AX, BX, SP, BP, R12, R14 = 0, 3, 4, 5, 12, 14

_Val = tuple            # ("lea", a) | NIL | ("new" or "slice", descriptor address) | ARG0 | MAP_HEADER
ARG0 = ("arg0",)        # what AX held at the function's entry: its first argument
MAP_HEADER = ("map",)   # a fresh map header of a type not known here (makemap_small's)
_FRESH = ("new", "arg0", "map", "slice", "call")   # ("slice", elem descriptor): makeslice's array
# ("call", target, AX before the call): a call's result worked out only when asked
# (``Results.resolve``), in a ``flow(lazy=True)``
MAKEMAP_SMALL = "runtime.makemap_small"
MAKESLICE = ("runtime.makeslice", "runtime.makeslice64")
_State = tuple          # (registers {number: _Val}, slots {SP offset: _Val})


def _join(a: _Val | None, b: _Val | None) -> _Val | None:
    if a == b:
        return a
    if a == NIL and b is not None and b[0] in _FRESH:
        return b
    if b == NIL and a is not None and a[0] in _FRESH:
        return a
    return None


def _meet(s: _State, t: _State) -> _State:
    regs = {r: v for r in s[0].keys() & t[0].keys() if (v := _join(s[0][r], t[0][r])) is not None}
    slots = {o: v for o in s[1].keys() & t[1].keys() if (v := _join(s[1][o], t[1][o])) is not None}
    return regs, slots


class _Insn:
    """What one instruction does, as the analysis reads it (decoded once)."""

    __slots__ = ("addr", "next", "kind", "target", "dst", "src", "mem", "writes", "sp_write",
                 "takes_stack", "bound_check")

    def __init__(self, ins: capstone.CsInsn):
        k = _isa()
        self.addr, self.next = ins.address, ins.address + ins.size
        self.kind = "other"
        self.target: int | None = None     # direct call or jump target (link-time)
        self.dst: int | None = None        # register set by "set" / "load"
        self.src: object = None            # what "set" puts there, or the slot "load" reads
        self.mem: tuple | None = None      # (base register number or -1, disp, size) written
        reads, writes = ins.regs_access()
        self.writes = {k.gpr[r] for r in writes if r in k.gpr}
        self.sp_write = SP in self.writes
        self.takes_stack = False            # LEAQ off(SP) / off(BP): a frame address
        self.bound_check = False            # CMPQ R12, 16(R14): the stack bound's check
        i = ins.id
        if i == k.NOP:
            self.kind = "nop"
            return
        groups = ins.groups        # read once: each access copies capstone's detail
        if k.GRP_CALL in groups or i == k.JMP or k.GRP_JUMP in groups or _ret_group() in groups:
            ops = ins.operands
            op = ops[0] if ops else None
            direct = op is not None and op.type == k.OP_IMM
            self.target = op.imm if direct else None
            if _ret_group() in groups:
                self.kind = "ret"
            elif k.GRP_CALL in groups:
                self.kind = "call"
            elif i == k.JMP:
                self.kind = "jmp"
            else:
                self.kind = "jcc"
            if not direct and self.kind != "ret":
                self.kind += "*"           # indirect
            return
        if i not in k.line_kinds:
            # no memory operand, no string instruction (which writes through DI): only
            # registers change (INC, CMOVQ, SETcc, IMUL...); else "other": all slots too
            if not any(op.type == k.OP_MEM for op in ins.operands) and not _STRING.search(ins.mnemonic):
                self.kind = "regs"
            return
        ops = ins.operands
        self.kind = "line"
        if i == _read_only_cmp() and len(ops) == 2 and ops[0].type == k.OP_REG \
                and k.gpr.get(ops[0].reg) == R12 and ops[1].type == k.OP_MEM \
                and k.gpr.get(ops[1].mem.base) == R14 and ops[1].mem.disp == 16:
            self.bound_check = True
        # Go 1.19/1.21's prologue sets the frame pointer by LEAQ off(SP), BP (writes
        # through BP forget every slot): a frame address in another register is taken
        if i == k.LEA and len(ops) == 2 and k.gpr.get(ops[1].mem.base) in (SP, BP) \
                and k.gpr.get(ops[0].reg) != BP:
            self.takes_stack = True
        if i == k.MOV and len(ops) == 2 and ops[1].type == k.OP_REG and k.gpr.get(ops[1].reg) in (SP, BP) \
                and not (ops[0].type == k.OP_REG and k.gpr.get(ops[0].reg) in (SP, BP)) \
                and not (ops[0].type == k.OP_MEM and k.gpr.get(ops[0].mem.base) == SP):   # BP saved
            self.takes_stack = True
        if ops and ops[0].type == k.OP_MEM and i not in _read_only():
            m = ops[0].mem
            # an indexed write (off(SP)(CX*8)) may hit any slot: as a write through BP
            base = k.gpr.get(m.base, -1) if m.index == 0 else BP
            self.mem = (base, m.disp, ops[0].size)
        if len(self.writes) == 1 and ops and ops[0].type == k.OP_REG and ops[0].reg in k.gpr64:
            r = k.gpr[ops[0].reg]
            src = ops[1] if len(ops) > 1 else None
            if i == k.LEA and src is not None and src.type == k.OP_MEM and src.mem.base == k.RIP \
                    and src.mem.index == 0:
                self.kind, self.dst, self.src = "set", r, ("lea", self.next + src.mem.disp)
            elif i == k.XOR and src is not None and src.type == k.OP_REG and src.reg == ops[0].reg:
                self.kind, self.dst, self.src = "set", r, NIL
            elif i == k.MOV and src is not None and src.type == k.OP_IMM and src.imm == 0:
                self.kind, self.dst, self.src = "set", r, NIL
            elif i == k.MOV and src is not None and src.type == k.OP_REG and src.reg in k.gpr64:
                self.kind, self.dst, self.src = "copy", r, k.gpr[src.reg]
            elif i == k.MOV and src is not None and src.type == k.OP_MEM and src.size == 8 \
                    and k.gpr.get(src.mem.base) == SP and src.mem.index == 0:
                self.kind, self.dst, self.src = "load", r, src.mem.disp
        elif i == k.MOV and self.mem is not None and self.mem[0] == SP and self.mem[2] == 8 \
                and ops[1].type == k.OP_REG and ops[1].reg in k.gpr64:
            self.kind, self.src = "spill", k.gpr[ops[1].reg]
        # 32-bit zeroing (XORL AX, AX) writes EAX: the whole of RAX is 0
        if i == k.XOR and len(ops) == 2 and ops[0].type == ops[1].type == k.OP_REG \
                and ops[0].reg == ops[1].reg and ops[0].reg in k.gpr and len(self.writes) == 1:
            self.kind, self.dst, self.src = "set", k.gpr[ops[0].reg], NIL


def _prologue(insns: list[_Insn]) -> int:
    """Return how many instructions at the function's entry are the large-frame stack bound
    check, ``LEAQ -N(SP), R12; CMPQ R12, 16(R14)`` (cmd/internal/obj/x86/obj6.go
    ``stacksplit``: R12 is REGENTRYTMP0, a scratch the register allocator never sees, so
    the frame address it holds is not read afterwards): 2, else 0."""
    if len(insns) > 2 and insns[0].takes_stack and insns[0].writes == {R12} and insns[1].bound_check:
        return 2
    return 0


def _read_only_cmp() -> int:
    from capstone import x86
    return x86.X86_INS_CMP


def _ret_group() -> int:
    import capstone
    return capstone.CS_GRP_RET


def _read_only() -> frozenset:
    from capstone import x86
    return frozenset({x86.X86_INS_CMP, x86.X86_INS_TEST})


class Results:
    """The result types of a module's functions, worked out on demand and kept."""

    def __init__(self, gp: GoProcess, tx: _Text):
        self.gp, self.tx = gp, tx
        self.known: dict[int, _Val | None] = {}
        self._active: set[int] = set()
        f = gp.pclntab.lookup(MAKEMAP_SMALL)
        self._makemap_small = f.entry if f is not None else None
        self._makeslice = {f.entry for f in map(gp.pclntab.lookup, MAKESLICE) if f is not None}

    def result_type(self, entry: int) -> int | None:
        """Return the run-time address of T when the function at link-time ``entry``
        returns only nil or a fresh ``new(T)`` as the module doc says (None: not known)."""
        v = self.result(entry)
        return v[1] if v is not None and v[0] == "new" else None

    def returns_first_argument(self, entry: int) -> bool:
        """Return whether the function at link-time ``entry`` returns only nil or what AX
        held at its entry (its receiver or first argument: ``z.SetInt64(x)`` returns z)."""
        return self.result(entry) == ARG0

    def result(self, entry: int, depth: int = 0) -> _Val | None:
        """Return what the function at ``entry`` returns in AX: ``("new", T)`` or ``ARG0``
        (None: not known)."""
        if entry in self.known:
            return self.known[entry]
        if entry in self._active or depth > MAX_DEPTH:
            return None                     # not kept: known when reached another way
        self._active.add(entry)
        try:
            got = self._analyse(entry, depth)
        finally:
            self._active.discard(entry)
        self.known[entry] = got
        return got

    def _callee_args(self, target: int) -> int | None:
        pt = self.gp.pclntab
        fi = int(pt.find_index(target))
        if fi < 0 or int(pt.entries[fi]) != target:
            return None
        return max(int(pt.func(fi).args), 0)

    def _analyse(self, entry: int, depth: int) -> _Val | None:
        pt = self.gp.pclntab
        fi = int(pt.find_index(entry))
        if fi < 0 or int(pt.entries[fi]) != entry:
            return None
        f = pt.func(fi)
        if f.name.startswith(RUNTIME_PACKAGES):
            return None     # makemap_small's hmap: a map header of a type its caller knows
        if f.deferreturn:
            return None
        insns = self.decoded(entry, MAX_BYTES)
        if insns is None:
            return None
        state = self.flow(entry, insns, depth)
        returned: set[_Val | None] = set()
        end = insns[-1].next
        for n, (regs, _) in state.items():
            ins = insns[n]
            if ins.kind == "ret":
                returned.add(regs.get(AX))
            elif ins.kind in ("jmp", "jcc") and not entry <= ins.target < end:
                returned.add(self._call_value(ins.target, regs, depth))   # a tail call
        news = {v for v in returned if v != NIL}
        if len(news) != 1:
            return None
        v = news.pop()
        return v if v is not None and v[0] in _FRESH else None

    def decoded(self, entry: int, max_bytes: int) -> list[_Insn] | None:
        """Return the instructions of the function at link-time ``entry`` (its pclntab
        record's ``[entry, end)``), or None when it is longer than ``max_bytes``, not all
        decoded, has an indirect jump (a jump table) or a jump into an instruction."""
        tx, pt = self.tx, self.gp.pclntab
        fi = int(pt.find_index(entry))
        if fi < 0 or int(pt.entries[fi]) != entry:
            return None
        end = pt.func(fi).end
        if end - entry > max_bytes or entry < tx.base or end > tx.base + len(tx.raw):
            return None
        code = tx.raw[entry - tx.base:end - tx.base]
        insns = [_Insn(i) for i in _isa().cs.disasm(code, entry)]
        if not insns or insns[-1].next != end:
            return None                     # not all of it decoded
        if any(i.kind in ("jmp*", "jcc*") for i in insns):
            return None
        at = {ins.addr for ins in insns}
        if any(i.kind in ("jmp", "jcc") and entry <= i.target < end and i.target not in at
               for i in insns):
            return None                     # a jump into an instruction: not decoded so
        return insns

    def flow(self, entry: int, insns: list[_Insn], depth: int = 0,
             lazy: bool = False) -> dict[int, _State]:
        """Return, per index of ``insns`` (a function's ``decoded`` instructions) reached
        from its entry, what the registers and stack slots hold before it, as the module
        doc says (joined over every path that reaches it). ``lazy``: a call of another
        function than an allocator leaves ``("call", target, AX before)`` in AX, its result
        read only when ``resolve`` is asked (most calls' results are never looked at)."""
        tx = self.tx
        end = insns[-1].next
        at = {ins.addr: n for n, ins in enumerate(insns)}
        stack_taken = any(i.takes_stack for i in insns[_prologue(insns):])
        state: dict[int, _State] = {0: ({AX: ARG0}, {})}
        work = [0]
        while work:
            n = work.pop()
            ins = insns[n]
            regs, slots = state[n]
            regs, slots = dict(regs), dict(slots)
            succ: list[int] = []
            k = ins.kind
            if k == "ret":
                continue
            if k == "jmp" and not entry <= ins.target < end:
                continue                    # a tail call
            if k in ("call", "call*"):
                if k == "call" and ins.target in tx.barriers:
                    pass
                else:
                    ax = self._call_value(ins.target, regs, depth, lazy) if k == "call" else None
                    args = self._callee_args(ins.target) if k == "call" else None
                    regs = {} if ax is None else {AX: ax}
                    # a callee given a frame address may write any slot
                    slots = {} if args is None or stack_taken else \
                        {o: v for o, v in slots.items() if o >= args}
            elif k == "nop":
                pass
            elif k == "regs" and not ins.sp_write:
                regs = {r: v for r, v in regs.items() if r not in ins.writes}
            elif k == "other" or ins.sp_write:
                regs = {r: v for r, v in regs.items() if r not in ins.writes}
                slots = {}
            elif k not in ("jmp", "jcc"):
                if ins.mem is not None:
                    base, disp, size = ins.mem
                    if base == SP:
                        slots = {o: v for o, v in slots.items() if o + 8 <= disp or o >= disp + size}
                    elif stack_taken or base == BP:      # BP: the frame
                        slots = {}
                if k == "spill":
                    v = regs.get(ins.src)
                    if v is not None:
                        slots[ins.mem[1]] = v
                for r in ins.writes:
                    regs.pop(r, None)
                if k == "set":
                    regs[ins.dst] = ins.src
                elif k == "copy":
                    v = state[n][0].get(ins.src)
                    if v is not None:
                        regs[ins.dst] = v
                elif k == "load":
                    v = state[n][1].get(ins.src)
                    if v is not None:
                        regs[ins.dst] = v
            if k not in ("jmp",) and n + 1 < len(insns):
                succ.append(n + 1)
            if k in ("jmp", "jcc") and entry <= ins.target < end:
                succ.append(at[ins.target])
            for s in succ:
                new = (regs, slots)
                old = state.get(s)
                if old is not None:
                    new = _meet(old, new)
                    if new == old:
                        continue
                state[s] = new
                work.append(s)
        return state

    def resolve(self, v: _Val | None) -> _Val | None:
        """Return the value a ``flow(lazy=True)`` value stands for: a call's result read."""
        while v is not None and v[0] == "call":
            got = self.result(v[1], 1)
            v = v[2] if got == ARG0 else got
        return v

    def _call_value(self, target: int, regs: dict, depth: int, lazy: bool = False) -> _Val | None:
        """Return what AX holds after a direct call of ``target`` (None: not known)."""
        if target == self._makemap_small:
            return MAP_HEADER     # src/runtime/map.go: new(hmap) / maps.NewEmptyMap's new(Map)
        if target in self._makeslice:
            # src/runtime/slice.go: makeslice(et, len, cap) is mallocgc(et.size*cap, et, true)
            t = regs.get(AX)
            return ("slice", t[1] + self.tx.bias) if t is not None and t[0] == "lea" else None
        modrm = self.tx.allocators.get(target)
        if modrm is not None:
            t = regs.get(AX if modrm == LEAQ_AX else BX)
            return ("new", t[1] + self.tx.bias) if t is not None and t[0] == "lea" else None
        if lazy:
            return ("call", target, regs.get(AX))
        got = self.result(target, depth + 1)
        return regs.get(AX) if got == ARG0 else got


@once_per
def shared_results(gp: GoProcess) -> Results | None:
    """Return the one ``Results`` of a process's module (None: its text is not read), so
    that every reader of call results shares what was worked out."""
    from .allocsites import _text
    tx = _text(gp)
    return None if tx is None else Results(gp, tx)
