"""``viewcore DUMP sql``: the ten queries of docs/sql.md on the go1.22.10 heapkeeper dump,
each checked against what the program says it keeps (its MANIFEST), and the done-when
query against ``histogram``."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from ..conftest import ROOT, dump_cases, go_case, run_cli

ENTRY = next(p.values[0] for p in dump_cases(kinds=("crash",), stripped=False)
             if p.values[0] and p.values[0]["go_version"] == "go1.22.10")
QUERIES = re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "sql.md").read_text(), re.S)


@pytest.fixture(scope="module")
def answers():
    from viewcore.commands.sql import query
    case, gp = go_case(ENTRY)
    return case.manifest, [query(gp, q).rows for q in QUERIES]


def test_ten_queries_documented():
    assert len(QUERIES) == 10


def test_queries_answer_the_manifest(answers):
    m, a = answers
    counts, objs = m["counts"], m["objects"]
    top = dict((t, n) for t, n, _ in a[0])
    assert top["main.Item"] == counts["main.Item"] and top["main.ElemL"] == counts["main.ElemL"]
    assert a[1] == [(counts["main.Leak"],)]
    assert a[2] == [("[112]uint8", counts["main.Leak"])]
    assert a[3] == [("Next", m["list"]["length"] - 1)]
    assert a[4][0][0] == "main.bigMap" and a[4][0][1] >= counts["main.Item"] * 32
    user = Counter(g["state"] for g in m["goroutines"].values())
    assert dict(a[5]) == dict(user)
    assert a[6][0] == (m["goroutines"]["main.parkDeep"]["goid"], "main.parkDeep", m["deep_frames"])
    held = {(g, f, addr) for g, f, addr, _ in a[7]}
    assert (m["goroutines"]["main.parkLocalOnly"]["goid"], "main.parkLocalOnly", objs["local_only"]) in held
    arrays = {t: n for t, _, n, _ in a[8]}
    assert arrays["[10240]*main.ElemL"] == counts["main.ElemL"] + 1   # the array and its elements
    assert arrays["[1023]*main.ElemM"] == counts["main.ElemM"] + 1
    heads = {addr for _, addr in a[9]}
    assert {objs["list_head"], objs["iface_thing"], objs["big"]} <= heads


def test_histogram_top_ten_as_sql(capsys):
    """The done-when query equals ``histogram``'s top ten (one row per type there)."""
    case, _ = go_case(ENTRY)
    status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "--json", "sql", QUERIES[0])
    assert status == 0, err
    doc = json.loads(out)
    assert doc["schema"] == 1 and doc["columns"] == ["type", "objects", "bytes"] and not doc["partial"]
    status, out, _ = run_cli(capsys, case.core, "--exe", case.exe, "--json", "histogram", "--top", "10")
    hist = [[r["type"], r["count"], r["bytes"]] for r in json.loads(out)]
    assert doc["rows"] == hist


def test_bad_query_is_one_line(capsys):
    case, _ = go_case(ENTRY)
    status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "sql", "SELEC 1")
    assert status == 1 and out == ""
    assert err.startswith("viewcore: error: sql: ") and err.count("\n") == 1


def test_sql_in_the_shell():
    """``sql`` in a scripted shell session answers on the index the session opened."""
    import subprocess
    import sys
    case, _ = go_case(ENTRY)
    script = "sql \"SELECT count(*) AS n FROM objects WHERE type = 'main.Leak'\" --json\n"
    p = subprocess.run([sys.executable, "-m", "viewcore", str(case.core), "--exe", str(case.exe)],
                       input=script, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert doc["rows"] == [[case.manifest["counts"]["main.Leak"]]]
