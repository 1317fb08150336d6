"""The heap found is checked against the runtime's own counts, and lengths read from the
dump are bounded by the bytes the dump holds before anything is allocated or looped over.

Each damaged input is a copy of a fixture core patched in ``tmp_path``; the figures
asserted come from the fixture's manifest (what the runtime itself reported), or from the
unpatched core's answer where the damage must not change it.
"""

from __future__ import annotations

import json
import resource
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.source import materialize
from gocore.heap.heap import heap_of
from tests.conftest import DUMPS, ROOT, WINDOWS_DUMPS, Case, fixture_index, go_case, run_cli
from tests.coreedit import file_offset, patch

BIGBSS = ROOT / "fixtures" / "dumps-bigbss"
PT_LOAD = 1
U = np.uint64


def _entry(version: str, *, stripped: bool = False, kind: str = "crash", root: Path = DUMPS) -> dict:
    for e in fixture_index(root):
        if e["go_version"] == version and e["kind"] == kind and bool(e.get("stripped")) == stripped:
            return e
    pytest.skip(f"no {version} {kind} fixture under {root}")


def _copy(case: Case, tmp_path) -> str:
    dst = tmp_path / "core"
    shutil.copyfile(materialize(case.core), dst)
    return str(dst)


def _loads(path: str):
    """Yield (file offset of the program header, p_offset, p_vaddr, p_memsz) of each PT_LOAD."""
    with open(path, "rb") as f:
        hdr = f.read(64)
        phoff, = struct.unpack_from("<Q", hdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", hdr, 0x36)
        f.seek(phoff)
        raw = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, _fl, p_offset, p_vaddr, _pa, _filesz, p_memsz = struct.unpack_from("<IIQQQQQ", raw, i * phentsize)
        if p_type == PT_LOAD:
            yield phoff + i * phentsize, p_offset, p_vaddr, p_memsz


def _overview(capsys, core: str, case: Case) -> tuple[dict, list[str]]:
    status, out, err = run_cli(capsys, core, "--exe", case.exe, "--no-cache", "--json", "overview")
    assert status == 0 and "Traceback" not in err, err
    return json.loads(out), [ln for ln in err.splitlines() if ln.startswith("viewcore: warning: ")]


def _mib(nbytes: int) -> str:
    return f"{nbytes / (1 << 20):.1f} MiB"


# ---- spans that read as dead or damaged are not dropped silently ------------------------

@pytest.mark.parametrize("version,stripped", [("go1.21.13", False), ("go1.27.3", True)])
def test_shifted_span_segment_is_partial(capsys, tmp_path, version, stripped):
    """One byte of the file offset of the PT_LOAD holding most mspans shifted: its bytes
    are another segment's, most spans read as dead, and the heap shrinks to a few objects."""
    case, gp = go_case(_entry(version, stripped=stripped))
    mspans = heap_of(gp).spans.mspan
    core = _copy(case, tmp_path)
    ph, p_offset, _vaddr, _memsz = max(
        _loads(core), key=lambda p: int(((mspans >= U(p[2])) & (mspans < U(p[2] + p[3]))).sum()))
    patch(core, ph + 8, struct.pack("<Q", p_offset - 0x100))
    doc, warnings = _overview(capsys, core, case)
    ms = case.manifest["memstats"]
    assert doc["heap"]["objects"] < ms["HeapObjects"] // 2
    assert doc["partial"] is True
    hit = [w for w in warnings if w.startswith("viewcore: warning: heap: ") and "found, but the runtime counts" in w]
    assert len(hit) == 1, warnings
    assert "spans (heapArena.pageInUse)" in hit[0] and hit[0].endswith("span structures unreadable or damaged")
    # the runtime's pages in use are MemStats.HeapInuse (read through the layout: stripped too)
    assert f"{_mib(ms['HeapInuse'])} (mheap_.pagesInUse)" in hit[0], (hit, ms["HeapInuse"])


def test_zeroed_span_structures_name_the_disagreement(capsys, tmp_path):
    case, gp = go_case(_entry("go1.22.10"))
    sp = heap_of(gp).spans
    size = gp.layout.size("runtime.mspan")
    core = _copy(case, tmp_path)
    for a in sp.mspan:
        patch(core, file_offset(gp, int(a)), bytes(size))
    doc, warnings = _overview(capsys, core, case)
    assert doc["partial"] is True and doc["heap"] is None
    hit = [w for w in warnings if "no readable in-use span" in w]
    assert len(hit) == 1, warnings
    counted = int(hit[0].split("page bitmaps count ")[1].split(":")[0])
    # every in-use span has at least one page of MemStats.HeapInuse
    assert 0 < counted <= case.manifest["memstats"]["HeapInuse"] // 8192
    assert hit[0].endswith("span structures unreadable or damaged")


def test_span_running_over_its_neighbours_is_dropped_alone(capsys, tmp_path):
    """A small span's npages patched to reach its arena's end looks valid (aligned, inside
    the arenas) and, before the span map was checked, hid every later span as overlapping."""
    case, gp = go_case(_entry("go1.24.11"))
    heap = heap_of(gp)
    sp = heap.spans
    counts = np.bincount(heap.span, minlength=len(sp))
    row = int(np.flatnonzero(sp.in_use & (sp.sizeclass != 0))[0])
    later = int(counts[row + 1:].sum())
    assert later > 1000
    ab = sp.page_size
    arena = heap.arenas
    a = int(arena.find(sp.base[row:row + 1])[0])
    npages = (int(arena.base[a]) + arena.arena_bytes - int(sp.base[row])) // ab
    f = gp.layout.field("runtime.mspan", "npages")
    core = _copy(case, tmp_path)
    patch(core, file_offset(gp, int(sp.mspan[row]) + f.offset), npages.to_bytes(f.size, "little"))
    doc, warnings = _overview(capsys, core, case)
    assert doc["partial"] is True
    assert any("heap: skipped 1 bad spans (not in its arena's span map: 1)" in w for w in warnings), warnings
    status, out, err = run_cli(capsys, core, "--exe", case.exe, "--no-cache", "--json", "histogram")
    assert status == 0, err
    found = sum(r["count"] for r in json.loads(out))
    assert found >= case.manifest["memstats"]["HeapObjects"] - int(counts[row]) - 64


@pytest.mark.parametrize("stripped", [False, True])
def test_zeroed_alloc_bits_are_partial(capsys, tmp_path, stripped):
    """Every small span's alloc bits and freeindex zeroed: the spans are whole, their
    objects gone; the runtime's per-class counts (memstats.heapStats) say otherwise."""
    case, gp = go_case(_entry("go1.24.11", stripped=stripped))
    sp = heap_of(gp).spans
    fi = gp.layout.field("runtime.mspan", "freeindex")
    core = _copy(case, tmp_path)
    for r in np.flatnonzero(sp.in_use & (sp.sizeclass != 0)):
        patch(core, file_offset(gp, int(sp.alloc_bits[r])), bytes((int(sp.nelems[r]) + 7) // 8))
        patch(core, file_offset(gp, int(sp.mspan[r]) + fi.offset), bytes(fi.size))
    doc, warnings = _overview(capsys, core, case)
    assert doc["partial"] is True
    hit = [w for w in warnings if "(memstats.heapStats): alloc bits unreadable or damaged" in w]
    assert len(hit) == 1, warnings
    counted = int(hit[0].split("the runtime counts ")[1].split(" ")[0])
    objects = case.manifest["memstats"]["HeapObjects"]
    assert objects // 2 < counted <= objects


# ---- lengths from the dump are checked before allocating --------------------------------

_AS_LIMIT = 4 << 30       # address space for the command: a 32 GiB allocation fails at once


def _limited_overview(core: str, exe: Path) -> tuple[int, dict | None, str]:
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (_AS_LIMIT, _AS_LIMIT))
    r = subprocess.run([sys.executable, "-m", "viewcore", core, "--exe", str(exe), "--no-cache", "--json",
                        "overview"], capture_output=True, text=True, timeout=300, preexec_fn=limit,
                       cwd=ROOT)
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else None), r.stderr


def _slice_len_address(gp, what: str) -> int:
    L = gp.layout
    if what == "runtime.allgs":
        return gp.global_address("runtime.allgs") + 8
    mheap = gp.global_address("runtime.mheap_")
    return mheap + L.offset("runtime.mheap", what) + 8


@pytest.mark.parametrize("what,length,warning", [
    ("allspans", 0xFFFF_FFFF, "mheap_.allspans claims 4294967295 entries"),
    ("allArenas", 0xFFFF_FFFF, "mheap_.allArenas at"),
    ("runtime.allgs", 0xFFFF_FFFF, "runtime.allgs has 4294967295 entries but runtime.allglen says"),
    ("runtime.allgs", 1000, "runtime.allgs has 1000 entries but runtime.allglen says"),
])
def test_garbage_slice_length(capsys, tmp_path, what, length, warning):
    case, gp = go_case(_entry("go1.22.10", stripped=True))
    whole, _ = _overview(capsys, str(case.core), case)
    core = _copy(case, tmp_path)
    patch(core, file_offset(gp, _slice_len_address(gp, what)), struct.pack("<Q", length))
    status, doc, err = _limited_overview(core, case.exe)
    assert status == 0 and "Traceback" not in err, err[-2000:]
    assert doc["partial"] is True
    assert any(warning in ln for ln in err.splitlines() if ln.startswith("viewcore: warning: ")), err
    # the entries past the real ones are garbage that no check accepts
    assert doc["goroutines"] == whole["goroutines"]
    assert doc["heap"] == whole["heap"]


# ---- loops over lists read from the dump end ---------------------------------------------

def test_cyclic_specials_list_ends(capsys, tmp_path):
    case, gp = go_case(_entry("go1.24.11"))
    sp = heap_of(gp).spans
    rows = np.flatnonzero(sp.in_use & (sp.specials != 0))
    assert len(rows)
    head = int(sp.specials[rows[0]])
    core = _copy(case, tmp_path)
    patch(core, file_offset(gp, head + gp.layout.offset("runtime.special", "next")),
           struct.pack("<Q", head))
    doc, warnings = _overview(capsys, core, case)
    assert doc["partial"] is True
    assert any("roots: 1 span specials lists are unreadable" in w for w in warnings), warnings


# ---- healthy dumps: the checks stay quiet -------------------------------------------------

@pytest.mark.parametrize("entry,root", [
    (("go1.19.8", False, "crash"), DUMPS),
    (("go1.21.13", True, "crash"), DUMPS),
    (("go1.22.10", False, "gcore"), DUMPS),
    (("go1.27.3", False, "crash"), DUMPS),
    (("go1.27.3", True, "gcore"), DUMPS),
    (("go1.23.9", False, "minidump-full"), WINDOWS_DUMPS),
    (("go1.26.6", True, "crash"), BIGBSS),
], ids=lambda v: "-".join(map(str, v)) if isinstance(v, tuple) else v.name)
def test_shipped_fixtures_are_consistent(entry, root):
    version, stripped, kind = entry
    _case, gp = go_case(_entry(version, stripped=stripped, kind=kind, root=root), root)
    gp.heap_figures()
    assert gp.goroutines()
    assert gp.warnings == []
