"""Goroutines in Windows minidumps made under wine.

Wine cannot print a GOTRACEBACK=crash traceback for these dumps (the program is dumped
alive by an external dumper), so the truth is the program's own manifest: the id and
state of each goroutine it parked, and runtime.NumGoroutine. The frames of each parked
goroutine must end in the function that parked it, then runtime.goexit, as in the Linux
tracebacks of the same program.
"""

from __future__ import annotations

import pytest

import gocore
from tests.conftest import WINDOWS_DUMPS, minidump_cases, open_case


@pytest.mark.parametrize("entry", minidump_cases())
def test_parked_goroutines(entry):
    case, proc = open_case(entry, WINDOWS_DUMPS)
    gp = gocore.load(proc)
    assert gp.process.dump_format == "minidump" and gp.process.goos == "windows"
    ours = {g.id: g for g in gp.goroutines()}
    for func, info in case.manifest["goroutines"].items():
        g = ours[info["goid"]]
        assert g.wait_reason == info["state"], func
        assert not g.partial, (func, g.problem)
        names = [f.func for f in g.frames]
        assert names[-1] == "runtime.goexit", func
        assert func in names, func
        assert g.created_by == "main.parkAll"
    deep = ours[case.manifest["goroutines"]["main.parkDeep"]["goid"]]
    assert [f.func for f in deep.frames].count("main.parkDeep") == case.manifest["deep_frames"]


@pytest.mark.parametrize("entry", minidump_cases())
def test_user_goroutines_match_num_goroutine(entry):
    case, proc = open_case(entry, WINDOWS_DUMPS)
    gp = gocore.load(proc)
    assert len([g for g in gp.goroutines() if not g.system]) == case.manifest["num_goroutine"]
    main = next(g for g in gp.goroutines() if g.id == 1)
    assert [f.func for f in main.frames][-3:] == ["main.main", "runtime.main", "runtime.goexit"]


@pytest.mark.parametrize("entry", minidump_cases())
def test_thread_g_from_tls(entry):
    """Each thread's g, read through the TEB, belongs to one of the runtime's Ms (allm),
    and to the M whose procid is that thread where the runtime records it (Go 1.20+; 1.19
    on windows leaves m.procid unset)."""
    from gocore.goroutines.goroutines import current_g

    case, proc = open_case(entry, WINDOWS_DUMPS)
    gp = gocore.load(proc)
    L = gp.layout
    ms, m = set(), proc.read_ptr(gp.global_address("runtime.allm"))
    while m:
        ms.add(m)
        m = proc.read_ptr(m + L.offset("runtime.m", "alllink"))
    for t in gp.threads():
        g = current_g(gp, t)
        assert g, t.tid
        m = proc.read_ptr(g + L.offset("runtime.g", "m"))
        assert m in ms
        if case.manifest["go_version"] != "go1.19.8":
            assert proc.read_uint(m + L.offset("runtime.m", "procid"), 8) == t.tid
