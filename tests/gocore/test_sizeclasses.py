"""The size-class table is the runtime's own: checked against every installed GOROOT's
sizeclasses.go, and against the spans of every fixture dump."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import numpy as np
import pytest

from gocore.heap.sizeclasses import CLASS_TO_SIZE, alloc_slots, check_against_spans

from ..conftest import dump_cases, go_case


def _goroots() -> list[Path]:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    roots = glob.glob(os.path.join(base, "viewcore", "toolchains", "go1.*", "lib", "python3*",
                                   "site-packages", "go"))
    roots += glob.glob("/usr/lib/go-1.*")
    return [Path(r) for r in sorted(roots)]


def _table(goroot: Path) -> list[int] | None:
    for rel in ("src/internal/runtime/gc/sizeclasses.go", "src/runtime/sizeclasses.go"):
        f = goroot / rel
        if f.exists():
            m = re.search(r"(?:class_to_size|SizeClassToSize) = \[\w+\]uint16\{([^}]*)\}", f.read_text())
            if m:
                return [int(x) for x in m.group(1).split(",")]
    return None


GOROOTS = _goroots()


@pytest.mark.parametrize("goroot", GOROOTS or [pytest.param(None, marks=pytest.mark.skip(
    reason="no Go toolchain installed"))], ids=lambda r: r.name if r else "none")
def test_table_is_the_runtimes(goroot):
    got = _table(goroot)
    assert got is not None, goroot
    assert got == CLASS_TO_SIZE.tolist()


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",)))
def test_table_matches_the_dumps_spans(entry):
    _, gp = go_case(entry)
    sp = gp.heap_index().heap.spans
    use = sp.in_use
    assert check_against_spans(sp.sizeclass[use], sp.elemsize[use])
    assert not check_against_spans(np.array([5]), np.array([40]))      # class 5 is 48 bytes


def test_alloc_slots_follows_mallocgc():
    sizes = np.array([0, 8, 15, 16, 17, 96, 600, 600, 32768, 32768, 40000])
    scan = np.array([True, False, False, False, True, True, True, False, True, False, True])
    # pointer-free under 16 bytes: tiny blocks (0); a scan object over 512 bytes: +8 header
    assert alloc_slots(sizes, scan, True).tolist() == [0, 0, 0, 16, 24, 96, 640, 640, 32768,
                                                       32768, 40960]
    assert alloc_slots(sizes, scan, False).tolist() == [0, 0, 0, 16, 24, 96, 640, 640, 32768,
                                                        32768, 40960]
    assert alloc_slots(np.array([1000]), np.array([True]), True).tolist() == [1024]
    assert alloc_slots(np.array([1020]), np.array([True]), True).tolist() == [1152]
    assert alloc_slots(np.array([1020]), np.array([True]), False).tolist() == [1024]
