"""What an ELF core's notes look like for each machine it may come from (``e_machine``).

``struct elf_prstatus`` (include/uapi/linux/elfcore.h) is the same on every 64-bit Linux
up to ``pr_reg``: si_signo si_code si_errno, pr_cursig (+2 pad), pr_sigpend pr_sighold,
pr_pid pr_ppid pr_pgrp pr_sid, four struct timevals (112 bytes). ``pr_reg`` is the
machine's ``elf_gregset_t``: ``struct user_regs_struct`` on x86-64
(arch/x86/include/asm/user_64.h), ``struct user_pt_regs`` on arm64
(arch/arm64/include/uapi/asm/ptrace.h: x0-x30, sp, pc, pstate). The thread pointer is
``fs_base`` in x86-64's pr_reg; on arm64 it is TPIDR_EL0, in its own ``NT_ARM_TLS`` note
(which qemu-user does not write).

Only little-endian 64-bit cores reach here (the reader checks ELFCLASS64 and ELFDATA2LSB
first), so these are fixed layouts of the format, not guesses about the process.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

EM_X86_64 = 62
EM_AARCH64 = 183
NT_ARM_TLS = 0x401  # desc: tpidr_el0 (u64), then tpidr2_el0 on newer kernels

_PRSTATUS_HEAD = "<iiih2xQQiiii64x"  # everything before pr_reg (112 bytes)
_AMD64_REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
               "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss", "fs_base",
               "gs_base", "ds", "es", "fs", "gs")
_ARM64_REGS = tuple(f"x{i}" for i in range(31)) + ("sp", "pc", "pstate")


@dataclass(frozen=True)
class ElfArch:
    """One machine's core layout: its GOARCH name, prstatus and register names."""

    goarch: str
    machine: int
    regs: tuple[str, ...]          # pr_reg's words in kernel order
    prstatus: struct.Struct        # the whole elf_prstatus up to and including pr_reg
    tls_reg: str | None            # the register in pr_reg holding the thread pointer
    tls_note: int | None           # the note holding it otherwise (its first word)


ARCHES = {
    EM_X86_64: ElfArch("amd64", EM_X86_64, _AMD64_REGS,
                       struct.Struct(_PRSTATUS_HEAD + "%dQ" % len(_AMD64_REGS)), "fs_base", None),
    EM_AARCH64: ElfArch("arm64", EM_AARCH64, _ARM64_REGS,
                        struct.Struct(_PRSTATUS_HEAD + "%dQ" % len(_ARM64_REGS)), None, NT_ARM_TLS),
}


def arch_of(machine: int) -> ElfArch | None:
    """Return the core layout of ELF machine ``machine``, or None when it is not read."""
    return ARCHES.get(machine)
