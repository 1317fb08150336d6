"""Two gcore dumps of one run of a Go program: the recipe of the tests that compare a dump
with an earlier one of the same process (``diff``).

The program prints a ``MANIFEST {json}`` line, waits for a line on stdin, grows, prints a
second MANIFEST and waits; a gcore is taken after each (``fixtures/programs/cacheleak``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "fixtures"))
import make_dumps  # noqa: E402

GCORE_TIMEOUT = 300


def _gcore(pid: int, prefix: Path) -> Path:
    r = subprocess.run(["gcore", "-o", str(prefix), str(pid)], capture_output=True, text=True,
                       timeout=GCORE_TIMEOUT)
    path = Path(f"{prefix}.{pid}")
    if r.returncode != 0 or not path.exists():
        pytest.skip(f"gcore failed (rc={r.returncode}): {(r.stdout + r.stderr)[-500:]}")
    return path


def two_gcores(version: str, program: Path, work: Path) -> tuple[Path, list[tuple[Path, dict]]]:
    """Return (executable, [(gcore, manifest) of phase 1, of phase 2]) of ``program`` built
    with Go ``version``; skips when the toolchain or gdb's gcore is missing."""
    if shutil.which("gcore") is None:
        pytest.skip("gcore (gdb) is not installed")
    try:
        go, _ = make_dumps.ensure_toolchain(version)
    except (make_dumps.FixtureError, subprocess.CalledProcessError, OSError) as e:
        pytest.skip(f"cannot build {program.name} with go{version}: {e}")
    exe = work / program.name
    r = subprocess.run([go, "build", "-o", str(exe), "."], cwd=program, env=make_dumps.build_env(),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    proc = subprocess.Popen([str(exe)], cwd=work, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=make_dumps.run_env(gotraceback=False))
    dumps = []
    try:
        for phase in (1, 2):
            text, _ = make_dumps._read_manifest_line(proc, time.monotonic() + 120)
            manifest = json.loads(text)
            assert manifest["phase"] == phase
            dumps.append((_gcore(proc.pid, work / f"phase{phase}"), manifest))
            if phase == 1:
                proc.stdin.write(b"grow\n")
                proc.stdin.flush()
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    return exe, dumps
