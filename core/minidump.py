"""Windows minidumps (MiniDumpWriteDump, procdump, wine's dbghelp), read over an mmap.

``Minidump`` checks the header and indexes the directory, nothing more; each stream is
parsed when asked for (``threads()``, ``modules()``, ``memory_ranges()`` ...). Memory
ranges are slices of the mapped file, never copies. ``read_minidump`` turns the streams
into a ``Process``:

* memory: MemoryList (5) then Memory64List (9) ranges as present segments (a later range
  wins where two overlap, with a warning); MemoryInfoList (16), when the writer kept it,
  gives permissions and the reserved or committed ranges whose bytes were not saved;
* the executable (``exe`` or the main module's path when that file exists) fills its
  read-only sections where the dump lacks them, relocated to where the image was loaded;
* threads with amd64 register names and ``tls_base`` = the TEB address; the exception
  stream sets ``signal`` (the exception code) and ``crash_thread``.

A dump written without MiniDumpWithFullMemory holds no heap: it still lists threads and
modules, but ``Process.full_memory`` is False, ``require_full_memory`` raises
``NoFullMemory``, and a read of memory the dump lacks raises ``NotInPartialDump`` (an
``UnmappedAddress``) whose one line tells the user how to capture a usable dump.
"""

from __future__ import annotations

# The minidump format is little-endian with fixed-width fields by definition (minidumpapiset.h),
# so its streams are parsed with fixed widths, not the process's word size.

import bisect
import logging
import ntpath
import os
import re
from dataclasses import dataclass, field

from construct import ConstructError

from . import minidump_format as fmt
from .errors import (CorruptDump, DumpError, ExecutableError, TruncatedDump, UnknownFormat,
                     UnmappedAddress)
from .exe import Executable, open_executable
from .memory import ADDRESS_SPACE_END, Memory, Segment, overlay
from .process import Mapping, Module, Process, Thread, check_image_bytes

log = logging.getLogger(__name__)

NO_FULL_MEMORY_HINT = ("capture one with `procdump -ma <pid>` or MiniDumpWriteDump with "
                       "MiniDumpWithFullMemory (0x2)")


class NoFullMemory(DumpError):
    """The minidump was written without full memory, so it holds no Go heap."""

    def __init__(self, path: str, ranges: int = 0):
        self.path = path
        super().__init__(f"{path} is a minidump without full memory ({ranges} small ranges, no heap): "
                         f"{NO_FULL_MEMORY_HINT}")


class NotInPartialDump(UnmappedAddress):
    """A read missed in a dump without full memory; the message says how to get one."""

    def __init__(self, addr: int, size: int, path: str):
        super().__init__(addr, size, f"{path} is a minidump without full memory (no heap): "
                                     f"{NO_FULL_MEMORY_HINT}")


def require_full_memory(proc: Process) -> None:
    """Raise ``NoFullMemory`` unless ``proc`` holds the process's whole memory."""
    if not proc.full_memory:
        md = getattr(proc, "minidump", None)
        raise NoFullMemory(proc.path, len(md.memory_ranges()) if md is not None else 0)


@dataclass(frozen=True)
class StreamEntry:
    """One directory entry: where a stream lies in the file."""

    index: int
    type: int
    size: int
    rva: int

    @property
    def name(self) -> str:
        return fmt.STREAM_NAMES.get(self.type, f"{self.type:#x}")


@dataclass(frozen=True)
class MemoryRange:
    """A range of process memory saved in the dump: ``size`` bytes at file offset ``rva``."""

    start: int
    size: int
    rva: int
    stream: str  # "MemoryList", "Memory64List" or "ThreadList" (a thread's stack)

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class MemoryInfo:
    """One MINIDUMP_MEMORY_INFO: a region's state, protection and type."""

    base: int
    size: int
    state: int
    protect: int
    type: int
    allocation_base: int

    @property
    def perms(self) -> str:
        if self.state == fmt.MEM_RESERVE or self.protect & fmt.PAGE_GUARD:
            return "---"
        return fmt.PAGE_PERMS.get(self.protect & 0xFF, "---")


@dataclass
class RawThread:
    """A MINIDUMP_THREAD with its registers (empty when the context is unusable)."""

    tid: int
    teb: int
    regs: dict[str, int]
    stack: MemoryRange | None


