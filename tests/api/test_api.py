"""The public API (``import gocore``, /work/shared/docs/api-contract.md) on a dump whose truth
is known: valuekeeper (see conftest.py) printed every value it set, their ``%p`` addresses
and its goroutines' headers from ``runtime.Stack`` before it was dumped."""

from __future__ import annotations

import base64
import re

import pytest

import gocore


def _addr(s: str) -> int:
    return int(s, 16)


def _orders(manifest):
    return manifest["orders"]


def test_open_returns_the_process(kept):
    gp, manifest = kept
    assert isinstance(gp, gocore.Process)
    assert gp.go_version == manifest["go_version"]


def test_objects_of_a_type_counted(kept):
    gp, manifest = kept
    for name, n in manifest["counts"].items():
        got = list(gp.objects(name))
        assert len(got) == n, name
        assert all(o.type_name == name for o in got)
        addrs = [o.address for o in got]
        assert addrs == sorted(addrs)
    assert {o.address for o in gp.objects("main.Order")} == {_addr(o["Addr"]) for o in _orders(manifest)}
    assert sum(1 for _ in gp.objects()) == gp.heap_index().live_count


def test_scalar_string_slice_fields(kept):
    gp, manifest = kept
    for want in _orders(manifest):
        o = gp.object_at(_addr(want["Addr"]))
        assert o.address == _addr(want["Addr"]) and o.type_name == "main.Order"
        assert o["ID"].get() == want["ID"]
        assert o["Count"].get() == want["Count"]
        assert o["Small"].get() == want["Small"]
        assert o["Price"].get() == want["Price"]
        assert o["OK"].get() is want["OK"]
        assert o["Name"].get() == want["Name"]
        tags = o["Tags"]
        assert len(tags) == len(want["Tags"])
        assert [t.get() for t in tags] == want["Tags"]
        assert tags[-1].get() == want["Tags"][-1]
        with pytest.raises(IndexError):
            tags[len(want["Tags"])]
        assert o["Data"].get() == base64.b64decode(want["Data"])
        assert o.value.fields()[:3] == ["ID", "Count", "Small"]


def test_map_items(kept):
    gp, manifest = kept
    for want in _orders(manifest):
        attrs = gp.object_at(_addr(want["Addr"]))["Attrs"]
        assert attrs.kind == "map"
        got = {k.get(): v.get() for k, v in attrs.items()}
        assert got == want["Attrs"]
        assert len(attrs) == len(want["Attrs"])


def test_pointer_and_interface_fields(kept):
    gp, manifest = kept
    for want in _orders(manifest):
        o = gp.object_at(_addr(want["Addr"]))
        nxt = o["Next"]
        if want["Next"]:
            assert nxt.get() == _addr(want["Next"])
            assert nxt.object.address == _addr(want["Next"])
            assert nxt.deref().address == _addr(want["Next"])
        else:
            assert nxt.get() is None and nxt.deref() is None and nxt.object is None
        leaf = o["Any"].dynamic()
        assert leaf.type_name == "*main.Leaf" and leaf.get() == _addr(want["Any"])
        assert leaf.deref()["ID"].get() == want["AnyID"]
        assert leaf["Name"].get() == want["AnyName"]              # through the pointer, as Go's p.Name
        err = o["Err"].dynamic()
        assert err.type_name == "*main.MyErr" and err.get() == _addr(want["Err"])
        assert err.deref()["Code"].get() == want["ErrCode"]
        num = o["Num"].dynamic()
        assert num.type_name == "int64" and num.get() == want["Num"]
        assert o["Num"].get() == want["Num"]
        assert (o["Next"].pointer() is None) == (not want["Next"])


def test_pointer_chain_followed(kept):
    gp, manifest = kept
    head = dict(gp.globals())["main.head"]
    seen = []
    v = head.deref()
    while v is not None:
        seen.append(v.address)
        v = v["Next"].deref()
    assert seen == [_addr(o["Addr"]) for o in _orders(manifest)]


def test_pointers_lists_the_next_order(kept):
    gp, manifest = kept
    first, second = _orders(manifest)[:2]
    o = gp.object_at(_addr(first["Addr"]))
    next_off = o["Next"].address - o.address
    assert (next_off, gp.object_at(_addr(second["Addr"]))) in list(o.pointers())


