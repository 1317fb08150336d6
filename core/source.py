"""Opening dump and executable files: compression, caching and a read-only mmap.

Files compressed with zstd or gzip are recognised by their magic bytes and decompressed
once into a sparse file (runs of zeros become holes, so a 1 GB gcore core with 3 MB of
data costs 3 MB of disk): into the cache, ``$XDG_CACHE_HOME/viewcore/decompressed``, or
with ``use_cache=False`` into a temporary file removed at exit. The caller is told
through ``notify`` so the CLI can say it on stderr.

Decompression is bounded, whichever the destination. The output must start like an ELF
file, a minidump or a PE executable (checked on the first chunk, so a stream of garbage
stops at once); its size must stay within ``max_decompressed`` (see ``default_limit``);
the bytes actually written must leave a margin of free disk. A stream that breaks a bound
raises one error and leaves nothing behind.

The cache is kept in a directory only we control (``cachedir.private_dir``). An entry is
named by the SHA-256 of the whole compressed file (streamed: measured 1.3 GB/s on the
development machine, where blake2b gave 0.5 GB/s; SHA-256 has CPU instructions there), and
beside it ``KEY.json`` (JSON, never pickle) records the decompressed size, the entry's
mtime, a SHA-256 of its first and last MiB and a digest of its whole content computed
while it was written (``_ContentDigest``). An entry is opened without following symlinks
and used only when it is a regular file of ours that matches its record; anything else
(a planted file, an entry without record, a record for another key, a changed file) is
removed and rebuilt. Opening checks size, mtime and first and last MiB always, the whole
content only for entries up to 64 MiB (executables, small cores): hashing a multi-GB
core on every open would cost seconds, and the cheap checks already catch what happens
to a file in a directory no one else can write (truncation, replacement, an edit). The
whole digest is computed at creation, from the stream itself; the compressed file is
hashed a second time as it is decompressed, so an input that changed between the two
reads is refused rather than cached under the wrong key. Processes opening one entry at
once take turns through a lock file (``KEY.lock``).
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import gzip
import hashlib
import json
import mmap
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import zstandard

from .cachedir import CacheDirError, private_dir
from .errors import DumpError, UnknownFormat

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: A zstd skippable frame (0x184D2A50-0x184D2A5F, little-endian), as pzstd writes first.
ZSTD_SKIPPABLE_MAGIC = b"\x2a\x4d\x18"
GZIP_MAGIC = b"\x1f\x8b"
#: What decompressed content may start with: ELF (core or executable), minidump, PE.
CONTENT_MAGICS = (b"\x7fELF", b"MDMP", b"MZ")
_CHUNK = 1 << 20
_ZERO_CHUNK = bytes(_CHUNK)
_FULL_CHECK_LIMIT = 64 << 20
_RECORD_LIMIT = 4096
_MARGIN = 1 << 30
_RECORD_SCHEMA = 1


class DecompressionLimit(DumpError):
    """A file decompresses to more than the size limit; nothing was kept."""


def cache_dir() -> Path:
    """Return viewcore's cache directory (``$XDG_CACHE_HOME/viewcore``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "viewcore"


def compression_of(path: str | os.PathLike) -> str | None:
    """Return ``"zstd"``, ``"gzip"`` or None for an uncompressed file."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(ZSTD_MAGIC) or (head[:1] and head[0] & 0xF0 == 0x50
                                        and head[1:4] == ZSTD_SKIPPABLE_MAGIC):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    return None


def format_size(n: int) -> str:
    """Return ``n`` bytes as ``1.5 GiB`` / ``12.0 MiB`` / ``512 bytes``."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n} bytes"


# ---------------------------------------------------------------- limits

_max_decompressed: int | None = None


def set_max_decompressed(size: int | None) -> None:
    """Set the largest decompressed size ``materialize`` accepts (None: ``default_limit``).

    Process-wide, as the CLI's ``--max-decompressed`` is: every dump and executable one
    command opens is held to it.
    """
    global _max_decompressed
    _max_decompressed = size