@dataclass
class ExceptionInfo:
    """The exception stream: which thread, what code, where, and the faulting context."""

    tid: int
    code: int
    address: int
    params: list[int]
    regs: dict[str, int] | None

    @property
    def name(self) -> str:
        return fmt.EXCEPTION_NAMES.get(self.code, f"exception {self.code:#x}")


@dataclass
class Minidump:
    """The header and directory of a minidump; streams are read on demand."""

    path: str
    data: object  # a read-only mmap (or bytes)
    flags: int = 0
    version: int = 0
    timestamp: int = 0
    streams: dict[int, StreamEntry] = field(default_factory=dict)
    unknown_streams: list[StreamEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _warned: set[str] = field(default_factory=set, repr=False)
    _ranges: list[MemoryRange] | None = None

    # --- header and directory --------------------------------------------------------
    @classmethod
    def read(cls, path: str, data) -> "Minidump":
        """Check the header and index the directory (duplicates warn; the first is used)."""
        md = cls(path, data)
        size = len(data)
        if size < fmt.HEADER_SIZE:
            if bytes(data[:4]) != fmt.SIGNATURE[:min(4, size)]:
                raise UnknownFormat(f"{path} is not a minidump (magic {bytes(data[:4]).hex()})")
            raise TruncatedDump(f"truncated minidump: header needs {fmt.HEADER_SIZE} bytes, "
                                f"file ends at {size:#x}")
        hdr = md._parse(fmt.Header, 0, fmt.HEADER_SIZE, "header")
        if hdr.signature != fmt.SIGNATURE:
            raise UnknownFormat(f"{path} is not a minidump (magic {hdr.signature.hex()})")
        if hdr.version & 0xFFFF != fmt.VERSION:
            raise UnknownFormat(f"{path}: unsupported minidump version {hdr.version & 0xFFFF:#x} "
                                f"(expected {fmt.VERSION:#x})")
        md.flags, md.version, md.timestamp = hdr.flags, hdr.version, hdr.time_date_stamp
        n, rva = hdr.number_of_streams, hdr.stream_directory_rva
        md._check(rva, n * fmt.DIRECTORY_ENTRY_SIZE, f"stream directory ({n} entries)")
        # One struct unpack for the whole directory: its size is bounded by the file, and a
        # corrupt count of a million entries must cost a second, not a construct parse each.
        duplicates: dict[int, int] = {}
        table = memoryview(data)[rva: rva + n * fmt.DIRECTORY_ENTRY_SIZE]
        for i, (type_, size_, at) in enumerate(fmt.DIRECTORY_ENTRY.iter_unpack(table)):
            if type_ == fmt.STREAM_UNUSED:
                continue
            if type_ in md.streams:
                duplicates[type_] = duplicates.get(type_, 0) + 1
                continue
            entry = StreamEntry(i, type_, size_, at)
            md.streams[type_] = entry
            if type_ not in fmt.STREAM_NAMES or type_ == fmt.STREAM_WINE_PRIVATE:
                md.unknown_streams.append(entry)
        if duplicates:  # one warning for them all
            order = sorted(duplicates, key=lambda t: (-duplicates[t], t))
            names = ", ".join(md.streams[t].name for t in order[:3]) + (", ..." if len(order) > 3 else "")
            extra = sum(duplicates.values())
            md.warn(f"minidump has more than one {names} stream"
                    + (f" ({extra} extra directory entries)" if extra > 1 else "")
                    + "; using the first")
        if len(md.unknown_streams) > 0:
            log.debug("minidump: %d streams of unknown types, not read (first: %s)",
                      len(md.unknown_streams), md.unknown_streams[0])
        return md

    def warn(self, message: str) -> None:
        """Record a warning once."""
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    def _check(self, rva: int, size: int, what: str) -> None:
        if rva + size > len(self.data):
            raise TruncatedDump(f"truncated minidump: {what} needs {size:#x} bytes at {rva:#x}, "
                                f"file ends at {len(self.data):#x}")

    def _parse(self, struct_, rva: int, size: int, what: str):
        """The one place construct errors become ours."""
        self._check(rva, size, what)
        try:
            return struct_.parse(self.data[rva: rva + size])
        except ConstructError as e:
            raise CorruptDump(f"{self.path}: malformed {what}: {e}") from e

    def stream(self, type_: int) -> StreamEntry | None:
        """Return the directory entry of stream ``type_`` (bounds checked), or None."""
        entry = self.streams.get(type_)
        if entry is not None:
            self._check(entry.rva, entry.size, f"{entry.name} stream")
        return entry

    def _list(self, type_: int, item_size: int) -> tuple[StreamEntry, int, int] | None:
        """Return ``(entry, count, first item offset)`` for a u32-counted list stream."""
        entry = self.stream(type_)
        if entry is None:
            return None
        if entry.size < 4:
            raise CorruptDump(f"{entry.name} stream size mismatch: expected at least 4 bytes, "
                              f"found {entry.size}")
        count = int.from_bytes(self.data[entry.rva: entry.rva + 4], "little")
        want = 4 + count * item_size
        if entry.size == want + 4:  # some writers pad the count to 8 bytes
            return entry, count, entry.rva + 8
        if entry.size < want:
            raise CorruptDump(f"{entry.name} stream size mismatch: expected {want} bytes for "
                              f"{count} entries, found {entry.size}")
        if entry.size > want:
            self.warn(f"{entry.name} stream has {entry.size - want} bytes after its {count} entries")
        return entry, count, entry.rva + 4

    # --- streams ---------------------------------------------------------------------
    def _fixed(self, type_: int, struct, name: str):
        """Return the fixed-size structure at the start of stream ``type_``, or None if absent."""
        entry = self.stream(type_)
        if entry is None:
            return None
        if entry.size < struct.sizeof():
            raise CorruptDump(f"{name} stream size mismatch: expected at least {struct.sizeof()} "
                              f"bytes, found {entry.size}")
        return self._parse(struct, entry.rva, struct.sizeof(), f"{name} stream")

    def system_info(self):
        """Return the SystemInfo stream's structure, or None if absent."""
        return self._fixed(fmt.STREAM_SYSTEM_INFO, fmt.SystemInfo, "SystemInfo")

    def process_id(self) -> int | None:
        """Return the pid from MiscInfo, if the writer marked it valid (MISC1_PROCESS_ID)."""
        info = self._fixed(fmt.STREAM_MISC_INFO, fmt.MiscInfo, "MiscInfo")
        if info is None:
            return None
        return info.process_id if info.flags1 & fmt.MISC1_PROCESS_ID else None

    def comments(self) -> list[str]:
        out = []
        for type_, enc in ((fmt.STREAM_COMMENT_A, "latin-1"), (fmt.STREAM_COMMENT_W, "utf-16-le")):
            entry = self.stream(type_)
            if entry is not None:
                text = bytes(self.data[entry.rva: entry.rva + entry.size]).decode(enc, errors="replace")
                out.append(text.split("\0", 1)[0])
        return out

    def context(self, size: int, rva: int, what: str) -> dict[str, int] | None:
        """Return the registers of a CONTEXT_AMD64 at ``rva``, or None if it is shorter than
        one (the caller warns)."""
        if size < fmt.CONTEXT_AMD64_SIZE:
            return None
        self._check(rva, size, what + " context")
        ctx = fmt.ContextAmd64.unpack_from(self.data, rva)
        regs = {name: getattr(ctx, name) for name in fmt.CONTEXT_AMD64_REGS}
        regs["rflags"] = ctx.eflags
        regs["cs"], regs["ss"] = ctx.seg_cs, ctx.seg_ss
        regs["ds"], regs["es"], regs["fs"], regs["gs"] = ctx.seg_ds, ctx.seg_es, ctx.seg_fs, ctx.seg_gs
        return regs

    def threads(self) -> list[RawThread]:
        """Return the threads of ThreadList (or ThreadExList when that is all there is)."""
        listing = self._list(fmt.STREAM_THREAD_LIST, fmt.Thread.size)
        struct_ = fmt.Thread
        if listing is None:
            listing = self._list(fmt.STREAM_THREAD_EX_LIST, fmt.ThreadEx.size)
            struct_ = fmt.ThreadEx
        if listing is None:
            return []
        entry, count, at = listing  # the stream holds all count entries: checked by _list
        out = []
        short = []
        for i in range(count):
            t = struct_.unpack_from(self.data, at + i * struct_.size)
            regs = self.context(t.context_size, t.context_rva, f"thread {t.thread_id}")
            if regs is None:
                short.append(t)
            stack = None
            if t.stack_size:
                stack = MemoryRange(t.stack_start, t.stack_size, t.stack_rva, "ThreadList")
                self._check(stack.rva, stack.size, f"stack of thread {t.thread_id}")
            out.append(RawThread(t.thread_id, t.teb, regs or {}, stack))
        if short:  # one warning, however many threads
            t = short[0]
            more = f" (so are {len(short) - 1} more threads')" if len(short) > 1 else ""
            self.warn(f"thread {t.thread_id}: context is {t.context_size} bytes, expected "
                      f"{fmt.CONTEXT_AMD64_SIZE}; registers unknown{more}")
        return out

    def modules(self) -> list[Module]:
        listing = self._list(fmt.STREAM_MODULE_LIST, fmt.Module.size)
        if listing is None:
            return []
        _entry, count, at = listing  # the stream holds all count entries: checked by _list
        out = []
        for i in range(count):
            m = fmt.Module.unpack_from(self.data, at + i * fmt.Module.size)
            name = self.string(m.module_name_rva, f"name of module {i}")
            debug_id, debug_file = self._codeview(m.cv_rva, m.cv_size, i)
            out.append(Module(name, m.base_of_image, m.size_of_image, m.time_date_stamp,
                              m.checksum, debug_id, debug_file))
        return out

    def string(self, rva: int, what: str) -> str:
        """Return the MINIDUMP_STRING at ``rva`` (u32 byte length, then UTF-16LE)."""
        self._check(rva, 4, what)
        n = int.from_bytes(self.data[rva: rva + 4], "little")
        self._check(rva + 4, n, what)
        return bytes(self.data[rva + 4: rva + 4 + n]).decode("utf-16-le", errors="replace")

    def _codeview(self, rva: int, size: int, index: int) -> tuple[str | None, str | None]:
        if not size:
            return None, None
        self._check(rva, size, f"CodeView record of module {index}")
        raw = bytes(self.data[rva: rva + size])
        def pdb_name(at: int) -> str:
            return raw[at:].split(b"\0", 1)[0].decode(errors="replace")

        if raw[:4] == fmt.CV_SIGNATURE_RSDS and size >= fmt.CvRsds.sizeof():
            cv = fmt.CvRsds.parse(raw)
            g = cv.guid
            guid = (g[3::-1] + g[5:3:-1] + g[7:5:-1] + g[8:]).hex().upper()  # as symbol servers spell it
            return f"{guid}{cv.age:X}", pdb_name(fmt.CvRsds.sizeof())
        if raw[:4] == fmt.CV_SIGNATURE_NB10 and size >= fmt.CvNb10.sizeof():
            cv = fmt.CvNb10.parse(raw)
            return f"{cv.timestamp:08X}{cv.age:X}", pdb_name(fmt.CvNb10.sizeof())
        return None, None

    def memory_ranges(self) -> list[MemoryRange]:
        """Return MemoryList ranges, then Memory64List ranges (contiguous from BaseRva)."""
        if self._ranges is not None:
            return self._ranges
        out: list[MemoryRange] = []
        listing = self._list(fmt.STREAM_MEMORY_LIST, fmt.MemoryDescriptor.size)
        if listing is not None:
            _entry, count, at = listing  # the stream holds all count entries: checked by _list
            for i in range(count):
                d = fmt.MemoryDescriptor.unpack_from(self.data, at + fmt.MemoryDescriptor.size * i)
                r = MemoryRange(d.start, d.data_size, d.rva, "MemoryList")
                self._check(r.rva, r.size, f"MemoryList range {i} ({r.start:#x})")
                out.append(r)
        entry = self.stream(fmt.STREAM_MEMORY64_LIST)
        if entry is not None:
            if entry.size < 16:
                raise CorruptDump(f"Memory64List stream size mismatch: expected at least 16 bytes, "
                                  f"found {entry.size}")
            h = self._parse(fmt.Memory64ListHeader, entry.rva, 16, "Memory64List header")
            want = 16 + 16 * h.number_of_ranges
            if entry.size < want:
                raise CorruptDump(f"Memory64List stream size mismatch: expected {want} bytes for "
                                  f"{h.number_of_ranges} ranges, found {entry.size}")
            rva = h.base_rva
            raw = self.data[entry.rva + 16: entry.rva + want]
            for i in range(h.number_of_ranges):
                start = int.from_bytes(raw[16 * i: 16 * i + 8], "little")
                size = int.from_bytes(raw[16 * i + 8: 16 * i + 16], "little")
                r = MemoryRange(start, size, rva, "Memory64List")
                self._check(r.rva, r.size, f"Memory64List range {i} ({r.start:#x})")
                out.append(r)
                rva += size
        for r in out:
            if r.end > ADDRESS_SPACE_END:
                raise CorruptDump(f"{r.stream} range at {r.start:#x} of {r.size:#x} bytes runs past "
                                  "the end of the address space")
        self._ranges = out
        return out

    def memory_info(self) -> list[MemoryInfo]:
        entry = self.stream(fmt.STREAM_MEMORY_INFO_LIST)
        if entry is None:
            return []
        if entry.size < 16:
            raise CorruptDump(f"MemoryInfoList stream size mismatch: expected at least 16 bytes, "
                              f"found {entry.size}")
        h = self._parse(fmt.MemoryInfoListHeader, entry.rva, 16, "MemoryInfoList header")
        if h.size_of_header < 16 or h.size_of_entry < fmt.MemoryInfo.size:
            raise CorruptDump(f"MemoryInfoList header says {h.size_of_header}-byte header and "
                              f"{h.size_of_entry}-byte entries (expected 16 and 48)")
        want = h.size_of_header + h.size_of_entry * h.number_of_entries
        if entry.size < want:
            raise CorruptDump(f"MemoryInfoList stream size mismatch: expected {want} bytes for "
                              f"{h.number_of_entries} entries, found {entry.size}")
        out = []
        at = entry.rva + h.size_of_header
        for i in range(h.number_of_entries):
            m = fmt.MemoryInfo.unpack_from(self.data, at + i * h.size_of_entry)
            if m.state == fmt.MEM_FREE or not m.region_size:
                continue
            if m.base_address + m.region_size > ADDRESS_SPACE_END:
                raise CorruptDump(f"MemoryInfoList entry {i} at {m.base_address:#x} of "
                                  f"{m.region_size:#x} bytes runs past the end of the address space")
            out.append(MemoryInfo(m.base_address, m.region_size, m.state, m.protect, m.type,
                                  m.allocation_base))
        return out

    def exception(self) -> ExceptionInfo | None:
        """Return the exception stream (code, address, faulting thread's context), or None."""
        e = self._fixed(fmt.STREAM_EXCEPTION, fmt.ExceptionStream, "Exception")
        if e is None:
            return None
        rec = e.exception_record
        n = min(rec.number_parameters, 15)
        regs = None
        if e.thread_context.data_size:
            regs = self.context(e.thread_context.data_size, e.thread_context.rva,
                                f"exception of thread {e.thread_id}")
            if regs is None:
                self.warn(f"exception of thread {e.thread_id}: context is "
                          f"{e.thread_context.data_size} bytes, expected {fmt.CONTEXT_AMD64_SIZE}; "
                          "registers unknown")
        return ExceptionInfo(e.thread_id, rec.exception_code, rec.exception_address,
                             list(rec.exception_information[:n]), regs)

    @property
    def full_memory(self) -> bool:
        """Return whether the writer saved all memory (the flag, or a Memory64List)."""
        return bool(self.flags & fmt.DUMP_WITH_FULL_MEMORY) or fmt.STREAM_MEMORY64_LIST in self.streams


# --- the Process -----------------------------------------------------------------------

def read_minidump(path: str, data, exe_path: str | None, *, use_cache: bool = True,
                  notify=None) -> Process:
    """Return the Process in the minidump ``data`` (a read-only mmap of ``path``)."""
    md = Minidump.read(path, data)
    sysinfo = md.system_info()
    if sysinfo is not None and sysinfo.processor_architecture != fmt.ARCH_AMD64:
        arch = fmt.ARCH_NAMES.get(sysinfo.processor_architecture, str(sysinfo.processor_architecture))
        raise UnknownFormat(f"{path}: minidumps of {arch} processes are not supported (amd64 only)")
    if sysinfo is None:
        md.warn("minidump has no SystemInfo stream; assuming amd64")

    raw_threads = md.threads()
    if fmt.STREAM_THREAD_LIST not in md.streams and fmt.STREAM_THREAD_EX_LIST not in md.streams:
        md.warn("minidump has no ThreadList stream: no threads")
    modules = md.modules()
    ranges = md.memory_ranges()
    infos = md.memory_info()
    exc = md.exception()

    exe, main = _find_executable(md, exe_path, modules, use_cache=use_cache, notify=notify)
    bias = main.base - exe.image_base if exe is not None and main is not None else 0

    memory = _build_memory(md, raw_threads, ranges, infos, exe, bias, main)
    threads = [Thread(tid=t.tid, regs=t.regs, tls_base=t.teb) for t in raw_threads]
    proc = Process(path=path, dump_format="minidump", goos="windows", goarch="amd64", memory=memory,
                   threads=threads, mappings=[], exe=exe, exe_bias=bias, pid=md.process_id(),
                   modules=modules)
    setattr(proc, "minidump", md)  # the stream directory, unknown streams, comments
    for t in raw_threads:
        if not t.regs:
            continue
        if all(v == 0 for k, v in t.regs.items() if k in ("rip", "rsp")):
            proc.warn(f"thread {t.tid} has an empty context (the thread that wrote the dump?)")
    if exc is not None:
        proc.signal = exc.code
        crash = next((t for t in threads if t.tid == exc.tid), None)
        if crash is None:
            proc.warn(f"exception stream names thread {exc.tid}, which is not in the thread list")
        else:
            crash.signal = exc.code
            if exc.regs:  # the faulting context, not the handler's
                crash.regs = exc.regs
            proc.crash_thread = crash
    proc.mappings = _mappings(ranges, infos, modules, memory, exe, bias, main)
    if not md.full_memory:
        proc.full_memory = False
        # failed reads say how to get a dump with the heap, in one line
        memory.explain_miss = lambda addr, n, _e: NotInPartialDump(addr, n, path)
        proc.warn(str(NoFullMemory(path, len(ranges))))
    for w in md.warnings:
        proc.warn(w)
    if exe is not None:
        _check_executable(proc, exe, bias, main)
    return proc


_WINE_DRIVE = re.compile(r"^[A-Za-z]:\\")


def _host_paths(name: str) -> list[str]:
    """Return the host paths a module name may be: as is, and wine's Z: drive as /."""
    out = [name]
    if _WINE_DRIVE.match(name) and name[0] in "Zz":
        out.append("/" + name[3:].replace("\\", "/"))
    return out


def _find_executable(md: Minidump, exe_path, modules: list[Module], *, use_cache,
                     notify) -> tuple[Executable | None, Module | None]:
    """Return the executable and the module it was loaded as (the first module by default)."""
    if exe_path is not None:
        exe = open_executable(exe_path, use_cache=use_cache, notify=notify)
        size = getattr(exe, "size_of_image", None)
        stamp = getattr(exe, "time_date_stamp", None)
        base = os.path.basename(exe_path).lower().removesuffix(".zst").removesuffix(".gz")
        main = (next((m for m in modules if m.size == size and m.timestamp == stamp), None)
                or next((m for m in modules if ntpath.basename(m.name).lower() == base), None)
                or (modules[0] if modules else None))
        if main is None:
            md.warn("minidump has no ModuleList: the executable's load address is unknown; "
                    "assuming its image base")
        return exe, main
    if not modules:
        return None, None
    main = modules[0]
    for cand in _host_paths(main.name):
        if os.path.isfile(cand):
            if notify:
                notify(f"using executable {cand} recorded in the minidump")
            return open_executable(cand, use_cache=use_cache, notify=notify), main
    md.warn(f"executable {main.name} named by the minidump is not here; pass it with --exe")
    return None, main


def _build_memory(md: Minidump, threads: list[RawThread], ranges: list[MemoryRange],
                  infos: list[MemoryInfo], exe: Executable | None, bias: int,
                  main: Module | None) -> Memory:
    """Overlay: absent regions (MemoryInfoList), the dump's ranges, then the exe where absent."""
    info_starts = [i.base for i in infos]

    def perms_at(addr: int) -> str:
        i = bisect.bisect_right(info_starts, addr) - 1
        if i >= 0 and addr < infos[i].base + infos[i].size:
            return infos[i].perms
        if exe is not None:
            for es in exe.segments:
                if es.vaddr + bias <= addr < es.vaddr + bias + es.memsz:
                    return es.perms
        return "rw-"

    layers = [Segment(i.base, i.base + i.size, None, 0, i.perms, "minidump") for i in infos]
    all_ranges = [t.stack for t in threads if t.stack is not None] + list(ranges)
    _warn_overlaps(md, ranges)
    layers += [Segment(r.start, r.end, md.data, r.rva, perms_at(r.start), "minidump")
               for r in all_ranges if r.size]
    memory = overlay(layers)
    if exe is not None:
        for es in exe.segments:
            if "w" in es.perms or not es.filesz:
                continue
            buf, off = exe.relocated(es, bias) if hasattr(exe, "relocated") else (exe.data, es.offset)
            memory.fill(Segment(es.vaddr + bias, es.vaddr + bias + es.filesz, buf, off, es.perms, "exe"))
    return memory


def _warn_overlaps(md: Minidump, ranges: list[MemoryRange]) -> None:
    """Warn once if saved ranges overlap (the later one wins, as in Memory.add)."""
    order = sorted(range(len(ranges)), key=lambda i: (ranges[i].start, i))
    reach, owner = -1, None
    count, first = 0, None
    for i in order:
        r = ranges[i]
        if r.size and owner is not None and r.start < reach:
            o = ranges[owner]
            if (o.start, o.size) == (r.start, r.size) and \
                    md.data[o.rva: o.rva + o.size] == md.data[r.rva: r.rva + r.size]:
                continue  # the same bytes saved twice (wine does this): harmless
            count += 1
            if first is None:
                first = (ranges[owner], r)
        if r.size and r.end > reach:
            reach, owner = r.end, i
    if first is not None:
        a, b = first
        md.warn(f"{count} saved memory range(s) overlap others, e.g. {a.start:#x}-{a.end:#x} ({a.stream}) "
                f"and {b.start:#x}-{b.end:#x} ({b.stream}); the later range wins")


def _module_at(modules: list[Module], addr: int) -> Module | None:
    for m in modules:
        if m.base <= addr < m.base + m.size:
            return m
    return None


def _mappings(ranges: list[MemoryRange], infos: list[MemoryInfo], modules: list[Module],
              memory: Memory, exe: Executable | None, bias: int, main: Module | None) -> list[Mapping]:
    """One Mapping per MemoryInfoList region; without it, per run of contiguous saved ranges.

    Without MemoryInfoList the main image's mappings come from the executable's sections
    (exact permissions) and other ranges say ``rw-`` (the dump does not tell).
    """
    out: list[Mapping] = []
    if infos:
        for info in infos:
            m = _module_at(modules, info.base)
            out.append(Mapping(info.base, info.base + info.size, info.perms, m.name if m else None,
                               info.base - m.base if m else 0,
                               present=memory.readable(info.base, info.size)))
        return out
    image = (main.base, main.base + main.size) if main is not None else None
    if exe is not None:
        for es in exe.segments:
            start = es.vaddr + bias
            out.append(Mapping(start, start + es.memsz, es.perms, main.name if main else exe.path,
                               start - (main.base if main else start),
                               present=memory.readable(start, es.memsz)))
    runs: list[list[int]] = []
    for r in sorted((r for r in ranges if r.size), key=lambda r: r.start):
        if image and exe is not None and image[0] <= r.start < image[1]:
            continue
        m = _module_at(modules, r.start)
        key = m.name if m else None
        if runs and runs[-1][1] == r.start and runs[-1][2] == key:
            runs[-1][1] = r.end
        else:
            runs.append([r.start, r.end, key, m.base if m else 0])
    for start, end, name, mbase in runs:
        out.append(Mapping(start, end, "r--" if name else "rw-", name, start - mbase if name else 0,
                           present=True))
    out.sort(key=lambda m: m.start)
    return out


def _check_executable(proc: Process, exe: Executable, bias: int, main: Module | None) -> None:
    """Raise ExecutableError unless the dump's copy of the image matches ``exe``.

    The module's SizeOfImage and TimeDateStamp must agree with the PE headers, and the
    read-only bytes both sides hold (relocated) must be equal.
    """
    size = getattr(exe, "size_of_image", None)
    stamp = getattr(exe, "time_date_stamp", None)
    if main is not None and size is not None and (main.size != size or main.timestamp != stamp):
        raise ExecutableError(
            f"executable {exe.path} does not match the dump: module {ntpath.basename(main.name)} "
            f"has image size {main.size:#x} and timestamp {main.timestamp:#x}, the file "
            f"{size:#x} and {stamp:#x} (build id {exe.build_id or 'unknown'})")
    check_image_bytes(proc, exe, bias, "minidump")
