"""Cores cut short (``ulimit -c``, a full disk, a size cap) answer what their bytes allow.

Each case cuts a committed fixture core (kernel crash core and gcore) at 50, 75 and 90 %
of its size, and at two points chosen from its own bytes: in the middle of the last
segment that holds mspans ("spans") and inside the stack of the goroutine whose stack
comes last in the file ("stack"). The CLI and the API must then answer without a
traceback: exit 0 with ``"partial": true`` and the truncation warning, or exit 1 with one
line naming the runtime structure that was lost.

What each cut must keep is computed here, not taken from viewcore: from the core's
program headers and notes (read with ``struct``), the executable's symbol table
(``runtime.allgs``, ``runtime.mheap_``), and struct sizes and field offsets from its
DWARF: the heap needs mheap_, its allspans array, the ``mheap_.arenas`` entry of the heap
arena and some mspans; goroutines need allgs, its array and each g. In the default
fixtures (go1.22, go1.27) the data/bss segments and the heap arena come early in the file
and the runtime's off-heap metadata (mspans, ``mheap_.allspans``, ``allArenas``) late, so:

- 50/75/90 %: every goroutine survives and matches the GOTRACEBACK=crash traceback; the
  heap does not (``mheap_.allspans``' array is past the end), so ``overview`` gives
  ``heap: null`` and ``histogram`` exits 1 naming mheap_.allspans.
- gcore cores keep their notes at the end: every cut loses the threads, which is said.
- "spans": mheap_ and its span list survive, some mspans do not: the heap is answered,
  each manifest type counted at most as often as the program made it.
- "stack" (kernel cores): the goroutine whose stack is cut is marked partial; the others
  match the traceback.

``VIEWCORE_TRUNCATED=all`` runs every Go version's fixtures (default: go1.22.10, go1.27.3).
"""

from __future__ import annotations

import json
import os
import struct
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import pytest
from elftools.elf.elffile import ELFFile

import gocore
from core.source import materialize
from tests.conftest import Case, case_id, fixture_index, go_case, run_cli
from tests.gotraceback import parse

DEFAULT_VERSIONS = ("go1.22.10", "go1.27.3")
FRACTIONS = (0.5, 0.75, 0.9)
PT_LOAD, PT_NOTE = 1, 4
NT_PRSTATUS = 1
NOT_OBJECTS = {"main.Pair"}     # elements of one backing array, never objects


def _entries() -> list[dict]:
    every = os.environ.get("VIEWCORE_TRUNCATED") == "all"
    return [e for e in fixture_index() if e["kind"] in ("crash", "gcore") and not e["stripped"]
            and (every or e["go_version"] in DEFAULT_VERSIONS)]


def _params() -> list:
    out = []
    for e in _entries():
        for cut in FRACTIONS + ("spans", "stack"):
            out.append(pytest.param(e, cut, id=f"{case_id(e)}-{cut}"))
    return out or [pytest.param(None, None, marks=pytest.mark.skip(reason="no fixture dumps"))]


# ---- the core's bytes, read independently of core/ ------------------------------------

@dataclass(frozen=True)
class Phdr:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


