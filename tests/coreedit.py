"""Test helpers over fixture dumps: editing a copy of a core in place, counting types."""

from __future__ import annotations

from collections import Counter


def file_offset(gp, addr: int) -> int:
    """Return the core file offset holding the byte at ``addr`` (it must come from the core)."""
    seg = gp.process.memory.find(addr)
    assert seg is not None and seg.source == "core", hex(addr)
    return seg.offset + (addr - seg.start)


def patch(path: str, off: int, data: bytes) -> None:
    """Overwrite ``len(data)`` bytes of the file at ``off``."""
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def type_counts(hi) -> Counter:
    """Return live object counts by type name from ``hi.histogram()`` (names may repeat)."""
    names, _, counts, _ = hi.histogram()
    out: Counter = Counter()
    for n, c in zip(names, counts):
        out[n] += int(c)
    return out
