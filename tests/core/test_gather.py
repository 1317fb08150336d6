"""core's one bulk reader (``Gather``, via ``Process.gather``) and one overlay on
synthetic memory: values and ``ok`` per address, byte order and word size from the
process, segment ends and gaps, and ``Memory.explain_miss``."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from core import Memory, Process, Segment, UnmappedAddress, overlay

BASE = 0x10000


def _memory() -> Memory:
    # two adjacent present segments, a gap, then an absent one
    a = struct.pack("<4Q", 1, 2, 0x1122334455667788, 4)
    b = struct.pack(">2Q", 0x0102030405060708, 6)
    return overlay([Segment(BASE, BASE + 32, a, 0, "rw-", "core"),
                    Segment(BASE + 32, BASE + 48, b, 0, "rw-", "core"),
                    Segment(BASE + 0x100, BASE + 0x200, None, 0, "rw-", "core")])


def _process(memory: Memory, **kw) -> Process:
    return Process(path="synthetic", dump_format="elf-core", goos="linux", goarch="amd64",
                   memory=memory, threads=[], mappings=[], exe=None, **kw)


def test_words_and_ok_per_address():
    g = _process(_memory()).gather
    addrs = np.array([BASE + 16, BASE, BASE + 8, BASE + 28, BASE + 0x100, BASE + 48, BASE - 8],
                     dtype=np.uint64)
    v, ok = g.words(addrs)
    assert ok.tolist() == [True, True, True, False, False, False, False]
    assert v.tolist() == [0x1122334455667788, 1, 2, 0, 0, 0, 0]
    assert g.run_length(BASE + 8) == 40           # up to the gap, across the adjacent segments
    assert g.run_length(BASE + 0x100) == 0        # absent


def test_narrow_and_unaligned_reads_are_in_the_process_byte_order():
    little = _process(_memory()).gather
    v, ok = little.uint(np.array([BASE + 16, BASE + 17], dtype=np.uint64), 2)
    assert ok.all() and v.tolist() == [0x7788, 0x6677]
    big = _process(_memory(), byte_order="big").gather
    (w,), _ = big.words(np.array([BASE + 32], dtype=np.uint64))
    assert w == 0x0102030405060708
    (h,), _ = big.uint(np.array([BASE + 33], dtype=np.uint64), 2)
    assert h == 0x0203


def test_word_size_comes_from_the_process():
    g = _process(_memory(), ptr_size=4).gather
    assert g.word_size == 4
    v, ok = g.words(np.array([BASE + 16, BASE + 20], dtype=np.uint64))
    assert ok.all() and v.tolist() == [0x55667788, 0x11223344]


def test_gather_follows_a_change_of_memory():
    mem = _memory()
    proc = _process(mem)
    first = proc.gather
    assert proc.gather is first                   # reused while the memory is unchanged
    mem.add(Segment(BASE, BASE + 8, struct.pack("<Q", 99), 0, "rw-", "exe"))
    (v,), _ = proc.gather.words(np.array([BASE], dtype=np.uint64))
    assert v == 99 and proc.gather is not first


def test_explain_miss_turns_a_failed_read_into_the_formats_error():
    class Partial(UnmappedAddress):
        pass

    mem = _memory()
    mem.explain_miss = lambda addr, n, _e: Partial(addr, n, "partial dump")
    assert mem.read(BASE, 8) == struct.pack("<Q", 1)
    for read in (mem.read, mem.view):
        with pytest.raises(Partial, match="cannot read 8 bytes at 0x10100: partial dump"):
            read(BASE + 0x100, 8)

