"""Package variables typed without DWARF from stores the code makes along every path.

``fixtures/programs/storekeeper`` (built here with real Go toolchains, stripped and not,
run, and dumped with SIGQUIT under GOTRACEBACK=crash) keeps values only behind package
variables whose initialisers do not store the allocation's result straight from it
(``storeflows.fresh_stores``): six ``*Opt`` made by an inlined ``newOpt`` that spills the
pointer across a call taking ``&o.On`` and stores it from the reloaded register, a
``*Table`` filled by loops and a ``memmove`` before its store, and three maps made empty by
``makemap_small`` and never filled (their headers typed as the runtime's header), and two
slices made by ``make`` (``runtime.makeslice``: their arrays typed ``[N]E``).

Truth is the program's own counts of what it keeps and the header and array addresses it printed,
and the DWARF build: the stripped build must count and name them (arrays: at least the
capacity the program printed) as the program printed
them, and the DWARF build's dump typed as if stripped must name no object otherwise than
DWARF does.

Versions: 1.19 (Debian's 1.19.8), 1.22.10 and 1.27.3; amd64 code only.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.coreedit import type_counts
from ..conftest import ROOT
from ..gobuild import amd64_sigquit_dump
from .test_typing_globals import typed_as_if_stripped

PROGRAM = ROOT / "fixtures" / "programs" / "storekeeper"
VERSIONS = ("1.19", "1.22.10", "1.27.3")
_LOADED: dict = {}   # (version, stripped) -> (GoProcess, manifest)


def _storekeeper(version: str, stripped: bool, tmp_path_factory):
    return amd64_sigquit_dump(PROGRAM, version, stripped, tmp_path_factory, _LOADED)


def _header_name(gp) -> str:
    return "internal/runtime/maps.Map" if gp.facts.swiss_maps else "runtime.hmap"


@pytest.mark.parametrize("version", VERSIONS)
def test_kept_values_counted_as_the_program_printed(version, tmp_path_factory):
    """The stripped build types every Opt and the Table the program keeps, and no more."""
    gs, manifest = _storekeeper(version, True, tmp_path_factory)
    assert gs.dwarf is None
    got = type_counts(gs.heap_index())
    for t, n in manifest["counts"].items():
        assert got[t] == n, (t, got[t], n)


@pytest.mark.parametrize("version", VERSIONS)
def test_empty_maps_are_map_headers(version, tmp_path_factory):
    """The headers of the three empty maps (addresses the program printed) are typed as the
    runtime's map header in the stripped build."""
    gs, manifest = _storekeeper(version, True, tmp_path_factory)
    hi = gs.heap_index()
    names = []
    for a in manifest["map_headers"]:
        i = hi.find(a)
        assert i >= 0 and int(hi.heap.addr[i]) == a, hex(a)
        names.append(hi.type_name(int(hi.type_id[i])) if hi.type_id[i] >= 0 else "unknown")
    assert names == [_header_name(gs)] * len(manifest["map_headers"]), names


@pytest.mark.parametrize("version", VERSIONS)
def test_made_slices_are_arrays_of_their_element(version, tmp_path_factory):
    """The arrays ``make`` gave the two slice variables (addresses the program printed) are
    typed ``[N]E`` in the stripped build, E the element type the program printed, N at least
    the capacity (the rest of the slot)."""
    gs, manifest = _storekeeper(version, True, tmp_path_factory)
    hi = gs.heap_index()
    for want in manifest["arrays"]:
        i = hi.find(want["addr"])
        assert i >= 0 and int(hi.heap.addr[i]) == want["addr"], want
        name = hi.type_name(int(hi.type_id[i])) if hi.type_id[i] >= 0 else "unknown"
        m = re.fullmatch(r"\[(\d+)\](.+)", name)
        assert m and m.group(2) == want["elem"] and int(m.group(1)) >= want["cap"], (name, want)


@pytest.mark.parametrize("version", VERSIONS)
def test_code_names_nothing_otherwise_than_dwarf(version, tmp_path_factory):
    """The DWARF build's dump typed as if it were stripped (``use_dwarf=False``) names no
    live object otherwise than DWARF names it, and reaches the program's counts."""
    gd, manifest = _storekeeper(version, False, tmp_path_factory)
    hi = gd.heap_index()
    got = type_counts(hi)
    for t, n in manifest["counts"].items():
        assert got[t] == n, (t, got[t], n)        # DWARF counts what the program printed
    res, bad = typed_as_if_stripped(gd)
    assert not bad, bad
    b = res.type_id[hi.live_ids]
    names = Counter(res.registry.display_name(int(t)) for t in b[b >= 0].tolist())
    for t, n in manifest["counts"].items():
        assert names[t] == n, (t, names[t], n)
