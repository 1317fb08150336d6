"""The shell without a terminal: commands from stdin, errors keep it going."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, Case, fixture_index


def test_shell_runs_commands_from_stdin():
    case = Case(next(e for e in fixture_index() if e["kind"] == "crash"))
    script = "overview --json\ngoroutine 999999\nbogus\ngoroutines --json --no-system\nquit\n"
    p = subprocess.run([sys.executable, "-m", "viewcore", str(case.core), "--exe", str(case.exe)],
                       input=script, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    docs = [json.loads(line) for line in p.stdout.splitlines() if line.startswith(("{", "["))]
    assert docs[0]["go_version"] == case.manifest["go_version"]
    assert len(docs[1]) == case.manifest["num_goroutine"]
    assert "viewcore: error: no goroutine 999999 in the dump" in p.stderr
    assert "viewcore: error: no command 'bogus'; `help` lists them" in p.stderr
    assert "Traceback" not in p.stderr
