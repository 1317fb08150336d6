"""A goroutine leak with known truth: ``fixtures/programs/goleak`` (built here with real Go
toolchains, run, and dumped with SIGQUIT under GOTRACEBACK=crash) parks N ``main.handle``
goroutines forever, each holding its own request, and one ``*LocalOnly`` held only by the
local ``lo`` of the parked ``main.parkLocal``. Truth is the program's MANIFEST: N, the bytes
``runtime.MemStats.TotalAlloc`` grew by per request, ``%p`` of requests and of the LocalOnly,
the goroutine ids (its own traceback header) and the values of ``handle``'s locals.

Versions: 1.22.10 and 1.27.3 by default; every supported release with
``VIEWCORE_GOLEAK_ALL=1`` (toolchains installed on demand as for the fixtures).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT, run_cli
from ..gobuild import sigquit_dump

sys.path.insert(0, str(ROOT / "fixtures"))
import make_dumps  # noqa: E402

PROGRAM = ROOT / "fixtures" / "programs" / "goleak"
DEFAULT_VERSIONS = ("1.22.10", "1.27.3")
ALL_VERSIONS = ("1.19", "1.21.13", "1.22.10", "1.23.9", "1.24.11", "1.25.5", "1.26.6", "1.27.3")
VERSIONS = ALL_VERSIONS if os.environ.get("VIEWCORE_GOLEAK_ALL") else DEFAULT_VERSIONS

_MADE: dict = {}


def _goleak(version: str, tmp_path_factory) -> tuple[Path, Path, dict, str]:
    """Return (core, executable, manifest, go binary) of goleak built by Go ``version``."""
    if version not in _MADE:
        try:
            go, _ = make_dumps.ensure_toolchain(version)
        except (make_dumps.FixtureError, subprocess.CalledProcessError, OSError) as e:
            pytest.skip(f"cannot make a goleak dump with go{version}: {e}")
        work = tmp_path_factory.mktemp(f"goleak-{version}")
        _MADE[version] = (*sigquit_dump(go, PROGRAM, False, work), go)
    return _MADE[version]


def _json(capsys, core, exe, *args):
    status, out, err = run_cli(capsys, core, "--exe", exe, "--json", *args)
    assert status == 0, err
    return json.loads(out)


@pytest.mark.parametrize("version", VERSIONS)
def test_top_by_root_first_row_is_the_handlers(version, capsys, tmp_path_factory):
    """The N handler frames are one row, main.handle.r, holding exactly N times the bytes
    each request cost the program (TotalAlloc growth per request: 48 + 1024)."""
    core, exe, m, _ = _goleak(version, tmp_path_factory)
    assert m["go_version"] == f"go{version}"
    doc = _json(capsys, core, exe, "top", "--by", "root", "--n", "5")
    first = doc["roots"][0]
    assert first["root"] == f"{m['handler']}.r"
    assert (first["kind"], first["type"]) == ("frame", "*main.Request")
    assert first["roots"] == first["goroutines"] == m["n"]
    assert first["retained"] == m["n"] * m["bytes_per_request"]
    assert m["bytes_per_request"] == m["request_size"] + m["payload_len"]   # both size classes
    assert first["retained_objects"] == 2 * m["n"]
    assert doc["named_variables"] is True


@pytest.mark.parametrize("version", VERSIONS)
def test_request_is_held_by_its_handlers_variable(version, capsys, tmp_path_factory):
    """A request's path starts at main.handle.r in the goroutine that printed its %p."""
    core, exe, m, _ = _goleak(version, tmp_path_factory)
    for req in m["requests"]:
        doc = _json(capsys, core, exe, "reachable", req["addr"])
        root = doc["path"][0]
        assert (root["root"], root["kind"], root["goroutine"]) == ("main.handle.r", "frame", req["goid"])
        assert doc["path"][-1]["address"] == int(req["addr"], 16)
        assert doc["type"] == "main.Request"


