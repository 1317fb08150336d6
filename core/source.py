"""Opening dump and executable files: compression, caching and a read-only mmap.

Files compressed with zstd or gzip are recognised by their magic bytes and decompressed
once into a sparse file under the cache directory (runs of zeros become holes, so a
1 GB gcore core with 3 MB of data costs 3 MB of disk). The caller is told through
``notify`` so the CLI can say it on stderr.
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import mmap
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import zstandard

from .errors import DumpError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_ZERO_CHUNK = bytes(_CHUNK)


def cache_dir() -> Path:
    """Return viewcore's cache directory (``$XDG_CACHE_HOME/viewcore``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "viewcore"


def compression_of(path: str | os.PathLike) -> str | None:
    """Return ``"zstd"``, ``"gzip"`` or None for an uncompressed file."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    return None


def _write_sparse(reader, out) -> None:
    """Copy ``reader`` to ``out``, seeking over all-zero chunks to leave holes."""
    size = 0
    while True:
        chunk = reader.read(_CHUNK)
        if not chunk:
            break
        if chunk == _ZERO_CHUNK[: len(chunk)]:
            out.seek(len(chunk), os.SEEK_CUR)
        else:
            out.write(chunk)
        size += len(chunk)
    out.truncate(size)


def _decompress(path: str, kind: str, dest: str) -> None:
    with open(path, "rb") as raw, open(dest, "wb") as out:
        try:
            if kind == "zstd":
                with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as r:
                    _write_sparse(r, out)
            else:
                with gzip.GzipFile(fileobj=raw) as r:
                    _write_sparse(r, out)
        except (zstandard.ZstdError, OSError, EOFError) as e:
            raise DumpError(f"{path}: corrupt {kind} data: {e}") from e


def _content_key(path: str) -> str:
    """Return a cache key from the file's content, so copies and clones share one entry.

    Files up to 64 MiB are hashed whole; larger ones by size, head and tail (a compressed
    dump that differs only in its middle is not a case worth hashing gigabytes for).
    """
    h = hashlib.sha256()
    size = os.path.getsize(path)
    h.update(str(size).encode())
    with open(path, "rb") as f:
        if size <= 64 << 20:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                h.update(chunk)
        else:
            h.update(f.read(_CHUNK))
            f.seek(-_CHUNK, os.SEEK_END)
            h.update(f.read(_CHUNK))
    return h.hexdigest()[:24]


def materialize(path: str | os.PathLike, *, use_cache: bool = True,
                notify: Callable[[str], None] | None = None) -> str:
    """Return the path of an uncompressed copy of ``path`` (``path`` itself if plain).

    Compressed files are decompressed into the cache, keyed by their content, so a second
    open (or an open of a copy) is free. Without the cache a temporary file is
    used and removed when the interpreter exits.
    """
    path = os.fspath(path)
    try:
        kind = compression_of(path)
    except OSError as e:
        raise DumpError(f"cannot open {path}: {e.strerror}") from e
    if kind is None:
        return path
    key = _content_key(path)
    if use_cache:
        target_dir = cache_dir() / "decompressed"
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f"{key}-{Path(path).name.removesuffix('.zst').removesuffix('.gz')}"
        if target.exists():
            return str(target)
        if notify:
            notify(f"decompressing {kind} file {path} to {target}")
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".partial-")
        os.close(fd)
        try:
            _decompress(path, kind, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return str(target)
    if notify:
        notify(f"decompressing {kind} file {path} to a temporary file")
    fd, tmp = tempfile.mkstemp(prefix="viewcore-")
    os.close(fd)
    _TEMPORARIES.append(tmp)
    _decompress(path, kind, tmp)
    return tmp


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
