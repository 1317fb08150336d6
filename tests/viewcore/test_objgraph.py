"""``objgraph -o FILE``: DOT that Graphviz renders, drawing what the dump holds."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import Case, dump_cases
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
                 "--root", "main.arrSmall", "--depth", "2"]) == 0
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
