"""A process image from a dump (ELF core or Windows minidump), nothing Go-specific.

>>> import core
>>> proc = core.open_dump("fixtures/dumps/go1.22.10/crash.core.zst", exe="fixtures/dumps/go1.22.10/exe.zst")  # doctest: +SKIP
>>> proc.read(proc.threads[0].sp, 8)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .errors import (CorruptDump, DumpError, Error, ExecutableError, TruncatedDump, UnknownFormat,
                     UnmappedAddress)
from .exe import Executable, open_executable
from .memory import Gather, Memory, Segment, overlay
from .process import Mapping, Process, Thread
from .cachedir import CacheDirError, private_dir
from .source import DecompressionLimit, map_readonly, materialize, set_max_decompressed

__all__ = ["open_dump", "open_executable", "Process", "Thread", "Mapping", "Memory", "Segment",
           "Gather", "overlay", "Executable", "Error", "DumpError", "UnknownFormat", "TruncatedDump",
           "CorruptDump", "ExecutableError", "UnmappedAddress", "CacheDirError", "private_dir",
           "DecompressionLimit", "set_max_decompressed"]


def open_dump(path: str | os.PathLike, exe: str | os.PathLike | None = None, *,
              use_cache: bool = True, notify: Callable[[str], None] | None = None) -> Process:
    """Return the Process in the dump at ``path``, detected by content (ELF core or minidump).

    ``exe`` names the executable; without it the path recorded in the dump is used when
    that file exists. Compressed (zstd, gzip) dumps and executables are decompressed into
    the cache first; ``notify`` receives a sentence saying so.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DumpError(f"dump {path} does not exist")
    exe_path = os.fspath(exe) if exe is not None else None
    if exe_path is not None and not os.path.exists(exe_path):
        raise ExecutableError(f"executable {exe_path} does not exist")
    real = materialize(path, use_cache=use_cache, notify=notify)
    data = map_readonly(real)
    magic = bytes(data[:4])
    if magic == b"\x7fELF":
        from .elfcore import read_elf_core
        return read_elf_core(path, data, exe_path, use_cache=use_cache, notify=notify)
    if magic == b"MDMP":
        from .minidump import read_minidump
        return read_minidump(path, data, exe_path, use_cache=use_cache, notify=notify)
    raise UnknownFormat(f"{path} is neither an ELF core nor a minidump (magic {magic.hex()})")