class RawCore:
    """The uncompressed fixture core: program headers, raw reads, and what a cut keeps."""

    def __init__(self, path: str):
        self.path = path
        self.size = os.path.getsize(path)
        with open(path, "rb") as f:
            hdr = f.read(64)
            phoff, = struct.unpack_from("<Q", hdr, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", hdr, 0x36)
            f.seek(phoff)
            raw = f.read(phentsize * phnum)
        self.phdrs = [Phdr(*(struct.unpack_from("<IIQQQQQ", raw, i * phentsize)[j] for j in (0, 1, 2, 3, 5, 6)))
                      for i in range(phnum)]
        self.loads = [p for p in self.phdrs if p.type == PT_LOAD]

    def file_offset(self, addr: int) -> int | None:
        """Return the file offset of ``addr`` in the core, or None if the core lacks it."""
        for p in self.loads:
            if p.vaddr <= addr < p.vaddr + p.filesz:
                return p.offset + (addr - p.vaddr)
        return None

    def present(self, addr: int, n: int, cut: int) -> bool:
        """Return whether all of ``[addr, addr + n)`` is in the core's first ``cut`` bytes."""
        for p in self.loads:
            if p.vaddr <= addr and addr + n <= p.vaddr + p.filesz:
                return p.offset + (addr + n - p.vaddr) <= cut
        return False

    def read(self, addr: int, n: int) -> bytes:
        off = self.file_offset(addr)
        assert off is not None, hex(addr)
        with open(self.path, "rb") as f:
            f.seek(off)
            return f.read(n)

    def u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def prstatus_notes(self) -> int:
        """Return the number of NT_PRSTATUS notes (threads) in the core."""
        count = 0
        with open(self.path, "rb") as f:
            for p in self.phdrs:
                if p.type != PT_NOTE:
                    continue
                f.seek(p.offset)
                blob = f.read(p.filesz)
                pos = 0
                while pos + 12 <= len(blob):
                    namesz, descsz, ntype = struct.unpack_from("<III", blob, pos)
                    count += ntype == NT_PRSTATUS
                    pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
        return count

    def notes_end(self) -> int:
        return max(p.offset + p.filesz for p in self.phdrs if p.type == PT_NOTE)


def cut_copy(src: str, dst: str, n: int) -> None:
    """Write the first ``n`` bytes of the sparse file ``src`` to ``dst``, holes kept as holes."""
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        fd, pos = fi.fileno(), 0
        while pos < n:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:          # no data after pos
                break
            if start >= n:
                break
            end = min(os.lseek(fd, start, os.SEEK_HOLE), n)
            fi.seek(start)
            fo.seek(start)
            left = end - start
            while left:
                chunk = fi.read(min(left, 1 << 22))
                fo.write(chunk)
                left -= len(chunk)
            pos = end
        fo.truncate(n)


@lru_cache(maxsize=None)
def _symbols(exe_path: str) -> dict[str, int]:
    with open(exe_path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        want = {"runtime.allgs", "runtime.mheap_"}
        return {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name in want}


# ---- what a cut must keep ---------------------------------------------------------------

@dataclass
class Expected:
    cut: int
    loads_cut: int               # PT_LOADs with file data that the cut shortens
    loads_with_data: int
    missing_mib: float
    threads: int | None          # None: the notes are cut short (some threads may remain)
    goroutines: dict | None      # traceback goroutine id -> whether its used stack survives
    heap: str                    # "none" (a structure the heap needs is gone) or "some"


class Subject:
    """One fixture core with its executable, traceback, the whole dump's GoProcess and raw bytes."""

    def __init__(self, entry: dict):
        self.case = Case(entry)
        self.entry = entry
        self.core_path = materialize(self.case.core)
        self.exe_path = materialize(self.case.exe)
        self.raw = RawCore(self.core_path)
        _, self.whole = go_case(entry)           # for DWARF sizes and offsets only
        self.tb = parse(self.case.traceback)
        self.sym = _symbols(self.exe_path)

    def mspans(self) -> list[int]:
        """Return the mspan addresses in mheap_.allspans, read from the core's bytes."""
        L, raw = self.whole.layout, self.raw
        hdr = self.sym["runtime.mheap_"] + L.offset("runtime.mheap", "allspans")
        p, n = raw.u64(hdr), raw.u64(hdr + 8)
        arr = raw.read(p, 8 * n)
        return [a for a in struct.unpack(f"<{n}Q", arr) if a]

    def cut_at(self, cut) -> int | None:
        """Return the file size of the cut named ``cut``, or None if this core has no such point."""
        raw = self.raw
        if isinstance(cut, float):
            return int(raw.size * cut)
        if cut == "spans":
            offs = sorted(raw.file_offset(a) for a in self.mspans())
            seg = max((p for p in raw.loads if p.offset <= offs[-1] < p.offset + p.filesz),
                      key=lambda p: p.offset)
            inside = [o for o in offs if seg.offset <= o < seg.offset + seg.filesz]
            return inside[len(inside) // 2]
        # "stack": inside the used stack that comes last in the file, if that leaves every
        # g and the allgs array whole (kernel cores only: gcore cut anywhere loses the notes,
        # which is the 50 % case already).
        if self.entry["kind"] != "crash":
            return None
        spans = [(raw.file_offset(lo), raw.file_offset(hi)) for lo, hi in self._used_stacks().values()]
        lo, hi = max(spans)
        return (lo + hi) // 2 if hi - lo >= 16 else None

    def _arena_entry(self) -> int:
        """Return the address of the ``mheap_.arenas[l1][l2]`` entry (``*heapArena``) of the
        arena holding the program's big object (src/runtime/malloc.go: arenaIndex, with
        linux/amd64's arenaBaseOffset 0xffff800000000000)."""
        L, raw = self.whole.layout, self.raw
        addr = self.case.manifest["objects"]["big"]
        ri = ((addr + (1 << 47)) % (1 << 64)) // L.const("runtime.heapArenaBytes")
        l2_bits = L.const("runtime.arenaL2Bits")
        arenas = self.sym["runtime.mheap_"] + L.offset("runtime.mheap", "arenas")
        return raw.u64(arenas + 8 * (ri >> l2_bits)) + 8 * (ri & ((1 << l2_bits) - 1))

    def _g_addresses(self) -> dict[int, int]:
        """Return goroutine id -> address of its g, from the allgs array in the core's bytes
        (the traceback prints gp= only since go1.21)."""
        raw, L = self.raw, self.whole.layout
        allgs = self.sym["runtime.allgs"]
        ptr, n = raw.u64(allgs), raw.u64(allgs + 8)
        goid = L.offset("runtime.g", "goid")
        out = {}
        for g in struct.unpack(f"<{n}Q", raw.read(ptr, 8 * n)):
            out.setdefault(raw.u64(g + goid), g)
        return out

    def _used_stacks(self) -> dict[int, tuple[int, int]]:
        """Return goroutine id -> [innermost sp, outermost sp + 8): the words its traceback used."""
        out = {}
        for gid, t in self.tb.items():
            sps = [f.sp for f in t.frames if f.sp]
            if sps and all(self.raw.file_offset(s) is not None for s in sps):
                out[gid] = (min(sps), max(sps) + 8)
        return out

    def expect(self, cut: int) -> Expected:
        raw, L, sym = self.raw, self.whole.layout, self.sym
        with_data = [p for p in raw.loads if p.filesz]
        shortened = [p for p in with_data if p.offset + p.filesz > cut]
        missing = sum(p.offset + p.filesz - max(p.offset, cut) for p in shortened)
        notes_whole = raw.notes_end() <= cut
        threads = raw.prstatus_notes() if notes_whole else (0 if cut <= min(
            p.offset for p in raw.phdrs if p.type == PT_NOTE) else None)
        allgs = sym["runtime.allgs"]
        goroutines = None
        if raw.present(allgs, 16, cut):
            ptr, n = raw.u64(allgs), raw.u64(allgs + 8)
            if raw.present(ptr, 8 * n, cut):
                gsize = L.size("runtime.g")
                used = self._used_stacks()
                where = self._g_addresses()
                assert all(t.gp in (None, where[gid]) for gid, t in self.tb.items())
                goroutines = {gid: gid in used and raw.present(used[gid][0], used[gid][1] - used[gid][0], cut)
                              for gid in self.tb if raw.present(where[gid], gsize, cut)}
        mheap = sym["runtime.mheap_"]
        heap = "none"
        if raw.present(mheap, L.size("runtime.mheap"), cut):
            hdr = mheap + L.offset("runtime.mheap", "allspans")
            p, n = raw.u64(hdr), raw.u64(hdr + 8)
            spans = self.mspans()
            if (raw.present(p, 8 * n, cut) and raw.present(self._arena_entry(), 8, cut)
                    and any(raw.present(a, L.size("runtime.mspan"), cut) for a in spans)):
                heap = "some"
        return Expected(cut, len(shortened), len(with_data), missing / (1 << 20), threads, goroutines, heap)


@lru_cache(maxsize=None)
def _subject(core: str) -> Subject:
    return Subject(next(e for e in fixture_index() if e["core"] == core))


def _cut_core(subject: Subject, cut, tmp_path) -> tuple[str, Expected]:
    n = subject.cut_at(cut)
    if n is None:
        pytest.skip(f"no {cut!r} cut point in this core")
    path = str(tmp_path / f"cut-{cut}.core")
    cut_copy(subject.core_path, path, n)
    assert os.path.getsize(path) == n
    return path, subject.expect(n)


# ---- checks -----------------------------------------------------------------------------

def _no_traceback(status: int, err: str) -> list[str]:
    """Return stderr's warning lines after checking it holds no traceback and, on exit 1, one line."""
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if status == 1:
        assert len(lines) == 1 and lines[0].startswith("viewcore: error: "), err
    else:
        assert status == 0, err
    return [ln for ln in lines if ln.startswith("viewcore: warning: ")]


def _truncation_warning(ex: Expected) -> str:
    return (f"truncated core: file ends at {ex.cut:#x}, {ex.loads_cut} of {ex.loads_with_data} "
            f"PT_LOAD segments ({ex.missing_mib:.1f} MiB) missing")


def _frames_match(entry, t, g) -> bool:
    mine = [(f.func, f.file, f.line) for f in g.frames]
    theirs = [(f.func, f.file, f.line) for f in t.frames]
    if t.elided:
        mine = mine[:len(theirs)]
    if g.status == "running":          # read after the crash: extra innermost runtime frames
        return mine[len(mine) - len(theirs):] == theirs
    return mine == theirs


@pytest.mark.parametrize("entry,cut", _params())
def test_overview_through_the_cli(capsys, tmp_path, entry, cut):
    s = _subject(entry["core"])
    path, ex = _cut_core(s, cut, tmp_path)
    status, out, err = run_cli(capsys, path, "--exe", s.exe_path, "--json", "overview")
    warnings = _no_traceback(status, err)
    assert status == 0
    doc = json.loads(out)
    assert doc["partial"] is True
    assert any(_truncation_warning(ex) in w for w in warnings), (warnings, _truncation_warning(ex))
    if ex.threads is not None:
        assert doc["threads"] == ex.threads
    if ex.threads == 0:
        assert any("notes" in w and "not in the file" in w for w in warnings), warnings
    if ex.goroutines is None:
        assert doc["goroutines"] is None
        assert any("runtime.allgs" in w for w in warnings), warnings
    else:
        assert doc["goroutines"] == len(ex.goroutines)
    if ex.heap == "none":
        assert doc["heap"] is None
        assert any(w.startswith("viewcore: warning: heap: ") and "mheap_" in w for w in warnings), warnings
    else:
        ms = s.case.manifest["memstats"]
        assert 0 < doc["heap"]["objects"] <= ms["HeapObjects"]
        assert 0 < doc["heap"]["bytes"] <= ms["HeapAlloc"]


@pytest.mark.parametrize("entry,cut", _params())
def test_goroutines_and_heap_through_the_api(tmp_path, entry, cut):
    s = _subject(entry["core"])
    path, ex = _cut_core(s, cut, tmp_path)
    gp = gocore.open(path, exe=s.exe_path)
    assert gp.partial and gp.warnings[0].startswith(_truncation_warning(ex))
    if ex.goroutines is None:
        with pytest.raises(gocore.GoCoreError, match="runtime.allgs"):
            gp.goroutines()
    else:
        ours = {g.id: g for g in gp.goroutines()}
        assert set(ours) == set(ex.goroutines)
        for gid, stack_whole in ex.goroutines.items():
            t, g = s.tb[gid], ours[gid]
            if entry["kind"] == "gcore" and g.system:
                continue          # the runtime's own goroutines moved between gcore and SIGQUIT
            if t.stack_unavailable:
                continue
            if stack_whole:
                assert not g.partial and _frames_match(entry, t, g), (gid, g.problem)
            else:
                assert g.partial and g.problem, gid
    if ex.heap == "none":
        with pytest.raises(gocore.GoCoreError, match="mheap_"):
            gp.heap_figures()
        return
    names, _, counts, _ = gp.histogram()
    lost = [a for a in s.mspans() if not s.raw.present(a, s.whole.layout.size("runtime.mspan"), ex.cut)]
    if lost:
        assert any(f"unreadable mspan: {len(lost)}" in w for w in gp.warnings), gp.warnings
    got = Counter()
    for name, c in zip(names, counts):
        got[name] += int(c)
    made = s.case.manifest["counts"]
    for name, n in made.items():
        if name not in NOT_OBJECTS:
            assert got[name] <= n, name
    assert sum(got[n] for n in made if n not in NOT_OBJECTS) > 0


@pytest.mark.parametrize("entry,cut", [p for p in _params() if p.values[1] in (0.9, "spans")])
def test_histogram_and_goroutines_commands(capsys, tmp_path, entry, cut):
    s = _subject(entry["core"])
    path, ex = _cut_core(s, cut, tmp_path)
    status, out, err = run_cli(capsys, path, "--exe", s.exe_path, "--json", "histogram")
    _no_traceback(status, err)
    if ex.heap == "none":
        assert status == 1 and "mheap_" in err, err
    else:
        rows = json.loads(out)
        assert status == 0 and rows and all(r["bytes"] == r["count"] * r["size"] for r in rows)
    status, out, err = run_cli(capsys, path, "--exe", s.exe_path, "--json", "goroutines")
    warnings = _no_traceback(status, err)
    assert status == 0 and any("truncated core" in w for w in warnings)
    assert {g["id"] for g in json.loads(out)} == set(ex.goroutines)


# ---- synthetic cores: every cut after the program headers opens ------------------------

def _synth() -> bytes:
    from tests.synth.elfcore import SynthCore
    s = SynthCore()
    s.threads.append((101, {"rip": 0x401000, "rsp": 0xc000001000}, 11))
    s.threads.append((102, {"rip": 0x402000, "rsp": 0xc000002000}, 0))
    s.loads.append((0xc000000000, 0x1000, b"\x11" * 0x1000, 6))
    s.loads.append((0xc000001000, 0x1000, b"\x22" * 0x1000, 6))
    return s.build()


HEADERS = 64 + 56 * 3          # ELF header and 3 program headers (1 PT_NOTE, 2 PT_LOAD)
NOTE = 12 + 8 + 336            # one NT_PRSTATUS note: header, "CORE\0" padded, descriptor


def _open_cut(tmp_path, n: int):
    import core
    p = tmp_path / f"cut{n}"
    p.write_bytes(_synth()[:n])
    return core.open_dump(p)


def test_synth_cut_in_the_last_segment(tmp_path):
    import core
    data = _synth()
    proc = _open_cut(tmp_path, len(data) - 8)
    assert [t.tid for t in proc.threads] == [101, 102]
    assert proc.warnings == [f"truncated core: file ends at {len(data) - 8:#x}, 1 of 2 PT_LOAD "
                             "segments (0.0 MiB) missing; their bytes read as absent"]
    assert proc.read(0xc000001000, 0x1000 - 8) == b"\x22" * (0x1000 - 8)
    with pytest.raises(core.UnmappedAddress, match="past the end of the truncated dump"):
        proc.read(0xc000001ff8, 8)
    m = {x.start: x for x in proc.mappings}
    assert m[0xc000000000].present and not m[0xc000001000].present


def test_synth_cut_in_the_notes_keeps_the_whole_notes(tmp_path):
    import core
    proc = _open_cut(tmp_path, HEADERS + NOTE + 100)    # inside thread 102's note
    assert [t.tid for t in proc.threads] == [101]
    assert proc.signal == 11 and proc.pid == 101
    assert any("the notes end early" in w and "1 threads' registers read" in w for w in proc.warnings)
    assert any("2 of 2 PT_LOAD segments (0.0 MiB) missing" in w for w in proc.warnings)
    with pytest.raises(core.UnmappedAddress):
        proc.read(0xc000000000, 8)


def test_synth_notes_gone(tmp_path):
    proc = _open_cut(tmp_path, HEADERS)
    assert proc.threads == [] and proc.pid is None and proc.crash_thread is None
    assert any("the notes (threads, registers, mapped files) are not in the file" in w
               for w in proc.warnings), proc.warnings
