"""The heap commands against the contract (../shared/docs/cli-contract.md) and the manifests.

``main([...])`` runs the real command line for shapes, exit codes and errors; the many
per-object path checks call the command modules on a process opened once per dump.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct

import pytest

from core.source import materialize
from tests.conftest import Case, dump_cases, fixture_index, go_case, run_cli
from viewcore.commands import reachable as reachable_cmd

KINDS = ("crash", "sigquit", "gcore")
CASES = dump_cases(kinds=KINDS)

# manifest object -> the global the program reached it through
ROOT_OF = {"list_head": "main.list", "list_tail": "main.list", "leak_array": "main.leak",
           "leak_first": "main.leak", "leak_first_payload": "main.leak",
           "small_map": "main.smallMap", "big_map": "main.bigMap", "iface_thing": "main.iface",
           "ifaces_array": "main.ifaces", "ifaces_first": "main.ifaces", "closure": "main.fn",
           "strs_array": "main.strs", "strs_first_data": "main.strs", "big": "main.big",
           "big_child": "main.big", "finalized_array": "main.finalized",
           "finalized_first": "main.finalized", "arr_small_array": "main.arrSmall",
           "arr_mid_array": "main.arrMid", "arr_large_array": "main.arrLarge",
           "pairs_array": "main.pairs"}


run = run_cli


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines()
             if not ln.startswith(("viewcore: note:", "viewcore: warning:"))]
    assert len(lines) == 1, err
    assert lines[0].startswith("viewcore: error: "), err
    assert "Traceback" not in err
    return lines[0]


def _crash(stripped: bool = False) -> Case:
    return Case(next(e for e in fixture_index() if e["kind"] == "crash" and bool(e["stripped"]) == stripped
                     and e["go_version"].startswith("go1.24")))


def _gp(entry):
    return go_case(entry)


# ---- overview ----

@pytest.mark.parametrize("entry", CASES)
def test_overview_heap_within_2_percent_of_memstats(capsys, entry):
    case = Case(entry)
    status, out, err = run(capsys, case.core, "--exe", case.exe, "overview", "--json")
    assert status == 0, err
    heap = json.loads(out)["heap"]
    ms = case.manifest["memstats"]
    assert set(heap) == {"objects", "bytes"}
    assert abs(heap["objects"] - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"]
    assert abs(heap["bytes"] - ms["HeapAlloc"]) <= 0.02 * ms["HeapAlloc"]


# ---- histogram / objects ----

def test_histogram_json_shape_sort_and_top(capsys):
    case = _crash()
    status, out, err = run(capsys, case.core, "--exe", case.exe, "--json", "histogram")
    assert status == 0, err
    rows = json.loads(out)
    assert rows and all(set(r) == {"type", "count", "size", "bytes"} for r in rows)
    assert all(isinstance(r[k], int) for r in rows for k in ("count", "size", "bytes"))
    assert all(r["bytes"] == r["count"] * r["size"] for r in rows)
    assert [r["bytes"] for r in rows] == sorted((r["bytes"] for r in rows), reverse=True)
    assert sum(r["count"] for r in rows if r["type"] == "main.Item") == case.manifest["counts"]["main.Item"]
    status, out, _ = run(capsys, case.core, "--exe", case.exe, "histogram", "--json", "--top", "3",
                         "--sort", "count")
    top = json.loads(out)
    assert len(top) == 3
    assert [r["count"] for r in top] == sorted((r["count"] for r in rows), reverse=True)[:3]
    status, out, _ = run(capsys, case.core, "--exe", case.exe, "histogram", "--top", "5")
    assert status == 0 and "main.Item" in out


def test_objects_by_type_in_address_order(capsys):
    case = _crash()
    status, out, err = run(capsys, case.core, "--exe", case.exe, "--json", "objects", "--type", "main.Node")
    assert status == 0, err
    rows = json.loads(out)
    assert len(rows) == case.manifest["counts"]["main.Node"]
    assert all(set(r) == {"address", "size", "type"} and r["type"] == "main.Node" for r in rows)
    addrs = [r["address"] for r in rows]
    assert addrs == sorted(addrs)
    assert {case.manifest["objects"]["list_head"], case.manifest["objects"]["list_tail"]} <= set(addrs)
    status, out, _ = run(capsys, case.core, "--exe", case.exe, "--json", "objects", "--limit", "7")
    assert len(json.loads(out)) == 7
    status, out, _ = run(capsys, case.core, "--exe", case.exe, "--json", "objects", "--type", "main.NoSuch")
    assert status == 0 and json.loads(out) == []


# ---- reachable ----

def _check_path(gp, doc, addr):
    """Each element's word at address+offset points inside the next element (read from the dump)."""
    proc = gp.process
    path = doc["path"]
    assert doc["address"] == addr
    root = path[0]
    assert set(root) == {"root", "kind", "goroutine", "address", "offset", "type"}
    assert root["kind"] in ("global", "frame", "finalizer", "other")
    for el in path[1:-1]:
        assert set(el) == {"address", "size", "type", "offset", "field"}
    assert set(path[-1]) == {"address", "size", "type"}
    last = path[-1]
    assert last["address"] <= addr < last["address"] + last["size"]
    assert doc["type"] == last["type"]
    for cur, nxt in zip(path, path[1:]):
        if cur is root and root["address"] is None:
            continue
        word = proc.read_ptr(cur["address"] + cur["offset"])
        assert nxt["address"] <= word < nxt["address"] + nxt["size"], (cur, nxt)
    return root


