"""The web UI in headless Chromium (Debian's, driven by Playwright): every page loads
without a script error, the histogram's sorting, filter and slice toggle work, and the links
histogram -> type -> object -> its root path and referrers lead where the manifest says.
Each page is kept as a PNG screenshot (pytest's tmp dir, and $VIEWCORE_WEB_SHOTS)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"{CHROMIUM} missing (scripts/test.sh installs Debian's chromium when root)"),
]


@pytest.fixture(scope="module")
def page(served):
    """Yield a Playwright page in a fresh Chromium profile; script errors fail the test."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e .[test])")
    with tempfile.TemporaryDirectory() as profile, sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                   args=ARGS, viewport={"width": 1280, "height": 900})
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.errors = errors
        pg.set_default_timeout(15_000)
        try:
            yield pg
        finally:
            ctx.close()


@pytest.fixture
def shoot(page, shots_dirs):
    """Return shoot(name): a full-page PNG of what the browser shows, in every shots dir."""
    def shoot(name: str) -> None:
        first = shots_dirs[0] / f"{name}.png"
        page.screenshot(path=str(first), full_page=True)
        for d in shots_dirs[1:]:
            shutil.copyfile(first, d / first.name)
        assert not page.errors, page.errors
    return shoot


def _addr(href: str) -> int:
    return int(href.rsplit("/", 1)[1].split("?")[0], 16)


def test_every_page_loads(served, page, shoot):
    case, view, base = served
    m = case.manifest
    g = m["goroutines"]["main.parkChanRecv"]["goid"]
    pages = {
        "overview": "/", "goroutines": "/goroutines", "goroutine": f"/goroutine/{g}",
        "goroutine-group": "/goroutines/group/0", "histogram-grouped": "/histogram?grouped=1",
        "roots": "/roots", "suspects": "/suspects",
        "object-big": f"/object/{m['objects']['big']:#x}",
        "graph": f"/graph/{m['objects']['leak_first']:#x}",
    }
    for name, path in pages.items():
        resp = page.goto(base + path)
        assert resp.status == 200, name
        assert page.locator("header .brand").inner_text() == "viewcore"
        assert page.locator("h1").count() == 1
        shoot(name)
    page.goto(base + "/goroutines")
    first = page.locator("details.group").first
    assert not first.evaluate("d => d.open")
    page.click("a.expand-all")
    assert page.locator("details.group").evaluate_all("ds => ds.every(d => d.open)")
    assert page.locator("details.group ol.frames li").first.is_visible()
    shoot("goroutines-expanded")
    # a group's representative: its frames with their locals
    g = m["goroutines"]["main.parkChanRecv"]["goid"]
    group = page.locator("details.group", has=page.locator(f"a[href='/goroutine/{g}']"))
    group.locator("a.locals-link").click()
    page.wait_for_url(re.compile(rf"/goroutine/{g}$"))
    assert "main.parkChanRecv" in page.locator("ol.frames").inner_text()


def test_histogram_sort_filter_toggle(served, page, shoot):
    _, _, base = served
    page.goto(base + "/histogram")
    rows = page.locator("#hist tbody tr")
    n = rows.count()
    assert n > 20
    # click "objects": largest count first; again: smallest first
    page.click("#hist thead th:nth-child(3)")
    counts = [int(v) for v in page.locator("#hist tbody tr td:nth-child(3)").evaluate_all(
        "tds => tds.map(td => td.dataset.v)")]
    assert counts == sorted(counts, reverse=True)
    page.click("#hist thead th:nth-child(3)")
    counts = [int(v) for v in page.locator("#hist tbody tr td:nth-child(3)").evaluate_all(
        "tds => tds.map(td => td.dataset.v)")]
    assert counts == sorted(counts)
    page.click("#hist thead th:nth-child(1)")
    names = page.locator("#hist tbody tr td:nth-child(1)").evaluate_all(
        "tds => tds.map(td => td.dataset.v.toLowerCase())")
    assert names == sorted(names)
    # the filter hides rows as one types
    page.fill("input[data-filter]", "main.Leak")
    visible = page.locator("#hist tbody tr:not(.hidden)")
    assert 1 <= visible.count() < n
    assert all("main.leak" in t.lower() for t in visible.all_inner_texts())
    assert page.locator("#hist-shown").inner_text() == str(visible.count())
    shoot("histogram-filtered")
    page.fill("input[data-filter]", "")
    assert page.locator("#hist tbody tr:not(.hidden)").count() == n
    # the toggle groups [N]T as []T
    page.click("#toggle-slices")
    page.wait_for_url(re.compile(r"grouped=1"))
    names = page.locator("#hist tbody tr td:nth-child(1)").all_inner_texts()
    assert any(t.startswith("[]*main.Leak") for t in names)
    assert not any(re.match(r"\[\d+\]\*main\.Leak", t) for t in names)
    page.click("#toggle-slices")
    page.wait_for_url(re.compile(r"/histogram\?q="))
    shoot("histogram")


