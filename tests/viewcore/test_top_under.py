"""``top --under ADDR|ROOT`` on the shipped heapkeeper dumps, against their manifests.

heapkeeper keeps ``main.arrLarge``, a ``[]*ElemL`` of ``counts["main.ElemL"]`` pointers each
to its own 32-byte ElemL (``type_sizes``), and ``main.list``, a linked list of
``counts["main.Node"]`` nodes (``list_head`` its first, ``list.next_offset`` the Next field).
So the root ``main.arrLarge`` alone holds one object, the backing array at
``arr_large_array``, whose children are exactly the ElemLs, 32 bytes each; the list head's
one child is the second node, which holds the rest of the list.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from tests.conftest import Case, fixture_index, go_case, run_cli
from viewcore.render import text
from viewcore.walkresults import ChildRow, UnderResult

UNDER_KEYS = {"kind", "address", "type", "size", "root", "root_kind", "roots", "retained", "retained_objects"}
CHILD_KEYS = {"address", "type", "size", "retained", "retained_objects", "goroutine"}


def _case(version: str, stripped: bool = False) -> Case:
    return Case(next(e for e in fixture_index() if e["kind"] == "crash" and bool(e["stripped"]) == stripped
                     and e["go_version"].startswith(version)))


def _under(capsys, case: Case, *args) -> dict:
    status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "--json", "top", "--under", *args)
    assert status == 0, err
    return json.loads(out)


def _slot(case: Case, addr: int) -> tuple[int, int]:
    """Return (start, size) of the heap slot holding ``addr``, from the span data."""
    _, gp = go_case(case.entry)
    hi = gp.heap_index()
    i = hi.find(addr)
    return int(hi.heap.addr[i]), int(hi.heap.size[i])


@pytest.mark.parametrize("version", ("go1.22", "go1.27"))
def test_under_a_global_and_its_array(capsys, version):
    case = _case(version)
    m = case.manifest
    n, elem = m["counts"]["main.ElemL"], m["type_sizes"]["main.ElemL"]
    arr_addr, arr_slot = _slot(case, m["objects"]["arr_large_array"])
    doc = _under(capsys, case, "main.arrLarge")
    assert set(doc) == {"under", "children", "total", "more", "live", "partial"}
    assert set(doc["under"]) == UNDER_KEYS
    assert (doc["under"]["kind"], doc["under"]["root"], doc["under"]["root_kind"]) == ("root", "main.arrLarge", "global")
    assert doc["under"]["type"] == "[]*main.ElemL" and doc["under"]["roots"] == 1
    # the global alone holds one object: the backing array, with every ElemL under it
    assert doc["total"] == 1 and doc["more"] == {"children": 0, "retained": 0}
    (arr,) = doc["children"]
    assert set(arr) == CHILD_KEYS
    assert (arr["address"], arr["size"]) == (arr_addr, arr_slot)
    assert arr["retained"] == arr_slot + n * elem and arr["retained_objects"] == 1 + n
    assert arr["goroutine"] is None                     # held by a global, not a frame
    assert doc["under"]["retained"] == arr["retained"]
    # under the array (an interior address names it): exactly the n ElemLs, 32 bytes each
    doc = _under(capsys, case, hex(arr_addr + 8), "--n", "5")
    assert (doc["under"]["kind"], doc["under"]["address"], doc["under"]["size"]) == ("object", arr_addr, arr_slot)
    assert doc["total"] == n and len(doc["children"]) == 5
    assert all((c["type"], c["size"], c["retained"], c["retained_objects"]) == ("main.ElemL", elem, elem, 1)
               for c in doc["children"])
    assert doc["more"] == {"children": n - 5, "retained": (n - 5) * elem}


def test_under_the_list_head_is_the_second_node(capsys):
    case = _case("go1.24", stripped=True)          # by address: no DWARF needed
    m = case.manifest
    head, slot = _slot(case, m["objects"]["list_head"])
    _, gp = go_case(case.entry)
    second = gp.process.read_ptr(head + m["list"]["next_offset"])
    doc = _under(capsys, case, f"{head:x}")          # hex without 0x, as Go prints %p less its 0x
    assert doc["under"]["retained"] == m["counts"]["main.Node"] * slot
    assert [c["address"] for c in doc["children"]] == [second]
    assert doc["children"][0]["retained"] == (m["counts"]["main.Node"] - 1) * slot
    assert doc["children"][0]["retained_objects"] == m["counts"]["main.Node"] - 1


def test_text(capsys):
    case = _case("go1.24")
    arr_addr, _ = _slot(case, case.manifest["objects"]["arr_large_array"])
    status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "top", "--under", "main.arrLarge")
    assert status == 0, err
    assert "main.arrLarge" in out and f"{arr_addr:#x}" in out and "1 child in" in out
    status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "top", "--under", hex(arr_addr), "--n", "3")
    assert status == 0, err
    n = case.manifest["counts"]["main.ElemL"]
    assert f"… {n - 3} more" in out and sum(line.rstrip().endswith(" main.ElemL") for line in out.splitlines()) == 3


def test_errors_are_one_line(capsys):
    case = _case("go1.24")
    for what, says in (("0x10", "not in a live heap object"), ("main.nosuch", "no root named main.nosuch"),
                       ("main.nilNode", "no root named main.nilNode")):   # a nil global holds nothing
        status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "top", "--under", what)
        lines = err.strip().splitlines()
        assert status == 1 and len(lines) == 1 and lines[0].startswith("viewcore: error: ") and says in lines[0], err
    # children are ranked by retained bytes only: a ranking option with --under is bad usage
    for args in (("--under", "main.list", "--nested"), ("--nested", "--under", "main.list"),
                 ("--under", "main.list", "--by", "size"), ("--by", "retained", "--under", "main.list")):
        status, _, err = run_cli(capsys, case.core, "--exe", case.exe, "top", *args)
        assert status == 2 and "not allowed with argument" in err, args


def test_text_renderer_on_a_built_result():
    result = UnderResult("root", None, "*main.Request", None, "main.handle.r", "frame", 3000,
                         3000 * 1072, 6000, [ChildRow(0xc000100000, "main.Request", 48, 1072, 2, 18)],
                         children=3000, more_retained=2999 * 1072, live_objects=7000, live_bytes=4 << 20)
    buf = io.StringIO()
    text.render(result, Console(file=buf, width=200, highlight=False))
    out = buf.getvalue()
    assert "main.handle.r" in out and "3000 roots" in out and "0xc000100000" in out and "goroutine" in out
    assert "… 2999 more (3.1 MiB" in out
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["more"] == {"children": 2999, "retained": 2999 * 1072} and doc["total"] == 3000
