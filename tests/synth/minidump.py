"""A synthetic Windows minidump writer for tests.

Written with ``struct.pack`` from the documented layouts (minidumpapiset.h), deliberately
not from ``core.minidump_format``, so a mistake in one is caught by the other. Offsets
are forward references: a ``Label`` is placed when its bytes are laid out and every
reference to it is patched in ``chunks()``. Memory64 data may be placed far into the
file (``memory64_at``) and ``write()`` leaves the gap as a hole, for dumps past 4 GiB.

Corruptions are explicit arguments: a stream's declared size or RVA, a header field, a
truncation length (``data()[:n]``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HEADER_SIZE = 32
DIR_ENTRY_SIZE = 12
CONTEXT_SIZE = 1232

THREAD_LIST, MODULE_LIST, MEMORY_LIST, EXCEPTION = 3, 4, 5, 6
SYSTEM_INFO, THREAD_EX_LIST, MEMORY64_LIST = 7, 8, 9
COMMENT_A, COMMENT_W, MISC_INFO, MEMORY_INFO_LIST = 10, 11, 15, 16

# Byte offsets of the general registers in CONTEXT (x64), from winnt.h.
CONTEXT_OFFSETS = {
    "context_flags": 0x30, "eflags": 0x44,
    "rax": 0x78, "rcx": 0x80, "rdx": 0x88, "rbx": 0x90, "rsp": 0x98, "rbp": 0xA0,
    "rsi": 0xA8, "rdi": 0xB0, "r8": 0xB8, "r9": 0xC0, "r10": 0xC8, "r11": 0xD0,
    "r12": 0xD8, "r13": 0xE0, "r14": 0xE8, "r15": 0xF0, "rip": 0xF8,
}


def context_amd64(size: int = CONTEXT_SIZE, **regs: int) -> bytes:
    """Return a CONTEXT with ``regs`` set (names as in CONTEXT_OFFSETS); size may exceed 1232."""
    buf = bytearray(size)
    regs.setdefault("context_flags", 0x10001F)  # CONTEXT_AMD64 | CONTROL | INTEGER | SEGMENTS | FP | DEBUG
    for name, value in regs.items():
        off = CONTEXT_OFFSETS[name]
        if off + (4 if name in ("context_flags", "eflags") else 8) > size:
            continue
        if name in ("context_flags", "eflags"):
            struct.pack_into("<I", buf, off, value)
        else:
            struct.pack_into("<Q", buf, off, value)
    return bytes(buf)


class Label:
    """A file offset not yet known when it is referred to."""

    def __init__(self, name: str = ""):
        self.name = name
        self.value: int | None = None

    def __repr__(self) -> str:
        return f"Label({self.name!r}, {self.value})"


class Section:
    """Bytes with labels inside and references to labels (patched on layout)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.marks: list[tuple[Label, int]] = []
        self.refs: list[tuple[int, str, Label | int, int]] = []  # (pos, fmt, target, addend)

    def here(self) -> int:
        return len(self.buf)

    def mark(self, label: Label) -> "Section":
        self.marks.append((label, len(self.buf)))
        return self

    def raw(self, data: bytes) -> "Section":
        self.buf += data
        return self

    def pack(self, fmt: str, *values) -> "Section":
        self.buf += struct.pack("<" + fmt, *values)
        return self

    def ref(self, fmt: str, target: Label | int, addend: int = 0) -> "Section":
        """Write ``target``'s eventual value (+ addend) as ``fmt`` ("I" or "Q")."""
        self.refs.append((len(self.buf), fmt, target, addend))
        self.buf += bytes(struct.calcsize("<" + fmt))
        return self

    def align(self, n: int = 4) -> "Section":
        self.buf += bytes(-len(self.buf) % n)
        return self


@dataclass
class _Stream:
    type: int
    body: Section
    size_override: int | None = None
    rva_override: int | None = None


