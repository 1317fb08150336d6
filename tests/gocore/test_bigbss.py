"""Programs whose heap hangs off large zero-initialised globals (.bss), Linux and Windows.

fixtures/programs/bigbss keeps a megabyte of zeros and pointer tables in .bss/.noptrbss (a
PE .data section whose VirtualSize far exceeds its SizeOfRawData; ELF NOBITS), with heap
objects reachable only through one of them. Dumps of every Go version, with DWARF and
stripped: Linux kernel crash cores (fixtures/dumps-bigbss) and wine full-memory minidumps
(fixtures/dumps-windows-bigbss). Truth is what the dumped program printed (MemStats after
runtime.GC(), exact counts, addresses) and, on Linux, its GOTRACEBACK=crash traceback.

Commands run through the CLI's command layer (parsed arguments, JSON rendering) on a
process loaded once per dump; ``overview`` goes through the whole CLI, opening the dump.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, Case, case_id, fixture_index, go_case, run_cli
from tests.gotraceback import parse

LINUX = ROOT / "fixtures" / "dumps-bigbss"
WINDOWS = ROOT / "fixtures" / "dumps-windows-bigbss"


def _cases() -> list:
    out = [pytest.param(root, e, id=f"{'windows' if root == WINDOWS else 'linux'}-{case_id(e)}")
           for root in (LINUX, WINDOWS) for e in fixture_index(root)]
    return out or [pytest.param(None, None, marks=pytest.mark.skip(reason="no bigbss fixtures"))]


CASES = _cases()


def _cmd(root: Path, entry: dict, *argv) -> object:
    """Return the JSON answer of ``viewcore DUMP --json ARGV`` on the once-loaded process."""
    from viewcore.cli import build_parser, run_command
    case, gp = go_case(entry, root)
    args = build_parser().parse_args([str(case.core), "--json", *map(str, argv)])
    buf = io.StringIO()
    assert run_command(gp, args, out=buf) == 0
    return json.loads(buf.getvalue())


def _near(got: int, want: int) -> bool:
    return abs(got - want) <= 0.02 * want


@pytest.mark.parametrize("root,entry", CASES)
def test_overview_heap_matches_memstats(root, entry, capsys):
    case = Case(entry, root)
    status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "--json", "overview")
    assert status == 0, err
    ov = json.loads(out)
    ms = case.manifest["memstats"]
    assert not ov["partial"], ov["warnings"]
    assert ov["go_version"] == case.manifest["go_version"]
    assert ov["goos"] == case.manifest["goos"]
    assert _near(ov["heap"]["objects"], ms["HeapObjects"]), (ov["heap"], ms)
    assert _near(ov["heap"]["bytes"], ms["HeapAlloc"]), (ov["heap"], ms)


@pytest.mark.parametrize("root,entry", CASES)
def test_goroutines_match_the_program(root, entry):
    case = Case(entry, root)
    ours = {g["id"]: g for g in _cmd(root, entry, "goroutines")}
    for name, info in case.manifest["goroutines"].items():
        g = ours[info["goid"]]
        assert name in [f["func"] for f in g["frames"]], (name, g["frames"])
        assert g["wait_reason"] == info["state"], name
    if case.traceback:  # Linux: the crash traceback lists every goroutine
        tb = parse(case.traceback)
        assert set(ours) == set(tb)
        for gid, t in tb.items():
            if ours[gid]["status"] == "waiting":
                assert ours[gid]["wait_reason"] == t.status.removesuffix(" (scan)"), gid


@pytest.mark.parametrize("root,entry", CASES)
def test_histogram(root, entry):
    case = Case(entry, root)
    hist = _cmd(root, entry, "histogram")
    ms = case.manifest["memstats"]
    assert _near(sum(r["count"] for r in hist), ms["HeapObjects"])
    assert _near(sum(r["bytes"] for r in hist), ms["HeapAlloc"])
    if entry["stripped"]:
        return  # no DWARF: small objects without a malloc header have no known type
    got = {}
    for r in hist:
        got[r["type"]] = got.get(r["type"], 0) + r["count"]
    for t, want in case.manifest["counts"].items():
        assert got.get(t) == want, t


@pytest.mark.parametrize("root,entry", CASES)
def test_reachable_through_the_bss_table(root, entry):
    case = Case(entry, root)
    m = case.manifest
    table, size = m["globals"]["main.table"], m["global_sizes"]["main.table"]
    obj = m["objects"]["table_last"]
    ans = _cmd(root, entry, "reachable", obj)
    root_step, last = ans["path"][0], ans["path"][-1]
    assert root_step["kind"] == "global"
    slot = root_step["address"] + root_step["offset"]
    # the last Cell sits in table[(cells - 1) * stride]
    assert slot == table + 8 * (m["table"]["cells"] - 1) * m["table"]["stride"]
    assert table <= root_step["address"] < table + size
    assert len(ans["path"]) == 2 and last["address"] <= obj < last["address"] + last["size"]
    if not entry["stripped"]:
        assert root_step["root"] == "main.table" and root_step["address"] == table
        assert ans["type"] == "main.Cell"


@pytest.mark.parametrize("root,entry", CASES)
def test_top_and_pprof(root, entry, tmp_path):
    case = Case(entry, root)
    m = case.manifest
    top = _cmd(root, entry, "top", "--n", "5")
    assert _near(top["live"]["objects"], m["memstats"]["HeapObjects"])
    if not entry["stripped"]:
        by_root = {r["root"]: r for r in top["roots"]}
        # Cells and their Leaves are held by main.table alone, the Blobs by main.blobs
        assert by_root["main.table"]["retained_objects"] == m["counts"]["main.Cell"] + m["counts"]["main.Leaf"]
        assert by_root["main.table"]["retained"] == (m["counts"]["main.Cell"] * m["type_sizes"]["main.Cell"]
                                                     + m["counts"]["main.Leaf"] * m["type_sizes"]["main.Leaf"])
        assert by_root["main.blobs"]["retained_objects"] == m["counts"]["main.Blob"]
    out = tmp_path / "heap.pb.gz"
    prof = _cmd(root, entry, "pprof", "-o", out)
    assert prof["objects"] == top["live"]["objects"] and prof["bytes"] == top["live"]["bytes"]
    assert gzip.decompress(out.read_bytes())  # a gzip'd profile.proto


@pytest.mark.parametrize("root,entry", CASES)
def test_bss_bytes_set_at_run_time_are_the_dumps(root, entry):
    """The dump's .bss wins over the executable's zero fill."""
    m = Case(entry, root).manifest
    at = m["globals"]["main.zeroBlock"] + m["magic"]["zero_block_offset"]
    got = _cmd(root, entry, "read", at, 2)
    assert bytes.fromhex(got["hex"]) == bytes([m["magic"]["zero_block_byte"], 0])
    at = m["globals"]["main.counters"] + 8 * m["magic"]["counters_index"]
    got = _cmd(root, entry, "read", at, 8)
    assert int.from_bytes(bytes.fromhex(got["hex"]), "little") == m["magic"]["counters_value"]
    got = _cmd(root, entry, "read", m["globals"]["main.initMagic"], 8)
    assert int.from_bytes(bytes.fromhex(got["hex"]), "little") == m["magic"]["init_magic0"]


WINDOWS_DWARF = [pytest.param(e, id=e["go_version"]) for e in fixture_index(WINDOWS) if not e["stripped"]] \
    or [pytest.param(None, marks=pytest.mark.skip(reason="no bigbss Windows fixtures"))]


@pytest.mark.parametrize("entry", WINDOWS_DWARF)
def test_windows_built_in_layout_equals_dwarf(entry):
    """What stripped Windows binaries use (the Linux table plus Windows' differences) is
    what the DWARF of a Windows build says."""
    import core
    from gocore.binary.dwarf import load_dwarf
    from gocore.binary.layout import Layout
    exe = core.exe.open_executable(WINDOWS / entry["exe"])
    dwarf = load_dwarf(exe)
    from_dwarf = Layout.from_dwarf(dwarf, dwarf.go_version).to_table()
    table = Layout.from_table(entry["go_version"], "windows").to_table()
    assert table["structs"] == from_dwarf["structs"]
    # constant families (runtime._G*, ...) list what this program's DWARF happens to hold
    both = table["constants"].keys() & from_dwarf["constants"].keys()
    assert {"runtime.arenaL1Bits", "runtime.heapArenaBytes", "runtime.pagesPerArena"} <= both
    assert {k: table["constants"][k] for k in both} == {k: from_dwarf["constants"][k] for k in both}


@pytest.mark.parametrize("entry", WINDOWS_DWARF)
def test_windows_runtime_globals_from_code_equal_the_symbols(entry):
    import core
    from gocore.binary.moduledata import RUNTIME_GLOBALS, find_runtime_globals, load_module
    exe = core.exe.open_executable(WINDOWS / entry["exe"])
    pclntab, md = load_module(exe)
    found = find_runtime_globals(exe, pclntab, md, use_symbols=False, go_version=entry["go_version"])
    assert found == {n: exe.symbols[n][0] for n in RUNTIME_GLOBALS}
