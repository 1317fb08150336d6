"""The heap index on every fixture: live figures, per-type counts, names, breakdown.

Truth is each dump's manifest: ``memstats`` (runtime.ReadMemStats after runtime.GC()) and
``counts`` (the live objects of each Go type the program built). Nothing is compared with
our own earlier output.
"""

from __future__ import annotations


import numpy as np
import pytest


from ..conftest import Case, dump_cases, go_case
from tests.coreedit import type_counts

KINDS = ("crash", "sigquit", "gcore")
CASES = dump_cases(kinds=KINDS)
DWARF = dump_cases(kinds=KINDS, stripped=False)
STRIPPED = dump_cases(kinds=KINDS, stripped=True)

# main.Pair: 2000 elements of ONE backing array (typed [N]main.Pair), never objects.
NOT_OBJECTS = {"main.Pair"}

# Types the heap index cannot yet count exactly, and why: type -> (reason, Go versions it
# applies to, None for all). strict: a fix shows up as XPASS-failure, so the list must shrink.
KNOWN_GAPS = {
    "main.LocalOnly": ("held only by local `lo` of main.parkLocalOnly; its frame slot is a precise "
                       "stack root, but Go's DWARF location list for `lo` ends at the loop (only "
                       "RAX right after newobject), so no variable is located at the park pc and "
                       "the slot's type is not known; the object (56 bytes) has no malloc header",
                       None),
}
# ...and on arm64 instead, whose DWARF locates `lo` at the park pc but whose code is not
# read for closure layouts (gocore/heap/allocsites.py)
ARM64_GAPS = {
    "main.Captured": ("held only by a closure context: before go1.23 DWARF gives no captured "
                      "variable offsets (DW_AT_go_closure_offset), and arm64 code is not read",
                      ("go1.19", "go1.21", "go1.22")),
}


def _gap(type_name: str, go_version: str, goarch: str = "amd64") -> str | None:
    """Return why ``type_name`` is not counted on ``go_version`` (go1.N.M), or None."""
    gap = (ARM64_GAPS if goarch == "arm64" else KNOWN_GAPS).get(type_name)
    if gap is None:
        return None
    reason, versions = gap
    minor = ".".join(go_version.split(".")[:2])
    return reason if versions is None or minor in versions else None


def _gp(entry):
    return go_case(entry)


