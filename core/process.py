"""A process image read from a dump: threads, mappings, memory and its executable."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ExecutableError
from .exe import Executable
from .memory import Gather, Memory, Segment


@dataclass(frozen=True)
class Mapping:
    """A range of the process's address space as the dump describes it."""

    start: int
    end: int
    perms: str  # "rwx" letters, "-" where a permission is missing
    file: str | None = None  # backing file (NT_FILE / module path)
    file_offset: int = 0
    present: bool = True  # the dump holds these bytes (possibly filled from the executable)

    @property
    def size(self) -> int:
        """Return the mapping's length in bytes."""
        return self.end - self.start


@dataclass(frozen=True)
class Module:
    """A loaded image named by the dump (minidump ModuleList): its range and debug identity."""

    name: str
    base: int
    size: int
    timestamp: int = 0
    checksum: int = 0
    debug_id: str | None = None  # CodeView: RSDS GUID+age (hex) or NB10 signature+age
    debug_file: str | None = None  # the PDB name from the CodeView record


# The registers holding the program counter, stack pointer and frame pointer, by GOARCH
# (arm64: x29 is the frame pointer, x30 the link register).
PC_SP_FP = {"amd64": ("rip", "rsp", "rbp"), "arm64": ("pc", "sp", "x29")}

# Register names in Go's spelling order for amd64.
AMD64_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
              "r12", "r13", "r14", "r15", "rip", "rflags", "fs_base", "gs_base")


@dataclass
class Thread:
    """One OS thread: its id and registers, named as the architecture's manuals do
    (amd64: ``rip``, ``rsp``, ``r14``; arm64: ``x0``-``x30``, ``sp``, ``pc``, ``pstate``)."""

    tid: int
    regs: dict[str, int]
    tls_base: int | None = None  # fs_base on linux/amd64, TPIDR_EL0 on arm64, the TEB on Windows
    signal: int | None = None  # the signal the thread was stopped by, if it is the crashing one
    arch: str = "amd64"  # the GOARCH whose register names ``regs`` uses

    @property
    def pc(self) -> int:
        """Return the program counter."""
        return self.regs.get(PC_SP_FP[self.arch][0], 0)

    @property
    def sp(self) -> int:
        """Return the stack pointer."""
        return self.regs.get(PC_SP_FP[self.arch][1], 0)

    @property
    def fp(self) -> int:
        """Return the frame pointer."""
        return self.regs.get(PC_SP_FP[self.arch][2], 0)


@dataclass
class Process:
    """A process image: ``read``/``view``/``array`` over its memory, threads, mappings."""

    path: str
    dump_format: str  # "elf-core" or "minidump"
    goos: str
    goarch: str
    memory: Memory
    threads: list[Thread]
    mappings: list[Mapping]
    exe: Executable | None
    exe_bias: int = 0  # load address minus link-time address of the executable
    pid: int | None = None
    signal: int | None = None  # the signal or exception that ended the process, if any
    crash_thread: Thread | None = None
    auxv: dict[int, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ptr_size: int = 8
    byte_order: str = "little"
    full_memory: bool = True  # False: a minidump without MiniDumpWithFullMemory (no heap)
    modules: list[Module] = field(default_factory=list)
    _warned: set[str] = field(default_factory=set, repr=False, compare=False)
    _gather: Gather | None = field(default=None, repr=False, compare=False)

    def read(self, addr: int, n: int) -> bytes:
        """Return ``n`` bytes at ``addr`` (raises ``UnmappedAddress``)."""
        return self.memory.read(addr, n)

    def view(self, addr: int, n: int) -> memoryview:
        """Return ``n`` bytes at ``addr`` without copying when they lie in one segment."""
        return self.memory.view(addr, n)

    def release_resident(self) -> None:
        """Drop the dump's and executable's mapped pages from the resident set (they
        stay in the page cache): a caller done with a bulk pass calls it so that the
        pages it read do not count against its peak memory while it works on."""
        self.memory.release_resident()

    @property
    def word_dtype(self) -> np.dtype:
        """Return the numpy dtype of a pointer-sized word in the process's byte order."""
        return np.dtype(f"{'<' if self.byte_order == 'little' else '>'}u{self.ptr_size}")

    @property
    def gather(self) -> Gather:
        """Return the vectorised reader of many integers at many addresses (word size and
        byte order the process's), rebuilt when the memory has changed since."""
        g = self._gather
        if g is None or g.memory is not self.memory or g.generation != self.memory.generation:
            g = Gather(self.memory, self.ptr_size, self.byte_order)
            self._gather = g
        return g

    def array(self, addr: int, count: int, dtype: str | np.dtype | None = None) -> np.ndarray:
        """Return ``count`` items of ``dtype`` (default: words) at ``addr`` as a read-only
        numpy array."""
        return self.memory.array(addr, count, self.word_dtype if dtype is None else dtype)

    def readable(self, addr: int, n: int = 1) -> bool:
        """Return whether the dump holds every byte of ``[addr, addr + n)``."""
        return self.memory.readable(addr, n)

    def read_uint(self, addr: int, size: int) -> int:
        """Return the unsigned integer of ``size`` bytes at ``addr`` (the process's byte order)."""
        return int.from_bytes(self.memory.read(addr, size), self.byte_order)

    def read_int(self, addr: int, size: int) -> int:
        """Return the signed integer of ``size`` bytes at ``addr`` (the process's byte order)."""
        return int.from_bytes(self.memory.read(addr, size), self.byte_order, signed=True)

    def read_ptr(self, addr: int) -> int:
        """Return the pointer-sized word at ``addr``."""
        return int.from_bytes(self.memory.read(addr, self.ptr_size), self.byte_order)

    def read_u32(self, addr: int) -> int:
        """Return the uint32 at ``addr``."""
        return int.from_bytes(self.memory.read(addr, 4), self.byte_order)

    def segments(self) -> list[Segment]:
        """Return the memory segments (present and absent) in address order."""
        return self.memory.segments

    def warn(self, message: str) -> None:
        """Record a warning about the dump, once (a set beside the list keeps this O(1))."""
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)


def check_image_bytes(proc: Process, exe: Executable, bias: int, source: str) -> None:
    """Raise ExecutableError unless the dump's copy of ``exe``'s read-only bytes matches it.

    ``source`` names the dump's own segments (``core``, ``minidump``): kernel cores keep the
    first page of each file mapping, gcore and minidumps all of it, so comparing what both
    sides hold (at most 64 KiB a segment, relocated as loaded) tells a wrong build apart.
    """
    compared = 0
    for es in exe.segments:
        if "w" in es.perms or not es.filesz:
            continue
        start = es.vaddr + bias
        image = None
        for seg in proc.memory.segments_in(start, start + es.filesz):
            if seg.source != source or not seg.present:
                continue
            lo, hi = max(seg.start, start), min(seg.end, start + es.filesz, seg.start + (1 << 16))
            if hi <= lo:
                continue
            if image is None:
                image = exe.relocated(es, bias)
            buf, off = image
            if bytes(seg.view(lo, hi)) != bytes(buf[off + (lo - start): off + (hi - start)]):
                raise ExecutableError(
                    f"executable {exe.path} does not match the dump: bytes at {lo:#x} differ "
                    f"(build id {exe.build_id or 'unknown'})")
            compared += hi - lo
    if not compared:
        proc.warn(f"could not verify that {exe.path} is the dumped executable: "
                  "the dump holds none of its read-only bytes")
