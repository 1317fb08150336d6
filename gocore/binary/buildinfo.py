"""Go build information (``runtime/debug.BuildInfo``) read from an executable.

The linker writes a 32-byte header starting with ``\\xff Go buildinf:`` (16-byte aligned,
in ``.go.buildinfo`` on ELF, inside ``.data`` on PE). Byte 14 is the pointer size, byte 15
flags: bit 0 big-endian, bit 1 "strings inline" (Go 1.18+: two uvarint-length strings
follow the header) or, before that, two pointers at offset 16 to Go string headers. The
module text is wrapped in 16-byte sentinels. See ``src/debug/buildinfo/buildinfo.go`` and
``src/runtime/debug/mod.go`` in any GOROOT.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.errors import ExecutableError
from core.exe import Executable

from .goversion import GoVersion, parse_go_version
from .varint import uvarint

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
ALIGN = 16
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2
# "go1.22.10", "devel go1.26-abcdef Tue Jan 1 ...", with GOEXPERIMENT suffixes: far below this.
MAX_VERSION_LEN = 1024


class BuildInfoError(ExecutableError):
    """The executable carries no readable Go build information."""


@dataclass(frozen=True)
class Module:
    """A module line of the build info: path, version, checksum (``replace`` if replaced)."""

    path: str
    version: str = ""
    sum: str = ""
    replace: Module | None = None


@dataclass(frozen=True)
class BuildInfo:
    """What ``go version -m`` prints: toolchain version, main package path, modules, settings."""

    go_version: str | None
    path: str = ""
    main: Module | None = None
    deps: list[Module] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    addr: int = 0

    @property
    def version_tuple(self) -> GoVersion | None:
        """Return ``(major, minor, patch)`` of ``go_version``, or None if it is not a release."""
        return parse_go_version(self.go_version) if self.go_version else None


def _uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    """Return ``(value, next_pos)`` of the varint at ``pos`` (BuildInfoError past the end)."""
    try:
        return uvarint(buf, pos)
    except IndexError:
        raise BuildInfoError("build info: varint runs past the end of the data") from None


def find_build_info(exe: Executable) -> int | None:
    """Return the link-time address of the build info header, or None if absent."""
    sec = exe.sections.get(".go.buildinfo")
    if sec is not None and not sec.nobits:
        data = exe.section_data(".go.buildinfo") or b""
        if data.startswith(MAGIC):
            return sec.addr
    # PE, or a stripped section table: scan the file's loaded data, 16-byte aligned.
    for seg in exe.segments:
        if seg.filesz == 0:
            continue
        blob = exe.data[seg.offset: seg.offset + seg.filesz]
        pos = blob.find(MAGIC)
        while pos >= 0:
            if (seg.vaddr + pos) % ALIGN == 0:
                return seg.vaddr + pos
            pos = blob.find(MAGIC, pos + 1)
    return None


def _read_upto(exe: Executable, addr: int, n: int) -> bytes:
    """Return up to ``n`` bytes at ``addr``, fewer where its segment's file data ends."""
    for seg in exe.segments:
        if seg.vaddr <= addr < seg.vaddr + seg.filesz:
            return exe.read_static(addr, min(n, seg.vaddr + seg.filesz - addr)) or b""
    return b""


def _read_go_string(exe: Executable, addr: int, ptr_size: int, fmt: str) -> str:
    """Return the Go string whose (pointer, length) header sits at ``addr``."""
    hdr = exe.read_static(addr, 2 * ptr_size)
    if hdr is None:
        raise BuildInfoError(f"build info: string header at {addr:#x} is not in the file")
    ptr, n = struct.unpack(fmt + fmt[-1], hdr)
    if n == 0:
        return ""
    if n > 1 << 20:  # the module text of the largest programs is a few hundred KiB
        raise BuildInfoError(f"build info: string header at {addr:#x} claims {n} bytes")
    data = exe.read_static(ptr, n)
    if data is None:
        raise BuildInfoError(f"build info: string of {n} bytes at {ptr:#x} is not in the file")
    return data.decode("utf-8", errors="replace")


def _parse_modinfo(text: str) -> tuple[str, Module | None, list[Module], dict[str, str]]:
    """Return ``(path, main, deps, settings)`` from the tab-separated module text."""
    path, main, deps, settings = "", None, [], {}
    last: Module | None = None
    for line in text.splitlines():
        parts = line.split("\t")
        kind = parts[0]
        if kind == "path" and len(parts) > 1:
            path = parts[1]
        elif kind in ("mod", "dep") and len(parts) > 1:
            last = Module(*parts[1:4])
            if kind == "mod":
                main = last
            else:
                deps.append(last)
        elif kind == "=>" and last is not None and len(parts) > 1:
            repl = Module(*parts[1:4])
            last = Module(last.path, last.version, last.sum, repl)
            if deps and deps[-1].path == last.path:
                deps[-1] = last
            else:
                main = last
        elif kind == "build" and len(parts) > 1:
            key, _, value = parts[1].partition("=")
            if value.startswith('"'):  # quoted values (strconv.Quote) for keys with spaces
                try:
                    value = bytes(value[1:-1], "utf-8").decode("unicode_escape")
                except UnicodeDecodeError:
                    pass
            settings[key] = value
    return path, main, deps, settings


