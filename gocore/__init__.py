"""The Go runtime decoded from a dump: version, functions, goroutines, heap.

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

from .errors import GoCoreError
from .process import GoProcess, Summary

__all__ = ["open", "load", "GoProcess", "Summary", "GoCoreError"]


def load(process: core.Process) -> GoProcess:
    """Return the GoProcess view of an opened ``core.Process``."""
    return GoProcess(process)


def open(dump: str | os.PathLike, exe: str | os.PathLike | None = None, *, use_cache: bool = True,
         notify: Callable[[str], None] | None = None) -> GoProcess:  # noqa: A001 - mirrors io.open
    """Open ``dump`` (with executable ``exe``) and return its GoProcess."""
    return load(core.open_dump(dump, exe=exe, use_cache=use_cache, notify=notify))