@dataclass
class SynthMinidump:
    """Collects streams and lays them out as a minidump file."""

    flags: int = 0x2
    version: int = 0xA793
    signature: bytes = b"MDMP"
    number_of_streams_override: int | None = None
    directory_rva_override: int | None = None
    memory64_at: int | None = None  # file offset of the Memory64 data (default: right after)
    streams: list[_Stream] = field(default_factory=list)
    _threads: list = field(default_factory=list)
    _modules: list = field(default_factory=list)
    _memory: list = field(default_factory=list)
    _memory64: list = field(default_factory=list)
    _memory_info: list = field(default_factory=list)
    _blobs: Section = field(default_factory=Section)  # blobs of streams added by hand
    _gen: Section | None = None  # blobs of the list streams, made afresh on each layout
    _overrides: dict = field(default_factory=dict)

    # --- building blocks --------------------------------------------------------------
    def blob(self, data: bytes, align: int = 4) -> Label:
        """Place ``data`` in the trailing blob area; return its label."""
        target = self._gen if self._gen is not None else self._blobs
        target.align(align)
        label = Label("blob")
        target.mark(label).raw(data)
        return label

    def string(self, text: str) -> Label:
        """Place a MINIDUMP_STRING (u32 byte length, UTF-16LE, NUL)."""
        enc = text.encode("utf-16-le")
        return self.blob(struct.pack("<I", len(enc)) + enc + b"\0\0")

    def add_stream(self, type_: int, body: bytes | Section, *, size: int | None = None,
                   rva: int | None = None) -> None:
        """Add a stream with raw content (unknown/vendor types, or hand-made corruptions)."""
        sec = body if isinstance(body, Section) else Section().raw(body)
        self.streams.append(_Stream(type_, sec, size, rva))

    def override(self, stream_type: int, *, size: int | None = None, rva: int | None = None) -> None:
        """Make the directory entry of ``stream_type`` declare ``size``/``rva`` instead."""
        self._overrides[stream_type] = (size, rva)

    # --- streams ---------------------------------------------------------------------
    def system_info(self, arch: int = 9, major: int = 6, minor: int = 1, build: int = 7601) -> None:
        self.add_stream(SYSTEM_INFO, struct.pack("<HHHBBIIIIIHH24s", arch, 6, 0, 2, 1, major, minor,
                                                  build, 2, 0, 0, 0, bytes(24)))

    def thread(self, tid: int, *, teb: int = 0, stack: tuple[int, bytes] | None = None,
               context: bytes | None = None, **regs: int) -> None:
        """Add a thread; ``regs`` build its context unless ``context`` is given."""
        ctx = context if context is not None else context_amd64(**regs)
        self._threads.append((tid, teb, stack, ctx))

    def module(self, base: int, size: int, name: str, *, timestamp: int = 0, checksum: int = 0,
               cv: bytes | None = None) -> None:
        self._modules.append((base, size, name, timestamp, checksum, cv))

    def memory(self, addr: int, data: bytes) -> None:
        """Add a range to MemoryList (stream 5)."""
        self._memory.append((addr, data))

    def memory64(self, addr: int, data: bytes) -> None:
        """Add a range to Memory64List (stream 9)."""
        self._memory64.append((addr, data))

    def memory_info(self, base: int, size: int, *, state: int = 0x1000, protect: int = 0x04,
                    type_: int = 0x20000, allocation_base: int | None = None,
                    allocation_protect: int | None = None) -> None:
        """Add a MINIDUMP_MEMORY_INFO to MemoryInfoList (stream 16)."""
        self._memory_info.append((base, allocation_base if allocation_base is not None else base,
                                  allocation_protect if allocation_protect is not None else protect,
                                  size, state, protect, type_))

    def exception(self, tid: int, code: int, address: int, *, context: bytes | None = None,
                  params: tuple[int, ...] = (), **regs: int) -> None:
        ctx = self.blob(context if context is not None else context_amd64(**regs))
        size = len(context) if context is not None else CONTEXT_SIZE
        info = list(params) + [0] * (15 - len(params))
        body = (Section().pack("II", tid, 0).pack("IIQQII", code, 0, 0, address, len(params), 0)
                .pack("15Q", *info).pack("I", size).ref("I", ctx))
        self.add_stream(EXCEPTION, body)

    def misc_info(self, pid: int, flags1: int = 0x1, size: int = 24) -> None:
        body = struct.pack("<IIIIII", size, flags1, pid, 0, 0, 0) + bytes(max(0, size - 24))
        self.add_stream(MISC_INFO, body)

    def comment(self, text: str, wide: bool = False) -> None:
        if wide:
            self.add_stream(COMMENT_W, text.encode("utf-16-le") + b"\0\0")
        else:
            self.add_stream(COMMENT_A, text.encode() + b"\0")

    # --- layout ----------------------------------------------------------------------
    def _list_streams(self) -> list[_Stream]:
        out = []
        if self._threads:
            body = Section().pack("I", len(self._threads))
            for tid, teb, stack, ctx in self._threads:
                ctx_label = self.blob(ctx)
                body.pack("IIIIQ", tid, 0, 0x20, 0, teb)
                if stack is not None:
                    body.pack("QI", stack[0], len(stack[1])).ref("I", self.blob(stack[1]))
                else:
                    body.pack("QII", 0, 0, 0)
                body.pack("I", len(ctx)).ref("I", ctx_label)
            out.append(_Stream(THREAD_LIST, body))
        if self._modules:
            body = Section().pack("I", len(self._modules))
            for base, size, name, ts, cks, cv in self._modules:
                name_label = self.string(name)
                body.pack("QIII", base, size, cks, ts).ref("I", name_label)
                body.raw(bytes(52))  # VS_FIXEDFILEINFO
                if cv is not None:
                    body.pack("I", len(cv)).ref("I", self.blob(cv))
                else:
                    body.pack("II", 0, 0)
                body.pack("IIQQ", 0, 0, 0, 0)  # MiscRecord, Reserved0, Reserved1
            out.append(_Stream(MODULE_LIST, body))
        if self._memory:
            body = Section().pack("I", len(self._memory))
            for addr, data in self._memory:
                body.pack("QI", addr, len(data)).ref("I", self.blob(data))
            out.append(_Stream(MEMORY_LIST, body))
        if self._memory_info:
            body = Section().pack("IIQ", 16, 48, len(self._memory_info))
            for base, abase, aprot, size, state, prot, typ in self._memory_info:
                body.pack("QQIIQIIII", base, abase, aprot, 0, size, state, prot, typ, 0)
            out.append(_Stream(MEMORY_INFO_LIST, body))
        if self._memory64:
            self._m64_label = Label("memory64")
            body = Section().pack("Q", len(self._memory64)).ref("Q", self._m64_label)
            for addr, data in self._memory64:
                body.pack("QQ", addr, len(data))
            out.append(_Stream(MEMORY64_LIST, body))
        return out

    def chunks(self) -> list[tuple[int, bytes]]:
        """Lay the dump out; return ``(file offset, bytes)`` pieces in order."""
        self._gen = Section()
        try:
            streams = self._list_streams() + self.streams
        finally:
            gen, self._gen = self._gen, None
        n = len(streams)
        out = Section()
        out.raw(self.signature).pack("I", self.version)
        out.pack("I", n if self.number_of_streams_override is None else self.number_of_streams_override)
        out.pack("I", HEADER_SIZE if self.directory_rva_override is None else self.directory_rva_override)
        out.pack("IIQ", 0, 0x5F000000, self.flags)
        body_labels = [Label(f"stream{i}") for i in range(n)]
        for s, label in zip(streams, body_labels):
            size, rva = self._overrides.get(s.type, (None, None))
            size = s.size_override if s.size_override is not None else size
            rva = s.rva_override if s.rva_override is not None else rva
            out.pack("I", s.type)
            out.pack("I", len(s.body.buf) if size is None else size)
            if rva is None:
                out.ref("I", label)
            else:
                out.pack("I", rva)
        sections: list[Section] = [out]
        for s, label in zip(streams, body_labels):
            s.body.marks.insert(0, (label, 0))
            sections.append(s.body)
        sections.append(self._blobs)
        sections.append(gen)
        # Place sections one after another (4-aligned), then the Memory64 data.
        pos = 0
        placed = []
        for sec in sections:
            pos += -pos % 4
            for label, off in sec.marks:
                label.value = pos + off
            placed.append((pos, sec))
            pos += len(sec.buf)
        m64 = b"".join(d for _a, d in self._memory64)
        if self._memory64:
            pos = max(pos, self.memory64_at or 0)
            self._m64_label.value = pos
        for start, sec in placed:
            for at, fmt, target, addend in sec.refs:
                value = target.value if isinstance(target, Label) else target
                assert value is not None, f"unplaced {target}"
                struct.pack_into("<" + fmt, sec.buf, at, value + addend)
        pieces = [(start, bytes(sec.buf)) for start, sec in placed]
        if m64:
            pieces.append((pos, m64))
        for s in streams:  # let the same writer lay out again
            s.body.marks = [m for m in s.body.marks if m[0] not in body_labels]
        return pieces

    def data(self) -> bytes:
        """Return the whole dump as bytes (gaps zero-filled)."""
        buf = bytearray()
        for off, piece in self.chunks():
            if len(buf) < off:
                buf += bytes(off - len(buf))
            buf[off: off + len(piece)] = piece
        return bytes(buf)

    def write(self, path) -> int:
        """Write the dump to ``path`` with holes for gaps (a sparse file); return its size."""
        end = 0
        with open(path, "wb") as f:
            for off, piece in self.chunks():
                f.seek(off)
                f.write(piece)
                end = max(end, off + len(piece))
            f.truncate(end)
        return end