def test_object_at_between_objects_is_none(kept):
    gp, manifest = kept
    order = _addr(_orders(manifest)[0]["Addr"])
    assert gp.object_at(order + 8).address == order            # interior pointer
    hi = gp.heap_index()
    addr, size = hi.heap.addr, hi.heap.size
    gap = next(int(addr[i] + size[i]) for i in range(len(addr) - 1)
               if addr[i] + size[i] < addr[i + 1])              # a slot no object occupies
    assert hi.find(gap) == -1 and gp.object_at(gap) is None
    assert gp.object_at(0) is None and gp.object_at(-1) is None
    g = dict(gp.globals())["main.counter"]
    assert gp.object_at(g.address) is None                      # a global is not a heap object


def test_referrers_are_the_known_holders(kept):
    gp, manifest = kept
    target = gp.object_at(_addr(manifest["target"]))
    assert target["V"].get() == 77
    refs = list(target.referrers())
    assert {r.address for r in refs if isinstance(r, gocore.Object)} == {_addr(h) for h in manifest["holders"]}
    direct = gp.object_at(_addr(manifest["direct"]))
    roots = [r for r in direct.referrers() if isinstance(r, gocore.Root)]
    assert any(r.kind == "global" and r.name == "main.direct" for r in roots)


def test_roots_hold_the_programs_global(kept):
    gp, manifest = kept
    by_name = {r.name: r for r in gp.roots() if r.kind == "global"}
    head = by_name["main.head"]
    assert head.object.address == _addr(_orders(manifest)[0]["Addr"])
    assert head.type_name == "*main.Order" and head.goroutine is None and head.function is None
    assert head.address == dict(gp.globals())["main.head"].address


def test_frame_roots_name_goroutine_and_function(kept):
    """A goroutine the program's own stack dump shows parked holds a root in main.park's frame."""
    gp, manifest = kept
    parked = {int(m.group(1)) for line in manifest["goroutines"]
              if (m := re.match(r"goroutine (\d+) \[([^,\]]+)", line)) and m.group(2) != "running"}
    frames = [r for r in gp.roots() if r.kind == "frame"]
    assert any(r.function == "main.park" and r.goroutine in parked for r in frames)


def test_goroutines_match_runtime_stack(kept):
    gp, manifest = kept
    ours = {g.id: g for g in gp.goroutines()}
    assert gp.goroutines() is gp.goroutines()                  # read once
    for line in manifest["goroutines"]:
        gid, state = re.match(r"goroutine (\d+) \[([^,\]]+)", line).groups()
        if state == "running":                                  # main, printing the manifest
            continue
        g = ours[int(gid)]
        assert g.status == "waiting" and g.wait_reason == state
        assert any(f.function == "main.park" for f in g.frames)


def test_frame_locals_hold_the_parked_object(kept):
    gp, manifest = kept
    parked = {_addr(p) for p in manifest["parked"]}
    found = set()
    for g in gp.goroutines():
        for f in g.frames:
            if f.function != "main.park":
                continue
            assert f.file.endswith("main.go") and f.line > 0 and f.pc and f.sp
            p = f.locals["p"]
            assert p.type_name == "*main.Parked"
            assert p["ID"].get() == 4242 and p["Note"].get() == "parked"
            assert p.object.type_name == "main.Parked"
            found.add(p.get())
            assert {"ch", "ready"} <= set(f.locals)
    assert found == parked


def test_globals_and_value_at(kept):
    gp, manifest = kept
    g = dict(gp.globals())
    assert g["main.counter"].get() == manifest["counter"]
    assert g["main.greet"].get() == manifest["greet"]
    assert manifest["nil_ptr"] and g["main.nilPtr"].get() is None and g["main.nilPtr"].deref() is None
    assert len(g["main.orders"]) == len(_orders(manifest))
    first = _orders(manifest)[0]
    v = gp.value_at(_addr(first["Addr"]), "main.Order")
    assert v.type_name == "main.Order" and v["Name"].get() == first["Name"]
    with pytest.raises(gocore.UnknownType):
        gp.value_at(0, "main.NoSuchType")


def test_retained_counts_what_only_the_object_holds(kept):
    gp, manifest = kept
    h = gp.object_at(_addr(manifest["holders"][0]))
    assert h.retained == h.size        # its Target is shared with the other holder
    last = _orders(manifest)[-1]
    o = gp.object_at(_addr(last["Addr"]))
    leaf = gp.object_at(_addr(last["Any"]))
    err = gp.object_at(_addr(last["Err"]))
    assert o.retained >= o.size + leaf.size + err.size