def read_build_info(exe: Executable) -> BuildInfo:
    """Return the executable's ``BuildInfo``; raise ``BuildInfoError`` if it has none."""
    addr = find_build_info(exe)
    if addr is None:
        raise BuildInfoError(f"{exe.path}: no Go build information (not a Go executable?)")
    header = exe.read_static(addr, HEADER_SIZE)
    if header is None or not header.startswith(MAGIC):
        raise BuildInfoError(f"{exe.path}: build info header at {addr:#x} is unreadable")
    ptr_size, flags = header[14], header[15]
    if flags & _FLAG_INLINE:
        # Go 1.18+: two uvarint-prefixed strings right after the header.
        blob = _read_upto(exe, addr, 1 << 20)
        n, pos = _uvarint(blob, HEADER_SIZE)
        if n > MAX_VERSION_LEN or pos + n > len(blob):
            raise BuildInfoError(f"{exe.path}: build info at {addr:#x}: version string of {n} bytes "
                                 "cannot be right")
        version = blob[pos: pos + n].decode("utf-8", errors="replace")
        pos += n
        n, pos = _uvarint(blob, pos)
        if pos + n > len(blob):
            raise BuildInfoError(f"{exe.path}: build info at {addr:#x}: module text of {n} bytes "
                                 "runs past the file data")
        mod = blob[pos: pos + n].decode("utf-8", errors="replace")
    else:
        if ptr_size not in (4, 8):
            raise BuildInfoError(f"{exe.path}: build info has pointer size {ptr_size}")
        # the blob states its own pointer size and byte order (debug/buildinfo reads them
        # from the header, not the file): its widths are the format's, not the process's
        order = ">" if flags & _FLAG_BIG_ENDIAN else "<"
        fmt = order + ("Q" if ptr_size == 8 else "I")
        vptr, mptr = struct.unpack(fmt + fmt[-1], header[16: 16 + 2 * ptr_size])
        version = _read_go_string(exe, vptr, ptr_size, fmt)
        mod = _read_go_string(exe, mptr, ptr_size, fmt)
    # Module text is framed by 16-byte sentinels; debug/buildinfo checks the '\n' at -17.
    if len(mod) >= 33 and mod[-17] == "\n":
        mod = mod[16:-16]
    else:
        mod = ""
    path, main, deps, settings = _parse_modinfo(mod)
    return BuildInfo(go_version=version or None, path=path, main=main, deps=deps,
                     settings=settings, addr=addr)


def buildinfo_version(exe: Executable) -> str | None:
    """Return the Go version ("go1.22.10") the executable's build info records, or None when
    it has no build info or an unreadable one."""
    if find_build_info(exe) is None:
        return None
    try:
        return read_build_info(exe).go_version
    except (BuildInfoError, struct.error, ValueError, IndexError):  # bytes no linker wrote
        return None


# ---- the version without build information ---------------------------------------------

def read_version_string(exe: Executable, addr: int) -> str | None:
    """Return the Go string whose header is at link-time ``addr`` (``runtime.buildVersion``)
    when it reads as a Go version (``go1.26.5``, ``devel ...``), else None.

    The linker initialises buildVersion statically (a string header in data pointing at
    rodata), so the executable alone holds it, stripped or not.
    """
    hdr = exe.read_words(addr, 2)
    if hdr is None:
        return None
    ptr, n = hdr
    if not 0 < n < 256:
        return None
    raw = exe.read_static(ptr, n)
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace")
    return text if parse_go_version(text) is not None or text.startswith("devel") else None


# A [N]string the linker initialised (runtime.waitReasonStrings: a few dozen short strings).
MAX_STATIC_STRINGS = 4096
MAX_STATIC_STRING_LEN = 4096


def read_string_array(exe: Executable, addr: int, count: int, ptr_size: int) -> list[str] | None:
    """Return the ``count`` Go strings of the ``[count]string`` at link-time ``addr`` whose
    headers and bytes the linker wrote into the executable, or None when any of them is not
    in the file or is no plausible string (then the caller falls back to a built-in table)."""
    if not 0 < count <= MAX_STATIC_STRINGS or ptr_size not in (4, 8):
        return None
    raw = exe.read_static(addr, 2 * ptr_size * count)
    if raw is None:
        return None
    fmt = ("<" if exe.byte_order == "little" else ">") + ("Q" if ptr_size == 8 else "I") * 2
    out = []
    for ptr, n in struct.iter_unpack(fmt, raw):
        if n > MAX_STATIC_STRING_LEN:
            return None
        data = exe.read_static(ptr, n) if n else b""
        if data is None:
            return None
        try:
            out.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    return out


# Runtime functions that first appear in a release and that every program links (measured
# on the heapkeeper fixtures of go1.19-go1.27 and on esbuild): within the go1.20 pclntab and
# moduledata family (go1.20-go1.25), the newest one present names the release.
_FIRST_IN = (("go1.25", "runtime.(*gcWork).putObj"), ("go1.24", "runtime.mallocgcLarge"),
             ("go1.23", "runtime.(*timer).maybeAdd"), ("go1.22", "runtime.(*mspan).typePointersOf"))

def version_from_pclntab(function_names: Iterable[str], family: str) -> str | None:
    """Return the Go release (``go1.24``, ``go1.27+``: minor release only) that the
    moduledata layout family (picked by the pclntab magic and layout probing) and the
    runtime's function names imply, or None for an unknown family."""
    from ..generated.layout_tables import MODULEDATA_LAYOUTS
    if family == "go1.20":
        names = set(function_names)
        for release, func in _FIRST_IN:
            if func in names:
                return release
    # Else the oldest release of the family with a table (go1.18's family also holds go1.18,
    # go1.20's also go1.20: neither has one); the newest family may hold later releases.
    entry = MODULEDATA_LAYOUTS.get(family)
    if entry is None:
        return None
    newest = family == list(MODULEDATA_LAYOUTS)[-1]
    return f"go{entry['releases'][0]}" + ("+" if newest else "")
