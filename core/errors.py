"""Errors raised while reading a dump or an executable.

Every error renders as one line naming the thing and the fact; the CLI prints it after
``viewcore: error:``.
"""


class Error(Exception):
    """Base of every error core and gocore raise for a property of their input (re-exported
    as ``gocore.Error``): a caller catches this one class, and anything else is a bug."""


class DumpError(Error):
    """Base of every error about an unusable dump or executable."""


class UnknownFormat(DumpError):
    """The file is neither an ELF core nor a minidump (nor a compressed one)."""


class TruncatedDump(DumpError):
    """The dump ends before data its headers promise."""


class CorruptDump(DumpError):
    """The dump's structures are inconsistent."""


class ExecutableError(DumpError):
    """The executable is missing, unreadable, or not the one the dump was made from."""


class UnmappedAddress(DumpError):
    """A read touched memory that the dump does not hold."""

    def __init__(self, addr: int, size: int, reason: str = "not in the dump"):
        self.addr = addr
        self.size = size
        self.reason = reason
        super().__init__(f"cannot read {size} bytes at {addr:#x}: {reason}")
