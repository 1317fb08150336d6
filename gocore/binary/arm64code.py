"""Decode arm64 Go code into the few facts the stripped-binary global finder reads.

On arm64 a global's address is built in two instructions: ``ADRP Xn, page`` then
``ADD Xd, Xn, #lo`` (the address itself, amd64's ``LEA``) or a load/store
``LDR/STR/LDP/STP/LDAR/STLR Xt, [Xn, #lo]`` (an access at page+lo). This decoder follows
each register's known address through a function, linearly (Go's compiler materialises
the page again before each use, in REGTMP R27 or the argument register), and yields for
every instruction: mnemonic, the address it materialises or accesses, its call target,
its first register operand, the register a memory operand is based on, and its immediate.

It reads capstone's text (``mnemonic``, ``op_str``), which is the same in capstone 5's
ARM64 and 6's AArch64 modes, rather than version-specific operand detail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

_REG = r"([xw](?:\d+|zr)|sp)"
_ADRP = re.compile(rf"^{_REG}, #(-?0x[0-9a-f]+|-?\d+)$")
_ADD_IMM = re.compile(rf"^{_REG}, {_REG}, #(0x[0-9a-f]+|\d+)$")
_MOV_IMM = re.compile(rf"^{_REG}, #(0x[0-9a-f]+|\d+)$")
_MEM = re.compile(rf"\[{_REG}(?:, #(-?0x[0-9a-f]+|-?\d+))?\]")
_BRANCH_TARGET = re.compile(r"^#(0x[0-9a-f]+|\d+)$")
# mnemonics whose first operand is read, not written (compares, branches, barriers);
# stores (st*) too, except the exclusive ones, which write their status register first
_NO_WRITE = {"cmp", "cmn", "tst", "cbz", "cbnz", "tbz", "tbnz", "b", "bl", "blr", "br", "ret",
             "nop", "prfm", "dmb", "dsb", "isb", "udf", "brk", "hint"}


class Arm64Insn(NamedTuple):
    """One decoded instruction (addresses are the executable's link-time addresses)."""

    addr: int
    mnemonic: str
    target: int | None     # the global address materialised (adrp+add) or accessed
    call: int | None       # the address a BL calls
    reg: str | None        # the first register operand, 64-bit name (x0, not w0)
    mem_base: str | None   # the base register of a memory operand
    imm: int | None        # the immediate of a MOV or ADD


def _x(name: str) -> str:
    return "x" + name[1:] if name.startswith("w") else name


def _int(text: str) -> int:
    return int(text, 0)


def _written(mnemonic: str, ops: str) -> list[str]:
    """Return the registers an instruction writes (its destination operands)."""
    if mnemonic in _NO_WRITE or mnemonic.startswith("b.") or (
            mnemonic.startswith("st") and not mnemonic.startswith(("stlxr", "stxr"))):
        return []
    regs = [_x(r.strip()) for r in ops.split(",")[:2]]
    if mnemonic.startswith(("ldp", "ldaxp", "ldxp")):
        return [r for r in regs if re.fullmatch(_REG, r)]
    return [regs[0]] if regs and re.fullmatch(_REG, regs[0]) else []


def decode(code: bytes, start: int) -> Iterator[Arm64Insn]:
    """Yield the instructions of ``code`` (linked at ``start``) with the addresses of
    globals they materialise or access."""
    import capstone

    arch = getattr(capstone, "CS_ARCH_ARM64", None) or getattr(capstone, "CS_ARCH_AARCH64")
    cs = capstone.Cs(arch, capstone.CS_MODE_ARM)
    known: dict[str, int] = {}  # register -> the address it holds (from ADRP/ADD)
    for addr, _size, mnemonic, ops in cs.disasm_lite(code, start):
        target = call = reg = base = imm = None
        first = ops.split(",")[0].strip()
        if re.fullmatch(_REG, first):
            reg = _x(first)
        if mnemonic == "adrp" and (m := _ADRP.match(ops)):
            known[_x(m.group(1))] = _int(m.group(2))
            yield Arm64Insn(addr, mnemonic, None, None, reg, None, None)
            continue
        if mnemonic == "add" and (m := _ADD_IMM.match(ops)):
            imm = _int(m.group(3))
            src = known.get(_x(m.group(2)))
            if src is not None:
                target = src + imm
                known[_x(m.group(1))] = target
                yield Arm64Insn(addr, mnemonic, target, None, reg, None, imm)
                continue
        elif mnemonic == "mov" and (m := _MOV_IMM.match(ops)):
            imm = _int(m.group(2))
        elif mnemonic == "bl" and (m := _BRANCH_TARGET.match(ops)):
            call = _int(m.group(1))
        if (m := _MEM.search(ops)) is not None:
            base = _x(m.group(1))
            if base in known:
                target = known[base] + (_int(m.group(2)) if m.group(2) else 0)
        for w in _written(mnemonic, ops):
            known.pop(w, None)
        if call is not None:
            known.clear()  # a call clobbers every register the finder follows
        yield Arm64Insn(addr, mnemonic, target, call, reg, base, imm)