def test_histogram_to_type_to_object_to_path_and_referrers(served, page, shoot):
    """Every main.Leak is held by main.leak's backing array alone (heapkeeper: leak[i] =
    &Leak{...}): clicking through from the histogram lands on a Leak whose root is
    main.leak, whose path and referrers lead to that array (at the manifest's address)."""
    case, _, base = served
    objs = case.manifest["objects"]
    page.goto(base + "/histogram")
    page.click("#hist a:text-is('main.Leak')")
    page.wait_for_url(re.compile(r"/type\?name=main\.Leak"))
    assert "1,000 live objects" in page.locator("main").inner_text()
    assert page.locator("#objects tbody tr").count() == 100
    shoot("type")
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"page=1"))
    assert "page 2 of 10" in page.locator("nav.pager").first.inner_text()
    page.locator("#objects tbody a").first.click()
    page.wait_for_url(re.compile(r"/object/0x"))
    assert page.locator("h1 .t").inner_text() == "main.Leak"
    assert page.locator("#root-name").inner_text() == "main.leak"
    leak = _addr(page.url)
    # the path's first object is the backing array of main.leak
    path_links = page.locator("#root-path a.obj")
    array_href = path_links.first.get_attribute("href")
    array = _addr(array_href)
    assert array <= objs["leak_array"] < array + 8192
    assert _addr(path_links.last.get_attribute("href")) == leak
    shoot("object")
    # its referrers: the same array
    ref = page.locator("#referrers-table a.obj").first
    assert ref.get_attribute("href") == array_href
    ref.click()
    page.wait_for_url(re.compile(array_href + "$"))
    assert page.locator("#root-name").inner_text() == "main.leak"
    assert re.fullmatch(r"\[\d+\]\*main\.Leak", page.locator("h1 .t").inner_text())
    # and back down: it points to every Leak (the manifest's len of main.leak)
    n = case.manifest["arrays"]["main.leak"]["len"]
    assert f"Pointers out ({n:,})" in page.locator("#pointers").inner_text()
    shoot("object-array")
    # the graph view of it links its nodes back to object pages
    page.click(f"a[href='/graph/{array:#x}']")
    page.wait_for_url(re.compile(r"/graph/"))
    shoot("graph-array")
    if page.locator(".graph svg").count():
        node = f".graph svg a[href='/object/{array:#x}'], .graph svg a[*|href='/object/{array:#x}']"
        page.locator(node).first.click()
        page.wait_for_url(re.compile(array_href + "$"))


def test_manifest_object_shows_its_known_root(served, page, shoot):
    """The address box finds leak_first (the manifest's leak[0]); its page names main.leak,
    the global heapkeeper keeps it in, and big_child's page names main.big."""
    case, _, base = served
    objs = case.manifest["objects"]
    page.goto(base + "/")
    page.fill("header .find input", f"{objs['leak_first']:#x}")
    page.press("header .find input", "Enter")
    page.wait_for_url(re.compile(rf"/object/{objs['leak_first']:#x}$"))
    assert page.locator("#root-name").inner_text() == "main.leak"
    assert "global" in page.locator("#root-path li.root").inner_text()
    page.goto(base + f"/object/{objs['big_child']:#x}")
    assert page.locator("#root-name").inner_text() == "main.big"
    assert page.locator("#dominator a.obj").get_attribute("href") == f"/object/{objs['big']:#x}"
    shoot("object-big-child")
