"""DWARF types, globals and constants; the runtime layout (DWARF and built-in tables); facts.

Truth comes from Go, never from our own output: the ELF symbol table, the fixture program's
MANIFEST (addresses, ``unsafe.Sizeof``, ``unsafe.Offsetof``), the GC pointer masks the
compiler wrote into each type descriptor, and the sizes of ``runtime.g`` listed in
``shared/docs/making-dumps.md``.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from core.exe import open_executable
from gocore.binary.dwarf import DwarfData, load_dwarf
from gocore.errors import GoCoreError, MissingDebugInfo, RuntimeLayoutError, UnsupportedGoVersion
from gocore.binary.facts import detect
from gocore.binary.gotypes import Field, Kind, TypeTable
from gocore.binary.layout import Layout, buildinfo_version, load_layout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DUMPS = os.path.join(ROOT, "fixtures", "dumps")
INDEX = os.path.join(DUMPS, "index.json")


def _fixtures() -> dict[str, dict]:
    """Return {go_version: {"exe", "stripped_exe", "manifest"}} from the fixture index."""
    if not os.path.exists(INDEX):
        return {}
    with open(INDEX) as f:
        entries = json.load(f)
    out: dict[str, dict] = {}
    for e in entries:
        v = out.setdefault(e["go_version"], {})
        key = "stripped_exe" if e.get("stripped") else "exe"
        path = os.path.join(DUMPS, e["exe"])
        if os.path.exists(path):
            v.setdefault(key, path)
        if not e.get("stripped") and e.get("manifest"):
            m = os.path.join(DUMPS, e["manifest"])
            if os.path.exists(m):
                v.setdefault("manifest", m)
    return {k: v for k, v in out.items() if "exe" in v}


FIXTURES = _fixtures()
VERSIONS = sorted(FIXTURES, key=lambda s: tuple(int(x) for x in s[2:].split(".")))
needs_fixtures = pytest.mark.skipif(
    not FIXTURES, reason=f"no fixture executables ({INDEX} missing; run fixtures/make_dumps.py)")


def minor(version: str) -> tuple[int, int]:
    parts = version[2:].split(".")
    return int(parts[0]), int(parts[1])


_CACHE: dict[str, tuple] = {}


def loaded(version: str):
    """Return (exe, dwarf data, CPU seconds to load) for a fixture version, cached. CPU
    time, not wall time: the suite may share the machine's two cores with other work."""
    if version not in _CACHE:
        exe = open_executable(FIXTURES[version]["exe"])
        t = time.process_time()
        d = load_dwarf(exe)
        _CACHE[version] = (exe, d, time.process_time() - t)
    return _CACHE[version]


def manifest(version: str) -> dict:
    path = FIXTURES[version].get("manifest")
    if not path:
        pytest.skip(f"{version}: no manifest in the fixtures")
    with open(path) as f:
        return json.load(f)


per_version = pytest.mark.parametrize("version", VERSIONS)

# sizeof(runtime.g) per Go release, from shared/docs/making-dumps.md
G_SIZE = {(1, 19): 392, (1, 21): 408, (1, 22): 424, (1, 23): 432, (1, 24): 440, (1, 25): 440,
          (1, 26): 456, (1, 27): 456}


# ---- DWARF: globals, sizes, names ----

@needs_fixtures
@per_version
def test_load_is_fast(version):
    _, _, seconds = loaded(version)
    assert seconds < 2.0, f"{version}: DWARF took {seconds:.2f} s"


@needs_fixtures
@per_version
def test_dwarf_version(version):
    _, d, _ = loaded(version)
    assert d.version == (5 if minor(version) >= (1, 25) else 4)
    assert d.go_version == version
    assert d.ptr_size == 8


@needs_fixtures
@per_version
def test_every_global_is_at_its_symbol_address(version):
    exe, d, _ = loaded(version)
    syms = exe.symbols
    assert len(d.globals) > 300
    wrong = {n: (hex(g.addr), syms.get(n)) for n, g in d.globals.items()
             if n not in syms or syms[n][0] != g.addr}
    assert not wrong


@needs_fixtures
@per_version
def test_globals_match_manifest_addresses(version):
    _, d, _ = loaded(version)
    m = manifest(version)
    for name, addr in m["globals"].items():
        assert d.globals[name].addr == addr, name


