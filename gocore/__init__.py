"""The Go runtime decoded from a dump: version, goroutines, heap objects, typed values.

``gocore.open(dump, exe)`` returns a ``Process``; from it ``objects()``, ``object_at()``,
``roots()``, ``goroutines()``, ``globals()`` and ``value_at()`` give ``Object``, ``Root``,
``Goroutine`` (with ``Frame``) and ``Value`` handles that read the dump on access.

>>> import gocore
>>> gp = gocore.open("fixtures/dumps/go1.22.10/crash.core.zst",
...                  exe="fixtures/dumps/go1.22.10/exe.zst")  # doctest: +SKIP
>>> gp.go_version  # doctest: +SKIP
'go1.22.10'
"""

from __future__ import annotations

import os
from collections.abc import Callable

import core
from core import DumpError, Error

from .errors import GoCoreError, UnsupportedGoVersion
from .expr import ExprError
from .goroutines.goroutines import Frame, Goroutine
from .objects import Object, Root
from .crash import Crash, FrameOffset, GoroutineGroup, PanicValue, SignalInfo
from .process import GoProcess, MissingExecutable, Summary, UnknownType
from .values import BadValue, Value

Process = GoProcess

__all__ = ["open", "load", "GoProcess", "Summary", "Error", "GoCoreError", "UnsupportedGoVersion",
           "DumpError", "require_full_memory", "OLDEST_SUPPORTED", "NEWEST_TESTED",
           "Process", "Object", "Root", "Value", "Goroutine", "Frame", "BadValue", "UnknownType",
           "MissingExecutable", "Crash", "PanicValue", "SignalInfo", "FrameOffset", "GoroutineGroup",
           "ExprError"]

OLDEST_SUPPORTED = (1, 19)
NEWEST_TESTED = (1, 27)


def check_version(gp: GoProcess, any_version: bool = False) -> None:
    """Raise UnsupportedGoVersion for a Go older than 1.19 (unless ``any_version``).

    A release newer than any tested only warns: layouts come from DWARF (or the newest
    table), and a field that moved is named by the layout error.
    """
    if gp.process.exe is None or gp.go_version is None:
        return
    from .binary.facts import release_support
    support = release_support(gp.go_release, OLDEST_SUPPORTED, NEWEST_TESTED)
    if support == "unknown":
        gp.process.warn(f"cannot tell the Go release from {gp.go_version!r}; reading it as the newest known")
    elif support == "older":
        if not any_version:
            raise UnsupportedGoVersion(gp.go_version)
        gp.process.warn(f"{gp.go_version} is older than go1.19: reading it anyway, answers may be wrong")
    elif support == "newer":
        gp.process.warn(f"{gp.go_version} is newer than any release viewcore was tested with "
                        f"(go{NEWEST_TESTED[0]}.{NEWEST_TESTED[1]}); answers may be wrong where the runtime changed")


def require_full_memory(gp: GoProcess) -> None:
    """Raise a one-line DumpError (saying how to capture a full dump) unless the dump holds
    the whole memory of the process: minidumps written without MiniDumpWithFullMemory
    have threads and modules but no Go heap."""
    if gp.process.dump_format == "minidump":
        from core.minidump import require_full_memory as check
        check(gp.process)


def load(process: core.Process, *, any_version: bool = False, keep_index: bool = True,
         notify: Callable[[str], None] | None = None) -> GoProcess:
    """Return the GoProcess view of an opened ``core.Process``.

    ``keep_index``: the heap index is read from and written to viewcore's cache
    (``$XDG_CACHE_HOME/viewcore/index``), so that later processes open it instead of
    computing it. ``notify`` receives sentences about that which do not change answers.
    Raises UnsupportedGoVersion for a Go older than 1.19 unless ``any_version``.
    """
    gp = GoProcess(process, keep_index=keep_index, notify=notify)
    check_version(gp, any_version)
    return gp


def open(dump: str | os.PathLike, exe: str | os.PathLike | None = None, *, use_cache: bool = True,
         notify: Callable[[str], None] | None = None,
         any_version: bool = False) -> GoProcess:  # noqa: A001 - mirrors io.open
    """Open ``dump`` (with executable ``exe``) and return its GoProcess.

    ``use_cache`` False neither reads nor writes viewcore's cache (decompressed dumps,
    the kept heap index); ``notify`` receives sentences about the cache."""
    return load(core.open_dump(dump, exe=exe, use_cache=use_cache, notify=notify),
                any_version=any_version, keep_index=use_cache, notify=notify)
