"""Objects reached only through interior pointers into their own inline array, typed.

``fixtures/programs/runekeeper`` (built here with real Go toolchains, stripped and not, run,
and dumped with SIGQUIT under GOTRACEBACK=crash) keeps compiled ``regexp/syntax.Prog``s and
drops their parse trees. The tree's literal and class nodes that keep their runes in their
own ``Rune0`` stay live only through the programs' ``Inst.Rune`` slices, which point into
them (``gocore.heap.inlinestorage``).

Truth is the program's own list of those nodes' addresses (each a ``*syntax.Regexp`` whose
``Rune0`` an instruction's ``Rune`` points into), and the DWARF build: both builds must name
exactly those objects ``regexp/syntax.Regexp``, and the DWARF build typed as if stripped
must name no object otherwise than DWARF does.

Versions: 1.19 (Debian's 1.19.8), 1.22.10 and 1.27.3.
"""

from __future__ import annotations

import pytest

from tests.coreedit import type_counts
from ..conftest import ROOT
from ..gobuild import loaded_sigquit_dump
from .test_typing_globals import typed_as_if_stripped

PROGRAM = ROOT / "fixtures" / "programs" / "runekeeper"
VERSIONS = ("1.19", "1.22.10", "1.27.3")
REGEXP = "regexp/syntax.Regexp"
_LOADED: dict = {}   # (version, stripped) -> (GoProcess, manifest)


def _names_at(hi, addrs: list[int]) -> list[str]:
    out = []
    for a in addrs:
        i = hi.find(a)
        assert i >= 0 and int(hi.heap.addr[i]) == a, hex(a)
        out.append(hi.type_name(int(hi.type_id[i])) if hi.type_id[i] >= 0 else "unknown")
    return out


@pytest.mark.parametrize("stripped", [True, False], ids=["stripped", "dwarf"])
@pytest.mark.parametrize("version", VERSIONS)
def test_nodes_behind_inst_runes_are_regexps(version, stripped, tmp_path_factory):
    """Every node the program listed is typed ``regexp/syntax.Regexp``, and no other live
    object is."""
    gp, manifest = loaded_sigquit_dump(PROGRAM, version, stripped, tmp_path_factory, _LOADED)
    assert (gp.dwarf is None) == stripped
    nodes = manifest["nodes"]
    assert len(nodes) >= 6
    hi = gp.heap_index()
    assert _names_at(hi, nodes) == [REGEXP] * len(nodes)
    assert type_counts(hi)[REGEXP] == len(nodes)


@pytest.mark.parametrize("version", VERSIONS)
def test_typed_as_if_stripped_agrees_with_dwarf(version, tmp_path_factory):
    """The DWARF build's dump typed as if stripped names no live object otherwise than DWARF."""
    gd, _ = loaded_sigquit_dump(PROGRAM, version, False, tmp_path_factory, _LOADED)
    _, bad = typed_as_if_stripped(gd)
    assert not bad, bad
