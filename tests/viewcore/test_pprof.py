"""``pprof -o FILE``: a profile that go tool pprof reads, totals equal to the live heap."""

from __future__ import annotations

import glob
import gzip
import os
import re
import subprocess

import pytest

from tests.conftest import Case, dump_cases
from viewcore.cli import main
from viewcore.render.pprof import Profile


def _go() -> str | None:
    """Return a Go toolchain installed by the fixture generator, if any."""
    base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                        "viewcore", "toolchains")
    hits = sorted(glob.glob(f"{base}/go*/lib/python3*/site-packages/go/bin/go"))
    return hits[-1] if hits else None


def _chains(prof) -> dict[tuple[str, ...], tuple[int, int]]:
    """Return {chain: (objects, bytes)}, summed over the samples of one chain (a frame
    root's chain has a sample per goroutine, told apart by its label)."""
    names = {f.id: prof.string_table[f.name] for f in prof.function}
    out: dict[tuple[str, ...], tuple[int, int]] = {}
    for s in prof.sample:
        key = tuple(names[i] for i in s.location_id)
        n, b = out.get(key, (0, 0))
        out[key] = (n + s.value[0], b + s.value[1])
    return out


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash", "gcore"), stripped=False))
def test_profile_totals_and_chains(entry, tmp_path, capsys):
    case = Case(entry)
    out = tmp_path / "heap.pb.gz"
    assert main([str(case.core), "--exe", str(case.exe), "pprof", "-o", str(out)]) == 0
    assert main([str(case.core), "--exe", str(case.exe), "--json", "overview"]) == 0
    import json
    overview = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    prof = Profile.FromString(gzip.decompress(out.read_bytes()))
    types = [(prof.string_table[t.type], prof.string_table[t.unit]) for t in prof.sample_type]
    assert types == [("inuse_objects", "count"), ("inuse_space", "bytes")]
    chains = _chains(prof)
    assert sum(v[0] for v in chains.values()) == overview["heap"]["objects"]
    assert sum(v[1] for v in chains.values()) == overview["heap"]["bytes"]
    # the program's leak: 1000 main.Leak held through leak's backing array from main.leak
    leak = [v for c, v in chains.items() if c[0] == "main.Leak" and c[-1] == "main.leak"]
    assert sum(v[0] for v in leak) == case.manifest["counts"]["main.Leak"]
    # a linked list is one run: all 500 nodes on one chain under main.list
    assert chains[("main.Node", "main.list")][0] == case.manifest["list"]["length"]


def test_go_tool_pprof_reads_it(tmp_path):
    go = _go()
    if go is None:
        pytest.skip("no Go toolchain installed (scripts/test.sh installs them for regeneration)")
    entry = dump_cases(kinds=("crash",), stripped=False)[0].values[0]
    case = Case(entry)
    out = tmp_path / "heap.pb.gz"
    assert main([str(case.core), "--exe", str(case.exe), "pprof", "-o", str(out)]) == 0
    p = subprocess.run([go, "tool", "pprof", "-top", "-sample_index=inuse_objects", str(out)],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, GOTOOLCHAIN="local"))
    assert p.returncode == 0, p.stderr
    total = int(re.search(r"of (\d+) total", p.stdout).group(1))
    assert abs(total - case.manifest["memstats"]["HeapObjects"]) <= 0.02 * case.manifest["memstats"]["HeapObjects"]
