"""The overlay rules of core.memory on hand-made segments."""

from __future__ import annotations

import pytest

from core import Memory, Segment, UnmappedAddress


def seg(start, end, fill: bytes | None, source="core"):
    buf = None if fill is None else fill * (end - start)
    return Segment(start, end, buf, 0, "rw-", source)


def test_later_source_wins_and_splits():
    m = Memory()
    m.add(seg(0x1000, 0x4000, b"a"))
    m.add(seg(0x2000, 0x3000, b"b"))
    assert [(s.start, s.end) for s in m.segments] == [(0x1000, 0x2000), (0x2000, 0x3000), (0x3000, 0x4000)]
    assert m.read(0x1ffe, 4) == b"aabb"
    assert m.read(0x2ffe, 4) == b"bbaa"


def test_fill_only_replaces_absent_bytes():
    m = Memory()
    m.add(seg(0x1000, 0x3000, None))
    m.add(seg(0x1800, 0x2000, b"c"))
    m.fill(seg(0x1000, 0x3000, b"e", "exe"))
    assert m.read(0x17ff, 2) == b"ec"
    assert m.read(0x1fff, 2) == b"ce"
    assert m.readable(0x1000, 0x2000)


def test_absent_and_unmapped_reads_fail_with_the_address():
    m = Memory()
    m.add(seg(0x1000, 0x2000, b"x"))
    m.add(seg(0x2000, 0x3000, None))
    with pytest.raises(UnmappedAddress, match="0x2000 is not saved"):
        m.read(0x1ff0, 0x20)
    with pytest.raises(UnmappedAddress, match="not mapped"):
        m.read(0x5000, 1)
    with pytest.raises(UnmappedAddress, match="0xff0 is not mapped"):
        m.read(0xff0, 0x20)
    assert not m.readable(0x1ff0, 0x20)


def test_read_across_adjacent_segments_and_views_are_zero_copy():
    m = Memory()
    m.add(seg(0x1000, 0x2000, b"x"))
    m.add(seg(0x2000, 0x3000, b"y"))
    assert m.read(0x1fff, 2) == b"xy"
    v = m.view(0x1100, 0x10)
    assert isinstance(v, memoryview) and bytes(v) == b"x" * 16
    assert m.array(0x2000, 2).tolist() == [int.from_bytes(b"y" * 8, "little")] * 2


def test_segment_at_top_of_address_space():
    top = 1 << 64
    m = Memory()
    m.add(seg(top - 0x1000, top, b"t"))
    assert m.read(top - 8, 8) == b"t" * 8
    with pytest.raises(UnmappedAddress):
        m.read(top - 4, 8)


def _rss_file_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssFile:"))


def test_release_resident_drops_the_read_pages_and_keeps_the_bytes(tmp_path):
    """After reading all of a 64 MiB file-backed segment, releasing it takes its pages out
    of this process's resident set (the kernel's RssFile) and every byte reads the same."""
    import mmap
    import os
    path = tmp_path / "dump"
    payload = os.urandom(1 << 20) * 64
    path.write_bytes(payload)
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    mem = Memory([Segment(0x10000000, 0x10000000 + len(payload), m, 0, "r--", "core")])
    before = _rss_file_kb()
    assert mem.read(0x10000000, len(payload)) == payload
    assert _rss_file_kb() - before >= 60 << 10
    assert mem.release_resident() == 1
    assert _rss_file_kb() - before < 8 << 10
    assert mem.read(0x10000000 + 12345, 100) == payload[12345:12445]
    m.close()
    assert mem.release_resident() == 0          # a closed map is skipped, not an error