@pytest.mark.parametrize("version", VERSIONS)
def test_local_only_object_is_typed_by_its_local(version, capsys, tmp_path_factory):
    """The object only `lo` of the parked main.parkLocal holds has lo's pointed-to type,
    though lo's location list does not cover the park pc (its spill slot names it)."""
    core, exe, m, _ = _goleak(version, tmp_path_factory)
    lo = m["local_only"]
    doc = _json(capsys, core, exe, "object", lo["addr"])
    assert doc["type"] == lo["type"]
    path = _json(capsys, core, exe, "reachable", lo["addr"])["path"]
    assert len(path) == 2
    assert (path[0]["root"], path[0]["goroutine"], path[0]["type"]) == \
        ("main.parkLocal.lo", lo["goid"], "*main.LocalOnly")


@pytest.mark.parametrize("version", VERSIONS)
def test_goroutine_locals_are_what_the_program_printed(version, capsys, tmp_path_factory):
    """goroutine ID --locals: main.handle's r is the request's %p, id its ID."""
    core, exe, m, _ = _goleak(version, tmp_path_factory)
    for req in m["requests"]:
        doc = _json(capsys, core, exe, "goroutine", str(req["goid"]), "--locals")
        assert doc["dwarf"] is True
        handle = next(f for f in doc["frames"] if f["func"] == "main.handle")
        by = {x["name"]: x for x in handle["locals"]}
        assert (by["r"]["type"], by["r"]["pointer"]) == ("*main.Request", int(req["addr"], 16))
        assert (by["id"]["type"], by["id"]["value"]) == ("int", req["id"])


@pytest.mark.parametrize("version", VERSIONS)
def test_pprof_top_ranks_the_handler(version, capsys, tmp_path_factory):
    """`go tool pprof -top -cum` of the export lists main.handle among its first entries,
    and main.Request under it (the chain: main.Request <- main.handle.r <- main.handle)."""
    core, exe, m, go = _goleak(version, tmp_path_factory)
    out = tmp_path_factory.mktemp("goleak-pprof") / "heap.pb.gz"
    status, _, err = run_cli(capsys, core, "--exe", exe, "pprof", "-o", out)
    assert status == 0, err
    r = subprocess.run([go, "tool", "pprof", "-top", "-cum", str(out)], capture_output=True,
                       text=True, timeout=300, env=make_dumps.build_env())
    assert r.returncode == 0, r.stderr
    rows = [line.split()[-1] for line in r.stdout.splitlines() if "%" in line and line.split()[-1][0] != "("]
    names = [n for n in rows if not n.endswith("%")]
    top = names[:5]
    assert "main.handle" in top and "main.handle.r" in top, r.stdout
    r = subprocess.run([go, "tool", "pprof", "-traces", str(out)], capture_output=True,
                       text=True, timeout=300, env=make_dumps.build_env())
    assert r.returncode == 0, r.stderr
    # the goroutine id is a sample label: each request's trace is labelled with its own
    held = {int(g) for g in re.findall(r"^ goroutine:\s+(\d+)\n\s+\S+\s+main\.Request\n\s+main\.handle\.r$",
                                       r.stdout, re.M)}
    assert len(held) == m["n"]
    assert {req["goid"] for req in m["requests"]} <= held


