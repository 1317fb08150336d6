"""The heap index kept on disk: computed by the first command on a dump, opened by the rest.

Layout: ``$XDG_CACHE_HOME/viewcore/index/v<FORMAT>/<key>/<part>/`` where ``key`` hashes
the dump's and the executable's identity (path, size, mtime, inode, and the bytes of their
first and last MiB) together with the source of ``core`` and ``gocore`` (any change to the
code that computes an index is a new key, so a stale index is never read). A part is a
directory of ``.npy`` files plus ``record.json`` (what each array is: dtype, shape, file
size, XXH3-64 checksum; the part's small values; the warnings its computation raised, replayed when
it is loaded). Parts: ``base`` (heap, edges, roots, marks, types: the heap, edges and marks
written by a background thread while the first build types the objects, the rest at its end) and results computed later on demand (``histogram``, ``dominators``,
``reverse``), each written when first computed.

Safety: directories are ``core.cachedir.private_dir`` ones (0700, ours, checked). A part is
written into a temporary directory beside it and renamed into place, so a crash or two
writers at once leave either no part or a whole one (the loser of a rename race drops its
copy). Nothing is unpickled: ``np.load(allow_pickle=False)``, JSON for the rest. Arrays are
opened with ``mmap`` (read-only) after their file's size and checksum match the record; the
checksum is computed chunk by chunk over a map whose pages are dropped once hashed, so
checking costs time but no resident memory. It is
XXH3-64 (the ``xxhash`` package), not zlib's CRC-32: every command checks every array it
opens, and at 20 M objects CRC-32 (0.7 GB/s here) cost 0.7 s of a `sql` query that has 2 s;
XXH3 runs at 7 GB/s and still catches any truncation or overwritten byte. A record
or array that does not match raises ``IndexDamaged``: the caller discards the index, warns
and computes afresh.

Why our own format rather than Arrow/Parquet: the index is a handful of flat numpy arrays
that are used in place through ``mmap``; ``.npy`` is exactly that, and numpy is already here.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xxhash

from core.cachedir import CacheDirError, private_dir
from core.source import cache_dir

FORMAT = 2                 # 2: XXH3-64 checksums (1 had CRC-32)
_RECORD = "record.json"
_SAMPLE = 1 << 20          # bytes of a file's head and tail that go into its identity
_READ_CHUNK = 8 << 20
_MMAP_MIN = 4 << 20        # arrays at least this big are memory-mapped, smaller ones read
_DISK_MARGIN = 1 << 30     # never fill the disk: keep a GiB free after writing a part


class IndexDamaged(Exception):
    """A stored part does not match its record (truncated, overwritten, another format).

    Internal to gocore: ``HeapIndex`` catches it, discards the index and rebuilds."""


def _code_digest() -> str:
    """Return a hash of the source of ``core`` and ``gocore`` (the code behind an index)."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parents[1]
    for pkg in (here.parent / "core", here):
        for p in sorted(pkg.rglob("*.py")):
            h.update(str(p.relative_to(here.parent)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _file_identity(path: str) -> dict:
    """Return what identifies a file's content cheaply: its stat and its first and last MiB."""
    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(_SAMPLE))
        if st.st_size > _SAMPLE:
            f.seek(max(_SAMPLE, st.st_size - _SAMPLE))
            h.update(f.read(_SAMPLE))
    return {"path": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "ino": st.st_ino, "dev": st.st_dev, "sample": h.hexdigest()}


def index_key(dump_path: str, exe_path: str | None) -> str:
    """Return the key naming the index of a dump read with an executable (hex digest)."""
    ident = {"format": FORMAT, "code": _code_digest(), "dump": _file_identity(dump_path),
             "exe": _file_identity(exe_path) if exe_path else None}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def _checksum(path: Path) -> int:
    """Return the XXH3-64 of a file, read through a memory map one chunk at a time.

    Hashing the mapped page cache avoids the kernel's copy into a buffer (4x faster than
    ``readinto`` here), and each chunk's pages are dropped from the map once hashed
    (``MADV_DONTNEED``), so checking a file leaves nothing resident."""
    h = xxhash.xxh3_64()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if not size:
            return h.intdigest()
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            view = memoryview(m)
            try:
                for off in range(0, size, _READ_CHUNK):
                    n = min(_READ_CHUNK, size - off)
                    h.update(view[off:off + n])
                    m.madvise(mmap.MADV_DONTNEED, off, n)
            finally:
                view.release()
    return h.intdigest()


def _saved_checksum(path: Path, a: np.ndarray) -> int:
    """Return the XXH3-64 of the ``.npy`` file just saved from ``a`` (C-contiguous): its
    header read back, its data hashed from ``a`` itself. Reading a gigabyte back through
    the page cache cost 1 s of the writer's time at 20 M objects; readers still hash the
    file (``_checksum``)."""
    h = xxhash.xxh3_64()
    with open(path, "rb") as f:
        h.update(f.read(os.fstat(f.fileno()).st_size - a.nbytes))
    if a.nbytes:
        h.update(a.reshape(-1).view(np.uint8))
    return h.intdigest()


class StoredPart:
    """One part read back: its small values (``meta``) and its arrays, each checked against
    the record before it is first returned."""

    def __init__(self, path: Path, record: dict):
        self.path = path
        self.meta: dict = record.get("meta", {})
        self.warnings: list[str] = list(record.get("warnings", []))
        self._arrays: dict = record.get("arrays", {})
        self._docs: dict = record.get("docs", {})
        self._open: dict[str, np.ndarray] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._arrays

    def array(self, name: str) -> np.ndarray:
        """Return array ``name`` (read-only; memory-mapped when big), checked on first use.

        Raises IndexDamaged when its file is missing or differs from the record."""
        got = self._open.get(name)
        if got is not None:
            return got
        want = self._arrays.get(name)
        if want is None:
            raise IndexDamaged(f"{self.path.name} has no array {name}")
        f = self.path / f"{name}.npy"
        try:
            size = f.stat().st_size
            if size != want["bytes"]:
                raise IndexDamaged(f"{f.name} is {size} bytes, its record says {want['bytes']}")
            if _checksum(f) != want["xxh3"]:
                raise IndexDamaged(f"{f.name} does not match its checksum")
            # a memory map keeps a file descriptor open (Python's mmap dups it): only big
            # arrays are mapped, small ones are read
            big = want["bytes"] >= _MMAP_MIN and want["shape"][0]
            got = np.load(f, mmap_mode="r" if big else None, allow_pickle=False)
        except OSError as e:
            raise IndexDamaged(f"{f.name} cannot be read: {e.strerror}") from e
        except ValueError as e:           # not an .npy file numpy accepts
            raise IndexDamaged(f"{f.name}: {e}") from e
        if got.dtype.str != want["dtype"] or list(got.shape) != want["shape"]:
            raise IndexDamaged(f"{f.name} holds {got.dtype.str}{list(got.shape)}, its record "
                               f"says {want['dtype']}{want['shape']}")
        self._open[name] = got
        return got

    def doc(self, name: str):
        """Return JSON document ``name`` of the part, checked against the record.

        Raises IndexDamaged when it is missing or differs from the record."""
        want = self._docs.get(name)
        if want is None:
            raise IndexDamaged(f"{self.path.name} has no document {name}")
        f = self.path / f"{name}.json"
        try:
            data = f.read_bytes()
        except OSError as e:
            raise IndexDamaged(f"{f.name} cannot be read: {e.strerror}") from e
        if len(data) != want["bytes"] or xxhash.xxh3_64_intdigest(data) != want["xxh3"]:
            raise IndexDamaged(f"{f.name} does not match its record")
        try:
            return json.loads(data)
        except ValueError as e:
            raise IndexDamaged(f"{f.name} is not JSON ({e})") from e

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Return every array named ``prefix.x`` as {x: array} (each checked)."""
        p = prefix + "."
        return {n[len(p):]: self.array(n) for n in self._arrays if n.startswith(p)}


class IndexStore:
    """The on-disk index of one dump: named parts, each written once, atomically."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def for_dump(cls, dump_path: str, exe_path: str | None) -> "IndexStore":
        """Return the store of a dump (its directory made 0700 and checked).

        Raises CacheDirError when the cache directory cannot be used, OSError when the dump
        or executable cannot be read for its identity."""
        key = index_key(dump_path, exe_path)
        root = private_dir(cache_dir(), "index", f"v{FORMAT}", key)
        return cls(root)

    def load(self, part: str) -> StoredPart | None:
        """Return stored part ``part``, or None when it was never written.

        Raises IndexDamaged when its record cannot be read or is of another format."""
        d = self.path / part
        try:
            text = (d / _RECORD).read_text()
        except FileNotFoundError:
            if d.exists():
                raise IndexDamaged(f"{part} has no {_RECORD}") from None
            return None
        except OSError as e:
            raise IndexDamaged(f"{part}/{_RECORD} cannot be read: {e.strerror}") from e
        try:
            record = json.loads(text)
        except ValueError as e:
            raise IndexDamaged(f"{part}/{_RECORD} is not JSON ({e})") from e
        if not isinstance(record, dict) or record.get("format") != FORMAT or \
                record.get("part") != part or not isinstance(record.get("arrays"), dict):
            raise IndexDamaged(f"{part}/{_RECORD} is not a format-{FORMAT} record of {part}")
        return StoredPart(d, record)

    def save(self, part: str, arrays: dict[str, np.ndarray], meta: dict,
             warnings: list[str] = (), docs: dict | None = None) -> bool:
        """Write part ``part`` atomically; return False when it was not written (another
        process wrote it first, or the disk is too full: an index is only a speed-up).

        ``meta`` goes into the record (read whenever the part is); ``docs`` are larger
        JSON documents, each its own file, read only when asked for."""
        w = self.begin(part, {}, later_bytes=sum(a.nbytes for a in arrays.values()))
        return w is not None and w.finish(arrays, meta, warnings, docs)

    def begin(self, part: str, arrays: dict[str, np.ndarray], later_bytes: int = 0,
              written: Callable[[str, np.ndarray], None] | None = None) -> PartWriter | None:
        """Start writing part ``part``: ``arrays`` are written by a background thread
        from now on, in their order (the work that makes the rest goes on meanwhile),
        ``finish`` adds the rest and makes the part visible. ``written(name, mapped)`` is
        called from that thread as each array is on disk, with a read-only map of its
        file: a caller that swaps it in for its own copy frees that memory. Return None
        when it will not be written (it exists, or the disk cannot take these arrays and
        ``later_bytes`` more)."""
        if (self.path / part).exists():
            return None
        need = sum(a.nbytes for a in arrays.values()) + later_bytes + _DISK_MARGIN
        if shutil.disk_usage(self.path).free < need:
            return None
        return PartWriter(self.path, part, arrays, written)

    def drop(self, part: str) -> None:
        """Remove stored part ``part`` (found damaged), if it is there."""
        d = self.path / part
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)

    def discard(self) -> None:
        """Remove every part (a damaged index), leaving an empty directory."""
        for p in self.path.iterdir():
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


