"""``objgraph -o FILE``: DOT that Graphviz renders, drawing what the dump holds, pruned to
the big holders: what is cut is counted against the heapkeeper manifest (``main.arrLarge``:
``counts["main.ElemL"]`` objects of ``type_sizes["main.ElemL"]`` bytes under one array)."""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.conftest import Case, dump_cases, go_case
from viewcore.cli import main

ENTRY = dump_cases(kinds=("crash",), stripped=False)[-1].values[0]


def _render(path) -> None:
    if shutil.which("dot") is None:
        return  # scripts/test.sh installs graphviz when it can; the DOT is still checked
    p = subprocess.run(["dot", "-Tsvg", str(path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "<svg" in p.stdout


def test_around_an_object(tmp_path):
    case = Case(ENTRY)
    out = tmp_path / "a.dot"
    head = case.manifest["objects"]["list_head"]
    assert main([str(case.core), "--exe", str(case.exe), "objgraph", "-o", str(out),
                 "--addr", hex(head), "--depth", "2"]) == 0
    text = out.read_text()
    assert 'label="main.list\\n(global)"' in text
    assert f"main.Node\\n{head:#x}" in text
    assert text.count("[label=Next]") == 2      # two levels down the list
    _render(out)


def test_under_a_root_and_whole_heap(tmp_path):
    case = Case(ENTRY)
    out = tmp_path / "b.dot"
    assert main([str(case.core), "--exe", str(case.exe), "objgraph", "-o", str(out),
                 "--root", "main.arrSmall", "--depth", "2", "--node-fraction", "0"]) == 0
    text = out.read_text()
    assert text.count('label="main.ElemS\\n') == case.manifest["counts"]["main.ElemS"]
    _render(out)
    out = tmp_path / "c.dot"
    assert main([str(case.core), "--exe", str(case.exe), "objgraph", "-o", str(out)]) == 0
    assert "main.leak" in out.read_text()
    _render(out)


def test_unknown_root_is_one_error_line(tmp_path, capsys):
    case = Case(ENTRY)
    status = main([str(case.core), "--exe", str(case.exe), "objgraph", "-o", str(tmp_path / "x.dot"),
                   "--root", "main.nothing"])
    assert status == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "viewcore: error: no root named main.nothing holds a heap object"


def _dot(tmp_path, case: Case, *args) -> str:
    out = tmp_path / "g.dot"
    assert main([str(case.core), "--exe", str(case.exe), "objgraph", "-o", str(out), *args]) == 0
    _render(out)
    return out.read_text()


def _mores(text: str) -> dict[str, tuple[int, int]]:
    """Return {parent node: (children cut, bytes they retain)} of the '… N more' nodes."""
    return {p: (int(n), int(b)) for p, n, b in
            re.findall(r'^\s*(\w+)_more \[label="… (\d+) more \((\d+) bytes\)"', text, re.M)}


def _slot(case: Case, addr: int) -> tuple[int, int]:
    _, gp = go_case(case.entry)
    hi = gp.heap_index()
    i = hi.find(addr)
    return int(hi.heap.addr[i]), int(hi.heap.size[i])


def test_prunes_small_children_into_one_node(tmp_path):
    """By default (0.005 of the live heap) the array under main.arrLarge is drawn and its
    ElemLs, 32 bytes each, are one '… N more' node with exactly their bytes."""
    case = Case(ENTRY)
    m = case.manifest
    n, elem = m["counts"]["main.ElemL"], m["type_sizes"]["main.ElemL"]
    arr, slot = _slot(case, m["objects"]["arr_large_array"])
    text = _dot(tmp_path, case, "--root", "main.arrLarge", "--depth", "2")
    assert f'alone retains {slot + n * elem} bytes' in text
    node = re.search(rf'^\s*(o\d+) \[label="[^"]*\\n{arr:#x}\\n{slot} B, retains {slot + n * elem} bytes"', text, re.M)
    assert node, text
    assert _mores(text) == {node.group(1): (n, n * elem)}
    assert 'label="main.ElemL\\n' not in text
    # everything drawn: at most MAX_NODES, the rest still counted
    text = _dot(tmp_path, case, "--root", "main.arrLarge", "--depth", "2", "--node-fraction", "0")
    drawn = text.count('label="main.ElemL\\n')
    assert drawn == 299 and _mores(text) == {node.group(1): (n - drawn, (n - drawn) * elem)}
    # a holder below the cut: the root's one child is cut, with its bytes
    _, small_slot = _slot(case, m["objects"]["arr_small_array"])
    text = _dot(tmp_path, case, "--root", "main.arrSmall")
    assert _mores(text) == {"root": (1, small_slot + m["counts"]["main.ElemS"] * m["type_sizes"]["main.ElemS"])}

def test_whole_heap_keeps_the_holders_and_counts_the_rest(tmp_path, capsys):
    """Every live byte is on one chain: the drawn roots and the top '… N more' add up to the
    live heap; main.leak, its biggest holder in the program, is drawn."""
    case = Case(ENTRY)
    out = tmp_path / "w.dot"
    assert main([str(case.core), "--exe", str(case.exe), "--json", "objgraph", "-o", str(out)]) == 0
    live = int(re.search(r'"bytes":\s*(\d+)', capsys.readouterr().out).group(1))
    text = out.read_text()
    roots = {name: int(b) for name, b in re.findall(
        r'label="([^"\\]+)\\n0 objects, (\d+) bytes on paths through here" fillcolor=lightgrey', text)}
    assert roots["main.leak"] >= case.manifest["counts"]["main.Leak"] * case.manifest["type_sizes"]["main.Leak"]
    assert sum(roots.values()) + _mores(text).get("top", (0, 0))[1] == live


def test_node_fraction_usage(tmp_path, capsys):
    case = Case(ENTRY)
    for bad in ("2", "-0.1", "x"):
        status = None
        try:
            status = main([str(case.core), "--exe", str(case.exe), "objgraph", "-o", str(tmp_path / "x.dot"),
                           "--node-fraction", bad])
        except SystemExit as e:
            status = e.code
        assert status == 2