@pytest.mark.parametrize("version", VERSIONS)
def test_top_under_the_handlers_and_a_request(version, capsys, tmp_path_factory):
    """`top --under main.handle.r`: the N requests, each retaining exactly the bytes it cost
    the program (itself and its payload); under one request (by its %p): its payload alone."""
    core, exe, m, _ = _goleak(version, tmp_path_factory)
    n, per = m["n"], m["bytes_per_request"]
    doc = _json(capsys, core, exe, "top", "--under", f"{m['handler']}.r", "--n", "3")
    under = doc["under"]
    assert (under["kind"], under["root_kind"], under["type"]) == ("root", "frame", "*main.Request")
    assert under["roots"] == n and under["retained"] == n * per
    assert doc["total"] == n and len(doc["children"]) == 3
    for c in doc["children"]:
        assert (c["type"], c["size"], c["retained"], c["retained_objects"]) == \
            ("main.Request", m["request_size"], per, 2)
    assert doc["more"] == {"children": n - 3, "retained": (n - 3) * per}
    # every request, with the goroutine that printed its %p
    every = _json(capsys, core, exe, "top", "--under", f"{m['handler']}.r", "--n", str(n))["children"]
    by_addr = {c["address"]: c["goroutine"] for c in every}
    assert len(by_addr) == n and {int(r["addr"], 16): r["goid"] for r in m["requests"]}.items() <= by_addr.items()
    for req in m["requests"]:
        doc = _json(capsys, core, exe, "top", "--under", req["addr"])
        assert (doc["under"]["address"], doc["under"]["type"]) == (int(req["addr"], 16), "main.Request")
        assert doc["under"]["retained"] == per and doc["total"] == 1
        (payload,) = doc["children"]
        assert (payload["size"], payload["retained"], payload["retained_objects"]) == \
            (m["payload_len"], m["payload_len"], 1)


@pytest.mark.parametrize("version", VERSIONS)
def test_objgraph_keeps_the_handlers(version, capsys, tmp_path_factory):
    """objgraph of the whole heap: the handler's chain is drawn, every goroutine's merged,
    with exactly N requests and N times their cost; under main.handle.r each request is
    below the cut (0.005 of the heap): one '… N more' node with all their bytes."""
    core, exe, m, _ = _goleak(version, tmp_path_factory)
    n, per = m["n"], m["bytes_per_request"]
    out = tmp_path_factory.mktemp("goleak-dot") / "heap.dot"
    status, _, err = run_cli(capsys, core, "--exe", exe, "objgraph", "-o", out)
    assert status == 0, err
    text = out.read_text()
    assert f'label="main.Request\\n{n} objects, {n * per} bytes on paths through here"' in text
    handler = re.search(r'label="main\.handle\\n0 objects, (\d+) bytes on paths through here"', text)
    assert handler and int(handler.group(1)) >= n * per
    status, _, err = run_cli(capsys, core, "--exe", exe, "objgraph", "-o", out, "--root", "main.handle.r")
    assert status == 0, err
    text = out.read_text()
    assert f'label="main.handle.r\\n{n} roots\\nalone retains {n * per} bytes"' in text
    assert re.findall(r'(\w+)_more \[label="… (\d+) more \((\d+) bytes\)"', text) == [("root", str(n), str(n * per))]
    status, _, err = run_cli(capsys, core, "--exe", exe, "objgraph", "-o", out, "--root", "main.handle.r",
                             "--node-fraction", "0", "--depth", "1")
    assert status == 0, err
    text = out.read_text()
    drawn = text.count('label="main.Request\\n')
    assert drawn == 300 and f'root_more [label="… {n - drawn} more ({(n - drawn) * per} bytes)"' in text
    # around one request: its handler's variable above it, its payload below the cut
    req = m["requests"][0]
    status, _, err = run_cli(capsys, core, "--exe", exe, "objgraph", "-o", out, "--addr", req["addr"])
    assert status == 0, err
    text = out.read_text()
    assert 'label="main.handle.r\\n(frame)"' in text
    me = re.search(rf'(o\d+) \[label="main\.Request\\n{req["addr"]}\\n{m["request_size"]} B, retains {per} bytes"', text)
    assert me, text
    assert f'{me.group(1)}_more [label="… 1 more ({m["payload_len"]} bytes)"' in text
    status, _, err = run_cli(capsys, core, "--exe", exe, "objgraph", "-o", out, "--addr", req["addr"],
                             "--node-fraction", "0")
    assert status == 0, err
    text = out.read_text()
    payload = re.search(rf'(o\d+) \[label="[^"]*\\n{m["payload_len"]} B, retains {m["payload_len"]} bytes"', text)
    assert payload and re.search(rf'{me.group(1)} -> {payload.group(1)} \[label="?Payload', text), text
