"""``viewcore fleet``: 20 dumps of two programs that crash, on a Dask cluster of two worker
processes that the test starts, with one corrupt dump among them.

Truth: what each run printed (its MANIFEST: the number of ``*main.LeakItem`` it kept; its
stderr: the panic message) and how many runs of each program the test made.
"""

from __future__ import annotations

import json
import time

import pytest

from ..conftest import run_cli
from ..crashkeeper import build, crash

LEAK_RUNS = 10      # program A: crashkeeper `leak k`, k = 1..10 (thousands of items kept)
NIL_RUNS = 9        # program B: the stripped build (another build id), nil dereference


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory):
    work = tmp_path_factory.mktemp("fleet")
    built = work / "build"
    built.mkdir()
    a, b = build(built), build(built, stripped=True)
    dumps, truth = work / "dumps", {}
    dumps.mkdir()
    runs = [(a, "leak", str(k)) for k in range(1, LEAK_RUNS + 1)] + [(b, "nil")] * NIL_RUNS
    for n, (exe, *args) in enumerate(runs):
        d = crash(exe, work / f"run{n}", *args)
        target = dumps / f"{n:02d}.core"
        d.core.rename(target)
        truth[str(target)] = d
        time.sleep(0.01)   # the dumps' times order them
    (dumps / "99.core").write_bytes(b"\x7fELF" + b"\0" * 60)   # a corrupt dump
    # the paths the dumps record are gone: only the build ids find the executables
    built.rename(work / "exes")
    return work, truth


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as c:
        yield c


def test_fleet_on_a_cluster(fleet_dir, cluster, capsys):
    work, truth = fleet_dir
    status, out, err = run_cli(capsys, "fleet", str(work / "dumps" / "*.core"), "--exes",
                               str(work / "exes"), "--scheduler", cluster.scheduler_address, "--json")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["schema"] == 1 and doc["dumps"] == LEAK_RUNS + NIL_RUNS + 1
    assert [f["dump"] for f in doc["failed"]] == [str(work / "dumps" / "99.core")]
    assert "99.core" in err
    exes = {r["dump"]: r for r in doc["reports"]}
    assert all(r["ok"] for d, r in exes.items() if not d.endswith("99.core"))
    sigs = {tuple(s["signature"]): s for s in doc["signatures"]}
    assert {k: s["count"] for k, s in sigs.items()} == {
        ("main.flush", "main.main"): LEAK_RUNS,
        ("main.applyRefund", "main.(*OrderService).Refund", "main.main"): NIL_RUNS}
    for s in sigs.values():   # the message is the runtime's first line of an example
        d = truth[s["examples"][0]]
        assert "panic: " + s["message"] == d.first_line
    # program A's dumps by time: its LeakItem bytes grow with what each run kept
    (prog,) = [p for p in doc["growth"] if p["exe"] == str(work / "exes" / "crashkeeper")]
    assert prog["dumps"] == sorted(prog["dumps"])
    row = next(t for t in prog["types"] if t["type"] == "main.LeakItem")
    kept = [truth[d].manifest["leak_items"] for d in prog["dumps"]]
    assert kept == sorted(kept) and row["bytes"] == [k * 64 for k in kept]   # 64-byte slots
    assert all(b > a for a, b in zip(row["bytes"], row["bytes"][1:]))
    summed = {(g["wait_reason"], g["frames"][-1] if g["frames"] else None): g for g in doc["goroutine_groups"]}
    assert summed[("force gc (idle)", "runtime.goexit")]["dumps"] == LEAK_RUNS + NIL_RUNS
