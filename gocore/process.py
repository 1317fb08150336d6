"""GoProcess: the Go runtime decoded from a ``core.Process``, computed lazily.

Each part (build info, pclntab, types, goroutines, heap) is read on first use, so
``threads`` on a dump with a broken heap still answers.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import core

from .binary.goversion import GoVersion, parse_go_version
from .errors import BadRuntimeData, GoCoreError, RuntimeLayoutError

log = logging.getLogger("gocore")

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .goroutines.goroutines import Goroutine
    from .objects import Object, Root
    from .values import Value


class MissingExecutable(GoCoreError):
    """The dump's executable is needed but was neither given nor found."""


class UnknownType(GoCoreError):
    """``value_at`` was asked for a Go type the program's types do not name."""


@dataclass(frozen=True)
class Summary:
    """The facts ``overview`` shows."""

    dump_format: str
    goos: str
    goarch: str
    go_version: str | None
    go_version_source: str | None  # "buildinfo", "runtime.buildVersion" or "pclntab"
    pid: int | None
    threads: int
    goroutines: int | None
    heap_objects: int | None
    heap_bytes: int | None
    executable: str | None
    signal: int | None
    partial: bool


class GoProcess:
    """A Go program's state in a dump."""

    def __init__(self, process: core.Process, keep_index: bool = True,
                 notify: Callable[[str], None] | None = None):
        self.process = process
        # the heap index is kept on disk for the next process (``heap.indexstore``)
        self.keep_index = keep_index
        self._notify = notify

    def note(self, message: str) -> None:
        """Tell the user something that does not change the answer (``notify``, else the
        ``gocore`` logger): a kept index that was damaged and rebuilt, a cache unused."""
        if self._notify is not None:
            self._notify(message)
        else:
            log.warning("%s", message)

    @property
    def warnings(self) -> list[str]:
        """Return every warning so far (dump and Go decoding), each once."""
        return self.process.warnings

    @property
    def partial(self) -> bool:
        """Return whether some answers are incomplete (warnings were raised)."""
        return bool(self.process.warnings)

    def mappings(self) -> list[core.Mapping]:
        """Return the dump's mappings in address order."""
        return list(self.process.mappings)

    def threads(self) -> list[core.Thread]:
        """Return the dump's OS threads."""
        return list(self.process.threads)

    def crash_thread(self) -> core.Thread | None:
        """Return the thread that received the fatal signal, or None (gcore, SIGQUIT-less)."""
        return self.process.crash_thread

    @cached_property
    def build_info(self):
        """Return the executable's BuildInfo, or None without an executable or build info
        (stripped of it, or unreadable: that is a warning)."""
        from .binary.buildinfo import BuildInfoError, find_build_info, read_build_info
        exe = self.process.exe
        if exe is None or find_build_info(exe) is None:
            return None
        try:
            return read_build_info(exe)
        except BuildInfoError as e:
            self.process.warn(f"{e}; the Go version is read from the runtime instead")
        except (struct.error, ValueError, IndexError) as e:  # bytes no linker wrote
            self.process.warn(f"{exe.path}: build info unreadable ({type(e).__name__}: {e}); "
                              "the Go version is read from the runtime instead")
        return None

    @property
    def go_version(self) -> str | None:
        """Return the Go version the executable was built with (``go1.22.10``), or None.

        From the build info, else the runtime's own ``runtime.buildVersion``, else the
        release the pclntab and moduledata layout imply (minor release only, ``go1.24``,
        with a warning); ``go_version_source`` says which.
        """
        return self._version[0]

    @property
    def go_release(self) -> GoVersion | None:
        """Return ``go_version`` parsed (``GoVersion``: major, minor, patch), or None when
        it is unknown or names no release (``devel +abc``)."""
        return self._version[2]

    @property
    def go_version_source(self) -> str | None:
        """Return where ``go_version`` came from: ``"buildinfo"``, ``"runtime.buildVersion"``,
        ``"pclntab"``, or None without an executable."""
        return self._version[1]

    @cached_property
    def _version(self) -> tuple[str | None, str | None, GoVersion | None]:
        """Return ``(go_version, go_version_source, its parsed release)``: the one reading and
        the one parse of the Go version for this process."""
        from .binary.buildinfo import read_version_string, version_from_pclntab
        from .binary.goversion import parse_go_version
        exe = self.process.exe
        if exe is None:
            return None, None, None
        bi = self.build_info
        if bi is not None and bi.go_version:
            parsed = parse_go_version(bi.go_version)
            if parsed is not None or bi.go_version.startswith("devel"):
                return bi.go_version, "buildinfo", parsed
            self.process.warn(f"{exe.path}: build info names Go version {bi.go_version[:40]!r}, "
                              "which is none; the Go version is read from the runtime instead")
        try:
            addr = self._build_version_address()
        except GoCoreError:  # no pclntab or moduledata: nothing else to read a version from
            return None, None, None
        version = read_version_string(exe, addr) if addr is not None else None
        if version is not None:
            return version, "runtime.buildVersion", parse_go_version(version)
        release = version_from_pclntab(self.pclntab.names, self.moduledata.family)
        if release is None:
            return None, None, None
        self.process.warn(f"{exe.path}: neither Go build information nor runtime.buildVersion; "
                          f"reading it as {release}, the release its pclntab and moduledata "
                          "layout imply")
        return release, "pclntab", parse_go_version(release)

    def _build_version_address(self) -> int | None:
        """Return the link-time address of ``runtime.buildVersion``: DWARF, symbols, or found
        in the runtime's code (``moduledata.find_runtime_globals``)."""
        name = "runtime.buildVersion"
        if self.dwarf is not None and name in self.dwarf.globals:
            return self.dwarf.globals[name].addr
        exe = self._exe()
        if name in exe.symbols:
            return exe.symbols[name][0]
        found = self.runtime_globals.get(name)
        return found - self.process.exe_bias if found is not None else None

    @cached_property
    def dwarf(self):
        """Return the executable's DwarfData (types, globals, constants), or None if stripped
        or unreadable.

        Damaged DWARF (it fails to parse, or lacks the runtime's own types) is a warning:
        everything is then read as for a stripped build, with the built-in layout tables.
        """
        exe = self.process.exe
        if exe is None or not exe.has_dwarf:
            return None
        from .binary.dwarf import load_dwarf
        from .binary.layout import Layout
        try:
            dw = load_dwarf(exe)
            Layout.from_dwarf(dw)  # the runtime structures must all be there
        except RuntimeLayoutError as e:
            return self._dwarf_unusable(f"it lacks {len(e.missing)} runtime items, first "
                                        f"{e.missing[0]}")
        except (GoCoreError, core.DumpError) as e:
            return self._dwarf_unusable(str(e))
        dw.warn = self.process.warn  # a function entry found unreadable later is a warning
        return dw

    def _dwarf_unusable(self, why: str) -> None:
        """Warn that DWARF is not used (``why``) and return None."""
        bi = self.build_info
        parsed = parse_go_version(bi.go_version) if bi is not None and bi.go_version else None
        release = f"go{parsed.release}" if parsed is not None else "its Go version"
        self.process.warn(f"DWARF unreadable ({why}): using the built-in layouts for {release}")
        return None

    @cached_property
    def layout(self):
        """Return the runtime's Layout: from DWARF, else the table for this Go version."""
        from .binary.layout import load_layout
        return load_layout(self._exe(), self.dwarf, self.go_release or self.go_version,
                           read_dwarf=False)

    @cached_property
    def facts(self):
        """Return the named version Facts (facts.py) of this runtime."""
        from .binary.facts import detect
        return detect(self.layout, self.go_release)

    @cached_property
    def _module(self):
        from .binary.moduledata import load_module
        return load_module(self._exe(), warn=self.process.warn)

    @property
    def pclntab(self):
        """Return the executable's Pclntab (functions, lines, frames); link-time PCs."""
        return self._module[0]

    @property
    def moduledata(self):
        """Return the executable's ModuleData (link-time addresses)."""
        return self._module[1]

    @cached_property
    def runtime_globals(self) -> dict[str, int]:
        """Return run-time addresses of the runtime globals gocore reads (allgs, mheap_, ...)."""
        from .binary.moduledata import find_runtime_globals
        found = find_runtime_globals(self._exe(), self.pclntab, self.moduledata)
        return {name: addr + self.process.exe_bias for name, addr in found.items()}

    def global_address(self, name: str) -> int | None:
        """Return the run-time address of package-level variable ``name``, or None.

        DWARF first, then the symbol table, then what the runtime's code reveals
        (stripped binaries: see ``moduledata.find_runtime_globals``).
        """
        bias = self.process.exe_bias
        if self.dwarf is not None and name in self.dwarf.globals:
            return self.dwarf.globals[name].addr + bias
        exe = self._exe()
        if name in exe.symbols:
            return exe.symbols[name][0] + bias
        return self.runtime_globals.get(name)

    def goroutines(self) -> list[Goroutine]:
        """Return the goroutines of ``runtime.allgs`` that are not dead, in allgs order (read
        once per process; the same list each call)."""
        got = self.__dict__.get("_goroutines")
        if got is None:
            from .goroutines.stored import kept_goroutines
            got = self.__dict__["_goroutines"] = kept_goroutines(self, self.index_store)
        return got

    @cached_property
    def index_store(self):
        """Return the IndexStore where this dump's heap index and goroutines are kept
        (``heap.indexstore``), or None: ``keep_index`` is off, or there can be none (noted)."""
        if not self.keep_index:
            return None
        from .heap.indexstore import open_store
        exe = self.process.exe
        return open_store(self.process.path, exe.path if exe is not None else None, self.note)

    def _exe(self):
        exe = self.process.exe
        if exe is None:
            named = next((m.file for m in self.process.mappings if m.file), None)
            where = f"the dump names {named}, which is not here" if named else "the dump names none"
            raise MissingExecutable(f"no executable: pass --exe ({where})")
        return exe

    def func_name(self, pc: int) -> str | None:
        """Return the name of the Go function containing ``pc``, or None."""
        if self.process.exe is None:
            return None
        f = self.pclntab.find_func(pc - self.process.exe_bias)
        return f.name if f is not None else None

    # ---- the heap ----

    def heap_index(self, progress=None):
        """Return the HeapIndex (live objects, types, paths), built once per process, or
        read back from the index kept for this dump by an earlier process (``keep_index``).

        ``progress(stage, fraction)`` is called while it is built or opened (not when cached).
        """
        got = self.__dict__.get("_heap_index")
        if got is None:
            from .heap.storedindex import open_heap_index
            try:
                got = open_heap_index(self, progress, self.index_store)
            except BadRuntimeData as e:
                seg = self.process.memory.find(e.addr) if e.addr is not None else None
                if seg is None or seg.present or seg.source != "truncated":
                    raise
                raise BadRuntimeData(f"{e.what} ({seg.absent_reason})", e.addr) from e
            self.__dict__["_heap_index"] = got
        return got

    def heap_figures(self, progress=None) -> tuple[int, int]:
        """Return (live objects, their slot bytes)."""
        hi = self.heap_index(progress)
        return hi.live_count, hi.live_bytes

    def histogram(self, progress=None):
        """Return (type names, slot sizes, counts, bytes) rows of the live heap, by bytes."""
        return self.heap_index(progress).histogram()

    def breakdown(self):
        """Return the memory breakdown (gocore.heap.stats.Breakdown)."""
        from .heap.stats import breakdown
        return breakdown(self)

    def reference_chains(self, max_depth: int = 32, progress=None):
        """Return the live heap summarised by reference chain (``gocore.heap.refchains.ChainTree``:
        one node per type along each path from a root, with its objects and bytes), chains
        cut at ``max_depth``."""
        from .heap.refchains import reference_chains
        return reference_chains(self.heap_index(progress), max_depth=max_depth)

    @property
    def executable_path(self) -> str | None:
        """Return the path of the executable the dump is read with, or None without one."""
        exe = self.process.exe
        return exe.path if exe is not None else None

    def read_memory(self, addr: int, n: int) -> bytes:
        """Return ``n`` bytes of the dump at ``addr`` (raises core.UnmappedAddress)."""
        return self.process.read(addr, n)

    def summary(self, heap: bool = True, progress=None) -> Summary:
        """Return the facts for ``overview`` (the live heap too unless ``heap`` is False)."""
        p = self.process
        objs = nbytes = None
        if heap and p.exe is not None:
            try:
                objs, nbytes = self.heap_figures(progress)
            except (GoCoreError, core.UnmappedAddress) as e:
                p.warn(f"heap: {e}")
        try:
            goroutines = len(self.goroutines())
        except (BadRuntimeData, core.UnmappedAddress) as e:  # e.g. allgs past the end of a cut-short core
            goroutines = None
            p.warn(f"goroutines: {e}")
        return Summary(
            dump_format=p.dump_format, goos=p.goos, goarch=p.goarch, go_version=self.go_version,
            go_version_source=self.go_version_source, pid=p.pid, threads=len(p.threads), goroutines=goroutines, heap_objects=objs,
            heap_bytes=nbytes, executable=p.exe.path if p.exe is not None else None, signal=p.signal,
            partial=self.partial)

    # ---- the public object model (gocore.objects, gocore.values) ----

    def objects(self, type: str | None = None) -> Iterator[Object]:  # noqa: A002 - the contract's name
        """Iterate the live heap Objects in address order: all, or those of Go type ``type``
        exactly (``"main.Order"``, ``"[]uint8"``). One small Object per item; builds the
        heap index on first use."""
        from .objects import objects
        return objects(self, type)

    def object_at(self, addr: int) -> Object | None:
        """Return the live heap Object whose slot contains ``addr`` (interior pointers too),
        or None: free or unallocated memory, garbage, or outside the heap."""
        from .objects import object_at
        return object_at(self, addr)

    def roots(self) -> Iterator[Root]:
        """Iterate the Roots the heap is marked from (globals, goroutine frame words,
        finalizers, runtime-internal roots); builds the heap index on first use."""
        from .objects import roots
        return roots(self)

    def globals(self) -> Iterator[tuple[str, Value]]:
        """Iterate (name, Value) of the package-level variables DWARF describes, by name
        (none without DWARF). Does not read the heap."""
        dw = self.dwarf
        if dw is None:
            return
        from .frames import value_types
        types = value_types(self)
        bias = self.process.exe_bias
        for name in sorted(dw.globals):
            g = dw.globals[name]
            if g.type is not None and g.type >= 0:
                yield name, types.value(g.type, g.addr + bias)

    def value_at(self, addr: int, type_name: str) -> Value:
        """Return the memory at ``addr`` viewed as Go type ``type_name`` (Go spelling, as
        DWARF or the runtime's type descriptors name it). Raises ``UnknownType`` when no
        type of that name is known. Does not read the heap."""
        from .frames import value_types
        types = value_types(self)
        tid = types.lookup(type_name)
        if tid is None:
            raise UnknownType(f"no Go type named {type_name!r} in this program's types")
        return types.value(tid, addr)

    def dominators(self):
        """Return the dominator tree of the live heap (``gocore.heap.dominators.Dominators``:
        numpy arrays per object id, ``retained``, ``retained_count``, ``idom``, and per root
        group), computed once per process; ``Object.retained`` reads it."""
        from .objects import dominators
        return dominators(self)

    def objects_page(self, type: str | None = None, offset: int = 0,  # noqa: A002 - as objects()
                     limit: int = 100) -> tuple[list[Object], int]:
        """Return ``(objects, total)``: up to ``limit`` live heap Objects of Go type ``type``
        exactly (or of any type) from position ``offset`` in address order, and how many live
        objects of that type there are. For paging through a type of millions of objects:
        the first call groups the live objects by type (one sort), later calls slice."""
        from .objects import objects_page
        return objects_page(self, type, offset, limit)

    def crash(self):
        """Return how the process died (``gocore.crash.Crash``): the panic chain with each
        value's printed text, the signal a fault panicked with, the crashing goroutine and
        thread, its frames with pc offsets and the crash signature; no panic, no signal and
        no goroutine for a gcore or SIGQUIT dump. Read once per process."""
        got = self.__dict__.get("_crash")
        if got is None:
            from .crash import read_crash
            got = self.__dict__["_crash"] = read_crash(self)
        return got

    def goroutine_groups(self):
        """Return the goroutines grouped by status, wait reason and the functions on their
        stacks (``gocore.crash.GoroutineGroup``: count, ids, status, wait_reason,
        functions), largest group first."""
        from .crash import goroutine_groups
        return goroutine_groups(self.goroutines())

    # ---- walking the heap: groups, suspects, referrers, expressions ----

    def type_groups(self, by_slot: bool = False, progress=None):
        """Return the live heap by type as ``gocore.heap.slices.TypeGroup`` rows, most bytes
        first: the backing arrays ``[N]T`` of every N merged into one ``[]T`` group (one row
        per slice element type) unless ``by_slot``."""
        from .heap.slices import grouped_histogram
        return grouped_histogram(*self.histogram(progress), by_slot=by_slot)

    def suspects(self, share: float = 0.10, limit: int = 10, progress=None):
        """Return the leak suspects (``gocore.heap.suspects.Suspects``): the root groups and
        the objects held through several roots that each retain more than ``share`` of the
        live heap, largest first, each with its accumulation point, the types held there
        and a path from its root; when none passes ``share``, the ``limit`` largest."""
        from .heap.suspects import find_suspects
        return find_suspects(self.heap_index(progress), self.dominators(), share, limit)

    def referrers(self, addr: int, limit: int = 1000):
        """Return the pointers into the live object containing ``addr``
        (``gocore.heap.referrers.Referrers``: objects and roots, each with the offset and
        field of the pointer in its source), at most ``limit``; None when ``addr`` is in no
        live heap object."""
        from .heap.referrers import referrers_of
        obj = self.object_at(addr)
        return None if obj is None else referrers_of(self.heap_index(), obj.id, limit)

    def evaluate(self, expr: str) -> Value:
        """Return the Value Go expression ``expr`` names (``main.cache["k"].Items[0]``,
        ``*main.p``: globals, fields, elements, map keys, pointees; ``gocore.expr``).
        Raises ``ExprError`` (a GoCoreError) when it does not parse or names nothing the
        dump holds. Does not read the heap index."""
        from .expr import evaluate
        return evaluate(self, expr)

    def global_retained(self) -> dict[str, tuple[int, int]]:
        """Return {global name: (bytes, objects) it alone keeps alive} for the package
        variables that hold heap pointers (the dominator tree's root groups)."""
        dom = self.dominators()
        out = {}
        for k in range(len(dom.group_row)):
            info = dom.group_info(k)
            if info.kind == "global":
                out[info.name] = (int(dom.group_retained[k]), int(dom.group_count[k]))
        return out
