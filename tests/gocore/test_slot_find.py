"""The compiled pointer -> object lookup (markkernels.slot_find) answers as the numpy one
does, for pointers into objects, between them, outside the heap and at the extremes."""

import numpy as np
import pytest

from gocore.heap.heap import heap_of
from tests.conftest import dump_cases, go_case


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",)))
@pytest.mark.parametrize("clip", [False, True])
def test_compiled_lookup_equals_numpy(entry, clip):
    _, gp = go_case(entry)
    idx = heap_of(gp)._slots
    if idx is None:
        pytest.skip("no page table for this heap")
    a, size = heap_of(gp).addr, heap_of(gp).size
    rng = np.random.default_rng(5)
    pick = rng.integers(0, len(a), 1 << 16)
    ptrs = np.concatenate([a[pick] + (rng.random(len(pick)) * size[pick]).astype(np.uint64),
                           a[pick] + size[pick].astype(np.uint64),          # one past the end
                           rng.integers(0, 2**64 - 1, 1 << 12, dtype=np.uint64),
                           np.array([0, 1, 2**64 - 1], dtype=np.uint64), a[:64] - np.uint64(1)])
    old = idx.clip
    try:
        idx.clip = clip or old
        assert len(ptrs) >= idx.COMPILED_FROM
        want = idx._find_numpy(ptrs)
        got = idx.find(ptrs)
    finally:
        idx.clip = old
    assert got.dtype == want.dtype
    assert np.array_equal(got, want)
    assert (want[:len(pick)] == pick).mean() > 0.99   # the objects picked are found
