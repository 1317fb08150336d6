"""Bad heap data gives a partial answer, never a traceback or a hang.

Each test patches a copy of a fixture core (go1.24 crash) at the file offset of a chosen
address and runs the real command line in-process: exit 0, the JSON answer, ``partial``
where data was lost, a warning line on stderr, and no "Traceback" / "internal error".
"""

from __future__ import annotations

import json
import shutil
import struct
import time

import numpy as np
import pytest

import gocore
from core.source import materialize
from gocore.heap.heap import heap_of
from tests.conftest import Case, fixture_index
from tests.coreedit import file_offset, patch
from viewcore.cli import main

TIME_LIMIT = 120          # seconds per command: far above a normal run, far below a hang


def _case() -> Case:
    entries = [e for e in fixture_index() if e["kind"] == "crash" and not e["stripped"]
               and e["go_version"].startswith("go1.24")]
    if not entries:
        pytest.skip("no go1.24 crash fixture")
    return Case(entries[0])


@pytest.fixture(scope="module")
def original():
    """(case, GoProcess of the unpatched core, its overview JSON)."""
    case = _case()
    gp = gocore.open(case.core, exe=case.exe)
    return case, gp


def _copy(case: Case, tmp_path) -> str:
    dst = tmp_path / "core"
    shutil.copyfile(materialize(case.core), dst)
    return str(dst)


def _run(capsys, *argv) -> tuple[int, str, str]:
    t0 = time.monotonic()
    try:
        status = main([str(a) for a in argv])
    except SystemExit as e:
        status = e.code
    assert time.monotonic() - t0 < TIME_LIMIT
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    return status, out, err


def _overview(capsys, core: str, case: Case) -> tuple[dict, str]:
    status, out, err = _run(capsys, core, "--exe", case.exe, "--no-cache", "overview", "--json")
    assert status == 0, err
    return json.loads(out), err


def _histogram(capsys, core: str, case: Case) -> list[dict]:
    status, out, err = _run(capsys, core, "--exe", case.exe, "--no-cache", "--json", "histogram")
    assert status == 0, err
    rows = json.loads(out)
    assert all(r["bytes"] == r["count"] * r["size"] for r in rows)
    return rows


def _warnings(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("viewcore: warning:")]


def test_unpatched_copy_is_whole(capsys, original, tmp_path):
    case, _ = original
    doc, err = _overview(capsys, _copy(case, tmp_path), case)
    assert doc["partial"] is False, err
    assert doc["heap"]["objects"] > 0


@pytest.mark.parametrize("field,value", [
    ("startAddr", 0x7F00_DEAD_0000),           # page-aligned, outside every arena
    ("startAddr", 0xFFFF_FFFF_FFFF_F001),      # unaligned, wraps the address space
    ("npages", 0xFFFF_FFFF_FFFF),              # runs far past the arena
])
def test_span_pointing_outside_the_dump(capsys, original, tmp_path, field, value):
    case, gp = original
    heap = heap_of(gp)
    sp = heap.spans
    whole, _ = _overview(capsys, str(case.core), case)
    # the in-use small-object span holding the most objects (not the list the tests follow)
    counts = np.bincount(heap.span, minlength=len(sp))
    row = int(np.argmax(np.where(sp.sizeclass != 0, counts, 0)))
    lost = int(counts[row])
    assert lost > 1
    f = gp.layout.field("runtime.mspan", field)
    core = _copy(case, tmp_path)
    patch(core, file_offset(gp, int(sp.mspan[row]) + f.offset), value.to_bytes(f.size, "little"))
    doc, err = _overview(capsys, core, case)
    assert doc["partial"] is True
    assert any("heap: skipped 1 bad spans" in w for w in _warnings(err)), err
    # the other spans' objects are still counted
    assert 0 < doc["heap"]["objects"] <= whole["heap"]["objects"] - 1
    assert doc["heap"]["objects"] >= whole["heap"]["objects"] - lost - 64
    rows = _histogram(capsys, core, case)
    assert sum(r["count"] for r in rows) == doc["heap"]["objects"]


def _phdrs(path: str):
    """Yield (file offset of the program header, p_type, p_offset, p_vaddr, p_filesz, p_memsz)."""
    with open(path, "rb") as f:
        hdr = f.read(64)
        phoff, = struct.unpack_from("<Q", hdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", hdr, 0x36)
        f.seek(phoff)
        raw = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz = struct.unpack_from(
            "<IIQQQQQ", raw, i * phentsize)
        yield phoff + i * phentsize, p_type, p_offset, p_vaddr, p_filesz, p_memsz


def test_heap_memory_missing_from_the_dump(capsys, original, tmp_path):
    case, gp = original
    target = case.manifest["objects"]["arr_mid_array"]
    core = _copy(case, tmp_path)
    hit = [p for p in _phdrs(core) if p[1] == 1 and p[3] <= target < p[3] + p[5]]
    assert len(hit) == 1
    ph = hit[0]
    patch(core, ph[0] + 32, struct.pack("<Q", 0))     # p_filesz = 0: the bytes are absent
    doc, err = _overview(capsys, core, case)
    assert doc["partial"] is True
    assert any("heap:" in w and "not all in the dump" in w for w in _warnings(err)), err
    rows = _histogram(capsys, core, case)
    assert sum(r["count"] for r in rows) == doc["heap"]["objects"]


def test_heap_memory_cut_in_the_middle(capsys, original, tmp_path):
    """Zero-length data for the arena's second half: half of the heap's words are absent."""
    case, gp = original
    target = case.manifest["objects"]["arr_mid_array"]
    core = _copy(case, tmp_path)
    ph = next(p for p in _phdrs(core) if p[1] == 1 and p[3] <= target < p[3] + p[5])
    half = max((target - ph[3]) // 4096 * 4096, 4096)
    patch(core, ph[0] + 32, struct.pack("<Q", min(half, ph[4])))
    doc, err = _overview(capsys, core, case)
    assert doc["partial"] is True
    assert any("heap:" in w and "not all in the dump" in w for w in _warnings(err)), err
    _histogram(capsys, core, case)


def test_garbage_pointers_in_one_big_object(capsys, original, tmp_path):
    case, gp = original
    heap = heap_of(gp)
    i = heap.find_one(case.manifest["objects"]["arr_mid_array"])
    assert i >= 0
    start, size = int(heap.addr[i]), int(heap.size[i])
    rng = np.random.default_rng(7)
    n = size // 8 - 1                                  # keep the malloc header word
    lo, hi = int(heap.addr[0]), int(heap.addr[-1]) + int(heap.size[-1])
    words = np.where(rng.random(n) < 0.5, rng.integers(lo, hi, n, dtype=np.uint64),
                     rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True))
    core = _copy(case, tmp_path)
    patch(core, file_offset(gp, start + 8), words.astype("<u8").tobytes())
    doc, err = _overview(capsys, core, case)
    assert doc["heap"]["objects"] > 0
    _histogram(capsys, core, case)
    for argv in (["--json", "reachable", hex(start)], ["--json", "object", hex(start)]):
        status, out, err = _run(capsys, core, "--exe", case.exe, "--no-cache", *argv)
        assert status in (0, 1), err
