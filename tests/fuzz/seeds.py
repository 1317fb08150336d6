"""The seed files the fuzzer mutates: a few small fixture dumps and executables.

Each seed is the decompressed fixture (from the viewcore cache), its named fields
(``layout.fields_of``) and, for cores, the file offsets of words that hold pointers into
the dump's memory: the runtime's structures, where a wrong value reaches gocore.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from .layout import Field, fields_of

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"

#: seed name -> (file, executable or None), relative to fixtures/
SEED_FILES: dict[str, tuple[str, str | None]] = {
    "linux-core": ("dumps-bigbss/go1.22.10/crash.core.zst", "dumps-bigbss/go1.22.10/exe.zst"),
    "linux-core-stripped": ("dumps-bigbss/go1.27.3/crash-stripped.core.zst",
                            "dumps-bigbss/go1.27.3/exe-stripped.zst"),
    "minidump": ("dumps-windows-bigbss/go1.22.10/full.dmp.zst", "dumps-windows-bigbss/go1.22.10/exe.zst"),
    "minidump-normal": ("dumps-windows/go1.22.10/normal.dmp.zst", "dumps-windows/go1.22.10/exe.zst"),
    "elf-exe": ("dumps-bigbss/go1.22.10/exe.zst", None),
    "elf-exe-stripped": ("dumps-bigbss/go1.27.3/exe-stripped.zst", None),
    "elf-exe-go119": ("dumps-bigbss/go1.19.8/exe.zst", None),
    "pe-exe": ("dumps-windows-bigbss/go1.22.10/exe.zst", None),
    "pe-exe-stripped": ("dumps-windows-bigbss/go1.27.3/exe-stripped.zst", None),
}

_CHUNK = 1 << 16


@dataclass
class Seed:
    """One seed file: its bytes (as non-zero extents), fields and executable path."""

    name: str
    path: str                 # decompressed file
    exe: str | None           # decompressed executable for dumps
    size: int
    extents: list[tuple[int, bytes]] = field(repr=False)

    @cached_property
    def original(self) -> mmap.mmap:
        """Return an anonymous mmap holding the unmutated file."""
        return self.build(self.size, ())

    @cached_property
    def fields(self) -> list[Field]:
        """Return the named fields of the unmutated file."""
        return fields_of(self.original)

    @cached_property
    def by_name(self) -> dict[str, Field]:
        """Return the fields by name."""
        return {f.name: f for f in self.fields}

    def build(self, size: int, patches) -> mmap.mmap:
        """Return an anonymous mmap of the first ``size`` bytes with ``patches`` (offset,
        bytes) written over them; the zero runs of the file cost nothing."""
        mm = mmap.mmap(-1, max(size, 1))
        for off, chunk in self.extents:
            if off >= size:
                break
            mm[off:min(off + len(chunk), size)] = chunk[:size - off]
        for off, data in patches:
            if 0 <= off < size:
                data = data[:size - off]
                mm[off:off + len(data)] = data
        return mm

    @cached_property
    def loads(self) -> list[tuple[int, int, int]]:
        """Return (vaddr, file offset, filesz) of each PT_LOAD (ELF) or memory range
        (minidump Memory64List) that has bytes in the file."""
        out = []
        f = self.by_name
        i = 0
        while f"phdr[{i}].p_type" in f:
            mm = self.original
            get = lambda n: int.from_bytes(mm[f[n].offset:f[n].end], "little")  # noqa: E731
            if get(f"phdr[{i}].p_type") == 1 and get(f"phdr[{i}].p_filesz"):
                out.append((get(f"phdr[{i}].p_vaddr"), get(f"phdr[{i}].p_offset"), get(f"phdr[{i}].p_filesz")))
            i += 1
        if "mem64.BaseRva" in f:
            mm = self.original
            get = lambda off, w: int.from_bytes(mm[off:off + w], "little")  # noqa: E731
            rva, base = f["mem64.BaseRva"].offset, get(f["mem64.BaseRva"].offset, 8)
            count = get(f["mem64.count"].offset, 8)
            for j in range(count):
                start, size = get(rva + 8 + 16 * j, 8), get(rva + 16 + 16 * j, 8)
                out.append((start, base, size))
                base += size
        return out

    @cached_property
    def pointer_words(self) -> np.ndarray:
        """Return file offsets of 8-byte words in the dump's memory whose value points into
        that memory (sorted): the links of the runtime's structures."""
        loads = self.loads
        if not loads:
            return np.zeros(0, dtype=np.int64)
        lo = np.array([v for v, _, _ in loads], dtype=np.uint64)
        hi = np.array([v + n for v, _, n in loads], dtype=np.uint64)
        out = []
        for vaddr, off, n in loads:
            n8 = (min(n, self.size - off) // 8) * 8
            words = np.frombuffer(self.original, dtype="<u8", count=n8 // 8, offset=off)
            ix = np.searchsorted(lo, words, side="right") - 1
            ok = (ix >= 0) & (words < hi[np.clip(ix, 0, None)]) & (words != 0)
            out.append(off + 8 * np.nonzero(ok)[0].astype(np.int64))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def vaddr_of(self, off: int) -> int | None:
        """Return the dump address held at file offset ``off``, or None."""
        for vaddr, foff, n in self.loads:
            if foff <= off < foff + n:
                return vaddr + off - foff
        return None

    def offset_of(self, vaddr: int) -> int | None:
        """Return the file offset holding dump address ``vaddr``, or None."""
        for start, foff, n in self.loads:
            if start <= vaddr < start + n:
                return foff + vaddr - start
        return None


def _extents(path: str) -> tuple[int, list[tuple[int, bytes]]]:
    size = os.path.getsize(path)
    out = []
    with open(path, "rb") as f:
        off = 0
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            if chunk.count(0) != len(chunk):
                out.append((off, chunk))
            off += len(chunk)
    return size, out


@lru_cache(maxsize=None)
def load_seed(name: str) -> Seed:
    """Return the seed called ``name`` (see SEED_FILES), decompressed through the cache."""
    from core.source import materialize
    rel, exe = SEED_FILES[name]
    path = materialize(FIXTURES / rel)
    size, extents = _extents(path)
    return Seed(name, path, materialize(FIXTURES / exe) if exe else None, size, extents)


def available(name: str) -> bool:
    """Return whether the fixture files of seed ``name`` are present."""
    rel, exe = SEED_FILES[name]
    return (FIXTURES / rel).exists() and (exe is None or (FIXTURES / exe).exists())
