"""``viewcore DUMP report [--json]`` against what the runtime printed when the fixture died
(its kept stderr) and what the program said (its MANIFEST)."""

from __future__ import annotations

import json

import pytest

from ..conftest import Case, dump_cases, run_cli
from ..gotraceback import HEADER

VERSIONS = ("go1.22.10", "go1.27.3")
CASES = [p for p in dump_cases() if p.values[0] and p.values[0]["go_version"] in VERSIONS]
# the panic message of every crash and panic dump of every version; the rest for two
REPORTED = [p for p in dump_cases() if p.values[0] and (p.values[0]["go_version"] in VERSIONS
                                                      or p.values[0]["kind"] in ("crash", "panic"))]


@pytest.mark.parametrize("entry", REPORTED)
def test_report_json(entry, capsys):
    """The document's panic message, crashing goroutine and top user frame are the
    traceback's; heap totals and the counted types are the manifest's; a gcore or SIGQUIT
    dump says there was no panic."""
    case = Case(entry)
    status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "report", "--json")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["schema"] == 1 and doc["full_memory"] is True and doc["partial"] is False
    assert doc["go_version"] == case.manifest["go_version"] and doc["pid"] == case.manifest["pid"]
    lines = case.traceback.splitlines()
    if entry["kind"] in ("crash", "panic"):
        assert "panic: " + doc["panic"]["message"] == lines[0]
        assert doc["crashing_goroutine"] == int(next(filter(None, map(HEADER.match, lines)))[1])
        assert doc["signature"][0] == "main.main"
        assert (doc["panic"]["signal"] is None) == (entry["kind"] == "panic")
    else:
        assert doc["panic"] is None and doc["crashing_goroutine"] is None and doc["signature"] is None
    assert sum(g["count"] for g in doc["goroutine_groups"]) <= doc["goroutines"]
    if not entry["stripped"]:   # (stripped builds type fewer objects: test_chan_types.py)
        by_type = {t["type"]: t["count"] for t in doc["top_types"]}
        assert by_type["main.Item"] == case.manifest["counts"]["main.Item"]
        assert doc["top_retainers"][0]["root"] == "main.bigMap"
    ms = case.manifest["memstats"]     # as overview's heap (test_heap_cli.py)
    assert abs(doc["heap"]["objects"] - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"]


def test_report_text_reads_like_the_traceback(capsys):
    """The text form starts with the runtime's own first lines."""
    entry = next(p.values[0] for p in CASES if p.values[0]["kind"] == "crash")
    case = Case(entry)
    status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "report")
    assert status == 0, err
    got, want = out.splitlines(), case.traceback.splitlines()
    assert got[:2] == want[:2]                      # panic: ... and [signal ...]
    assert got[3].startswith(f"goroutine {entry and 1} ")
    assert got[4] == "panic()" and want[4].startswith("panic(")
    assert got[5].split()[-1] == want[5].split()[1]   # +0x... of the panic frame


@pytest.mark.parametrize("command", [["histogram", "--top", "5"], ["goroutines"], ["threads"],
                                     ["overview"], ["breakdown"]])
def test_json_envelope_wraps_the_same_document(command, capsys):
    """``--json-envelope`` gives ``{schema, command, partial, warnings, data}`` whose data is
    exactly the ``--json`` document, which keeps its shape (lists stay lists)."""
    case = Case(next(p.values[0] for p in CASES if p.values[0]["kind"] == "panic"))
    status, plain, _ = run_cli(capsys, case.core, "--exe", case.exe, "--json", *command)
    assert status == 0
    status, wrapped, _ = run_cli(capsys, case.core, "--exe", case.exe, *command, "--json-envelope")
    assert status == 0
    doc = json.loads(wrapped)
    assert doc == {"schema": 1, "command": command[0], "partial": False, "warnings": [],
                   "data": json.loads(plain)}


def test_report_of_a_cut_short_core_is_partial(tmp_path, capsys):
    """A core cut in half still reports its panic (the stacks are early in the file); the
    heap, whose spans were cut off, is null with a warning, and the exit status is 0."""
    import zstandard
    case = Case(next(p.values[0] for p in CASES if p.values[0]["kind"] == "crash"))
    full = zstandard.ZstdDecompressor().stream_reader(case.core.open("rb")).read()
    cut = tmp_path / "cut.core"
    cut.write_bytes(full[:len(full) // 2])
    status, out, err = run_cli(capsys, cut, "--exe", case.exe, "--no-cache", "report", "--json")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["partial"] is True and doc["heap"] is None and "viewcore: warning: " in err
    assert "panic: " + doc["panic"]["message"] == case.traceback.splitlines()[0]
    assert "Traceback" not in err
