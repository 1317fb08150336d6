"""The heap of Windows minidumps made under wine: the same answers as on Linux cores.

Truth is the manifest the program printed before it was dumped: MemStats after
runtime.GC(), the exact live objects of each type, and the addresses of its globals.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import WINDOWS_DUMPS, minidump_cases, go_case
from tests.gocore.test_histogram import KNOWN_GAPS, NOT_OBJECTS

def _gp(entry):
    return go_case(entry, WINDOWS_DUMPS)


@pytest.mark.parametrize("entry", minidump_cases())
def test_live_heap_matches_memstats(entry):
    case, gp = _gp(entry)
    ms = case.manifest["memstats"]
    objs, nbytes = gp.heap_figures()
    assert abs(objs - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"], (objs, ms["HeapObjects"])
    assert abs(nbytes - ms["HeapAlloc"]) <= 0.02 * ms["HeapAlloc"], (nbytes, ms["HeapAlloc"])


@pytest.mark.parametrize("entry", minidump_cases())
def test_type_counts_are_exact(entry):
    case, gp = _gp(entry)
    names, _, counts, _ = gp.histogram()
    got: Counter = Counter()
    for n, c in zip(names, counts):
        got[n] += int(c)
    for t, want in case.manifest["counts"].items():
        if t in NOT_OBJECTS or t in KNOWN_GAPS:
            continue
        assert got[t] == want, t


@pytest.mark.parametrize("entry", minidump_cases())
def test_paths_start_at_the_programs_globals(entry):
    case, gp = _gp(entry)
    hi = gp.heap_index()
    for obj, glob in (("list_head", "main.list"), ("leak_array", "main.leak"),
                      ("arr_large_array", "main.arrLarge")):
        root, steps = hi.path(hi.find(case.manifest["objects"][obj]))
        assert root.kind == "global" and root.name == glob
        assert root.address == case.manifest["globals"][glob]
        want = case.manifest["objects"][obj]  # %p of the data: after a malloc header on 1.22+
        assert steps[-1].address <= want < steps[-1].address + steps[-1].size


@pytest.mark.parametrize("entry", minidump_cases())
def test_local_only_is_held_by_its_goroutines_frame(entry):
    case, gp = _gp(entry)
    hi = gp.heap_index()
    root, steps = hi.path(hi.find(case.manifest["objects"]["local_only"]))
    assert root.kind == "frame"
    assert root.goroutine == case.manifest["goroutines"]["main.parkLocalOnly"]["goid"]
    assert len(steps) == 1