def default_limit(directory: str | os.PathLike) -> tuple[int, int]:
    """Return (bytes, margin): how much may be written into ``directory``'s filesystem.

    The margin is 1 GiB (half the free space when less than 2 GiB is free) and ``bytes``
    is the free space less it. Used as the default size limit, a bomb can never fill the
    disk while any dump that fits is accepted; the one dump it refuses wrongly is a sparse
    core larger than the free space though its data is not, for which the limit is raised
    by hand (the bytes actually written are still held to this).
    """
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    margin = min(_MARGIN, free // 2)
    return free - margin, margin


@dataclass(frozen=True)
class _Bounds:
    """The bounds of one decompression: size (logical bytes) and room (bytes written)."""
    size: int
    room: int
    margin: int
    directory: str
    explicit: bool

    @classmethod
    def for_directory(cls, directory: str) -> _Bounds:
        room, margin = default_limit(directory)
        if _max_decompressed is not None:
            return cls(_max_decompressed, room, margin, directory, True)
        return cls(room, room, margin, directory, False)

    def too_large(self, path: str) -> DecompressionLimit:
        why = ("the limit set" if self.explicit else
               f"the free space of {self.directory} less {format_size(self.margin)}")
        return DecompressionLimit(f"{path} decompresses to more than {format_size(self.size)} "
                                  f"({why}): stopped, nothing kept")

    def no_room(self, path: str) -> DumpError:
        return DumpError(f"{path}: decompressing it would leave less than "
                                  f"{format_size(self.margin)} free in {self.directory}: "
                                  f"stopped, nothing kept")


# ---------------------------------------------------------------- decompression


def _read_chunk(reader) -> bytes:
    """Return the next ``_CHUNK`` bytes of ``reader`` (fewer only at its end), so that
    chunks start at multiples of ``_CHUNK`` however much each read returns."""
    parts = []
    n = 0
    while n < _CHUNK:
        b = reader.read(_CHUNK - n)
        if not b:
            break
        parts.append(b)
        n += len(b)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _ContentDigest:
    """SHA-256 of a file's content: each non-zero ``_CHUNK``-aligned chunk with its offset,
    then the size. It names the content exactly (chunk boundaries are fixed offsets) and
    costs nothing for holes, so a mostly-empty 2 GB core is digested in milliseconds."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.size = 0

    def add(self, chunk: bytes) -> bool:
        """Account for the next chunk; return whether it is all zeros."""
        zero = chunk == _ZERO_CHUNK[: len(chunk)]
        if not zero:
            self._h.update(self.size.to_bytes(8, "little"))
            self._h.update(chunk)
        self.size += len(chunk)
        return zero

    def hexdigest(self) -> str:
        """Return the digest of the content added so far."""
        h = self._h.copy()
        h.update(self.size.to_bytes(8, "little"))
        return h.hexdigest()


class _HashingReader:
    """A file wrapper whose ``read`` also feeds a SHA-256 of the bytes read."""

    def __init__(self, f) -> None:
        self._f = f
        self.sha256 = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        b = self._f.read(n)
        self.sha256.update(b)
        return b

    def drain(self) -> str:
        """Read the rest of the file into the hash; return the hex digest of all of it."""
        while self.read(_CHUNK):
            pass
        return self.sha256.hexdigest()


def _chunks(source: _HashingReader, kind: str, path: str) -> Iterator[bytes]:
    """Yield the decompressed content of ``source`` in ``_CHUNK`` pieces."""
    try:
        if kind == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True,
                                                                closefd=False)
        else:
            reader = gzip.GzipFile(fileobj=source)
        with reader as r:
            while chunk := _read_chunk(r):
                yield chunk
    except (zstandard.ZstdError, OSError, EOFError) as e:
        raise DumpError(f"{path}: corrupt {kind} data: {e}") from e


def _decompress(path: str, kind: str, out, bounds: _Bounds) -> tuple[_ContentDigest, str]:
    """Decompress ``path`` into the open file ``out`` (sparse), within ``bounds``.

    Returns the content digest and the SHA-256 of the compressed bytes that were read.
    Raises UnknownFormat when the content does not start with one of ``CONTENT_MAGICS``,
    DecompressionLimit when it is too large, DumpError when it would leave too little free
    disk, is corrupt or cannot be written.
    """
    digest = _ContentDigest()
    written = 0
    with open(path, "rb") as raw:
        source = _HashingReader(raw)
        for chunk in _chunks(source, kind, path):
            if digest.size == 0 and not chunk.startswith(CONTENT_MAGICS):
                raise UnknownFormat(f"{path}: decompressed data is neither an ELF file, a minidump "
                                    f"nor a PE executable (it starts with {chunk[:4].hex()})")
            if digest.size + len(chunk) > bounds.size:
                raise bounds.too_large(path)
            try:
                if digest.add(chunk):
                    out.seek(len(chunk), os.SEEK_CUR)
                else:
                    written += len(chunk)
                    if written > bounds.room:
                        raise bounds.no_room(path)
                    out.write(chunk)
            except OSError as e:
                raise DumpError(f"cannot write the decompressed copy of {path}: {e.strerror}") from e
        if digest.size == 0:
            raise UnknownFormat(f"{path}: decompresses to nothing")
        try:
            out.truncate(digest.size)
            out.flush()
        except OSError as e:
            raise DumpError(f"cannot write the decompressed copy of {path}: {e.strerror}") from e
        return digest, source.drain()


def _file_sha256(path: str) -> str:
    """Return the hex SHA-256 of the whole file (streamed)."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as e:
        raise DumpError(f"cannot read {path}: {e.strerror}") from e


def _ends_sha256(f, size: int) -> str:
    """Return the SHA-256 of the first and the last MiB of the open file ``f``."""
    h = hashlib.sha256()
    f.seek(0)
    h.update(f.read(_CHUNK))
    f.seek(max(0, size - _CHUNK))
    h.update(f.read(_CHUNK))
    return h.hexdigest()


# ---------------------------------------------------------------- cache entries


class _Untrusted(Exception):
    """A cache entry that must not be used; the message says why."""


def _open_private(path: Path) -> int:
    """Return a read-only descriptor of ``path``, a regular file of ours that only we can
    write, opened without following a symlink (nor blocking on a FIFO); raises _Untrusted."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _Untrusted(f"{path} is missing") from None
    except OSError as e:
        raise _Untrusted(f"{path} is a symlink" if e.errno == errno.ELOOP
                         else f"{path} cannot be opened: {e.strerror}") from None
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = "is not a regular file"
    elif st.st_uid != os.geteuid():
        problem = f"is owned by uid {st.st_uid}"
    elif st.st_mode & 0o022:
        problem = "is writable by others"
    if problem:
        os.close(fd)
        raise _Untrusted(f"{path} {problem}")
    return fd


def _load_record(path: Path, key: str) -> dict:
    """Return the record of the entry ``key`` from ``path``; raises _Untrusted."""
    with os.fdopen(_open_private(path), "rb") as f:
        raw = f.read(_RECORD_LIMIT + 1)
    try:
        record = json.loads(raw) if len(raw) <= _RECORD_LIMIT else None
    except ValueError:
        record = None
    fields = {"size": int, "mtime_ns": int, "ends_sha256": str, "sha256": str}
    if (not isinstance(record, dict) or record.get("schema") != _RECORD_SCHEMA
            or record.get("source_sha256") != key
            or not all(isinstance(record.get(k), t) for k, t in fields.items())):
        raise _Untrusted(f"{path} is not a valid record for {key}")
    return record


def _entry_problem(entry: Path, record_path: Path, key: str) -> str | None:
    """Return why the cache entry ``entry`` cannot be used, or None when it matches its record."""
    try:
        record = _load_record(record_path, key)
        with os.fdopen(_open_private(entry), "rb") as f:
            st = os.fstat(f.fileno())
            size = record["size"]
            if st.st_size != size:
                return f"{entry} has {st.st_size} bytes where its record says {size}"
            if st.st_mtime_ns != record["mtime_ns"]:
                return f"{entry} was modified after it was made"
            if _ends_sha256(f, size) != record["ends_sha256"]:
                return f"{entry} does not match its record (first and last MiB)"
            if size <= _FULL_CHECK_LIMIT:
                digest = _ContentDigest()
                f.seek(0)
                while chunk := _read_chunk(f):
                    digest.add(chunk)
                if digest.hexdigest() != record["sha256"]:
                    return f"{entry} does not match its record (content digest)"
    except _Untrusted as e:
        return str(e)
    return None


def _remove(*paths: Path) -> None:
    """Remove each file (a symlink itself, never its target) if it exists."""
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise CacheDirError(f"cache entry {p} cannot be removed: {e.strerror}") from e


@contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on the file ``path`` (created if missing, never followed)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise CacheDirError(f"cache lock {path} cannot be opened: {e.strerror}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _create_entry(path: str, kind: str, key: str, entry: Path, record_path: Path) -> None:
    """Decompress ``path`` into ``entry`` and write its record, both atomically."""
    directory = entry.parent
    for stale in directory.glob(f".partial-{key}-*"):  # left by a run that was killed
        _remove(stale)
    bounds = _Bounds.for_directory(str(directory))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".partial-{key}-")
    tmp_record = None
    try:
        with os.fdopen(fd, "w+b") as out:
            digest, source_sha256 = _decompress(path, kind, out, bounds)
            if source_sha256 != key:
                raise DumpError(f"{path} changed while it was being decompressed")
            record = {"schema": _RECORD_SCHEMA, "source_sha256": key, "size": digest.size,
                      "mtime_ns": os.fstat(out.fileno()).st_mtime_ns,
                      "ends_sha256": _ends_sha256(out, digest.size), "sha256": digest.hexdigest()}
        rfd, tmp_record = tempfile.mkstemp(dir=directory, prefix=f".partial-{key}-", suffix=".json")
        with os.fdopen(rfd, "w") as f:
            json.dump(record, f)
        os.replace(tmp, entry)
        os.replace(tmp_record, record_path)
    except BaseException:
        _remove(*(Path(p) for p in (tmp, tmp_record) if p))
        raise


def _cached(path: str, kind: str, notify: Callable[[str], None] | None) -> str:
    """Return the verified cache entry for ``path``, decompressing it when there is none."""
    key = _file_sha256(path)
    directory = private_dir(cache_dir(), "decompressed")
    entry = directory / key
    record_path = directory / f"{key}.json"
    with _locked(directory / f"{key}.lock"):
        if os.path.lexists(entry) or os.path.lexists(record_path):
            problem = _entry_problem(entry, record_path, key)
            if problem is None:
                return str(entry)
            if notify:
                notify(f"cache entry not used, removed: {problem}")
            _remove(entry, record_path)
        if notify:
            notify(f"decompressing {kind} file {path} to {entry}")
        _create_entry(path, kind, key, entry, record_path)
    return str(entry)


def _temporary(path: str, kind: str, notify: Callable[[str], None] | None) -> str:
    """Return a temporary decompressed copy of ``path``, removed when the interpreter exits."""
    if notify:
        notify(f"decompressing {kind} file {path} to a temporary file")
    bounds = _Bounds.for_directory(tempfile.gettempdir())
    fd, tmp = tempfile.mkstemp(prefix="viewcore-")
    try:
        with os.fdopen(fd, "wb") as out:
            _decompress(path, kind, out, bounds)
    except BaseException:
        _remove(Path(tmp))
        raise
    _TEMPORARIES.append(tmp)
    return tmp


def materialize(path: str | os.PathLike, *, use_cache: bool = True,
                notify: Callable[[str], None] | None = None) -> str:
    """Return the path of an uncompressed copy of ``path`` (``path`` itself if plain).

    Compressed files are decompressed into the cache, keyed by their content, so a second
    open (or an open of a copy) is free. Without the cache a temporary file is used and
    removed when the interpreter exits. Raises CacheDirError when the cache directory is
    not safe to use, DecompressionLimit / UnknownFormat / DumpError when the content breaks
    a bound or is corrupt (nothing is left behind then).
    """
    path = os.fspath(path)
    try:
        kind = compression_of(path)
    except OSError as e:
        raise DumpError(f"cannot open {path}: {e.strerror}") from e
    if kind is None:
        return path
    if use_cache:
        return _cached(path, kind, notify)
    return _temporary(path, kind, notify)


_TEMPORARIES: list[str] = []


def _remove_temporaries() -> None:
    for p in _TEMPORARIES:
        try:
            os.unlink(p)
        except OSError:
            pass


atexit.register(_remove_temporaries)


def map_readonly(path: str) -> mmap.mmap:
    """Return a read-only mmap of the whole file (an empty file raises DumpError)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise DumpError(f"{path}: file is empty")
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise DumpError(f"cannot open {path}: {e.strerror or e}") from e