def _reach(gp, addr, all_=False):
    res = reachable_cmd.run(gp, argparse.Namespace(address=addr, all=all_))
    return res.to_json()


@pytest.mark.parametrize("entry", CASES)
def test_reachable_paths_start_at_the_programs_globals(entry):
    case, gp = _gp(entry)
    for key, glob in ROOT_OF.items():
        addr = case.manifest["objects"][key]
        root = _check_path(gp, _reach(gp, addr), addr)
        assert root["kind"] == "global", key
        if gp.dwarf is not None:
            assert root["root"] == glob, key
            assert root["address"] == case.manifest["globals"][glob], key


@pytest.mark.parametrize("entry", CASES[:1])
def test_reachable_all_and_field_names(entry):
    case, gp = _gp(entry)
    tail = case.manifest["objects"]["list_tail"]
    doc = _reach(gp, tail)
    path = doc["path"]
    assert len(path) == 1 + case.manifest["list"]["length"]
    assert all(el["field"] == "Next" for el in path[1:-1])
    docs = _reach(gp, case.manifest["objects"]["leak_first"], all_=True)
    assert docs[0]["path"][0]["root"] == "main.leak"
    assert docs[0]["path"][1]["field"] == "[0]"
    for d in docs:
        _check_path(gp, d, case.manifest["objects"]["leak_first"])


def test_reachable_cli_formats_and_errors(capsys):
    case = _crash()
    addr = case.manifest["objects"]["big_child"]
    outs = []
    for text in (hex(addr), f"{addr:x}", str(addr)):
        status, out, err = run(capsys, case.core, "--exe", case.exe, "--json", "reachable", text)
        assert status == 0, err
        outs.append(json.loads(out))
    assert outs[0] == outs[1] == outs[2]
    assert [el.get("field") for el in outs[0]["path"][1:-1]] == ["Child"]
    status, out, err = run(capsys, case.core, "--exe", case.exe, "reachable", "0x10")
    assert status == 1 and "not inside an allocated heap object" in one_error_line(err)
    status, out, err = run(capsys, case.core, "--exe", case.exe, "reachable", "zzz")
    assert status == 2
    # an allocated object no root reaches
    _, gp = _gp(next(e for e in fixture_index() if Case(e).core == case.core))
    hi = gp.heap_index()
    dead = [int(hi.heap.addr[i]) for i in range(len(hi.live)) if not hi.live[i]][:1]
    if dead:
        status, out, err = run(capsys, case.core, "--exe", case.exe, "reachable", hex(dead[0]))
        assert status == 1 and "not reachable" in one_error_line(err)


# ---- object / breakdown / read ----

