"""Named facts about the machine a Go program was built for (GOARCH), beside ``facts.py``.

Each value is a constant of the runtime for that architecture; the GOROOT file saying so
is named on each. The frame geometry is ``unwinder.resolveInternal`` and ``next`` in
src/runtime/traceback.go and ``scanframeworker`` in src/runtime/mgcmark.go, the same in
Go 1.19 and 1.21-1.27 apart from what ``facts.Facts`` records.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchFacts:
    """What the unwinder, the stack scanner and the thread readers need per GOARCH."""

    goarch: str
    # sys.MinFrameSize (internal/runtime/sys/arch_*.go): 0 on amd64 (CALL pushes the
    # return address above the callee's frame), 8 on arm64 (the callee saves LR at 0(RSP),
    # the lowest word of its own frame; arguments start at sp+8)
    min_frame_size: int
    # sys.StackAlign: the pointer size on amd64, 16 on arm64
    stack_align: int
    # stkframe.go getStackMap: locals exist only when varp - sp exceeds this
    # (sys.MinFrameSize, but sys.StackAlign on arm64)
    locals_min_size: int
    # the register holding the running goroutine's g in Go code (arm64: R28, asm_arm64.s
    # "g is R28"); None: it is in thread-local storage (amd64: -8(FS))
    g_register: str | None
    # the general registers a running goroutine's pointers may be in (scanned conservatively)
    gp_regs: tuple[str, ...]
    # Where the kernel saved the interrupted pc, sp and lr, as byte offsets from the
    # handler's first SP (runtime.sigtramp's frame top): linux/amd64 rt_sigframe is pretcode,
    # then a ucontext whose mcontext (at +40) holds r8..r15, rdi, rsi, rbp, rbx, rdx, rax,
    # rcx, rsp, rip (defs_linux_amd64.go); linux/arm64 rt_sigframe is a siginfo (128
    # bytes), then a ucontext whose mcontext (at +176) is fault_address, x0-x30, sp, pc
    # (defs_linux_arm64.go). None: that register is not saved (amd64 has no lr).
    sigframe_pc: int
    sigframe_sp: int
    sigframe_lr: int | None

    @property
    def uses_lr(self) -> bool:
        """Return whether calls leave the return address in a link register (traceback.go
        ``usesLR = sys.MinFrameSize > 0``) rather than push it."""
        return self.min_frame_size > 0


_ARM64_MCONTEXT = 128 + 176 + 8  # siginfo, ucontext up to uc_mcontext, fault_address

ARCH_FACTS = {
    "amd64": ArchFacts(
        goarch="amd64", min_frame_size=0, stack_align=8, locals_min_size=0, g_register=None,
        gp_regs=("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11",
                 "r12", "r13", "r14", "r15"),
        sigframe_pc=8 + 40 + 16 * 8, sigframe_sp=8 + 40 + 15 * 8, sigframe_lr=None),
    "arm64": ArchFacts(
        goarch="arm64", min_frame_size=8, stack_align=16, locals_min_size=16, g_register="x28",
        gp_regs=tuple(f"x{i}" for i in range(31)),
        sigframe_pc=_ARM64_MCONTEXT + 32 * 8, sigframe_sp=_ARM64_MCONTEXT + 31 * 8,
        sigframe_lr=_ARM64_MCONTEXT + 30 * 8),
}


def arch_facts(goarch: str) -> ArchFacts:
    """Return the facts of ``goarch``; an architecture viewcore does not read is read as
    amd64 (the dump readers refuse those before a GoProcess exists)."""
    return ARCH_FACTS.get(goarch, ARCH_FACTS["amd64"])
