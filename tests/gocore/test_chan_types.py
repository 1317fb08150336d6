"""Types from what the runtime wrote in untyped memory: channel buffers, interfaces, finalizers.

``fixtures/programs/chankeeper`` (built here with real Go toolchains, stripped and not, run,
and dumped with SIGQUIT under GOTRACEBACK=crash) keeps objects only in buffered channels'
buffers, only behind interfaces held in globals (``any``, ``[]any``, ``error``) and with
finalizers, and prints how many of each type it keeps: those counts must be exact, with
DWARF and without it, on every version (Go 1.19 and 1.21 have no malloc headers: there
these sources are all a stripped heap has). Truth is the program's own manifest.

Versions: 1.19 (Debian's 1.19.8), 1.21.13 and 1.27.3 by default; every supported release with
``VIEWCORE_CHANKEEPER_ALL=1`` (toolchains are installed on demand as for the fixtures).

On the committed fixtures: typing a DWARF build's dump as if it had no DWARF
(``heapindex._infer(use_dwarf=False)``) must never name an object otherwise than DWARF does,
except in spelling (map group and bucket descriptors print package names where DWARF
prints import paths), and where DWARF is known to be wrong (a pointer to a struct's first
field, see FIRST_FIELD in test_map_types.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ..conftest import ROOT, dump_cases, go_case
from tests.coreedit import type_counts
from ..gobuild import sigquit_dump

sys.path.insert(0, str(ROOT / "fixtures"))
import make_dumps  # noqa: E402  (toolchains, build and run environments, core helpers)

PROGRAM = ROOT / "fixtures" / "programs" / "chankeeper"
# as fixtures/make_dumps.py names them ("1.19": Debian's golang-1.19-go, go1.19.8)
DEFAULT_VERSIONS = ("1.19", "1.21.13", "1.27.3")
ALL_VERSIONS = ("1.19", "1.21.13", "1.22.10", "1.23.9", "1.24.11", "1.25.5", "1.26.6", "1.27.3")
VERSIONS = ALL_VERSIONS if os.environ.get("VIEWCORE_CHANKEEPER_ALL") else DEFAULT_VERSIONS
UNKNOWN_GOAL = 0.10          # at most this share of live objects unknown, stripped


def _dump(version: str, stripped: bool, work: Path) -> tuple[Path, Path, dict]:
    """Build chankeeper with Go ``version``, run it, SIGQUIT it; return (core, exe, manifest)."""
    try:
        go, _ = make_dumps.ensure_toolchain(version)
    except (make_dumps.FixtureError, subprocess.CalledProcessError, OSError) as e:
        pytest.skip(f"cannot make a chankeeper dump with go{version}: {e}")
    return sigquit_dump(go, PROGRAM, stripped, work)


_LOADED: dict = {}   # (version, stripped) -> (GoProcess, manifest); the cores are small


def _chankeeper(version: str, stripped: bool, tmp_path_factory):
    key = (version, stripped)
    if key not in _LOADED:
        import core
        import gocore
        work = tmp_path_factory.mktemp(f"chankeeper-{version}-{'s' if stripped else 'd'}")
        c, exe, manifest = _dump(version, stripped, work)
        _LOADED[key] = (gocore.load(core.open_dump(str(c), exe=str(exe))), manifest)
    return _LOADED[key]


PARAMS = [pytest.param(v, s, id=f"go{v}-{'stripped' if s else 'dwarf'}")
          for v in VERSIONS for s in (True, False)]


@pytest.mark.parametrize("version,stripped", PARAMS)
def test_chankeeper_counts_exact(version, stripped, tmp_path_factory):
    """Objects kept only in channel buffers, behind interfaces and with finalizers are
    counted exactly; the channels and their buffers carry the runtime's types."""
    gp, manifest = _chankeeper(version, stripped, tmp_path_factory)
    assert (gp.dwarf is None) == stripped
    assert gp.go_version == manifest["go_version"]
    hi = gp.heap_index()
    got = type_counts(hi)
    for t, n in manifest["counts"].items():
        assert got[t] == n, (t, got[t], n)
    objs = manifest["objects"]
    for key in ("ch_items", "ch_vals", "ch_bulk", "ch_ints"):
        assert hi.name_of(hi.find(objs[key])) == "runtime.hchan", key
    assert hi.name_of(hi.find(objs["boxed"])) == "main.Boxed"
    # the []any array itself (480 B: no malloc header): named by DWARF's sinks, and without
    # DWARF by the makeslice(interface {}, ...) whose result main stores in sinks
    # (gocore/heap/storeflows.py)
    assert hi.name_of(hi.find(objs["sinks_array"])) == "[30]interface {}"


@pytest.mark.parametrize("version", VERSIONS)
def test_chankeeper_stripped_mostly_typed(version, tmp_path_factory):
    """Without DWARF (and, before Go 1.22, without malloc headers) at most 10 % of the
    live objects are unknown."""
    gp, manifest = _chankeeper(version, True, tmp_path_factory)
    hi = gp.heap_index()
    got = type_counts(hi)
    total = sum(got.values())
    assert total == gp.heap_figures()[0]
    assert got["unknown"] <= UNKNOWN_GOAL * total, (got["unknown"], total)


# ---- the committed fixtures: the same dump typed with and without DWARF ----

# Spellings that differ and why: descriptor strings of unnamed map internals print package
# names (``map.group[string]*json.field``) where DWARF prints import paths; DWARF qualifies
# the unexported field names of an unnamed struct (``struct { sync.f func(); ... }``), the
# descriptor does not (``struct { f func(); ... }``).
_QUALIFIED_FIELD = re.compile(r"([{;] )[\w/.-]+\.([a-z_]\w*) ")


def _same_but_spelling(dwarf_name: str, name: str) -> bool:
    if "struct {" in dwarf_name and _QUALIFIED_FIELD.sub(r"\1\2 ", dwarf_name) == name:
        return True
    if "map.group[" not in dwarf_name and "map.bucket[" not in dwarf_name:
        return False
    strip = lambda s: re.sub(r"(?:[\w.-]+/)+", "", s)  # noqa: E731
    return strip(dwarf_name.replace("encoding/json/v2.", "json.")) == \
        strip(name.replace("encoding/json/v2.", "json."))


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",), stripped=False))
def test_untyped_sources_agree_with_dwarf(entry):
    from gocore.heap.edges import edges_of
    from gocore.heap.heapindex import _infer
    _, gp = go_case(entry)
    hi = gp.heap_index()
    heap, pmaps, edges = edges_of(gp)
    res = _infer(gp, heap, hi.roots, edges, pmaps, use_dwarf=False)
    live = hi.live_ids
    a, b = hi.type_id[live], res.type_id[live]
    both = np.flatnonzero((a >= 0) & (b >= 0))
    assert len(both) > 0
    bad = Counter()
    for x, y in zip(a[both].tolist(), b[both].tolist()):
        na, nb = hi.type_name(x), res.registry.display_name(y)
        if na != nb and not _same_but_spelling(na, nb):
            bad[(na, nb)] += 1
    assert not bad, bad
