"""A synthetic x86-64 ELF core writer built with struct.pack only (not core/'s structs)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

PT_LOAD, PT_NOTE = 1, 4
NT_PRSTATUS = 1
REG_ORDER = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
             "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss", "fs_base",
             "gs_base", "ds", "es", "fs", "gs")


def _note(name: bytes, ntype: int, desc: bytes) -> bytes:
    name += b"\0"
    pad = lambda b: b + bytes(-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def prstatus(tid: int, regs: dict[str, int], cursig: int = 0) -> bytes:
    """Return an NT_PRSTATUS descriptor (336 bytes) for thread ``tid``."""
    head = struct.pack("<iiih2xQQiiii", cursig, 0, 0, cursig, 0, 0, tid, 1, tid, tid) + bytes(64)
    body = struct.pack("<27Q", *(regs.get(r, 0) for r in REG_ORDER))
    return head + body + struct.pack("<i4x", 0)


@dataclass
class SynthCore:
    """Threads and PT_LOADs; ``build()`` returns the core's bytes."""

    threads: list[tuple[int, dict[str, int], int]] = field(default_factory=list)
    loads: list[tuple[int, int, bytes, int]] = field(default_factory=list)  # vaddr, memsz, data, flags

    def build(self) -> bytes:
        notes = b"".join(_note(b"CORE", NT_PRSTATUS, prstatus(t, r, s)) for t, r, s in self.threads)
        phnum = 1 + len(self.loads)
        off = 64 + 56 * phnum
        phdrs = [struct.pack("<IIQQQQQQ", PT_NOTE, 0, off, 0, 0, len(notes), 0, 4)]
        body = notes
        off += len(notes)
        for vaddr, memsz, data, flags in self.loads:
            phdrs.append(struct.pack("<IIQQQQQQ", PT_LOAD, flags, off, vaddr, 0, len(data), memsz, 4096))
            body += data
            off += len(data)
        ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
        header = ident + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
        return header + b"".join(phdrs) + body