@needs_fixtures
@per_version
def test_global_types_spelled_the_go_way(version):
    _, d, _ = loaded(version)
    T = d.types
    expect = {
        "main.list": ("*main.Node", Kind.PTR), "main.leak": ("[]*main.Leak", Kind.SLICE),
        "main.smallMap": ("map[string]*main.Item", Kind.MAP),
        "main.bigMap": ("map[int]*main.Item", Kind.MAP),
        "main.iface": ("interface {}", Kind.EFACE), "main.ifaces": ("[]interface {}", Kind.SLICE),
        "main.fn": ("func() int", Kind.FUNC), "main.strs": ("[]string", Kind.SLICE),
        "main.big": ("*main.BigObj", Kind.PTR), "main.pairs": ("[]main.Pair", Kind.SLICE),
        "main.chRecv": ("chan int", Kind.CHAN), "main.mu": ("sync.Mutex", Kind.STRUCT),
        "main.cond": ("*sync.Cond", Kind.PTR), "main.finalizersRun": ("int64", Kind.INT),
    }
    for gname, (tname, kind) in expect.items():
        t = T[d.globals[gname].type]
        assert (t.name, t.kind) == (tname, kind), gname
        assert T.lookup(tname) is t
        assert d.globals[gname].size == t.size


@needs_fixtures
@per_version
def test_type_shapes(version):
    _, d, _ = loaded(version)
    T = d.types
    node = T.lookup("main.Node")
    assert T.lookup("*main.Node").elem == node.id
    assert [(f.name, T[f.type].name) for f in node.fields] == [("Value", "int64"), ("Next", "*main.Node")]
    leaks = T.lookup("[]*main.Leak")
    assert T[leaks.elem].name == "*main.Leak" and leaks.size == 24
    m = T.lookup("map[string]*main.Item")
    assert (T[m.key].name, T[m.elem].name, m.size) == ("string", "*main.Item", 8)
    assert m.target is not None and T[m.target].kind is Kind.STRUCT  # hash<K,V> / map<K,V>
    arr = T.lookup("[40000]uint8")
    assert (arr.kind, arr.len, arr.size, T[arr.elem].name) == (Kind.ARRAY, 40000, 40000, "uint8")
    ch = T.lookup("chan int")
    assert T[ch.elem].name == "int" and T[ch.target].kind is Kind.STRUCT
    assert T.lookup("error").kind is Kind.IFACE
    assert T.lookup("string").kind is Kind.STRING
    assert T.lookup("unsafe.Pointer").kind is Kind.UNSAFE_PTR
    assert T.lookup("uintptr").kind is Kind.UINTPTR
    assert T.lookup("bool").kind is Kind.BOOL
    assert (T.lookup("float64").kind, T.lookup("float64").size) == (Kind.FLOAT, 8)
    assert (T.lookup("int32").kind, T.lookup("int32").size) == (Kind.INT, 4)
    # the offset of the runtime type descriptor Go attached to the type
    assert node.rtype_off and T.by_rtype_off(node.rtype_off) is node


@needs_fixtures
@per_version
def test_type_sizes_match_unsafe_sizeof(version):
    _, d, _ = loaded(version)
    m = manifest(version)
    for name, size in m["type_sizes"].items():
        assert d.types.lookup(name).size == size, name
    node = d.types.lookup("main.Node")
    assert node.field("Value").offset == m["list"]["value_offset"]
    assert node.field("Next").offset == m["list"]["next_offset"]


@needs_fixtures
@per_version
def test_runtime_g_size(version):
    _, d, _ = loaded(version)
    assert d.types.lookup("runtime.g").size == G_SIZE[minor(version)]


@needs_fixtures
@per_version
def test_constants(version):
    _, d, _ = loaded(version)
    c = d.constants
    assert c["runtime._PageSize"] == 8192
    assert c["runtime._Grunning"] == 2 and c["runtime._Gwaiting"] == 4
    assert ("runtime.minSizeForMallocHeader" in c) == (minor(version) >= (1, 22))
    assert ("internal/abi.TFlagDirectIface" in c) == (minor(version) >= (1, 26))
    assert d.types[d.constant_types["runtime.waitReasonZero"]].name == "runtime.waitReason"


# ---- pointer offsets ----

MAIN_POINTERS = {  # byte offsets of pointer words, read off the declarations in heapkeeper/main.go
    "main.Node": [8], "main.Leak": [8], "main.Item": [16], "main.Thing": [8], "main.Thing2": [8],
    "main.Captured": [8], "main.BigObj": [40000], "main.BigChild": [8], "main.Finalized": [8],
    "main.ElemS": [], "main.ElemM": [], "main.ElemL": [], "main.PairA": [8], "main.Pair": [0],
    "main.LocalOnly": [],
}


@needs_fixtures
@per_version
def test_pointer_offsets_of_fixture_types(version):
    _, d, _ = loaded(version)
    for name, want in MAIN_POINTERS.items():
        assert d.types.pointer_offsets(d.types.lookup(name)).tolist() == want, name


