"""Map internals typed from runtime type descriptors: counts and the runtime's own records.

Truth comes from Go, never from our output:

* the fixtures' manifests (``counts``: main.Item is 10008, 8 through ``main.smallMap`` and
  10000 through ``main.bigMap``);
* ``mapkeeper/`` (built here with each installed Go 1.22+ toolchain, stripped and not, run,
  and dumped with SIGQUIT under GOTRACEBACK=crash) prints how many values it keeps behind
  maps that only a malloc-header-typed object holds;
* malloc headers (Go 1.22+): the type the runtime recorded for an object must be the type
  propagation gives it when that header is withheld (``infer_types(withhold=...)``).

What is not possible, and why:

* in the fixtures' stripped builds ``main.smallMap`` and ``main.bigMap`` are held only by
  untyped globals, and the small map's header (48 bytes) and only group/bucket (200/208
  bytes) are too small for a malloc header; before Go 1.22 nothing has one. Both maps are
  typed in every release from the code that uses them (``mapassign(t, m, key)`` takes the
  map's type: gocore/heap/allocsites.py), so all 10008 main.Item are. mapkeeper holds its
  maps from a header-typed object instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ..conftest import dump_cases, go_case
from tests.coreedit import type_counts
from ..gobuild import sigquit_dump
from .test_chan_types import _same_but_spelling   # DWARF's import paths vs descriptors' names

HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "mapkeeper"

CRASH = dump_cases(kinds=("crash",))
CRASH_DWARF = dump_cases(kinds=("crash",), stripped=False)
CRASH_STRIPPED = dump_cases(kinds=("crash",), stripped=True)


# ---- header consistency: propagation vs the runtime's records ----

# Pairs (propagated, recorded) that a pointer cannot tell apart, and why. A pointer to a
# struct's first field looks like a pointer to the struct when the struct is less than twice
# the field's size: runtime.mPadded (src/runtime/runtime2.go) is ``struct{ m; pad }`` and is
# reached through ``*m``. Objects this small have no malloc header unless they hold pointers
# and exceed 512 bytes, so only the runtime's own padded m is seen here.
FIRST_FIELD = {("runtime.m", "runtime.mPadded")}


def _propagate_withheld(gp, parity: int):
    """Run type inference as the heap index does, with every other header (``parity``)
    withheld; return (registry, result, recorded header types, withheld mask)."""
    from gocore.heap.heapindex import _typed_roots
    from gocore.heap.spans import U64
    from gocore.binary.rtype import runtime_types
    from gocore.heap.typeinfer import (MAX_SMALL_SIZE, ClosureTypes, TypeRegistry,
                                  header_type_addresses, infer_types)
    hi = gp.heap_index()
    heap = hi.heap
    sp = heap.spans
    noscan = sp.noscan[heap.span]
    big = np.flatnonzero(heap.size > np.uint32(MAX_SMALL_SIZE))
    large = np.where(sp.sizeclass[heap.span[big]] == 0, sp.large_type[heap.span[big]], U64(0))
    hdr = header_type_addresses(gp.process, heap.addr, heap.size, gp.facts, noscan=noscan,
                                large_type=large)
    reg = TypeRegistry(runtime_types(gp), gp.dwarf.types if gp.dwarf is not None else None)
    closures = None
    if gp.dwarf is not None:
        closures = ClosureTypes(gp.dwarf, reg, gp.pclntab, gp.process.exe_bias).types
    withhold = np.zeros(len(heap.addr), dtype=bool)
    withhold[hdr.ids[parity::2]] = True
    res = infer_types(gp, heap.addr, heap.size, _typed_roots(gp, reg, hi.roots),
                      header_types=hdr, read=heap.gather.words, registry=reg, closures=closures,
                      withhold=withhold)
    return reg, res, hdr, withhold


def _header_mismatches(gp) -> tuple[int, Counter]:
    """Return (objects compared, Counter of (propagated, recorded) name pairs that differ)."""
    from gocore.heap.typeinfer import UNKNOWN, _sized_types
    bad: Counter = Counter()
    compared = 0
    for parity in (0, 1):
        reg, res, hdr, withhold = _propagate_withheld(gp, parity)
        got = np.flatnonzero(withhold & (res.type_id != UNKNOWN))
        u, inv = np.unique(hdr.types[np.searchsorted(hdr.ids, got)], return_inverse=True)
        elem = np.array([reg.of_rtype(int(a)) for a in u], dtype=np.int32)[inv.ravel()]
        size = gp.heap_index().heap.size
        pay = size[got].astype(np.int64) - res.data_off[got].astype(np.int64)
        want = _sized_types(reg, elem, pay, arrays=True)
        compared += len(got)
        for g, w in zip(res.type_id[got], want):
            pair = (reg.display_name(int(g)), reg.display_name(int(w)) if w != UNKNOWN else "?")
            if pair[0] != pair[1] and not _same_but_spelling(*pair):
                bad[pair] += 1
    return compared, bad


@pytest.mark.parametrize("entry", CRASH)
def test_propagation_agrees_with_malloc_headers(entry):
    _, gp = go_case(entry)
    if not gp.facts.malloc_headers:
        pytest.skip("no malloc headers before go1.22")
    compared, bad = _header_mismatches(gp)
    assert compared > 0
    assert set(bad) <= FIRST_FIELD, bad


# ---- the fixtures ----

@pytest.mark.parametrize("entry", CRASH_DWARF)
def test_items_through_both_maps_with_dwarf(entry):
    case, gp = go_case(entry)
    hi = gp.heap_index()
    assert type_counts(hi)["main.Item"] == case.manifest["counts"]["main.Item"] == 10008
    want = "internal/runtime/maps.Map" if gp.facts.swiss_maps else "runtime.hmap"
    for key in ("small_map", "big_map"):
        assert hi.name_of(hi.find(case.manifest["objects"][key])) == want


@pytest.mark.parametrize("entry", CRASH_STRIPPED)
def test_items_through_maps_stripped(entry):
    """Stripped: both maps' items, the maps typed from the code using them (see the module
    docstring), their headers named as with DWARF."""
    case, gp = go_case(entry)
    hi = gp.heap_index()
    assert type_counts(hi)["main.Item"] == case.manifest["counts"]["main.Item"] == 10008
    want = "internal/runtime/maps.Map" if gp.facts.swiss_maps else "runtime.hmap"
    for key in ("small_map", "big_map"):
        assert hi.name_of(hi.find(case.manifest["objects"][key])) == want


# ---- a program whose maps hang off header-typed objects ----

def _toolchains() -> list[tuple[str, str]]:
    """Return (version, go binary) of the installed Go 1.22+ toolchains."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    found = {}
    pat = os.path.join(base, "viewcore", "toolchains", "go1.*", "lib", "python3*",
                       "site-packages", "go", "bin", "go")
    for go in sorted(glob.glob(pat)):
        v = Path(go).parts[-7][2:]
        found[v] = go
    if not found and shutil.which("go"):
        r = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True,
                           env=dict(os.environ, GOTOOLCHAIN="local"))
        if r.returncode == 0 and r.stdout.startswith("go1."):
            found[r.stdout.strip()[2:]] = shutil.which("go")
    out = []
    for v, go in found.items():
        minor = int(v.split(".")[1])
        if minor >= 22:
            out.append((v, go))
    return sorted(out, key=lambda x: tuple(int(p) for p in x[0].split(".")))


