"""Runtime type descriptors and malloc-header types, checked against Go's own records.

Truth comes from Go, never from our output: the DWARF the compiler wrote (names, sizes and
DW_AT_go_runtime_type), the manifest the fixture program printed (object addresses and the
element types it allocated), and the runtime's span records read straight from mheap.
"""

from __future__ import annotations

import re
import struct
from functools import lru_cache

import numpy as np
import pytest

import gocore
from gocore.binary import rtype as R
from gocore.heap.typeinfer import (UNKNOWN, TypeRegistry, header_type_addresses, infer_types,
                              type_section_check)
from tests.conftest import dump_cases, fixture_index, open_case

CRASH = dump_cases(kinds=("crash",))
CRASH_DWARF = dump_cases(kinds=("crash",), stripped=False)


@lru_cache(maxsize=None)
def _gp(core_path: str):
    entry = next(e for e in fixture_index() if e["core"] == core_path)
    case, proc = open_case(entry)
    return case, gocore.load(proc)


def gp_of(entry):
    return _gp(entry["core"])


def _minor(entry) -> tuple[int, int]:
    a, b = entry["go_version"][2:].split(".")[:2]
    return int(a), int(b)


# DWARF spells function-local types with a "·N" suffix that the descriptor does not carry.
_LOCAL = re.compile(r"·\d+")


@pytest.mark.parametrize("entry", CRASH_DWARF)
def test_dwarf_types_decode_to_same_name_and_size(entry):
    case, gp = gp_of(entry)
    rts = R.runtime_types(gp)
    checked = named = 0
    for t in gp.dwarf.types:
        if not t.rtype_off:
            continue
        addr = rts.types_base + t.rtype_off
        if not rts.in_types(addr):
            continue  # e.g. uintptr's attribute in Go <= 1.22 points outside the type section
        rt = rts.get(addr)
        assert rt.size == t.size, (t.name, rt)
        checked += 1
        if rt.named:
            named += 1
            assert rts.qualified_name(rt) == _LOCAL.sub("", t.name)
    assert checked > 500 and named > 200