class PartWriter:
    """One part being written into a private temporary directory, renamed into place by
    ``finish``: a crash or a failed write leaves no part, and of two processes writing the
    same part the first rename wins."""

    def __init__(self, root: Path, part: str, arrays: dict[str, np.ndarray],
                 written: Callable[[str, np.ndarray], None] | None = None):
        self._root, self._part, self._on_written = root, part, written
        self._tmp = root / f".{part}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        os.mkdir(self._tmp, 0o700)
        self._written: dict[str, dict] = {}
        self._error: OSError | None = None
        # numpy writes and xxhash hashes large buffers without the GIL: the arrays go to
        # disk while the caller computes
        self._thread = threading.Thread(target=self._write_all, args=(dict(arrays), self._on_written),
                                        daemon=True)
        self._thread.start()

    def _write_all(self, arrays: dict[str, np.ndarray],
                   written: Callable[[str, np.ndarray], None] | None = None) -> None:
        # each array is taken out of ``arrays`` as it is written: once the caller has
        # swapped in the mapped copy, nothing here holds the original
        try:
            for name in list(arrays):
                a = np.ascontiguousarray(arrays.pop(name))
                f = self._tmp / f"{name}.npy"
                np.save(f, a, allow_pickle=False)
                self._written[name] = {"dtype": a.dtype.str, "shape": list(a.shape),
                                       "bytes": f.stat().st_size, "xxh3": _saved_checksum(f, a)}
                del a
                if written is not None:
                    written(name, np.load(f, mmap_mode="r", allow_pickle=False))
        except OSError as e:
            self._error = e

    def finish(self, arrays: dict[str, np.ndarray], meta: dict, warnings: list[str] = (),
               docs: dict | None = None) -> bool:
        """Write ``arrays`` and ``docs`` too, then the record; return whether the part is
        now in place (False: a write failed, or another process put its copy first)."""
        try:
            self._thread.join()
            if self._error is None:
                self._write_all(arrays)
            if self._error is not None:
                return False
            record = {"format": FORMAT, "part": self._part, "arrays": self._written, "docs": {},
                      "meta": meta, "warnings": list(warnings)}
            for name, doc in (docs or {}).items():
                data = json.dumps(doc).encode()
                (self._tmp / f"{name}.json").write_bytes(data)
                record["docs"][name] = {"bytes": len(data), "xxh3": xxhash.xxh3_64_intdigest(data)}
            (self._tmp / _RECORD).write_text(json.dumps(record))
            try:
                os.rename(self._tmp, self._root / self._part)
            except OSError:        # another process renamed its copy first: keep theirs
                return False
            return True
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Stop (waiting for the thread) and remove what was written but not put in place."""
        self._thread.join()
        if self._tmp.exists():
            shutil.rmtree(self._tmp, ignore_errors=True)


def open_store(dump_path: str, exe_path: str | None,
               note: Callable[[str], None]) -> IndexStore | None:
    """Return the dump's IndexStore, or None (after ``note``-ing why) when there can be
    none: the cache directory is unsafe or unusable, or the files cannot be read."""
    try:
        return IndexStore.for_dump(dump_path, exe_path)
    except CacheDirError as e:
        note(f"no heap index kept: {e}")
    except OSError as e:
        note(f"no heap index kept: {e.filename}: {e.strerror}")
    return None
