"""``Process.objects_page``: a type's live objects a page at a time, on heapkeeper's dumps,
whose manifests count the objects of each type the program built."""

from __future__ import annotations

import pytest

from tests.conftest import dump_cases, go_case

CASES = dump_cases(kinds=("crash",), stripped=False)[:2]
# types every Go version types exactly (tests/gocore/test_histogram.py lists the gaps)
COUNTED = ("main.Item", "main.Leak", "main.ElemL", "main.Node")


@pytest.mark.parametrize("entry", CASES)
def test_pages_cover_the_type_in_address_order(entry):
    case, gp = go_case(entry)
    for name in COUNTED:
        want = case.manifest["counts"][name]
        first, total = gp.objects_page(name, 0, 100)
        assert total == want, name
        seen = []
        for offset in range(0, total, 1000):
            page, n = gp.objects_page(name, offset, 1000)
            assert n == total and len(page) == min(1000, total - offset)
            seen += page
        assert seen[:100] == first
        assert all(o.type_name == name for o in seen)
        addrs = [o.address for o in seen]
        assert addrs == sorted(addrs) and len(set(addrs)) == want
        assert [o.address for o in gp.objects(name)] == addrs     # the same objects as objects()


@pytest.mark.parametrize("entry", CASES[:1])
def test_page_edges_and_all_types(entry):
    case, gp = go_case(entry)
    n = case.manifest["counts"]["main.Leak"]
    assert gp.objects_page("main.Leak", n - 3, 100)[0] == list(gp.objects("main.Leak"))[-3:]
    assert gp.objects_page("main.Leak", n + 5, 100) == ([], n)
    assert gp.objects_page("main.Leak", -7, 2)[0] == list(gp.objects("main.Leak"))[:2]
    assert gp.objects_page("main.Leak", 0, 0) == ([], n)
    assert gp.objects_page("main.NoSuchType") == ([], 0)
    everything, total = gp.objects_page(None, 0, 10)
    assert total == gp.heap_index().live_count and len(everything) == 10
    assert [o.address for o in everything] == sorted(o.address for o in everything)
