"""Package variables typed without DWARF from the calls that take their address or fill them.

``fixtures/programs/registrykeeper`` (built here with real Go toolchains, stripped and not,
run, and dumped with SIGQUIT under GOTRACEBACK=crash) keeps values only behind package
variables: a ``Registry`` struct variable whose address its code passes to the pointer
method ``(*Registry).Add`` (``allocsites.addressed_receivers``: the memory there is a
Registry), a ``sync.Map`` variable (``(*sync.Map).Store`` takes its address; Go 1.19's
``sync.entry.p`` points at a boxed ``interface{}``), and a map filled by a composite
literal in ``init`` and stored into a struct field, the map runtime calls having been
handed that map with its type just before (``mapflows.map_flows``), and a list grown by
``chain = &Link{Next: chain}`` in a loop, whose store Go 1.27 lays out before the
allocation, the allocation's line jumping back to it (``allocsites.global_sites``).

Truth is the program's own counts of what it keeps (``main.Item`` behind the registry,
``main.Tag`` behind the sync.Map, ``main.Row`` behind the map, ``main.Link`` behind the list)
and the DWARF build: the
stripped build must count them as the program printed them, and the DWARF build's dump
typed as if stripped must name no object otherwise than DWARF does.

Versions: 1.19 (Debian's 1.19.8), 1.22.10 and 1.27.3; amd64 code only. From Go 1.24 the
``sync.Map`` methods are inlined wrappers of generic ``internal/sync.HashTrieMap`` methods
(the inline tree at the call names the wrapper), and the map's trie nodes are entries or
indirect nodes as their ``isEntry`` byte says.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.coreedit import type_counts
from ..conftest import ROOT
from ..gobuild import amd64_sigquit_dump
from .test_typing_globals import typed_as_if_stripped

PROGRAM = ROOT / "fixtures" / "programs" / "registrykeeper"
VERSIONS = ("1.19", "1.22.10", "1.27.3")
_LOADED: dict = {}   # (version, stripped) -> (GoProcess, manifest)


def _registrykeeper(version: str, stripped: bool, tmp_path_factory):
    return amd64_sigquit_dump(PROGRAM, version, stripped, tmp_path_factory, _LOADED)


def _expected(gp, manifest) -> dict[str, int]:
    """Return the counts the stripped build must reach: all the program printed."""
    return dict(manifest["counts"])


@pytest.mark.parametrize("version", VERSIONS)
def test_kept_values_counted_as_the_program_printed(version, tmp_path_factory):
    """The stripped build types every value the program keeps behind the registry, the
    sync.Map and the map literal, and no more of them than it keeps."""
    gs, manifest = _registrykeeper(version, True, tmp_path_factory)
    assert gs.dwarf is None
    got = type_counts(gs.heap_index())
    for t, n in _expected(gs, manifest).items():
        assert got[t] == n, (t, got[t], n)


@pytest.mark.parametrize("version", VERSIONS)
def test_dwarf_counts_the_same(version, tmp_path_factory):
    """The DWARF build counts what the program printed too (its variables are typed by
    DWARF): the truth the stripped build is held to is the program's."""
    gd, manifest = _registrykeeper(version, False, tmp_path_factory)
    got = type_counts(gd.heap_index())
    for t, n in manifest["counts"].items():
        assert got[t] == n, (t, got[t], n)


@pytest.mark.parametrize("version", VERSIONS)
def test_code_names_nothing_otherwise_than_dwarf(version, tmp_path_factory):
    """The DWARF build's dump typed as if it were stripped (``use_dwarf=False``) names no
    live object otherwise than DWARF names it, and reaches the program's counts."""
    gd, manifest = _registrykeeper(version, False, tmp_path_factory)
    hi = gd.heap_index()
    res, bad = typed_as_if_stripped(gd)
    assert not bad, bad
    b = res.type_id[hi.live_ids]
    names = Counter(res.registry.display_name(int(t)) for t in b[b >= 0].tolist())
    for t, n in _expected(gd, manifest).items():
        assert names[t] == n, (t, names[t], n)