@pytest.mark.parametrize("entry", CASES)
def test_live_heap_matches_memstats(entry):
    case, gp = _gp(entry)
    ms = case.manifest["memstats"]
    objs, nbytes = gp.heap_figures()
    assert abs(objs - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"], (objs, ms["HeapObjects"])
    assert abs(nbytes - ms["HeapAlloc"]) <= 0.02 * ms["HeapAlloc"], (nbytes, ms["HeapAlloc"])
    names, sizes, counts, nb = gp.histogram()
    assert int(counts.sum()) == objs and int(nb.sum()) == nbytes
    assert (np.diff(nb) <= 0).all()                      # sorted by bytes, descending
    assert (nb == counts * sizes).all()


def count_params(cases, goarch: str = "amd64"):
    """Return one (entry, type) parameter per manifest type of each DWARF case in ``cases``,
    a strict xfail where ``goarch`` has a known gap for it (``cases`` itself when empty)."""
    out = []
    for p in cases:
        entry = p.values[0]
        if entry is None:
            return cases
        for t in sorted(Case(entry).manifest["counts"]):
            if t in NOT_OBJECTS:
                continue
            gap = _gap(t, entry["go_version"], goarch)
            marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
            out.append(pytest.param(entry, t, id=f"{p.id}-{t}", marks=marks))
    return out


@pytest.mark.parametrize("entry,type_name", count_params(DWARF))
def test_histogram_counts_each_manifest_type(entry, type_name):
    case, gp = _gp(entry)
    assert type_counts(gp)[type_name] == case.manifest["counts"][type_name]


@pytest.mark.parametrize("entry", DWARF)
def test_known_gaps_are_unknown_not_guessed(entry):
    """What cannot be typed is ``unknown``: never another type's name. A closure context is
    unknown or named as golang.org/x/debug viewcore names it."""
    case, gp = _gp(entry)
    hi = gp.heap_index()
    for key, t in (("local_only", "main.LocalOnly"), ("closure", "closure for main.buildHeap.func1")):
        i = hi.find(case.manifest["objects"][key])
        assert hi.name_of(i) in ("unknown", t), (key, hi.name_of(i))


@pytest.mark.parametrize("entry", DWARF)
def test_type_names_are_go_spellings(entry):
    """No DWARF-internal names (``hash<K,V>``, ``noalg.``) reach the histogram; map
    internals carry the runtime's names."""
    _, gp = _gp(entry)
    names = set(type_counts(gp))
    assert not [n for n in names if "<" in n or "noalg." in n]
    internals = {"map.group[int]*main.Item", "map.bucket[int]*main.Item"}
    assert any(n.split("]", 1)[-1] in internals or n in internals for n in names), sorted(names)


# In a stripped binary no global has a type. What is still named comes from the runtime's own
# records: malloc headers and mspan.largeType (go1.22+), and what their typed fields reach.
HEADER_TYPED = {
    "main.Leak": 1000,       # through [N]*main.Leak (8000 B: a malloc header)
    "main.ElemM": 1000,      # [1000]*main.ElemM: header
    "main.ElemL": 10000,     # [10000]*main.ElemL: large object, largeType
    "main.BigObj": 1,        # large object
    "main.BigChild": 1,      # BigObj.Child
    "main.PairA": 2000,      # [2000]main.Pair: header, then Pair.A
}
BIG_MAP_ITEMS = 10000        # main.Item through the big map's header-typed group/bucket arrays
# In every release (amd64), what the code states (gocore/heap/allocsites.py): the map runtime
# calls on the untyped globals main.smallMap and main.bigMap name their map types, and the
# allocation of main.fn's closure context names its layout.
CODE_TYPED = {
    "main.Item": 10008,      # through both maps (test_map_types.py)
    "main.Captured": 1,      # behind the closure context
}
# In every release, untyped memory still states some types in the runtime's words
# (gocore/heap/typeseeds.py): interfaces and finalizer records.
UNTYPED_FACTS = {
    "main.Thing": 1,         # `var iface any` in bss: the eface type word *main.Thing
    "main.Thing2": 64,       # the eface type words of the [64]interface {} array
    "main.Finalized": 12,    # specialfinalizer.ot (*main.Finalized) of each
}


@pytest.mark.parametrize("entry", STRIPPED)
def test_stripped_names_what_the_runtime_recorded(entry):
    case, gp = _gp(entry)
    got = type_counts(gp)
    for t, n in UNTYPED_FACTS.items():
        assert got[t] == n == case.manifest["counts"][t], t
    want = dict(HEADER_TYPED) if gp.facts.malloc_headers else {t: 0 for t in HEADER_TYPED}
    never = ["main.Node", "main.ElemS", "main.LocalOnly"]
    if gp.process.goarch == "amd64":
        want.update(CODE_TYPED)
    else:                      # the code is not read: only the big map's arrays name Items
        want["main.Item"] = BIG_MAP_ITEMS if gp.facts.malloc_headers else 0
        never.append("main.Captured")
    for t, n in want.items():
        assert got[t] == n, t
    # reached only through untyped roots or small untyped objects: never guessed
    for t in never:
        assert got[t] == 0, t


@pytest.mark.parametrize("entry", CASES)
def test_breakdown_matches_memstats(entry):
    case, gp = _gp(entry)
    ms = case.manifest["memstats"]
    b = gp.breakdown()
    assert b.heap_in_use == ms["HeapInuse"]
    assert b.live == gp.heap_figures()[1]
    assert b.live + b.unreachable + b.fragmentation == b.heap_in_use
    if gp.dwarf is not None:
        assert b.source == "runtime statistics"
        assert b.sys == ms["Sys"]
        assert b.stacks == ms["StackInuse"]
        assert abs(b.heap_idle - ms["HeapIdle"]) <= 0.02 * ms["HeapIdle"]
        # HeapReleased moves with the background scavenger between ReadMemStats and the dump
        assert 0 <= b.heap_released <= b.heap_idle
    else:
        assert b.source == "spans" and b.heap_released is None


@pytest.mark.parametrize("entry", DWARF[:1])
def test_fields_and_paths_of_a_list_node(entry):
    case, gp = _gp(entry)
    hi = gp.heap_index()
    head = case.manifest["objects"]["list_head"]
    i = hi.find(head + 3)                                     # interior pointers find it too
    assert int(hi.heap.addr[i]) == head and hi.name_of(i) == "main.Node"
    fields, cut = hi.fields(i)
    by = {f.path: f for f in fields}
    assert not cut and set(by) == {"Value", "Next"}
    assert by["Value"].value == 3                             # node 0: i*7+3
    assert by["Next"].target_type == "main.Node"
    assert hi.field_path(hi.type_id[i], case.manifest["list"]["next_offset"]) == "Next"
