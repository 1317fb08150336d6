"""The command line against the contract (../shared/docs/cli-contract.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.source import materialize
from tests.conftest import ROOT, Case, dump_cases, fixture_index, run_cli
from tests.gotraceback import parse

STATUSES = {"idle", "runnable", "running", "syscall", "waiting", "dead", "copystack", "preempted"}


run = run_cli


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if not ln.startswith("viewcore: note:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("viewcore: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash", "gcore")))
def test_overview_json(capsys, entry):
    case = Case(entry)
    status, out, err = run(capsys, case.core, "--exe", case.exe, "overview", "--json")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["dump_format"] == "elf-core" and doc["goos"] == "linux" and doc["goarch"] == "amd64"
    assert doc["go_version"] == case.manifest["go_version"]
    assert doc["pid"] == case.manifest["pid"]
    assert doc["goroutines"] == len(parse(case.traceback))
    assert doc["partial"] is False and doc["warnings"] == []
    assert isinstance(doc["threads"], int) and doc["threads"] >= 1


def test_global_options_after_command_and_goroutines_json(capsys):
    entry = next(e for e in fixture_index() if e["kind"] == "sigquit" and not e["stripped"])
    case = Case(entry)
    status, out, err = run(capsys, case.core, "goroutines", "--json", "--exe", case.exe)
    assert status == 0, err
    doc = json.loads(out)
    tb = parse(case.traceback)
    assert {g["id"] for g in doc} == set(tb)
    for g in doc:
        assert g["status"] in STATUSES
        assert isinstance(g["system"], bool)
        assert all({"func", "file", "line", "pc", "sp"} <= set(f) for f in g["frames"])
        if g["status"] == "waiting":
            assert g["wait_reason"] == tb[g["id"]].status


def test_goroutine_group_and_filters(capsys):
    entry = next(e for e in fixture_index() if e["kind"] == "crash" and not e["stripped"])
    case = Case(entry)
    status, out, err = run(capsys, case.core, "--exe", case.exe, "--json", "goroutines", "--group",
                           "--wait-reason", "chan receive", "--no-system")
    assert status == 0, err
    groups = json.loads(out)
    chan = [g for g in case.manifest["goroutines"].values() if g["state"] == "chan receive"]
    assert sum(g["count"] for g in groups) == len(chan)
    status, out, err = run(capsys, case.core, "--exe", case.exe, "goroutine", "1")
    assert status == 0 and "main.main" in out


def test_text_commands_run(capsys):
    entry = next(e for e in fixture_index() if e["kind"] == "crash" and e["stripped"])
    case = Case(entry)
    for cmd in ("overview", "threads", "mappings", "goroutines"):
        status, out, err = run(capsys, case.core, "--exe", case.exe, cmd)
        assert status == 0, err
        assert out.strip()


def test_python_dash_m():
    entry = fixture_index()[0]
    case = Case(entry)
    p = subprocess.run([sys.executable, "-m", "viewcore", str(case.core), "--exe", str(case.exe),
                        "--json", "overview"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["go_version"] == case.manifest["go_version"]


# ---- bad input: one line, exit 1 ----

def _crash_case() -> Case:
    return Case(next(e for e in fixture_index() if e["kind"] == "crash" and not e["stripped"]))


def test_truncated_core(capsys, tmp_path):
    """Cut at half its size, a core opens as a partial answer (tests/core/test_truncated.py
    checks what survives); cut inside its program headers, it is refused in one line."""
    case = _crash_case()
    raw = open(materialize(case.core), "rb").read()
    cut = tmp_path / "core"
    cut.write_bytes(raw[: len(raw) // 2])
    status, out, err = run(capsys, cut, "--exe", case.exe, "--json", "overview")
    assert status == 0, err
    assert json.loads(out)["partial"] is True
    assert f"viewcore: warning: truncated core: file ends at {len(raw) // 2:#x}" in err
    cut.write_bytes(raw[:100])
    status, out, err = run(capsys, cut, "--exe", case.exe, "overview")
    assert status == 1
    assert "truncated core: program headers end at" in one_error_line(err)


def test_not_a_dump(capsys, tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a core at all\n" * 50)
    status, out, err = run(capsys, junk, "overview")
    assert status == 1
    assert "neither an ELF core nor a minidump" in one_error_line(err)


def test_executable_from_another_build(capsys):
    case = _crash_case()
    other = next(Case(e) for e in fixture_index() if e["go_version"] != case.entry["go_version"])
    status, out, err = run(capsys, case.core, "--exe", other.exe, "overview")
    assert status == 1
    assert "does not match the dump" in one_error_line(err)


def test_missing_executable_and_dump(capsys, tmp_path):
    case = _crash_case()
    status, out, err = run(capsys, case.core, "--exe", tmp_path / "nope", "overview")
    assert status == 1 and "does not exist" in one_error_line(err)
    status, out, err = run(capsys, tmp_path / "nodump", "overview")
    assert status == 1 and "does not exist" in one_error_line(err)


def test_stripped_exe_against_dwarf_build_core(capsys):
    """The stripped and DWARF builds differ (build info records -ldflags): caught."""
    case = _crash_case()
    stripped = case.exe.parent / "exe-stripped.zst"
    status, out, err = run(capsys, case.core, "--exe", stripped, "goroutines")
    assert status == 1
    assert "does not match" in one_error_line(err)


def test_bad_usage_exits_2(capsys):
    case = _crash_case()
    status, out, err = run(capsys, case.core, "no-such-command")
    assert status == 2


def test_minidump_without_full_memory(capsys):
    from tests.conftest import WINDOWS_DUMPS
    entry = next((e for e in fixture_index(WINDOWS_DUMPS) if e["kind"] == "minidump-normal"), None)
    if entry is None:
        pytest.skip("no MiniDumpNormal fixture")
    case = Case(entry, WINDOWS_DUMPS)
    for cmd in ("overview", "goroutines", "histogram"):
        status, out, err = run(capsys, case.core, "--exe", case.exe, cmd)
        assert status == 1
        line = one_error_line(err)
        assert "without full memory" in line and "procdump -ma" in line
    status, out, err = run(capsys, case.core, "--exe", case.exe, "threads")
    assert status == 0 and out.strip()
    assert "without full memory" in err


def test_executable_found_where_the_dump_says(capsys, tmp_path):
    """Without --exe: the path in NT_FILE is used when it exists, else one line says what to do."""
    import shutil

    from core.source import materialize
    case = _crash_case()
    status, out, err = run(capsys, case.core, "overview")
    assert status == 1
    line = one_error_line(err)
    assert "pass --exe" in line and "the dump names /" in line
    recorded = line.split("the dump names ", 1)[1].split(",", 1)[0]
    if os.path.exists(recorded) or not recorded.startswith("/tmp/"):
        pytest.skip(f"{recorded} exists or is outside /tmp: not touching it")
    os.makedirs(os.path.dirname(recorded), exist_ok=True)
    try:
        shutil.copyfile(materialize(case.exe), recorded)
        status, out, err = run(capsys, case.core, "--json", "overview")
        assert status == 0, err
        assert json.loads(out)["go_version"] == case.manifest["go_version"]
        assert "using executable" in err
    finally:
        os.unlink(recorded)
        try:
            os.removedirs(os.path.dirname(recorded))  # only the empty directories made above
        except OSError:
            pass


# ---- without a dump: version and help ----

def test_version(capsys):
    from importlib.metadata import version
    status, out, err = run(capsys, "--version")
    assert status == 0 and out == f"viewcore {version('viewcore')}\n"


@pytest.mark.parametrize("argv", [("help", "top"), ("top", "--help"), ("top", "-h")])
def test_command_help_without_a_dump(capsys, argv):
    from viewcore.commands import top
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert out.startswith("usage: viewcore DUMP top") and "--nested" in out and top.HELP[:30] in out


def test_help_lists_commands_and_aliases(capsys):
    from viewcore.commands import COMMANDS
    status, out, err = run(capsys, "help")
    assert status == 0
    assert all(name in out for name in COMMANDS)
    assert "histogram (hist)" in out and "goroutines (gs)" in out
    status, out, err = run(capsys, "help", "hist")
    assert status == 0 and out.startswith("usage: viewcore DUMP histogram")


def test_help_of_no_command(capsys):
    status, out, err = run(capsys, "help", "nope")
    assert status == 2
    assert err == "viewcore: error: no command 'nope'; `viewcore help` lists them\n"


def test_alias_on_the_command_line(capsys):
    case = _crash_case()
    status, out, err = run(capsys, case.core, "--exe", case.exe, "hist", "--json")
    assert status == 0, err
    assert sum(r["count"] for r in json.loads(out) if r["type"] == "main.Item") == case.manifest["counts"]["main.Item"]


def test_help_imports_no_protobuf():
    """`--help` and `--version` never import protobuf (whose version may not suit the pprof
    writer) nor graphviz: they are imported by the commands that use them."""
    code = ("import sys\nfrom viewcore.cli import main\n"
            "for argv in (['--help'], ['--version'], ['help', 'pprof']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('google.protobuf', 'graphviz'))))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1] == "[]"
