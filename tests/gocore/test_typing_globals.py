"""What package variables point at, typed without DWARF from the code that fills and uses them.

``globalkeeper/`` (built here with real Go toolchains, stripped and not, run, and dumped
with SIGQUIT under GOTRACEBACK=crash) keeps values only behind package variables: regexps
from ``regexp.MustCompile`` (the code calls their pointer methods, or only stores
``MustCompile``'s result, which its code shows to be a fresh ``&Regexp{}``), maps (the code calls
the map runtime functions on them, which take the map's type), a ``new(Counter)`` (stored
in init, used by a pointer method), what functions returning a fresh ``new(T)`` or their receiver
return (``newThing``, ``new(Big).Set``) and what those hold. A stripped binary has no symbols
and no DWARF, so nothing else names these variables (``gocore.heap.allocsites``).

Truth is the program's own manifest (each variable's value, ``%p``, and type, ``%T``; how
many of each type it keeps) and the DWARF build, which types the variables from DWARF:
the stripped build must give each object the type the program printed, and count them as
the DWARF build does. The DWARF build's own dump, typed as if stripped, must name no
object otherwise than DWARF does.

Versions: 1.19 (Debian's 1.19.8), 1.22.10 and 1.27.3 (size-specialized malloc) by default,
every release with ``VIEWCORE_GLOBALKEEPER_ALL=1``; amd64 code only.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.coreedit import type_counts
from ..gobuild import amd64_sigquit_dump
from .test_chan_types import _same_but_spelling

PROGRAM = Path(__file__).resolve().parent / "globalkeeper"
DEFAULT_VERSIONS = ("1.19", "1.22.10", "1.27.3")
ALL_VERSIONS = ("1.19", "1.21.13", "1.22.10", "1.23.9", "1.24.11", "1.25.5", "1.26.6", "1.27.3")
VERSIONS = ALL_VERSIONS if os.environ.get("VIEWCORE_GLOBALKEEPER_ALL") else DEFAULT_VERSIONS
# what the code names: variables used by pointer methods and map calls, and new(T) stores
# and variables stored from a function returning a fresh new(T) or its receiver
# (gocore.heap.funcresults)
TYPED_FROM_CODE = ("reWord", "reNumber", "counter", "byName", "byID", "made", "chained", "reOnly")

_LOADED: dict = {}   # (version, stripped) -> (GoProcess, manifest); the cores are small


def _globalkeeper(version: str, stripped: bool, tmp_path_factory):
    return amd64_sigquit_dump(PROGRAM, version, stripped, tmp_path_factory, _LOADED)


def _object_type(gp, addr: int) -> str:
    hi = gp.heap_index()
    i = hi.find(addr)
    assert i >= 0 and int(hi.heap.addr[i]) + int(hi.data_off[i]) == addr, hex(addr)
    return hi.name_of(i)


@pytest.mark.parametrize("version", VERSIONS)
def test_variables_typed_as_the_program_printed(version, tmp_path_factory):
    """Each variable's object has, in the stripped build, the type ``%T`` printed (the
    element of a pointer; a map's header as the DWARF build names it), and the types kept
    only behind them are counted as the program kept them."""
    gs, manifest = _globalkeeper(version, True, tmp_path_factory)
    gd, manifest_d = _globalkeeper(version, False, tmp_path_factory)
    assert gs.dwarf is None and gd.dwarf is not None
    for var in TYPED_FROM_CODE:
        addr, printed = manifest["objects"][var]
        got = _object_type(gs, int(addr, 16))
        if printed.startswith("map["):
            d_addr, _ = manifest_d["objects"][var]
            assert got == _object_type(gd, int(d_addr, 16)), (var, got)
        else:
            assert got == printed.lstrip("*"), (var, got, printed)
    got = type_counts(gs.heap_index())
    for t, n in manifest["counts"].items():
        if t == "main.Config":
            continue                  # filled in init after other allocations: not read
        want = n if t != "main.Leaf" else n - 1   # less the Config's child
        assert got[t] >= want, (t, got[t], want)
        assert got[t] <= n, (t, got[t], n)


@pytest.mark.parametrize("version", VERSIONS)
def test_code_names_nothing_otherwise_than_dwarf(version, tmp_path_factory):
    """The DWARF build's dump typed as if it were stripped (``use_dwarf=False``: the code,
    interfaces, headers...) names no live object otherwise than DWARF names it, and names
    the objects behind the variables."""
    gd, manifest = _globalkeeper(version, False, tmp_path_factory)
    hi = gd.heap_index()
    res, bad = typed_as_if_stripped(gd)
    assert not bad, bad
    for var in TYPED_FROM_CODE:
        i = hi.find(int(manifest["objects"][var][0], 16))
        assert res.type_id[i] >= 0, var


def _first_field(reg, tid: int, name: str) -> bool:
    """Return whether the struct ``tid`` begins with a field (or a field of its first field)
    of the type spelled ``name``: a pointer to that field is a pointer to the object's
    start (``os.file`` begins with its ``poll.FD``), so either name fits what is there."""
    table = reg.table
    for _ in range(8):
        t = table[tid]
        if not t.fields or t.fields[0].offset != 0:
            return False
        tid = t.fields[0].type
        if reg.display_name(tid) == name:
            return True
    return False


def typed_as_if_stripped(gd):
    """Return (the typing of DWARF build ``gd`` as if stripped, Counter of the (DWARF name,
    that typing's name) pairs of live objects both name and name otherwise)."""
    from gocore.heap.edges import edges_of
    from gocore.heap.heapindex import _infer
    hi = gd.heap_index()
    heap, pmaps, edges = edges_of(gd)
    res = _infer(gd, heap, hi.roots, edges, pmaps, use_dwarf=False)
    live = hi.live_ids
    # a 16-byte pointer-free slot may be a tiny block holding several values (a string's
    # bytes and a rune array): no one type is true of it, so it is left out
    tiny = (heap.size[live] == 16) & heap.spans.noscan[heap.span[live]]
    a, b = hi.type_id[live], res.type_id[live]
    both = np.flatnonzero((a >= 0) & (b >= 0) & ~tiny)
    bad: Counter = Counter()
    for x, y in zip(a[both].tolist(), b[both].tolist()):
        na, nb = hi.type_name(x), res.registry.display_name(y)
        if na != nb and not _same_but_spelling(na, nb) \
                and not _first_field(res.registry, y, na) and not _first_field(hi.registry, x, nb):
            bad[(na, nb)] += 1
    return res, bad