def _gc_mask_offsets(exe, d, t, layout) -> list[int] | None:
    """Return the pointer offsets from the GC mask Go compiled into ``t``'s type descriptor,
    or None when the descriptor holds no plain mask (GC program, mask built on demand)."""
    base = exe.symbols["runtime.types"][0]  # moduledata.types
    rt = exe.read_static(base + t.rtype_off, layout.size("runtime._type"))
    if rt is None:
        return None
    word = lambda path: int.from_bytes(  # noqa: E731
        rt[layout.offset("runtime._type", path):][:layout.field_size("runtime._type", path)], "little")
    ptrdata, tflag, kind, gcdata = word("ptrdata"), word("tflag"), word("kind"), word("gcdata")
    if kind & layout.const("internal/abi.KindGCProg", default=0):
        return None
    if tflag & layout.const("internal/abi.TFlagGCMaskOnDemand", default=0):
        return None
    if word("size") != t.size:
        raise AssertionError(f"{t.name}: descriptor size {word('size')} != DWARF size {t.size}")
    nwords = ptrdata // 8
    if nwords == 0:
        return []
    mask = exe.read_static(gcdata, (nwords + 7) // 8)
    if mask is None:
        return None
    bits = np.unpackbits(np.frombuffer(mask, np.uint8), bitorder="little")[:nwords]
    return (np.flatnonzero(bits) * 8).tolist()


@needs_fixtures
@per_version
def test_pointer_offsets_equal_go_gc_masks(version):
    """Every struct, array, slice, string and interface type with a descriptor: our pointer
    offsets equal the GC pointer mask the Go compiler wrote."""
    exe, d, _ = loaded(version)
    layout = Layout.from_dwarf(d)
    checked = 0
    for t in d.types:
        if not t.rtype_off or t.kind not in (Kind.STRUCT, Kind.ARRAY, Kind.SLICE, Kind.STRING,
                                                Kind.IFACE, Kind.EFACE, Kind.PTR, Kind.MAP, Kind.CHAN):
            continue
        want = _gc_mask_offsets(exe, d, t, layout)
        if want is None:
            continue
        assert d.types.pointer_offsets(t).tolist() == want, t.name
        checked += 1
    assert checked > 300


def test_pointer_offsets_synthetic():
    T = TypeTable(ptr_size=8)
    u64 = T.add("uint64", Kind.UINT, 8)
    p = T.add("*uint64", Kind.PTR, 8, elem=u64.id)
    s = T.add("string", Kind.STRING, 16)
    e = T.add("interface {}", Kind.EFACE, 16)
    inner = T.add("main.In", Kind.STRUCT, 32, fields=(Field("A", 0, u64.id), Field("S", 8, s.id),
                                                       Field("P", 24, p.id)))
    arr = T.add("[3]main.In", Kind.ARRAY, 96, elem=inner.id, len=3)
    outer = T.add("main.Out", Kind.STRUCT, 120, fields=(Field("E", 0, e.id), Field("Arr", 16, arr.id),
                                                         Field("N", 112, u64.id)))
    noptr = T.add("[1000000]uint64", Kind.ARRAY, 8_000_000, elem=u64.id, len=1_000_000)
    T.index()
    assert T.pointer_offsets(outer).tolist() == [8, 24, 40, 56, 72, 88, 104]
    assert T.pointer_words(outer).tolist() == [1, 3, 5, 7, 9, 11, 13]
    assert T.pointer_offsets(noptr).tolist() == []
    assert T.pointer_offsets(outer) is T.pointer_offsets(outer.id)  # cached
    assert not T.pointer_offsets(outer).flags.writeable
    assert T.lookup("main.Out") is outer and T.lookup("nope") is None


# ---- layout: DWARF and built-in tables ----

@needs_fixtures
@per_version
def test_layout_from_dwarf(version):
    _, d, _ = loaded(version)
    L = Layout.from_dwarf(d)
    assert L.size("runtime.g") == G_SIZE[minor(version)]
    g = d.types.lookup("runtime.g")
    sched = g.field("sched")
    gobuf = d.types[sched.type]
    assert L.offset("runtime.g", "sched.pc") == sched.offset + gobuf.field("pc").offset
    assert L.offset("runtime.g", "goid") == g.field("goid").offset
    assert L.has("runtime.g", "parentGoid") == (minor(version) >= (1, 21))
    assert L.has("runtime.mspan", "largeType") == (minor(version) >= (1, 22))
    # both spellings of renamed runtime types work; the one found is reported
    itab = "runtime.itab" if minor(version) <= (1, 22) else "internal/abi.ITab"
    assert L.struct_name("runtime.itab") == itab == L.struct_name("internal/abi.ITab")
    assert L.offset("runtime.itab", "_type") == L.offset("internal/abi.ITab", "Type") == 8
    assert L.offset("runtime._type", "gcdata") == 32
    assert L.const("runtime._PageSize") == 8192
    assert L.const("runtime.nope", default=-1) == -1
    with pytest.raises(RuntimeLayoutError, match="runtime.g.nope"):
        L.offset("runtime.g", "nope")


@needs_fixtures
@per_version
def test_table_layout_equals_dwarf_layout(version):
    _, d, _ = loaded(version)
    from gocore.generated.layout_tables import TABLES
    key = "%d.%d" % minor(version)
    assert key in TABLES, f"regenerate gocore/generated/layout_tables.py (tools/gen_layout_tables.py) for {version}"
    from_dwarf = Layout.from_dwarf(d).to_table()
    from_table = Layout.from_table(version).to_table()
    assert from_table == from_dwarf


@needs_fixtures
@per_version
def test_stripped_executable_uses_table(version):
    path = FIXTURES[version].get("stripped_exe")
    if not path:
        pytest.skip(f"{version}: no stripped fixture executable")
    exe = open_executable(path)
    assert not exe.has_dwarf
    with pytest.raises(MissingDebugInfo, match="stripped"):
        load_dwarf(exe)
    assert buildinfo_version(exe) == version
    L = load_layout(exe)
    assert L.source.startswith("built-in table")
    _, d, _ = loaded(version)
    assert L.to_table() == Layout.from_dwarf(d).to_table()
    assert detect(L) == detect(Layout.from_dwarf(d))


def test_table_for_unknown_versions():
    newer = Layout.from_table("go1.99.1")
    assert newer.warnings and "go1.99" in newer.warnings[0]
    between = Layout.from_table("go1.20.3")
    assert "go1.19" in between.source and between.warnings
    with pytest.raises(UnsupportedGoVersion, match="go1.18"):
        Layout.from_table("go1.18")
    with pytest.raises(MissingDebugInfo):
        Layout.from_table("devel +abc")


def test_missing_layout_names_everything_in_one_line():
    d = DwarfData(types=TypeTable(), constants={"runtime._PageSize": 8192})
    d.types.index()
    with pytest.raises(RuntimeLayoutError) as ei:
        Layout.from_dwarf(d)
    msg = str(ei.value)
    assert "\n" not in msg
    for name in ("runtime.g", "runtime.mspan", "runtime._type", "runtime.itab", "runtime.pagesPerArena"):
        assert name in ei.value.missing and name in msg
    assert "runtime._PageSize" not in ei.value.missing
    assert "runtime.hmap" not in ei.value.missing  # optional


@needs_fixtures
def test_missing_field_is_named_with_its_struct():
    _, d, _ = loaded(VERSIONS[-1])
    g = d.types.lookup("runtime.g")
    saved = g.fields
    g.fields = tuple(f for f in saved if f.name not in ("goid", "sched"))
    try:
        with pytest.raises(RuntimeLayoutError) as ei:
            Layout.from_dwarf(d)
    finally:
        g.fields = saved
    assert {"runtime.g.goid", "runtime.g.sched.sp", "runtime.g.sched.pc"} <= set(ei.value.missing)
    assert isinstance(ei.value, GoCoreError)


# ---- facts ----

@needs_fixtures
@per_version
def test_facts(version):
    _, d, _ = loaded(version)
    f = detect(Layout.from_dwarf(d))
    v = minor(version)
    assert f.malloc_headers == (v >= (1, 22))
    assert f.span_counts_u16 == (v >= (1, 22))
    assert f.special_offset_uintptr == (v >= (1, 24))
    assert f.swiss_maps == (v >= (1, 24))
    assert f.direct_iface_in_tflag == (v >= (1, 26))
    assert f.inline_mark_bits == (v >= (1, 26))
    assert f.arena_heap_bitmap == (v < (1, 22))
    assert f.itab_type == ("runtime.itab" if v <= (1, 22) else "internal/abi.ITab")
    assert f.rtype_type == ("runtime._type" if v == (1, 19) else "internal/abi.Type")


# ---- an independent parser agrees ----

@needs_fixtures
@pytest.mark.parametrize("version", [v for v in VERSIONS if minor(v) in ((1, 19), (1, 27))])
def test_agrees_with_pyelftools(version):
    """pyelftools (slow, independent) sees the same globals and constants."""
    exe, d, _ = loaded(version)
    info = exe.dwarf()
    globals_, consts = {}, {}
    for cu in info.iter_CUs():
        for die in cu.get_top_DIE().iter_children():
            name = die.attributes.get("DW_AT_name")
            if name is None:
                continue
            name = name.value.decode()
            if die.tag == "DW_TAG_variable" and "DW_AT_location" in die.attributes:
                loc = die.attributes["DW_AT_location"].value
                if isinstance(loc, list) and len(loc) == 9 and loc[0] == 0x03:
                    globals_.setdefault(name, int.from_bytes(bytes(loc[1:]), "little"))
            elif die.tag == "DW_TAG_constant":
                consts[name] = die.attributes["DW_AT_const_value"].value
    assert {n: g.addr for n, g in d.globals.items()} == globals_
    assert d.constants == consts
