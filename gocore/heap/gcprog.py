"""Go GC programs: the compact pointer masks of large types before Go 1.24.

A type whose ``kind`` has ``kindGCProg`` (or a stack object with ``useGCProg``) points at a
uint32 length and a program (src/runtime/mbitmap.go runGCProg): ``0`` ends; ``0nnnnnnn``
emits n literal bits from the next ceil(n/8) bytes; ``1nnnnnnn c`` repeats the last n bits
c times (n = 0: n is a varint first).

The compiler's program for a type writes between ``ptrdata`` and ``size`` words
(cmd/compile reflectdata.dgcprog checks it), so a program that would write more than the
type's size is corrupt; that is checked before a repeat is expanded.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import GoCoreError
from ..binary.varint import uvarint

# A program is read whole from the dump; the compiler's programs are a few hundred bytes.
MAX_PROGRAM_BYTES = 1 << 20


class GCProgramError(GoCoreError):
    """A GC program that cannot be what the compiler wrote."""


def run_gc_program(prog: bytes, limit_bits: int | None = None,
                   max_bits: int | None = None) -> np.ndarray:
    """Return the bits the program writes, one bool per word (at most ``limit_bits``).

    ``max_bits`` (the type's size in words) bounds what the program may write: a program
    writing more raises ``GCProgramError`` before anything that large is allocated.
    Expansion stops once ``limit_bits`` are written, so the work is bounded by
    ``limit_bits`` (or ``max_bits``) whatever the repeat counts say.
    """
    if limit_bits is None and max_bits is None:
        raise ValueError("run_gc_program needs limit_bits or max_bits")
    stop = limit_bits if limit_bits is not None else max_bits
    if max_bits is not None:
        stop = min(stop, max_bits)
    out: list[np.ndarray] = []
    total = 0
    p = 0
    try:
        while p < len(prog):
            inst = prog[p]
            p += 1
            n = inst & 0x7F
            if not inst & 0x80:
                if n == 0:
                    break
                nb = (n + 7) // 8
                if p + nb > len(prog):
                    raise IndexError
                out.append(np.unpackbits(np.frombuffer(prog[p:p + nb], dtype=np.uint8),
                                         bitorder="little")[:n].astype(bool))
                p += nb
                total += n
            else:
                if n == 0:
                    n, p = uvarint(prog, p)
                c, p = uvarint(prog, p)
                if n > total:
                    raise GCProgramError("GC program repeats more bits than it wrote")
                if max_bits is not None and total + n * c > max_bits:
                    raise GCProgramError(f"GC program writes {total + n * c} words, more than "
                                         f"the type's {max_bits}")
                # expand only as many repeats as the bits still wanted need
                c = min(c, -(-(stop - total) // n)) if n else 0
                whole = np.concatenate(out) if len(out) != 1 else out[0]
                out = [whole, np.tile(whole[total - n:total], c)]
                total += n * c
            if total >= stop:
                break
    except IndexError:
        raise GCProgramError("GC program runs past its end") from None
    res = np.concatenate(out) if out else np.zeros(0, dtype=bool)
    return res[:stop]


def gc_program_mask(read: Callable[[int, int], bytes], addr: int, nbits: int,
                    max_bits: int | None = None, byte_order: str = "little") -> np.ndarray:
    """Return exactly ``nbits`` mask bits from the length-prefixed program at ``addr``.

    ``max_bits`` is the type's size in words when known (see ``run_gc_program``); the
    uint32 length prefix is in ``byte_order`` (the process's).
    """
    plen = int.from_bytes(read(addr, 4), byte_order)
    if plen > MAX_PROGRAM_BYTES:
        raise GCProgramError(f"GC program at {addr:#x} claims {plen} bytes")
    bits = run_gc_program(read(addr + 4, plen), nbits, max_bits)
    out = np.zeros(nbits, dtype=bool)
    out[:len(bits)] = bits
    return out
