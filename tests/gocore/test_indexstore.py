"""The heap index kept on disk (gocore/heap/indexstore.py, storedindex.py).

Truth here is the fresh computation: a kept index must answer exactly as the index built
from the dump does (which the rest of the suite checks against the runtime's own figures),
on every fixture kind, with DWARF and stripped. Damaged or truncated files are detected
and rebuilt; two processes opening a new dump at once both answer correctly; --no-cache
writes nothing.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core
import gocore
from gocore.heap.indexstore import FORMAT, IndexStore, index_key
from gocore.heap.storedindex import BASE, StoredHeapIndex

from ..conftest import DUMPS, Case, dump_cases, fixture_index

ROOT = Path(__file__).resolve().parents[2]
# two versions, both kinds of core, with and without DWARF
CASES = [p for p in dump_cases(kinds=("crash", "gcore"))
         if p.values[0] and p.values[0]["go_version"] in ("go1.19.8", "go1.22.10", "go1.27.3")]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Point viewcore's cache at a fresh directory (numba's compiled code stays where it is)."""
    from core.source import cache_dir
    monkeypatch.setenv("NUMBA_CACHE_DIR", os.environ.get("NUMBA_CACHE_DIR")
                       or str(cache_dir() / "numba"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "viewcore" / "index"


def _open(case: Case, keep: bool, notes: list[str] | None = None) -> gocore.Process:
    proc = core.open_dump(case.core, exe=case.exe)
    return gocore.load(proc, keep_index=keep, notify=(notes.append if notes is not None else None))


def _answers(gp) -> dict:
    """Return what the commands read from an index, as plain data."""
    hi = gp.heap_index()
    names, sizes, counts, nbytes = hi.histogram()
    dom = hi.dominators()
    top = dom.top(10)
    ids = hi.live_ids
    some = ids[np.linspace(0, len(ids) - 1, num=min(len(ids), 25)).astype(int)] if len(ids) else ids
    paths = []
    for i in some:
        root, steps = hi.path(int(i))
        paths.append((root, steps))
    return {
        "live": (hi.live_count, hi.live_bytes),
        "histogram": (names, sizes.tolist(), counts.tolist(), nbytes.tolist()),
        "type_names": sorted({hi.type_name(int(t)) for t in np.unique(hi.type_id[ids])}),
        "arrays": [a.tobytes() for a in (hi.live_ids, hi.type_id, hi.data_off, hi.heap.addr,
                                          hi.heap.size, hi.edges.start, hi.edges.dst,
                                          hi.reach.parent, hi.reach.root, hi.roots.obj)],
        "roots": [hi.root_info(r) for r in range(0, len(hi.roots), max(1, len(hi.roots) // 40))],
        "paths": paths,
        "fields": [hi.fields(int(i))[0] for i in some[:10]],
        "top": [(int(i), int(dom.retained[i]), dom.holder_of(int(i))) for i in top],
        "groups": [(dom.group_info(int(k)), int(dom.group_retained[k])) for k in dom.top_groups(5)],
        "goroutines": gp.goroutines(),
        "warnings": list(gp.warnings),
    }


@pytest.mark.parametrize("entry", CASES)
def test_kept_index_answers_as_a_fresh_one(entry, cache):
    case = Case(entry)
    fresh = _answers(_open(case, keep=False))
    assert not cache.exists(), "keep_index=False wrote an index"
    first = _open(case, keep=True)
    assert not isinstance(first.heap_index(), StoredHeapIndex)
    assert _answers(first) == fresh
    again = _open(case, keep=True)
    assert isinstance(again.heap_index(), StoredHeapIndex)
    assert _answers(again) == fresh


def _one_case() -> Case:
    entry = next(e for e in fixture_index() if e["go_version"] == "go1.22.10" and e["kind"] == "crash"
                 and not e.get("stripped"))
    return Case(entry)


def _base_dir(cache: Path) -> Path:
    (key,) = [p for p in (cache / f"v{FORMAT}").iterdir()]
    return key / BASE


@pytest.mark.parametrize("damage", ["flip", "truncate", "record", "delete"])
def test_damaged_index_is_rebuilt(damage, cache):
    case = _one_case()
    fresh = _answers(_open(case, keep=False))
    _answers(_open(case, keep=True))                     # writes base, histogram, dominators
    base = _base_dir(cache)
    victim = base / "types.type_id.npy"
    if damage == "flip":
        data = bytearray(victim.read_bytes())
        data[-3] ^= 0x40
        victim.write_bytes(bytes(data))
    elif damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:-100])
    elif damage == "record":
        (base / "record.json").write_text("{not json")
    else:
        victim.unlink()
    notes: list[str] = []
    gp = _open(case, True, notes)
    assert _answers(gp) == fresh
    assert any("damaged" in n for n in notes), notes
    # the index was written anew and is whole again
    notes.clear()
    later = _open(case, True, notes)
    assert isinstance(later.heap_index(), StoredHeapIndex)
    assert _answers(later) == fresh and not notes


def test_damaged_result_part_is_recomputed(cache):
    case = _one_case()
    fresh = _answers(_open(case, keep=False))
    _answers(_open(case, keep=True))
    hist = _base_dir(cache).parent / "histogram" / "count.npy"
    data = bytearray(hist.read_bytes())
    data[-1] ^= 1
    hist.write_bytes(bytes(data))
    notes: list[str] = []
    assert _answers(_open(case, True, notes)) == fresh
    assert any("damaged" in n for n in notes)


def test_index_directories_are_private(cache):
    case = _one_case()
    _open(case, keep=True).heap_index()
    base = _base_dir(cache)
    for d in (cache, base.parent):
        st = os.lstat(d)
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()
    # no pickle anywhere: every array file is an .npy numpy opens with allow_pickle=False
    for f in base.glob("*.npy"):
        np.load(f, allow_pickle=False)


def test_key_follows_the_dump(tmp_path):
    case = _one_case()
    dump = tmp_path / "core.zst"
    dump.write_bytes(case.core.read_bytes())
    k1 = index_key(str(dump), str(case.exe))
    assert index_key(str(dump), str(case.exe)) == k1
    os.utime(dump, ns=(1, 1))
    assert index_key(str(dump), str(case.exe)) != k1
    assert index_key(str(dump), None) != index_key(str(dump), str(case.exe))


def _cli(cache: Path, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache.parent.parent))
    return subprocess.run([sys.executable, "-m", "viewcore", *argv], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=600)


def test_two_processes_opening_a_new_dump_at_once(cache):
    case = _one_case()
    args = [str(case.core), "--exe", str(case.exe), "--json", "histogram"]
    want = _cli(cache, "--no-cache", *args[:3], "--json", "histogram")
    assert want.returncode == 0, want.stderr
    assert not cache.exists(), "--no-cache wrote an index"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache.parent.parent))
    procs = [subprocess.Popen([sys.executable, "-m", "viewcore", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert json.loads(out) == json.loads(want.stdout)
    leftovers = [p.name for p in _base_dir(cache).parent.iterdir() if p.name.startswith(".")]
    assert not leftovers, leftovers
    third = _cli(cache, *args)
    assert json.loads(third.stdout) == json.loads(want.stdout)
