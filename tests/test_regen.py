"""End to end from real Go: rebuild fixtures for some versions, then check viewcore on them.

Runs the versions in ``VIEWCORE_REGEN_VERSIONS`` (comma-separated, e.g. ``1.22.10,1.27.3``,
or ``all``); skipped when it is unset or empty. scripts/test.sh sets two versions, so CI
proves that fresh dumps of a fresh build, not only the committed ones, read right.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import pytest

import core
import gocore
from tests.conftest import ROOT, Case
from tests.gotraceback import parse

VERSIONS = os.environ.get("VIEWCORE_REGEN_VERSIONS", "").strip()
pytestmark = pytest.mark.skipif(not VERSIONS, reason="set VIEWCORE_REGEN_VERSIONS to regenerate fixtures")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("dumps")
    p = subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_dumps.py"), "--versions", VERSIONS,
                        "--out", str(out)], capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    index = json.loads((out / "index.json").read_text())
    assert index
    return out, index


def test_fresh_dumps_read_right(regenerated):
    out, index = regenerated
    for entry in index:
        case = Case(entry, root=out)
        proc = core.open_dump(case.core, exe=case.exe, use_cache=False)
        assert proc.pid == case.manifest["pid"]
        spec = case.manifest["list"]
        node, n = proc.read_ptr(case.manifest["globals"]["main.list"]), 0
        while node:
            assert struct.unpack("<q", proc.read(node + spec["value_offset"], 8))[0] == n * 7 + 3
            node, n = proc.read_ptr(node + spec["next_offset"]), n + 1
        assert n == spec["length"]
        gp = gocore.load(proc)
        assert gp.go_version == case.manifest["go_version"]
        tb = parse(case.traceback)
        ours = {g.id: g for g in gp.goroutines()}
        assert set(ours) == set(tb), entry
        for name, info in case.manifest["goroutines"].items():
            g, t = ours[info["goid"]], tb[info["goid"]]
            assert g.wait_reason == info["state"], name
            assert [(f.func, f.file, f.line) for f in g.frames] == \
                   [(f.func, f.file, f.line) for f in t.frames], name