def test_object_read_and_breakdown(capsys):
    case = _crash()
    head = case.manifest["objects"]["list_head"]
    status, out, err = run(capsys, case.core, "--exe", case.exe, "--json", "object", hex(head + 8))
    assert status == 0, err
    doc = json.loads(out)
    assert doc["address"] == head and doc["type"] == "main.Node" and doc["live"] is True
    by = {f["path"]: f for f in doc["fields"]}
    assert by["Value"]["value"] == "3" and by["Next"]["target_type"] == "main.Node"
    status, out, err = run(capsys, case.core, "--exe", case.exe, "object", hex(head))
    assert status == 0 and "main.Node" in out
    status, out, err = run(capsys, case.core, "--exe", case.exe, "--json", "read", hex(head), "16")
    assert status == 0, err
    doc = json.loads(out)
    nxt = struct.unpack("<Q", bytes.fromhex(doc["hex"])[8:16])[0]
    assert doc["size"] == 16 and doc["address"] == head and nxt != 0
    status, out, err = run(capsys, case.core, "--exe", case.exe, "read", "0x10")
    assert status == 1
    one_error_line(err)
    status, out, err = run(capsys, case.core, "--exe", case.exe, "--json", "breakdown")
    assert status == 0, err
    doc = json.loads(out)
    rows = {r["what"]: r for r in doc["rows"]}
    assert rows["heap in use (spans)"]["bytes"] == case.manifest["memstats"]["HeapInuse"]
    assert doc["total"] > 0 and all(r["percent"] is None or 0 <= r["percent"] <= 100 for r in doc["rows"])
    status, out, err = run(capsys, case.core, "--exe", case.exe, "breakdown")
    assert status == 0 and "live objects" in out


def test_stripped_histogram_still_answers(capsys):
    case = _crash(stripped=True)
    status, out, err = run(capsys, case.core, "--exe", case.exe, "--json", "histogram")
    assert status == 0, err
    rows = json.loads(out)
    assert any(r["type"] == "unknown" for r in rows)
    assert sum(r["count"] for r in rows if r["type"] == "main.ElemL") == 10000


# ---- bad input ----

def _file_offset(core_path: str, addr: int) -> int:
    """Return the file offset of ``addr`` in an ELF core (from its PT_LOAD headers)."""
    from elftools.elf.elffile import ELFFile
    with open(core_path, "rb") as f:
        for seg in ELFFile(f).iter_segments():
            h = seg.header
            if h.p_type == "PT_LOAD" and h.p_vaddr <= addr < h.p_vaddr + h.p_filesz:
                return h.p_offset + addr - h.p_vaddr
    raise AssertionError(f"{addr:#x} not in the core")


def test_garbage_pointer_in_a_heap_object(capsys, tmp_path):
    """A list node whose Next word is garbage: every command still answers, no traceback;
    the nodes after it are unreachable (exit 1, one line)."""
    case = _crash()
    core = tmp_path / "core"
    shutil.copyfile(materialize(case.core), core)
    node = case.manifest["objects"]["list_head"]
    with open(core, "r+b") as f:     # node 0 -> garbage; node 0's successor is now unreachable
        f.seek(_file_offset(str(core), node + case.manifest["list"]["next_offset"]))
        nxt = struct.unpack("<Q", f.read(8))[0]
        f.seek(-8, 1)
        f.write(struct.pack("<Q", 0xDEADBEEFDEADBEEF))
    for argv in (["overview"], ["histogram"], ["objects", "--type", "main.Node"], ["breakdown"],
                 ["object", hex(node)]):
        status, out, err = run(capsys, core, "--exe", case.exe, "--no-cache", "--json", *argv)
        assert status == 0, (argv, err)
        assert "Traceback" not in err
        json.loads(out)
    status, out, err = run(capsys, core, "--exe", case.exe, "--no-cache", "--json", "objects", "--type",
                           "main.Node")
    assert len(json.loads(out)) == 1        # only the head is still reached and typed
    status, out, err = run(capsys, core, "--exe", case.exe, "--no-cache", "reachable", hex(nxt))
    assert status == 1 and "not reachable" in one_error_line(err)
