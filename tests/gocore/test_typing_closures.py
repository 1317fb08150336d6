"""Closure contexts typed without DWARF: what a func value points at.

``closurekeeper/`` (built here with real Go toolchains, stripped and not, run, and dumped
with SIGQUIT under GOTRACEBACK=crash) keeps objects only behind func values held by one
header-typed object: closures (``main.makeClosure.func1``), method values with a pointer
receiver (``main.(*Thing).Describe-fm``) and with a value receiver (``main.Val.Get-fm``).
Truth is the program's own manifest (how many of each it made) and, for the stripped
build, the DWARF build's answer: both must name the same contexts and count them exactly,
and the receivers of method values (and what they point at) must be typed without DWARF.

The closures' captured variables (``main.Captured``) are typed without DWARF from the code
that makes the closures (amd64: the closure struct's descriptor passed to the allocation).

It also keeps closures only in a global slice, which nothing types: they are named from
their first word (the closure function's entry) alone; and values (``main.Leaf``) only
behind ``sync/atomic.Pointer[Leaf]`` fields, whose ``unsafe.Pointer`` holds a ``*Leaf``.

Versions: 1.19 (Debian's 1.19.8, no malloc headers: there the first word is all a stripped
heap has), 1.22.10 (no DWARF closure offsets) and 1.27.3 by default, every release with
``VIEWCORE_CLOSUREKEEPER_ALL=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.coreedit import type_counts
from ..gobuild import loaded_sigquit_dump

PROGRAM = Path(__file__).resolve().parent / "closurekeeper"
DEFAULT_VERSIONS = ("1.19", "1.22.10", "1.27.3")
ALL_VERSIONS = ("1.19", "1.21.13", "1.22.10", "1.23.9", "1.24.11", "1.25.5", "1.26.6", "1.27.3")
VERSIONS = ALL_VERSIONS if os.environ.get("VIEWCORE_CLOSUREKEEPER_ALL") else DEFAULT_VERSIONS

_LOADED: dict = {}   # (version, stripped) -> (GoProcess, manifest); the cores are small


def _closurekeeper(version: str, stripped: bool, tmp_path_factory):
    return loaded_sigquit_dump(PROGRAM, version, stripped, tmp_path_factory, _LOADED)


PARAMS = [pytest.param(v, s, id=f"go{v}-{'stripped' if s else 'dwarf'}")
          for v in VERSIONS for s in (True, False)]


@pytest.mark.parametrize("version,stripped", PARAMS)
def test_func_value_contexts_counted_exactly(version, stripped, tmp_path_factory):
    """Every closure and method value context is named after its function, as many as the
    program made; method values' receivers and what they hold carry their types."""
    gp, manifest = _closurekeeper(version, stripped, tmp_path_factory)
    assert (gp.dwarf is None) == stripped
    assert gp.go_version == manifest["go_version"]
    hi = gp.heap_index()
    got = type_counts(hi)
    for t, n in manifest["counts"].items():
        if t == "main.Leaf" and stripped and not gp.facts.malloc_headers:
            continue                      # behind the Holder, which only DWARF names then
        if t == "main.Captured" and stripped and gp.process.goarch != "amd64":
            continue                      # only the amd64 code is read for closure layouts
        assert got[t] == n, (t, got[t], n)
    objs = manifest["objects"]
    assert hi.name_of(hi.find(objs["closure"])) == "closure for main.makeClosure.func1"
    assert hi.name_of(hi.find(objs["loose"])) == "closure for main.makeLoose.func1"
    i = hi.find(objs["method"])
    fields, _ = hi.fields(i)
    by = {f.path: f for f in fields}
    assert by[".this"].type == "*main.Thing" and by[".this"].target_type == "main.Thing"


@pytest.mark.parametrize("version", VERSIONS)
def test_stripped_names_what_dwarf_names(version, tmp_path_factory):
    """The stripped build's contexts and receivers are named as the DWARF build names them,
    object for object of the kinds the program made (addresses differ between the runs, so
    per kind and count)."""
    gs, _ = _closurekeeper(version, True, tmp_path_factory)
    gd, _ = _closurekeeper(version, False, tmp_path_factory)
    cs, cd = type_counts(gs.heap_index()), type_counts(gd.heap_index())
    mine = {n for n in cs if n.startswith("closure for main.") or n.startswith("main.")}
    theirs = {n for n in cd if n.startswith("closure for main.") or n.startswith("main.")}
    # what DWARF alone types: the closures' captured variables off amd64 (there the code
    # making the closures names them, gocore.heap.allocsites), and the Holder before Go
    # 1.22 (no malloc header; only DWARF's global ``holder`` names it)
    dwarf_only = set() if gs.process.goarch == "amd64" else {"main.Captured"}
    if not gs.facts.malloc_headers:       # nothing names the Holder, so nor its atomic pointers
        dwarf_only |= {"main.Holder", "main.Leaf"}
    assert theirs - mine <= dwarf_only, theirs - mine
    assert mine <= theirs, mine - theirs
    for n in mine:
        assert cs[n] == cd[n], (n, cs[n], cd[n])


@pytest.mark.parametrize("name,want", [
    ("encoding/json.ptrEncoder.encode-fm", ("encoding/json.ptrEncoder", "encode")),
    ("encoding/base64.(*Encoding).AppendEncode-fm", ("*encoding/base64.Encoding", "AppendEncode")),
    ("gopkg.in/yaml.v3.(*Node).Decode-fm", ("*gopkg.in/yaml.v3.Node", "Decode")),
    ("main.(*G[int]).M-fm", None),            # generic receivers: not looked up
    ("main.makeClosure.func1", None),
])
def test_method_value_receiver_names(name, want):
    from gocore.heap.typeinfer import method_value_receiver
    assert method_value_receiver(name) == want


@pytest.mark.parametrize("name,want", [
    ("main.makeClosure.func1", True), ("pkg.f.func1.2", True), ("pkg.glob..func3", True),
    ("pkg.f.gowrap1", True), ("main.(*Thing).Describe-fm", True),
    ("main.makeClosure", False), ("runtime.funcname", False), ("main.func1x", False),
    ("main.func1", False), ("github.com/a/b.func2", False),
])
def test_closure_function_names(name, want):
    from gocore.heap.typeseeds import closure_function
    assert closure_function(name) is want


@pytest.mark.parametrize("version", [v for v in VERSIONS if v not in ("1.19", "1.21.13", "1.22.10")])
def test_layout_from_code_is_dwarfs(version, tmp_path_factory):
    """A closure context laid out from the code that makes it (stripped build) has the
    layout DWARF gives it (go1.23+: DW_AT_go_closure_offset): the same field offsets and
    types; only the names differ (the descriptor's ``X0``, DWARF's variable)."""
    gs, _ = _closurekeeper(version, True, tmp_path_factory)
    gd, _ = _closurekeeper(version, False, tmp_path_factory)
    if gs.process.goarch != "amd64":
        pytest.skip("closure layouts are read from amd64 code only")

    def layout(gp, name):
        reg = gp.heap_index().registry
        t = reg.table.lookup(name)
        assert t is not None, name
        return [(f.offset, reg.display_name(f.type)) for f in t.fields]

    for name in ("closure for main.makeClosure.func1", "closure for main.makeLoose.func1"):
        got, want = layout(gs, name), layout(gd, name)
        assert got == want == [(0, "uintptr"), (8, "*main.Captured")], (name, got, want)
