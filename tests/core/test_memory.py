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
