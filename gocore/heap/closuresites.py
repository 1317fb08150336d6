"""Closure context types from the code that makes the closures (amd64).

A closure that escapes is a heap object of the compiler's struct ``struct { F uintptr; X0
T0; ... }`` (cmd/compile/internal/typecheck/func.go ``ClosureType``): the function making it
allocates one with that struct's type descriptor, then stores the closure function's entry
in word 0 (cmd/compile/internal/walk/closure.go). The descriptor is the runtime's own
record of the captured variables' types; the code names it, as an argument of the
allocation call:

* ``runtime.newobject(typ)``: ``LEAQ type(SB), AX; CALL runtime.newobject(SB)``
  (src/runtime/malloc.go ``newobject``; ABIInternal passes ``typ`` in AX);
* from Go 1.27 (``GOEXPERIMENT=sizespecializedmalloc``, on by default; up to 80 bytes):
  ``CALL runtime.mallocgcSmallScanNoHeaderSC<N>(size, typ, needzero)`` with ``typ`` in BX
  (cmd/compile/internal/ssagen/ssa.go ``newObject``, src/runtime/malloc_generated.go).

and the store that follows the call: ``LEAQ pkg.f.func1(SB), R; MOVQ R, 0(AX)`` (AX holds
the result; a spill ``MOVQ AX, off(SP)`` may come first). Only exactly these instruction sequences are read (no-ops and moves of
constants into other argument registers may sit between the type's LEAQ and the call); a
closure function seen with two different descriptors is not typed from code.

The scan is one numpy pass over the text: every ``CALL rel32`` to an allocation function,
then the fixed byte patterns around it. Other architectures: nothing is found.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from core.errors import Error

from ..memo import once_per
from .typeseeds import closure_function

if TYPE_CHECKING:
    from ..process import GoProcess

log = logging.getLogger(__name__)

AX_ALLOCATORS = ("runtime.newobject",)
BX_ALLOCATOR_PREFIX = "runtime.mallocgcSmallScanNoHeaderSC"   # Go 1.27+: (size, typ, needzero)
LEAQ_AX, LEAQ_BX = 0x05, 0x1D        # ModRM of LEAQ disp32(RIP) into AX / BX
MAX_BACK = 24                         # bytes between the type's LEAQ and the call, at most
# what may stand between the type's LEAQ and the call: Go's no-ops (cmd/internal/obj/x86
# asm6.go ``nop``), MOVL $imm32 into AX or CX (size, needzero), XORL CX, CX
_NOPS = (b"\x90", b"\x66\x90", b"\x0f\x1f\x00", b"\x0f\x1f\x40\x00", b"\x0f\x1f\x44\x00\x00",
         b"\x66\x0f\x1f\x44\x00\x00", b"\x0f\x1f\x80\x00\x00\x00\x00",
         b"\x0f\x1f\x84\x00\x00\x00\x00\x00", b"\x66\x0f\x1f\x84\x00\x00\x00\x00\x00")


def _int32_at(text: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Return the little-endian int32 at each byte position of ``text``."""
    v = (text[pos].astype(np.uint32) | (text[pos + 1].astype(np.uint32) << 8)
         | (text[pos + 2].astype(np.uint32) << 16) | (text[pos + 3].astype(np.uint32) << 24))
    return v.view(np.int32).astype(np.int64)


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
def closure_sites(gp: GoProcess) -> dict[int, int]:
    """Return {link-time entry of a closure function: run-time address of the closure
    struct's type descriptor} read from the code allocating its contexts (empty when the
    text is unreadable or not amd64)."""
    if gp.process.goarch != "amd64":
        return {}
    pt, md = gp.pclntab, gp.moduledata
    base, end = int(md.text), int(md.etext)
    bias = gp.process.exe_bias
    allocators: dict[int, int] = {}
    for name in AX_ALLOCATORS:
        f = pt.lookup(name)
        if f is not None:
            allocators[f.entry] = LEAQ_AX
    for i, name in enumerate(pt.names):
        if name.startswith(BX_ALLOCATOR_PREFIX):
            allocators[int(pt.entries[i])] = LEAQ_BX
    if not allocators or end <= base:
        return {}
    try:
        raw = gp.process.read(base + bias, end - base)
    except Error as e:
        log.warning("closure sites: text unreadable: %s", e)
        return {}
    text = np.frombuffer(raw, dtype=np.uint8)
    n = len(text)
    # CALL rel32 to an allocator, with room for LEAQ+MOVQ after it
    calls = np.flatnonzero(text[:n - 24] == 0xE8)
    calls = calls[calls >= 7]
    tgt = base + calls + 5 + _int32_at(text, calls + 1)
    alloc_entries = np.fromiter(allocators, dtype=np.int64)
    calls, tgt = calls[np.isin(tgt, alloc_entries)], tgt[np.isin(tgt, alloc_entries)]
    # after the call (and perhaps a spill MOVQ AX, d8/d32(SP)): LEAQ fn(SB), R; MOVQ R, 0(AX)
    s = calls + 5
    spill = (text[s] == 0x48) & (text[s + 1] == 0x89) & (text[s + 3] == 0x24)
    s = s + np.where(spill & (text[s + 2] == 0x44), 5, np.where(spill & (text[s + 2] == 0x84), 8, 0))
    keep = s < n - 10
    calls, tgt, s = calls[keep], tgt[keep], s[keep]
    rex, op, modrm = text[s], text[s + 1], text[s + 2]
    lea = ((rex == 0x48) | (rex == 0x4C)) & (op == 0x8D) & ((modrm & 0xC7) == 0x05)
    reg = (modrm >> 3) & 7
    mov = (text[s + 7] == rex) & (text[s + 8] == 0x89) & (text[s + 9] == (reg << 3))
    ok = lea & mov
    calls, tgt, s = calls[ok], tgt[ok], s[ok]
    fn = base + s + 7 + _int32_at(text, s + 3)
    found: dict[int, set[int]] = {}
    for c, t, f in zip(calls.tolist(), tgt.tolist(), fn.tolist()):
        typ = _type_argument(raw, c, allocators[t])
        if typ is not None:
            found.setdefault(f, set()).add(base + typ + bias)
    out = {}
    for f, typs in found.items():
        fi = pt.find_index(f)
        if len(typs) != 1 or fi < 0 or int(pt.entries[fi]) != f:
            continue
        if closure_function(pt.func(int(fi)).name):
            out[f] = typs.pop()
    log.debug("closure sites: %d closure functions typed from code", len(out))
    return out


def _type_argument(raw: bytes, call: int, modrm: int) -> int | None:
    """Return the text offset the LEAQ loading the type argument before ``call`` points at."""
    for p in range(call - 7, max(call - 7 - MAX_BACK, -1), -1):
        if raw[p] == 0x48 and raw[p + 1] == 0x8D and raw[p + 2] == modrm:
            if _only_fillers(raw[p + 7:call], modrm == LEAQ_BX):
                disp = int.from_bytes(raw[p + 3:p + 7], "little", signed=True)
                return p + 7 + disp
    return None
