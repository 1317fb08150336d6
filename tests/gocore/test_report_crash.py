"""The crash as data (``GoProcess.crash()``) against what the runtime itself printed.

Truth: the first lines of the GOTRACEBACK=crash stderr kept beside every fixture dump
(``panic: ...``, ``[signal SIGSEGV: ... code=0x1 addr=0x0 pc=0x...]``, the first goroutine
block: the crashing goroutine, its frames and their ``+0x`` offsets), and the stderr of
``fixtures/programs/crashkeeper`` dying of a nil dereference, an index out of range and
custom error panics, built, run and dumped here with a real Go toolchain.
"""

from __future__ import annotations

import re

import pytest

from ..conftest import dump_cases, go_case
from ..crashkeeper import build, crash
from ..gotraceback import HEADER, parse

SIGNAL_LINE = re.compile(r"^\[signal (\S+): .* code=(0x[0-9a-f]+) addr=(0x[0-9a-f]+) pc=(0x[0-9a-f]+)\]$")
OFFSET_LINE = re.compile(r"^\t.*:\d+ \+0x([0-9a-f]+)")


def _printed(stderr: str) -> tuple[str | None, tuple | None, int | None]:
    """Return (text after ``panic: `` on the first line, (signal, code, addr, pc) or None,
    the id of the first goroutine printed) of a runtime traceback."""
    lines = stderr.splitlines()
    message = lines[0][len("panic: "):] if lines[0].startswith("panic: ") else None
    m = SIGNAL_LINE.match(lines[1]) if len(lines) > 1 else None
    sig = (m[1], int(m[2], 16), int(m[3], 16), int(m[4], 16)) if m else None
    first = next((int(h[1]) for h in map(HEADER.match, lines) if h), None)
    return message, sig, first


def _user_frames(frames) -> list[str]:
    return [f.func for f in frames if f.func != "panic" and not f.func.startswith("runtime.")]


@pytest.mark.parametrize("entry", dump_cases())
def test_fixture_crash_is_what_the_runtime_printed(entry):
    """Panic message, signal, crashing goroutine and its top user frame equal the
    traceback's; a gcore or SIGQUIT dump has no panic."""
    case, gp = go_case(entry)
    c = gp.crash()
    message, sig, first = _printed(case.traceback)
    if entry["kind"] in ("crash", "panic"):
        assert c.message == message == (case.manifest.get("panic_message") or message)
        assert c.goroutine == first
        printed = parse(case.traceback)[first]
        assert c.signature[0] == _user_frames(printed.frames)[0] == "main.main"
        if sig is None:
            assert c.signal is None
        else:
            s = c.signal
            assert (s.name, s.code, s.fault_address, s.pc) == sig
        assert c.thread is not None and not c.partial
    else:
        assert message is None
        assert c.panics == [] and c.signal is None and c.goroutine is None and c.signature is None


def test_fixture_signatures_equal_across_runs():
    """The DWARF and stripped crash dumps of one version are two runs (two processes):
    their signatures are equal, and so across Go versions of the same program."""
    sigs = set()
    for p in dump_cases(kinds=("crash",)):
        _, gp = go_case(p.values[0])
        sigs.add(tuple(gp.crash().signature))
    assert sigs == {("main.main",)}


@pytest.fixture(scope="module")
def crashes(tmp_path_factory):
    work = tmp_path_factory.mktemp("crashkeeper")
    exe = build(work)
    modes = {"nil": ["nil"], "nil-again": ["nil"], "index": ["index"], "error": ["error"],
             "wrapped": ["wrapped"]}
    return {name: crash(exe, work / name, *args) for name, args in modes.items()}


def _open(d):
    import gocore
    return gocore.open(str(d.core), exe=str(d.exe), use_cache=False)


@pytest.mark.parametrize("mode", ["nil", "index", "error", "wrapped"])
def test_crashkeeper_panics(crashes, mode):
    """The message, signal line and the crashing goroutine's frames with their ``+0x``
    offsets are the runtime's, for a fault, a bounds error and error values."""
    d = crashes[mode]
    c = _open(d).crash()
    message, sig, first = _printed(d.stderr)
    assert c.message == message
    assert c.goroutine == first
    if mode == "nil":
        assert (c.signal.name, c.signal.code, c.signal.fault_address, c.signal.pc) == sig
        assert c.signal.description == "SIGSEGV: segmentation violation"
    else:
        assert sig is None and c.signal is None
    printed = parse(d.stderr)[first]
    assert c.signature == _user_frames(printed.frames)
    # the frames the traceback printed are the tail of ours (ours also hold the frames
    # of fatalpanic that were running when the core was written), offsets included
    block = d.stderr.split("\n\n")[1].splitlines()
    offsets = [int(m[1], 16) for m in map(OFFSET_LINE.match, block) if m]
    ours = [f.offset for f in c.frames if f.offset]   # Go prints no "+0x0" (a fault at entry)
    assert ours[-len(offsets):] == offsets


def test_crashkeeper_signature_stable_across_runs(crashes):
    """Two runs of the same crash (other stack and heap addresses) have one signature."""
    a, b = _open(crashes["nil"]).crash(), _open(crashes["nil-again"]).crash()
    assert [f.pc for f in a.frames] != [] and a.frames[0].pc == b.frames[0].pc  # the same code
    assert a.signature == b.signature == ["main.applyRefund", "main.(*OrderService).Refund",
                                          "main.main"]
    assert a.signal.fault_address == b.signal.fault_address