TOOLCHAINS = _toolchains()


def _params():
    if not TOOLCHAINS:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason="no Go 1.22+ toolchain"))]
    return [pytest.param(v, s, id=f"go{v}-{'stripped' if s else 'dwarf'}")
            for v, _ in TOOLCHAINS for s in (True, False)]


_LOADED: dict = {}   # (version, stripped) -> (GoProcess, manifest); the cores are small


def _mapkeeper(version: str, stripped: bool, tmp_path_factory):
    key = (version, stripped)
    if key not in _LOADED:
        import core
        import gocore
        go = dict(TOOLCHAINS)[version]
        work = tmp_path_factory.mktemp(f"mapkeeper-{version}-{'s' if stripped else 'd'}")
        c, exe, manifest = sigquit_dump(go, PROGRAM, stripped, work)
        gp = gocore.load(core.open_dump(str(c), exe=str(exe)))
        _LOADED[key] = (gp, manifest)
    return _LOADED[key]


@pytest.mark.parametrize("version,stripped", _params())
def test_mapkeeper_values_through_maps(version, stripped, tmp_path_factory):
    """Every value kept only behind maps is counted exactly, stripped or not; the headers
    carry the runtime's names."""
    gp, manifest = _mapkeeper(version, stripped, tmp_path_factory)
    assert (gp.dwarf is None) == stripped
    hi = gp.heap_index()
    got = type_counts(hi)
    for t, n in manifest["counts"].items():
        assert got[t] == n, (t, got[t], n)
    objs = manifest["objects"]
    assert hi.name_of(hi.find(objs["holder"])) == "main.Holder"
    hdr = "internal/runtime/maps.Map" if gp.facts.swiss_maps else "runtime.hmap"
    for key in ("small_map", "big_map", "ints_map", "box_map"):
        assert hi.name_of(hi.find(objs[key])) == hdr, key
    names = set(got)
    assert not [n for n in names if "<" in n or "noalg." in n]
    if gp.facts.swiss_maps:
        assert "internal/runtime/maps.table" in names
        assert any(n.endswith("map.group[string]*main.V") for n in names), sorted(names)
    else:
        assert any(n.endswith("map.bucket[int]int") for n in names), sorted(names)


@pytest.mark.parametrize("version,stripped", _params())
def test_mapkeeper_propagation_agrees_with_malloc_headers(version, stripped, tmp_path_factory):
    gp, _ = _mapkeeper(version, stripped, tmp_path_factory)
    compared, bad = _header_mismatches(gp)
    assert compared > 0
    assert set(bad) <= FIRST_FIELD, bad
