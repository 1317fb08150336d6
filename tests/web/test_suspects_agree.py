"""One leak-suspects rule: the web UI's Suspects page, ``report --json``'s ``suspects`` and
``suspects --json`` name the same leak first, and it is the one the program says it leaked.

On the two leak fixtures, made here from real Go toolchains as their own tests make them
(tests/viewcore/test_goleak.py, tests/viewcore/test_cacheleak.py: the dumps are shared
with those modules in one session). Truth is each program's MANIFEST: goleak parks ``n``
``main.handle`` goroutines each holding its request (``bytes_per_request`` by TotalAlloc's
growth), cacheleak keeps ``counts["main.Entry"]`` entries of 4000-byte blobs in the
global map ``main.cache`` and ``counts["main.Leak"]`` in the growing ``main.leaks``.
"""

from __future__ import annotations

import json
import re

import pytest

import core
import gocore
from tests.conftest import run_cli
from tests.viewcore.test_cacheleak import PROGRAM as CACHELEAK, _MADE as CACHELEAK_MADE
from tests.viewcore.test_goleak import DEFAULT_VERSIONS, _goleak
from tests.twodumps import two_gcores

from viewcore.web import HeapView, WebServer, listen

from .conftest import fetch
from .test_pages import text_of


def _json(capsys, dump, exe, *args):
    status, out, err = run_cli(capsys, dump, "--exe", exe, "--json", *args)
    assert status == 0, err
    return json.loads(out)


def _three(capsys, dump, exe) -> tuple[list[dict], list[dict], list[dict], str]:
    """Return the suspects of ``suspects --json``, ``report --json``, the web view, and the
    text of the served /suspects page."""
    cli = _json(capsys, dump, exe, "suspects")["suspects"]
    report = _json(capsys, dump, exe, "report")["suspects"]
    view = HeapView(gocore.load(core.open_dump(str(dump), exe=str(exe))))
    server = WebServer(view, listen("127.0.0.1", 0))
    server.start()
    try:
        status, _, body = fetch(server.url.rstrip("/") + "/suspects")
        _, _, overview = fetch(server.url.rstrip("/") + "/")
    finally:
        server.stop()
    assert status == 200
    return cli, report, view.suspects()["rows"], text_of(body) + " | " + text_of(overview)


KEYS = ("root", "kind", "goroutine", "root_type", "shared", "retained", "retained_objects",
        "share", "point", "held", "held_more", "path", "roots", "goroutines")


def _same(cli, report, web):
    """The three give the same rows: report's carry every field of the CLI's (and its own)."""
    assert len(report) == len(cli) == len(web)
    for c, r, w in zip(cli, report, web):
        assert {k: r[k] for k in KEYS} == c
        assert {k: w[k] for k in KEYS} == c
        assert r["root_kind"] == c["kind"]


@pytest.mark.parametrize("version", DEFAULT_VERSIONS)
def test_goroutine_leak_is_the_first_suspect_everywhere(version, capsys, tmp_path_factory):
    core_path, exe, m, _ = _goleak(version, tmp_path_factory)
    cli, report, web, page = _three(capsys, core_path, exe)
    _same(cli, report, web)
    first = cli[0]
    assert (first["root"], first["kind"], first["root_type"]) == (f"{m['handler']}.r", "frame", "*main.Request")
    assert first["roots"] == first["goroutines"] == m["n"] and first["goroutine"] is None
    assert first["retained"] == m["n"] * m["bytes_per_request"]
    held = {h["type"]: h for h in first["held"]}
    assert held["main.Request"]["count"] == held[f"[{m['payload_len']}]uint8"]["count"] == m["n"]
    assert first["point"] is None          # 3000 requests, none holding most of it
    assert report[0]["address"] is None    # ... so no one object below the root
    # one example path: from one handler's r to its request
    assert (first["path"][0]["root"], first["path"][0]["kind"]) == (f"{m['handler']}.r", "frame")
    assert first["path"][-1]["type"] == "main.Request"
    # the page and the overview: the handlers first
    assert re.search(rf"1\. {re.escape(m['handler'])}\.r frame \*main\.Request in {m['n']:,} goroutines "
                     r"retains 3\.1 MiB", page)
    assert re.search(rf"one path: root {re.escape(m['handler'])}\.r frame → main\.Request 0x[0-9a-f]+", page)
    assert re.search(rf"What keeps the most alive suspect accumulates in retains of live "
                     rf"{re.escape(m['handler'])}\.r frame its own objects", page)


@pytest.fixture(scope="module", params=DEFAULT_VERSIONS, ids=[f"go{v}" for v in DEFAULT_VERSIONS])
def cacheleak(request, tmp_path_factory):
    """Return (executable, [(dump, manifest) after phase 1, after phase 2]), shared with
    tests/viewcore/test_cacheleak.py."""
    v = request.param
    if v not in CACHELEAK_MADE:
        CACHELEAK_MADE[v] = two_gcores(v, CACHELEAK, tmp_path_factory.mktemp(f"cacheleak-{v}"))
    return CACHELEAK_MADE[v]


def test_cache_leak_is_the_first_suspect_everywhere(cacheleak, capsys):
    exe, [_, (dump, m)] = cacheleak
    cli, report, web, page = _three(capsys, dump, exe)
    _same(cli, report, web)
    first = cli[0]
    assert (first["root"], first["kind"]) == ("main.cache", "global")
    held = {h["type"]: h["count"] for h in first["held"]}
    assert held["main.Entry"] == held["[4096]uint8"] == m["counts"]["main.Entry"]
    assert first["retained"] >= m["counts"]["main.Entry"] * 4096
    assert cli[1]["root"] == "main.leaks"
    assert {h["type"]: h["count"] for h in cli[1]["held"]}["main.Leak"] == m["counts"]["main.Leak"]
    # report's object below the root is the map header the program printed
    assert report[0]["address"] == int(m["cache_map"], 16)
    assert re.search(r"1\. main\.cache global map\[string\]\*main\.Entry retains", page)
    assert re.search(r"2\. main\.leaks global \[\]\*main\.Leak retains", page)
