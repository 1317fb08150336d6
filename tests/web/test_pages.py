"""Every page of the web UI over plain HTTP: status, content against the dump's manifest,
pagination, the links between pages, bad requests, and the headers that keep it local."""

from __future__ import annotations

import html
import re
import shutil
from urllib.parse import quote

import pytest

from .conftest import fetch

# manifest object -> the global heapkeeper reached it through (fixtures/programs/heapkeeper/main.go)
ROOT_OF = {"leak_first": "main.leak", "leak_array": "main.leak", "big": "main.big",
           "big_child": "main.big", "list_tail": "main.list", "small_map": "main.smallMap"}


# types whose every object the heap index types on every Go version (tests/gocore/test_histogram.py
# lists the ones it cannot yet: main.LocalOnly, main.Captured before go1.23)
COUNTED = ("main.Item", "main.Leak", "main.ElemL", "main.ElemM", "main.Node", "main.BigObj", "main.Thing2")


def text_of(body: str) -> str:
    """Return the page's text: tags dropped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def hrefs(body: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', body)]


def object_links(body: str) -> list[int]:
    return [int(h[len("/object/"):].split("?")[0], 16) for h in hrefs(body) if h.startswith("/object/")]


def get(served, path: str) -> str:
    status, headers, body = fetch(served[2] + path)
    assert status == 200, (path, status, body[:500])
    assert headers["content-type"].startswith("text/html")
    # built and rendered "well under a second" (the 20 M-object dump: docs/web.md)
    assert float(headers["server-timing"].split("dur=")[1]) < 1000, path
    return body


def test_overview_shows_the_runtimes_figures(served):
    case, _, _ = served
    m = case.manifest
    t = text_of(get(served, "/"))
    assert m["go_version"] in t
    assert f"pid {m['pid']}" in t
    # live heap: what the runtime counted (MemStats.HeapObjects after its GC), within the 2 %
    # that tests/gocore/test_histogram.py allows
    shown = int(re.search(r"live heap ([\d,]+) objects", t)[1].replace(",", ""))
    assert abs(shown - m["memstats"]["HeapObjects"]) <= 0.02 * m["memstats"]["HeapObjects"]
    for page in ("/goroutines", "/histogram", "/roots", "/suspects"):
        assert page in hrefs(get(served, "/"))


def test_goroutines_grouped_with_their_stacks(served):
    case, view, _ = served
    body = get(served, "/goroutines")
    t = text_of(body)
    for fn, g in case.manifest["goroutines"].items():
        assert fn in t, fn
        assert f"/goroutine/{g['goid']}" in hrefs(body), fn
    assert t.count("×") == len(view.groups)      # one summary line per group
    assert body.count("<details") == len(view.groups)   # each collapsed
    assert "open" not in re.findall(r"<details[^>]*>", body)[0]


def test_goroutine_page_has_frames_and_state(served):
    case, _, _ = served
    g = case.manifest["goroutines"]["main.parkChanRecv"]
    t = text_of(get(served, f"/goroutine/{g['goid']}"))
    assert f"Goroutine {g['goid']}" in t
    assert g["state"] in t          # "chan receive", as the traceback prints it
    assert "main.parkChanRecv" in t
    assert re.search(r"heapkeeper/main\.go:\d+", t)


def test_goroutine_frames_show_their_locals(served):
    """parkChanRecv blocks in ``<-chRecv``: its runtime.chanrecv frame's local ``c`` (DWARF)
    is the channel the global main.chRecv holds (read from the dump at the manifest's
    address of the global), linked to that heap object."""
    case, view, _ = served
    g = case.manifest["goroutines"]["main.parkChanRecv"]
    body = get(served, f"/goroutine/{g['goid']}")
    chan = view.gp.process.read_ptr(case.manifest["globals"]["main.chRecv"])
    row = re.search(r"<td><code>c</code></td><td>\*runtime\.hchan</td><td>(.*?)</td>", body, re.S)
    assert row, "no local c in runtime.chanrecv's frame"
    assert f"{chan:#x}" in text_of(row[1])
    linked = object_links(row[1])
    assert len(linked) == 1 and linked[0] <= chan < linked[0] + 96


def test_histogram_rows_and_grouped_slices(served):
    case, _, _ = served
    body = get(served, "/histogram")
    rows = re.findall(r'<tr>\s*<td data-v="([^"]*)">.*?</td>\s*<td class="n" data-v="(-?\d+)">.*?'
                      r'<td class="n" data-v="(\d+)">', body, re.S)
    by_type: dict[str, int] = {}
    for name, _, count in rows:
        by_type[html.unescape(name)] = by_type.get(html.unescape(name), 0) + int(count)
    for name in COUNTED:
        assert by_type.get(name) == case.manifest["counts"][name], name
    assert f"/type?name={quote('main.Leak', safe='')}" in hrefs(body)
    # the backing array of main.leak ([]*main.Leak, cap 1000) is one [N]*main.Leak row ...
    assert any(re.fullmatch(r"\[\d+\]\*main\.Leak", n) for n in by_type)
    grouped = get(served, "/histogram?grouped=1")
    names = [html.unescape(n) for n in re.findall(r'<td data-v="([^"]*)">', grouped)]
    # ... and, grouped, a []*main.Leak row linking to its array sizes
    assert "[]*main.Leak" in names
    assert not any(re.fullmatch(r"\[\d+\]\*main\.Leak", n) for n in names)
    assert "/histogram?elem=" + quote("*main.Leak") in hrefs(grouped)
    members = re.findall(r'<td data-v="([^"]*)">', get(served, "/histogram?elem=" + quote("*main.Leak")))
    assert members and all(re.fullmatch(r"\[\d+\]\*main\.Leak", html.unescape(n)) for n in members)
    assert sorted(map(html.unescape, members)) == sorted(n for n in by_type if re.fullmatch(r"\[\d+\]\*main\.Leak", n))
    filtered = text_of(get(served, "/histogram?q=main.Ite"))
    assert "main.Item" in filtered and "main.Leak" not in filtered


def test_histogram_is_cut_at_its_largest_rows(served, monkeypatch):
    from viewcore.web import views
    monkeypatch.setattr(views, "HISTOGRAM_ROWS", 10)
    body = get(served, "/histogram")
    assert len(re.findall(r'<td data-v="', body)) == 10
    assert "press Enter in the filter box to search them all" in text_of(body)
    # main.Thing2 (64 objects of 16 bytes) is far from the largest ten: the filter finds it
    found = get(served, "/histogram?q=main.Thing2")
    assert [html.unescape(n) for n in re.findall(r'<td data-v="([^"]*)">', found)] == ["main.Thing2"]


def test_type_pages_are_100_objects_each(served):
    case, _, _ = served
    n = case.manifest["counts"]["main.Item"]
    size = case.manifest["type_sizes"]["main.Item"]
    first = get(served, "/type?name=main.Item")
    assert f"{n:,} live objects" in text_of(first)
    pages = -(-n // 100)
    assert f"page 1 of {pages}" in text_of(first)
    seen = []
    for p in (0, 1, pages - 1):
        addrs = object_links(get(served, f"/type?name=main.Item&page={p}"))
        assert len(addrs) == (100 if p < pages - 1 else n - 100 * (pages - 1))
        assert addrs == sorted(addrs)
        seen += addrs
    assert len(set(seen)) == len(seen)
    assert all(b - a >= size for a, b in zip(seen, seen[1:]))
    # a page past the end shows the last one
    assert object_links(get(served, f"/type?name=main.Item&page={pages + 5}")) == seen[-(n - 100 * (pages - 1)):]
    assert "no live object" in text_of(get(served, "/type?name=main.NoSuchType"))


def test_object_page_shows_root_fields_referrers(served):
    case, _, _ = served
    objs = case.manifest["objects"]
    addr = objs["leak_first"]
    body = get(served, f"/object/{addr:#x}")
    t = text_of(body)
    assert "main.Leak" in t
    m = re.search(r'id="root-name">(.*?)</b>', body, re.S)
    assert m and text_of(m[1]).strip() == ROOT_OF["leak_first"]
    # the path goes through the slice's backing array, which is also its referrer
    array = objs["leak_array"]
    path = re.search(r'<ol class="path" id="root-path"[^>]*>(.*?)</ol>', body, re.S)[1]
    path_objs = object_links(path)
    assert path_objs[-1] == addr and any(a <= array < a + 8192 for a in path_objs[:-1])
    refs = re.search(r'id="referrers-table">(.*?)</table>', body, re.S)[1]
    assert any(a <= array < a + 8192 for a in object_links(refs))
    # Payload is a []byte of its own: a pointer out, at the manifest's address
    outs = object_links(re.search(r'id="pointers-table">(.*?)</table>', body, re.S)[1])
    assert any(a <= objs["leak_first_payload"] < a + 256 for a in outs)
    assert "Payload" in t and "ID" in t
    assert f"/graph/{addr:#x}" in hrefs(body)


def test_long_field_lists_are_cut(served):
    """main.BigObj holds a [40000]byte: its page shows the first fields and a link to more."""
    case, _, _ = served
    big = case.manifest["objects"]["big"]
    body = get(served, f"/object/{big:#x}")
    rows = re.search(r'id="fields-table">(.*?)</table>', body, re.S)[1].count("<tr>") - 1
    more = [h for h in hrefs(body) if "fields=" in h]
    assert rows == 48 and more
    many = get(served, more[0].split("#")[0])
    assert re.search(r'id="fields-table">(.*?)</table>', many, re.S)[1].count("<tr>") - 1 == 1024


def test_object_page_retained_and_dominator_subtree(served):
    """main.big holds a *BigObj of 40008 bytes whose Child is a BigChild only it holds:
    retained is at least both, the subtree lists the child, the child's page names big
    as its dominator."""
    case, view, _ = served
    objs, sizes = case.manifest["objects"], case.manifest["type_sizes"]
    body = get(served, f"/object/{objs['big']:#x}")
    m = re.search(r'id="retained">.*?\(([\d,]+) bytes', body, re.S)
    assert int(m[1].replace(",", "")) >= sizes["main.BigObj"] + sizes["main.BigChild"]
    assert "only root main.big" in text_of(re.search(r'id="dominator">(.*?)</td>', body, re.S)[1])
    kids = object_links(re.search(r'id="children-table">(.*?)</table>', body, re.S)[1])
    assert any(a <= objs["big_child"] < a + 32 for a in kids)
    child = get(served, f"/object/{objs['big_child']:#x}")
    dom = object_links(re.search(r'id="dominator">(.*?)</td>', child, re.S)[1])
    assert dom == [objs["big"]]


def test_long_root_path_is_cut_in_the_middle(served):
    """list_tail is the 500th node of main.list: the path lists 500 objects, shown as the
    first and last 30 with the count of the rest."""
    case, _, _ = served
    body = get(served, f"/object/{case.manifest['objects']['list_tail']:#x}")
    length = case.manifest["list"]["length"]
    assert f"Path from a root ({length} objects)" in text_of(body)
    assert f"{length - 60} more objects" in text_of(body)
    path = re.search(r'<ol class="path" id="root-path"[^>]*>(.*?)</ol>', body, re.S)[1]
    assert len(object_links(path)) == 60


def test_pointer_lists_are_paged(served):
    """The backing array of main.arrLarge holds 10000 pointers: 100 a page, with a next link."""
    case, _, _ = served
    arr = case.manifest["arrays"]["main.arrLarge"]
    body = get(served, f"/object/{arr['addr']:#x}")
    assert f"Pointers out ({arr['len']:,})" in text_of(body)
    outs = object_links(re.search(r'id="pointers-table">(.*?)</table>', body, re.S)[1])
    assert len(outs) == 100
    nxt = [h for h in hrefs(body) if "out=1" in h]
    assert nxt
    page2 = object_links(re.search(r'id="pointers-table">(.*?)</table>', get(served, nxt[0]), re.S)[1])
    assert len(page2) == 100 and not set(page2) & set(outs)


def test_roots_by_retained_size(served):
    body = get(served, "/roots")
    t = text_of(body)
    for glob in ("main.bigMap", "main.leak", "main.big"):
        assert glob in t
    sizes = [int(v) for v in re.findall(r'<td class="n" data-v="(\d+)">[^<]*</td><td class="n"', body)]
    assert sizes == sorted(sizes, reverse=True)
    frames = text_of(get(served, "/roots?kind=frame"))
    assert "main.bigMap" not in frames and "frame" in frames


def test_suspects_over_a_tenth_of_the_heap(served):
    """bigMap holds 10000 main.Items (32 bytes each: 22 % of HeapAlloc before its
    buckets): it is a suspect, with its root path."""
    case, _, _ = served
    m = case.manifest
    assert 10000 * m["type_sizes"]["main.Item"] > 0.1 * m["memstats"]["HeapAlloc"]
    t = text_of(get(served, "/suspects"))
    assert "more than 10.0 %" in t
    assert "root main.bigMap" in t


def test_graph_view_links_its_nodes(served):
    case, _, _ = served
    addr = case.manifest["objects"]["leak_first"]
    body = get(served, f"/graph/{addr:#x}")
    if shutil.which("dot") is None:
        assert "No graph: Graphviz" in text_of(body)
        return
    svg = re.search(r"<svg.*</svg>", body, re.S)[0]
    assert f"{addr:#x}" in svg
    linked = [int(h.split("/object/")[1], 16) for h in re.findall(r'xlink:href="([^"]+)"', svg)]
    assert addr in linked and len(linked) >= 3      # itself, the array, its payload


def test_graph_view_without_graphviz_says_so(served, monkeypatch):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    addr = served[0].manifest["objects"]["leak_first"]
    t = text_of(get(served, f"/graph/{addr:#x}"))
    assert "No graph: Graphviz's dot is not installed" in t


def test_find_redirects_to_the_object(served):
    addr = served[0].manifest["objects"]["big"]
    status, headers, _ = fetch(served[2] + f"/find?addr={addr + 8:x}")
    assert status == 303 and headers["location"] == f"/object/{addr + 8:#x}"
    t = text_of(get(served, f"/object/{addr + 8:#x}"))
    assert f"{addr + 8:#x} is at +8" in t


@pytest.mark.parametrize("path,status,message", [
    ("/object/0x10", 404, "not inside an allocated heap object"),
    ("/object/zz", 400, "not an address"),
    ("/graph/0x10", 404, "not inside an allocated heap object"),
    ("/goroutine/999999", 404, "no goroutine 999999"),
    ("/goroutines/group/99999", 404, "no goroutine group"),
    ("/type?name=main.Item&page=x", 400, "is not a number"),
    ("/find?addr=nope", 400, "not an address"),
    ("/nosuchpage", 404, "Not Found"),
])
def test_bad_requests_answer_one_line(served, path, status, message):
    got, _, body = fetch(served[2] + path)
    assert got == status
    assert message in text_of(body)
    assert "Traceback" not in body


def test_headers_keep_the_pages_local(served):
    status, headers, _ = fetch(served[2] + "/")
    assert status == 200
    assert "default-src 'self'" in headers["content-security-policy"]
    assert float(headers["server-timing"].split("dur=")[1]) < 1000
    # a page that rebinds its DNS name to 127.0.0.1 sends its own Host: refused
    status, _, body = fetch(served[2] + "/", headers={"Host": "attacker.example"})
    assert status == 421
    for host in ("localhost", "127.0.0.1:1234", "[::1]:80"):
        assert fetch(served[2] + "/", headers={"Host": host})[0] == 200


def test_static_assets_are_served_from_the_package(served):
    for name, kind in (("app.js", "javascript"), ("style.css", "css")):
        status, headers, body = fetch(served[2] + f"/static/{name}")
        assert status == 200 and kind in headers["content-type"] and len(body) > 500
    assert not re.search(r'(src|href)="(https?:)?//', get(served, "/"))     # no CDN
