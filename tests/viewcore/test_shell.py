"""The shell without a terminal: commands from stdin, errors keep it going, and the exit
status says whether they all succeeded. Also: an interrupted heap index leaves nothing
half-built behind."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import gocore
from tests.conftest import ROOT, Case, fixture_index


def _crash() -> Case:
    return Case(next(e for e in fixture_index() if e["kind"] == "crash" and not e["stripped"]))


def _script(case: Case, script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "viewcore", str(case.core), "--exe", str(case.exe)],
                          input=script, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_shell_runs_commands_from_stdin():
    case = _crash()
    script = ("overview --json\ngoroutine 999999\nbogus\ngoroutines --json --no-system\n"
              "hist --json --sort count\ngs --json --no-system\nhelp top\nquit\nthreads\n")
    p = _script(case, script)
    docs = [json.loads(line) for line in p.stdout.splitlines() if line.startswith(("{", "["))]
    assert docs[0]["go_version"] == case.manifest["go_version"]
    assert len(docs[1]) == case.manifest["num_goroutine"]
    items = sum(r["count"] for r in docs[2] if r["type"] == "main.Item")  # `hist` is histogram
    assert items == case.manifest["counts"]["main.Item"]
    assert docs[3] == docs[1]  # `gs` is goroutines
    assert "usage: viewcore DUMP top" in p.stdout and "--nested" in p.stdout
    assert "viewcore: error: no goroutine 999999 in the dump" in p.stderr
    assert "viewcore: error: no command 'bogus'; `help` lists them" in p.stderr
    assert "Traceback" not in p.stderr
    assert "OS threads" not in p.stdout  # nothing runs after quit
    assert p.returncode == 2  # the worst failure: bad usage (2) beats an error (1)


@pytest.mark.parametrize("script, status", [
    ("threads\nmappings\n", 0),
    ("goroutine 999999\nthreads\n", 1),
    ("histogram --top 0\nthreads\n", 2),
    ("objects --type 'main.Item\n", 2),
])
def test_scripted_session_exit_status(script, status):
    p = _script(_crash(), script)
    assert p.returncode == status, p.stderr
    assert "Traceback" not in p.stderr


def test_interrupted_heap_index_leaves_nothing_half_built():
    """Ctrl-C raises KeyboardInterrupt wherever the main thread is; here, in the middle of
    building the heap index (at its marking stage). The next command on the same process
    builds the whole index and answers as the program itself counted."""
    case = _crash()
    gp = gocore.open(case.core, exe=case.exe, use_cache=False)   # computed, not a kept index

    def interrupt(stage: str, fraction: float) -> None:
        if stage.startswith("marking"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gp.heap_index(interrupt)
    stages = []
    hi = gp.heap_index(lambda stage, fraction: stages.append(stage))
    assert stages and stages[-1] == "done"  # built again, from the start
    names, _sizes, counts, _bytes = hi.histogram()
    items = sum(c for n, c in zip(names, counts.tolist()) if n == "main.Item")
    assert items == case.manifest["counts"]["main.Item"]
    clean = gocore.open(case.core, exe=case.exe).heap_index()  # never interrupted
    assert np.array_equal(hi.live, clean.live) and np.array_equal(hi.type_id, clean.type_id)
    assert gp.heap_index() is hi  # and kept


def test_history_directory_is_private(tmp_path, monkeypatch):
    """The history's directory is made 0700; one that others may write to is refused
    (the shell then says so once and keeps its history in memory)."""
    import os
    import stat

    from core import CacheDirError
    from viewcore.shell import history_path
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = history_path()
    assert path == tmp_path / "state" / "viewcore" / "history"
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    os.chmod(path.parent, 0o777)
    with pytest.raises(CacheDirError, match="writable by others"):
        history_path()
