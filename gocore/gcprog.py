"""Go GC programs: the compact pointer masks of large types before Go 1.24.

A type whose ``kind`` has ``kindGCProg`` (or a stack object with ``useGCProg``) points at a
uint32 length and a program (src/runtime/mbitmap.go runGCProg): ``0`` ends; ``0nnnnnnn``
emits n literal bits from the next ceil(n/8) bytes; ``1nnnnnnn c`` repeats the last n bits
c times (n = 0: n is a varint first).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import GoCoreError
from .varint import uvarint


class GCProgramError(GoCoreError):
    """A GC program that cannot be what the compiler wrote."""


def run_gc_program(prog: bytes, limit_bits: int | None = None) -> np.ndarray:
    """Return the bits the program writes, one bool per word (at most ``limit_bits``)."""
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
                whole = np.concatenate(out) if len(out) != 1 else out[0]
                out = [whole, np.tile(whole[total - n:total], c)]
                total += n * c
            if limit_bits is not None and total >= limit_bits:
                break
    except IndexError:
        raise GCProgramError("GC program runs past its end") from None
    res = np.concatenate(out) if out else np.zeros(0, dtype=bool)
    return res[:limit_bits] if limit_bits is not None else res


def gc_program_mask(read: Callable[[int, int], bytes], addr: int, nbits: int) -> np.ndarray:
    """Return exactly ``nbits`` mask bits from the length-prefixed program at ``addr``."""
    plen = int.from_bytes(read(addr, 4), "little")
    bits = run_gc_program(read(addr + 4, plen), nbits)
    out = np.zeros(nbits, dtype=bool)
    out[:len(bits)] = bits
    return out
