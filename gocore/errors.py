"""Errors of the Go layer. Every message is one line naming the thing and the fact."""

from __future__ import annotations

from core.errors import Error


class GoCoreError(Error):
    """Base of every error about the Go runtime's data (``gocore.Error`` is the base of
    these and of core's dump errors)."""


class UnsupportedGoVersion(GoCoreError):
    """The program was built by a Go release viewcore cannot read (older than 1.19)."""

    def __init__(self, version: str, minimum: str = "go1.19"):
        self.version = version
        self.minimum = minimum
        super().__init__(f"unsupported Go version {version}: viewcore reads {minimum} and newer")


class MissingDebugInfo(GoCoreError):
    """Something needed is absent from the executable (DWARF, a section, the build info)."""

    def __init__(self, what: str, path: str | None = None):
        self.what = what
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(f"{where}missing debug info: {what}")


class RuntimeLayoutError(GoCoreError):
    """Runtime structures, fields or constants the decoder needs are missing; names them all."""

    def __init__(self, missing: list[str], source: str = "DWARF"):
        self.missing = list(missing)
        self.source = source
        n = len(self.missing)
        super().__init__(f"runtime layout from {source} lacks {n} required "
                         f"item{'s' if n != 1 else ''}: {', '.join(self.missing)}")


class BadRuntimeData(GoCoreError):
    """Runtime data read from the dump or the executable makes no sense."""

    def __init__(self, what: str, addr: int | None = None):
        self.what = what
        self.addr = addr
        at = f" at {addr:#x}" if addr is not None else ""
        super().__init__(f"bad runtime data{at}: {what}")
