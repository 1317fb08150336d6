"""``top``: the command line against the manifests, and the text renderer on a hand-built result."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from tests.conftest import Case, dump_cases, fixture_index, go_case, run_cli
from viewcore.render import text
from viewcore.results import RetainedObject, RetainedRoot, TopRetained

CASES = dump_cases(kinds=("crash", "sigquit", "gcore"))
OBJECT_KEYS = {"address", "type", "size", "retained", "retained_objects", "root", "root_kind", "shared"}
ROOT_KEYS = {"root", "kind", "goroutine", "type", "retained", "retained_objects"}


run = run_cli


def _top_json(capsys, case: Case, *args) -> dict:
    status, out, err = run(capsys, case.core, "--exe", case.exe, "--json", "top", *args)
    assert status == 0, err
    return json.loads(out)


def _slots(case: Case, *keys: str) -> list[tuple[int, int]]:
    """Return (slot address, slot size) of manifest objects, from the heap's span data."""
    _, gp = go_case(case.entry)
    hi = gp.heap_index()
    ids = [hi.find(case.manifest["objects"][k]) for k in keys]
    return [(int(hi.heap.addr[i]), int(hi.heap.size[i])) for i in ids]


@pytest.mark.parametrize("entry", CASES)
def test_top_json_against_manifest(capsys, entry):
    case = Case(entry)
    doc = _top_json(capsys, case, "--n", "1000")
    assert set(doc) == {"by", "objects", "roots", "shared", "live"}
    assert doc["by"] == "retained"
    for o in doc["objects"]:
        assert set(o) == OBJECT_KEYS
    for r in doc["roots"]:
        assert set(r) == ROOT_KEYS
    rows = {o["address"]: o for o in doc["objects"]}
    m = case.manifest
    (arr_addr, arr_slot), (head_addr, head_slot) = _slots(case, "arr_large_array", "list_head")
    # the array and the list head are held by their globals only: top-level objects
    arr = rows[arr_addr]
    elem = arr["retained"] - arr_slot
    assert arr["retained_objects"] == 1 + m["counts"]["main.ElemL"]
    assert elem == m["counts"]["main.ElemL"] * 32                # ElemL is 32 bytes: size class 32
    assert m["type_sizes"]["main.ElemL"] == 32
    assert arr["size"] == arr_slot and not arr["shared"]
    assert arr["type"].endswith("*main.ElemL") or (entry.get("stripped") and arr["type"] == "unknown")
    head = rows[head_addr]
    assert head["retained"] == m["counts"]["main.Node"] * head_slot
    assert head["retained_objects"] == m["counts"]["main.Node"]
    assert head["root_kind"] == "global"
    # every listed object is top-level, so their retained sets are disjoint: they sum to
    # the live heap when all are listed
    if len(doc["objects"]) < 1000:
        assert sum(o["retained"] for o in doc["objects"]) == doc["live"]["bytes"]
    assert [o["retained"] for o in doc["objects"]] == sorted((o["retained"] for o in doc["objects"]), reverse=True)
    # the roots' own shares and the shared part make up the live heap
    assert sum(r["retained"] for r in doc["roots"]) + doc["shared"]["bytes"] == doc["live"]["bytes"]
    ms = m["memstats"]
    assert abs(doc["live"]["bytes"] - ms["HeapAlloc"]) <= 0.02 * ms["HeapAlloc"]
    if not entry.get("stripped"):
        roots = {r["root"]: r for r in doc["roots"]}
        assert roots["main.list"]["retained"] == head["retained"]
        assert roots["main.arrLarge"]["retained"] == arr["retained"]
        assert roots["main.arrLarge"]["kind"] == "global"
        assert roots["main.list"]["type"] == "*main.Node"
        assert head["root"] == "main.list" and arr["root"] == "main.arrLarge"


def _crash(stripped: bool = False) -> Case:
    return Case(next(e for e in fixture_index() if e["kind"] == "crash" and bool(e["stripped"]) == stripped
                     and e["go_version"].startswith("go1.24")))


def test_top_cut_at_n_and_nested(capsys):
    case = _crash()
    doc = _top_json(capsys, case, "--n", "3")
    assert len(doc["objects"]) == 3 and len(doc["roots"]) == 3
    nested = _top_json(capsys, case, "--n", "100000", "--nested")     # every live object
    assert len(nested["objects"]) == nested["live"]["objects"]
    got = {o["address"]: o for o in nested["objects"]}
    # objects inside another's retained set rank too: the list's second node holds the other 498
    _, gp = go_case(case.entry)
    (head_addr, slot), = _slots(case, "list_head")
    second = gp.process.read_ptr(head_addr + case.manifest["list"]["next_offset"])
    assert got[second]["retained"] == 499 * slot and got[second]["retained_objects"] == 499
    assert got[head_addr]["retained"] == 500 * slot


def test_top_by_size(capsys):
    case = _crash()
    doc = _top_json(capsys, case, "--n", "5", "--by", "size")
    assert doc["by"] == "size"
    sizes = [o["size"] for o in doc["objects"]]
    assert sizes == sorted(sizes, reverse=True)
    assert doc["objects"][0]["size"] >= case.manifest["type_sizes"]["main.BigObj"]
    assert all(o["retained"] >= o["size"] for o in doc["objects"])


def test_top_text_and_usage(capsys):
    case = _crash()
    status, out, err = run(capsys, case.core, "--exe", case.exe, "top", "--n", "5")
    assert status == 0, err
    assert "retained" in out and "roots that alone keep the most alive" in out
    assert "main.bigMap" in out
    status, _, err = run(capsys, case.core, "--exe", case.exe, "top", "--by", "count")
    assert status == 2 and "invalid choice" in err
    status, _, err = run(capsys, case.core, "--exe", case.exe, "top", "--n", "0")
    assert status == 2


def test_text_renderer_on_a_built_result():
    result = TopRetained(
        by="retained", nested=False,
        objects=[RetainedObject(0xc000010000, "[]*main.T", 8192, 3 << 20, 1001, "main.ts", "global", False),
                 RetainedObject(0xc000020000, "main.S", 48, 96, 2, "goroutine 7 main.f: locals at 0xc0001", "frame", True)],
        roots=[RetainedRoot("main.ts", "global", None, "[]*main.T", 3 << 20, 1001),
               RetainedRoot("goroutine 7 main.f", "frame", 7, None, 48, 1)],
        live_objects=2000, live_bytes=4 << 20, shared_bytes=1 << 20, shared_objects=5)
    buf = io.StringIO()
    text.render(result, Console(file=buf, width=200, highlight=False))
    out = buf.getvalue()
    assert "3.0 MiB" in out and "0xc000010000" in out and "[]*main.T" in out
    assert "main.ts [global]" in out and "(and other roots)" in out
    assert "goroutine 7 main.f" in out and "frame" in out
    assert "held only through several roots: 5 objects, 1.0 MiB (25.0%)" in out
    assert json.loads(json.dumps(result.to_json()))["shared"] == {"bytes": 1 << 20, "objects": 5}


def test_json_counts_are_plain_ints(capsys):
    doc = _top_json(capsys, _crash(stripped=True), "--n", "2")
    for o in doc["objects"]:
        assert all(isinstance(o[k], int) for k in ("address", "size", "retained", "retained_objects"))
    assert not isinstance(doc["live"]["bytes"], np.integer)