@pytest.mark.parametrize("entry", CRASH_DWARF)
def test_dwarf_gc_masks_match_pointer_layout(entry):
    case, gp = gp_of(entry)
    rts = R.runtime_types(gp)
    tt = gp.dwarf.types
    n = 0
    for t in tt:
        if not t.rtype_off or not rts.in_types(rts.types_base + t.rtype_off):
            continue
        rt = rts.get(rts.types_base + t.rtype_off)
        want = np.zeros(rt.size // 8, dtype=bool)
        want[tt.pointer_words(t)] = True
        assert np.array_equal(rts.gc_mask(rt), want), t.name
        n += 1
    assert n > 500


@pytest.mark.parametrize("entry", CRASH)
def test_program_types_by_name(entry):
    case, gp = gp_of(entry)
    rts = R.runtime_types(gp)
    by_name = {t.name: t for t in rts.all_types()}
    for name, size in case.manifest["type_sizes"].items():
        t = by_name.get(name)
        if t is None:  # only types that reach an interface or a pointer are listed
            continue
        assert t.size == size and t.kind == R.STRUCT and t.named
        assert rts.qualified_name(t) == name
    node = by_name["main.Node"]
    assert [(f.name, rts.get(f.type).name, f.offset) for f in node.fields] == \
        [("Value", "int64", 0), ("Next", "*main.Node", 8)]
    assert node.pkg_path == "main"
    ptr = rts.get(node.ptr_to_this)
    assert ptr.name == "*main.Node" and ptr.kind == R.POINTER and ptr.elem == node.addr
    m = by_name["map[string]*main.Item"]
    assert rts.get(m.key).name == "string" and rts.get(m.elem).name == "*main.Item"
    group = rts.get(m.group)
    if gp.facts.swiss_maps:
        assert group.name == "map.group[string]*main.Item"
        assert group.size == m.extra["group_size"]
    else:
        assert group.name == "map.bucket[string]*main.Item"
        assert group.size == m.extra["bucket_size"]
    f = by_name["func(*main.Finalized)"]
    assert f.kind == R.FUNC and not f.results and [rts.get(a).name for a in f.params] == ["*main.Finalized"]


@pytest.mark.parametrize("entry", CRASH)
def test_unnamed_names_agree_with_structure(entry):
    # the descriptor's string (reflect's String) against the types its pointers lead to
    case, gp = gp_of(entry)
    rts = R.runtime_types(gp)
    n = 0
    for t in rts.all_types():
        if t.named:
            continue
        spelled = {R.POINTER: "*{e}", R.SLICE: "[]{e}", R.ARRAY: "[{n}]{e}"}.get(t.kind)
        if spelled is not None:
            assert t.name == spelled.format(e=rts.get(t.elem).name, n=t.len), t
            n += 1
        elif t.kind == R.MAP:
            assert t.name == f"map[{rts.get(t.key).name}]{rts.get(t.elem).name}"
            n += 1
        elif t.kind == R.ARRAY:
            assert rts.get(t.elem).size * t.len == t.size
    assert n > 200


@pytest.mark.parametrize("entry", CRASH)
def test_direct_iface_flag(entry):
    case, gp = gp_of(entry)
    rts = R.runtime_types(gp)
    for t in rts.all_types():
        # abi.TFlagDirectIface: "a cached computation of Size_ == PtrBytes == goarch.PtrSize"
        # (go1.26); kindDirectIface before, for pointer-shaped types (plus not-in-heap
        # pointers, whose ptrdata is 0)
        if t.kind in (R.POINTER, R.UNSAFE_POINTER, R.MAP, R.CHAN) and t.ptrdata == 8:
            assert t.direct_iface, t
        if gp.facts.direct_iface_in_tflag:
            assert t.direct_iface == (t.size == t.ptrdata == 8), t
        if t.ptrdata == 0 and t.kind != R.POINTER:
            assert not t.direct_iface, t


def _names_and_itabs(entry):
    case, gp = gp_of(entry)
    rts = R.runtime_types(gp)
    names = sorted((t.name, t.size, t.kind, t.ptrdata) for t in rts.all_types())
    itabs = sorted((rts.get(i.inter).name, rts.get(i.type).name) for i in rts.itabs())
    return names, itabs, [rts.get(a).name for a in rts.typelink_addresses()]


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",), stripped=True))
def test_stripped_gives_the_dwarf_builds_types(entry):
    twin = next(e for e in fixture_index() if e["go_version"] == entry["go_version"]
                and e["kind"] == "crash" and not e.get("stripped"))
    s_names, s_itabs, s_links = _names_and_itabs(entry)
    d_names, d_itabs, d_links = _names_and_itabs(twin)
    assert s_names == d_names  # addresses may move (go1.27 stripped: by 32 bytes)
    assert s_itabs == d_itabs and s_links == d_links
    assert len(s_names) > 600 and len(s_itabs) >= 15


@pytest.mark.parametrize("entry", CRASH)
def test_typelinks_sorted_by_string(entry):
    # the linker sorts typelinked descriptors by type string (reflect relies on it)
    names = _names_and_itabs(entry)[2]
    assert names and names == sorted(names)


@pytest.mark.parametrize("entry", CRASH)
def test_itabs(entry):
    case, gp = gp_of(entry)
    rts = R.runtime_types(gp)
    pairs = {(rts.get(i.inter).name, rts.get(i.type).name) for i in rts.itabs()}
    assert ("error", "*errors.errorString") in pairs
    for i in rts.itabs():
        assert rts.get(i.inter).kind == R.INTERFACE and rts.get(i.inter).imethods


# ---- malloc headers, against the runtime's own span records ----

def _span_of(gp, a: int):
    """Return (slot start, elemsize, noscan, largeType) of heap address ``a`` via mheap_.arenas."""
    L = gp.layout
    pr = gp.process
    mh = gp.runtime_globals["runtime.mheap_"]
    l2bits = L.const("runtime.arenaL2Bits")
    idx = (a + (1 << 47)) // L.const("runtime.heapArenaBytes")  # amd64 arenaBaseOffset
    l1 = idx >> l2bits if L.const("runtime.arenaL1Bits") else 0
    l2 = idx & ((1 << l2bits) - 1)
    arr = pr.read_ptr(mh + L.offset("runtime.mheap", "arenas") + 8 * l1)
    ha = pr.read_ptr(arr + 8 * l2)
    page = (a // L.const("runtime._PageSize")) % L.const("runtime.pagesPerArena")
    s = pr.read_ptr(ha + L.offset("runtime.heapArena", "spans") + 8 * page)
    start = pr.read_ptr(s + L.offset("runtime.mspan", "startAddr"))
    es = pr.read_ptr(s + L.offset("runtime.mspan", "elemsize"))
    sc = pr.read(s + L.offset("runtime.mspan", "spanclass"), 1)[0]
    lt = pr.read_ptr(s + L.offset("runtime.mspan", "largeType")) if L.has("runtime.mspan", "largeType") else 0
    return start + (a - start) // es * es, es, bool(sc & 1), lt


# object -> the type the program allocated it with (the element type for make([]T, n))
HEADER_EXPECT = {"leak_array": "*main.Leak", "arr_mid_array": "*main.ElemM",
                 "arr_large_array": "*main.ElemL", "ifaces_array": "interface {}",
                 "strs_array": "string", "pairs_array": "main.Pair", "big": "main.BigObj"}
NO_HEADER = ("arr_small_array", "finalized_array", "list_head", "leak_first", "local_only",
             "leak_first_payload", "closure")


@pytest.mark.parametrize("entry", CRASH)
def test_malloc_header_types(entry):
    case, gp = gp_of(entry)
    rts = R.runtime_types(gp)
    objs = case.manifest["objects"]
    names = list(HEADER_EXPECT) + list(NO_HEADER)
    spans = [_span_of(gp, objs[k]) for k in names]
    addrs = np.array([s[0] for s in spans], np.uint64)
    sizes = np.array([s[1] for s in spans], np.uint64)
    noscan = np.array([s[2] for s in spans])
    large = np.array([s[3] if s[1] > 32768 else 0 for s in spans], np.uint64)
    big = sizes > 32768
    rec = header_type_addresses(gp.process, addrs, sizes, gp.facts, noscan=noscan,
                                large_type=large[big])
    guessed = header_type_addresses(gp.process, addrs, sizes, gp.facts,
                                    valid=type_section_check(rts), large_type=large[big])
    assert all(np.array_equal(a, b) for a, b in zip(rec, guessed))
    got = np.zeros(len(addrs), np.uint64)
    got[rec.ids] = rec.types
    if not gp.facts.malloc_headers:
        assert not got.any()
        return
    for k, a, sz, t in zip(names, addrs, sizes, got):
        if k in HEADER_EXPECT:
            assert t, k
            assert rts.get(int(t)).name == HEADER_EXPECT[k], k
            # the user pointer follows the 8-byte header in small spans
            assert objs[k] - int(a) == (8 if sz <= 32768 else 0), k
        else:
            assert t == 0, k


@pytest.mark.parametrize("entry", CRASH_DWARF)
def test_infer_types_from_headers_and_roots(entry):
    case, gp = gp_of(entry)
    objs = case.manifest["objects"]
    keys = ["leak_array", "leak_first", "list_head", "big", "big_child", "iface_thing",
            "arr_mid_array", "ifaces_array", "ifaces_first", "strs_array"]
    spans = {k: _span_of(gp, objs[k]) for k in keys}
    order = sorted(set((s[0], s[1], s[2], s[3]) for s in spans.values()))
    addr = np.array([o[0] for o in order], np.uint64)
    size = np.array([o[1] for o in order], np.uint64)
    noscan = np.array([o[2] for o in order])
    large = np.array([o[3] if o[1] > 32768 else 0 for o in order], np.uint64)
    hdr = header_type_addresses(gp.process, addr, size, gp.facts, noscan=noscan,
                                large_type=large[size > 32768])
    rts = R.runtime_types(gp)
    reg = TypeRegistry(rts, gp.dwarf.types if gp.dwarf is not None else None)
    # typed roots: the globals main.leak ([]*main.Leak), main.list (*main.Node), main.iface
    g = case.manifest["globals"]
    tt = reg.table
    roots = [(g["main.leak"], tt.lookup("[]*main.Leak").id),
             (g["main.list"], tt.lookup("*main.Node").id),
             (g["main.ifaces"], tt.lookup("[]interface {}").id),
             (g["main.strs"], tt.lookup("[]string").id)]
    res = infer_types(gp, addr, size, roots, header_types=hdr, registry=reg)
    idx = {k: int(np.searchsorted(addr, spans[k][0])) for k in keys}
    name = {k: res.name(i) for k, i in idx.items()}
    leak_n = (int(size[idx["leak_array"]]) - int(res.data_off[idx["leak_array"]])) // 8
    assert name["leak_array"] == f"[{leak_n}]*main.Leak"
    assert name["leak_first"] == "main.Leak"
    assert name["list_head"] == "main.Node"
    assert name["ifaces_first"] == "main.Thing2"
    assert name["strs_array"].endswith("]string")
    if gp.facts.malloc_headers:
        assert name["big"] == "main.BigObj" and name["big_child"] == "main.BigChild"
        assert name["arr_mid_array"] == "[1023]*main.ElemM"
        assert res.from_header[idx["leak_array"]]
    else:  # no root reaches these here: never guessed
        assert name["big"] is None and name["arr_mid_array"] is None
    assert name["iface_thing"] is None  # main.iface was not given as a root
    assert (res.type_id[[idx["iface_thing"]]] == UNKNOWN).all()


# ---- synthetic: GC programs and the word gather ----

class _FakeProc:
    def __init__(self, base: int, data: bytes):
        self.base, self.data = base, data

    def read(self, addr, n):
        o = addr - self.base
        if o < 0 or o + n > len(self.data):
            raise ValueError("unmapped")
        return self.data[o:o + n]


def _prog_runner(prog: bytes):
    rts = R.RuntimeTypes.__new__(R.RuntimeTypes)
    rts.proc = _FakeProc(0x1000, struct.pack("<I", len(prog)) + prog)
    return rts


def test_gc_program_literal_and_repeat():
    # literal 2 bits "10", repeat the last 2 bits 3 times, literal 1 bit "1", end
    prog = bytes([2, 0b01, 0x82, 3, 1, 0b1, 0])
    bits = _prog_runner(prog)._run_gc_prog(0x1000, 9)
    assert bits.tolist() == [True, False] * 4 + [True]


def test_gc_program_long_repeat_count():
    # literal 1 bit "1", repeat n given by varint (0x80 then n=1), c=200 (varint 0xC8 0x01)
    prog = bytes([1, 1, 0x80, 1, 0xC8, 0x01, 0])
    bits = _prog_runner(prog)._run_gc_prog(0x1000, 201)
    assert bits.all() and len(bits) == 201


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",), stripped=False)[:1])
def test_gather_words_matches_read_ptr(entry):
    case, gp = gp_of(entry)
    pr = gp.process
    objs = sorted(case.manifest["objects"].values())
    addrs = np.array(objs + [0, 8], np.uint64)
    w, ok = pr.gather.words(addrs)
    assert ok[:len(objs)].all() and not ok[len(objs):].any()
    assert [int(x) for x in w[:len(objs)]] == [pr.read_ptr(a) for a in objs]
