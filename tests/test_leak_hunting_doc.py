"""docs/leak-hunting.md: every command it shows runs on dumps made afresh, and its figures
are the programs' own, both in the pasted output and in a fresh run.

The dumps are made as tests/viewcore/test_goleak.py and tests/viewcore/test_cacheleak.py
make theirs (shared with them in one session), by the Go release the page names. The
page's `MANIFEST` lines give the values of the run it was pasted from; a fresh run has
its own (addresses, goroutine ids differ), so each check is a pattern built from a
manifest and applied twice: to the page's output with the page's manifest, and to the
fresh output with the fresh manifest. What is checked is what the programs printed: N
handlers and the bytes each request cost, the cache's entries, blobs and items, the
`main.Leak` counts and `leaks`' capacity of both phases, the workers, the holders of the
pinned target, the item printed, `runtime.MemStats` after `runtime.GC()`.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.twodumps import two_gcores
from tests.viewcore.test_cacheleak import PROGRAM as CACHELEAK, _MADE as CACHELEAK_MADE
from tests.viewcore.test_goleak import _goleak

sys.path.insert(0, str(ROOT / "fixtures"))
import make_dumps  # noqa: E402

DOC = ROOT / "docs" / "leak-hunting.md"
TEXT = DOC.read_text()
VERSION = re.search(r"dumps\s+of Go (\d+\.\d+\.\d+)", TEXT)[1]


# ---- reading the page


def _commands(text: str) -> list[tuple[str, str]]:
    """Return (command line after ``$ ``, its output) for every ``$ viewcore``/``$ go``
    line of the page's indented blocks, in order."""
    out: list[tuple[str, list[str]]] = []
    current = None
    for line in text.splitlines():
        if line.startswith("    $ "):
            cmd = line[6:].split(" #")[0].strip()
            current = (cmd, []) if cmd.startswith(("viewcore ", "go tool pprof")) else None
            if current:
                out.append(current)
        elif current is not None and (line.startswith("    ") or not line.strip()):
            current[1].append(line[4:])
        else:
            current = None
    return [(c, "\n".join(o)) for c, o in out]


def _manifest_lines(text: str) -> list[str]:
    return [ln.strip()[len("MANIFEST "):] for ln in text.splitlines() if ln.strip().startswith("MANIFEST {")]


def _int(text: str, key: str) -> int:
    return int(re.search(rf'"{re.escape(key)}":(\d+)', text)[1])


def _str(text: str, key: str) -> str:
    return re.search(rf'"{re.escape(key)}":"([^"]*)"', text)[1]


def _goleak_manifest(text: str) -> dict:
    """Return the fields of goleak's MANIFEST line the checks use, shaped as the manifest."""
    req = re.search(r'"requests":\[\{"goid":(\d+),"addr":"(0x[0-9a-f]+)","id":(\d+)', text)
    return {"go_version": _str(text, "go_version"), "n": _int(text, "n"),
            "payload_len": _int(text, "payload_len"), "bytes_per_request": _int(text, "bytes_per_request"),
            "handler": _str(text, "handler"),
            "requests": [{"goid": int(req[1]), "addr": req[2], "id": int(req[3])}]}


def _cacheleak_manifest(text: str) -> dict:
    """Return the fields of a cacheleak MANIFEST line the checks use, shaped as the manifest."""
    item = re.search(r'"k_item0":\{"ID":(\d+),"Name":"([^"]*)","addr":"(0x[0-9a-f]+)"\}', text)
    m = {"counts": {k: _int(text, k) for k in ("main.Entry", "main.Item", "main.Leak")},
         "leaks_cap": _int(text, "leaks_cap"), "workers": _int(text, "workers"),
         "num_goroutine": _int(text, "num_goroutine")}
    if '"go_version"' in text:           # the page gives these of the second dump only
        m.update(go_version=_str(text, "go_version"), heap_alloc=_int(text, "heap_alloc"),
                 heap_objects=_int(text, "heap_objects"), cache_map=_str(text, "cache_map"),
                 entry_k=_str(text, "entry_k"), target=_str(text, "target"),
                 leaks_addr=_str(text, "leaks_addr"),
                 k_item0={"ID": int(item[1]), "Name": item[2], "addr": item[3]})
    return m


# ---- what each command must show, from a manifest


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def _goleak_checks(m: dict) -> dict[str, list[str]]:
    n, per, h = m["n"], m["bytes_per_request"], re.escape(m["handler"])
    req = m["requests"][0]
    cum = f"{n * per / 1024:.2f}kB"
    return {
        "overview": [rf"^go version\s+{m['go_version']}\s*$"],
        "goroutines": [rf"^{n} goroutines \[chan receive\]: ", rf"^\s+{h}$"],
        "suspects": [rf"^1\. {h}\.r \*main\.Request \[frame\] in {n} goroutines: {_mib(n * per)} "
                     rf"\(\d+\.\d %\), {2 * n} objects$",
                     rf"^\s+\S+ \S+\s+{n} × \[{m['payload_len']}\]uint8$", rf"^\s+\S+ \S+\s+{n} × main\.Request$"],
        "top --by": [rf"^\s+retained.*\n\s+{_mib(n * per)}\s+{2 * n}\s+{n} ×\s+frame\s+{h}\.r \*main\.Request "
                rf"in {n} goroutines\s*$"],
        "top --under": [rf"^{h}\.r \*main\.Request \(frame, {n} roots\): alone keeps {_mib(n * per)} alive "
                        rf"in {2 * n} objects; {n} children in the dominator tree$",
                        rf"^\s+1\.0 KiB\s+2\s+48\s+0x[0-9a-f]+\s+main\.Request\s+\d+\s*$",
                        rf"^… {n - 3} more \({_mib((n - 3) * per)}; --n shows more\)$"],
        "goroutine": [rf"^goroutine {req['goid']} \[chan receive\]",
                      rf"^{h}\n\s+r \*main\.Request = {req['addr']}  @", rf"^\s+id int = {req['id']}  @"],
        "referrers": [rf"^main\.Request at {req['addr']}, 48 bytes: 0 heap objects and 1 root point into it$",
                      rf"^\s*frame root\s+{h}\.r \(goroutine {req['goid']}\)\s+\*main\.Request"],
        "pprof": [r"^wrote heap\.pb\.gz \(pprof"],
        # the handler holds its requests: among the first rows by cumulative bytes
        "go tool pprof": [rf"flat%.*\n(.*\n){{0,3}}\s+0\s+0%\s+\S+\s+{cum}\s+\S+\s+{h}\s*$",
                          rf"flat%.*\n(.*\n){{0,3}}\s+0\s+0%\s+\S+\s+{cum}\s+\S+\s+{h}\.r\s*$"],
    }


def _cacheleak_checks(m: dict, base: dict) -> dict[str, list[str]]:
    e, i, leak = (m["counts"][k] for k in ("main.Entry", "main.Item", "main.Leak"))
    b_leak = base["counts"]["main.Leak"]
    header = int(m["leaks_addr"], 16) - 8        # the backing array's malloc header
    return {
        "overview": [rf"^go version\s+{m['go_version']}\s*$"],
        "suspects": [r"^1\. main\.cache map\[string\]\*main\.Entry \[global\]: ",
                     rf"^\s+\S+ \S+\s+{e} × \[4096\]uint8$", rf"^\s+\S+ \S+\s+{e} × main\.Entry$",
                     rf"^\s+\S+ \S+\s+{i} × main\.Item$",
                     rf"^\s+path from main\.cache:\n\s+-> {m['cache_map']} internal/runtime/maps\.Map ",
                     r"^2\. main\.leaks \[\]\*main\.Leak \[global\]: ",
                     rf"^\s+accumulates in \[{m['leaks_cap']}\]\*main\.Leak at {header:#x}: {leak} objects below",
                     rf"^\s+\S+ \S+\s+{leak} × main\.Leak$"],
        "top --by": [r"^\s+retained.*\n.*global\s+main\.cache map\[string\]\*main\.Entry\s*\n"
                r".*global\s+main\.leaks \[\]\*main\.Leak\s*$"],
        # the map header alone: the one child (the run pasted is not the page's other one)
        "top --under": [r"^main\.cache map\[string\]\*main\.Entry \(global\): alone keeps \S+ \S+ alive in "
                        r"(\d+) objects; 1 child in the dominator tree\n.*\n\s+\S+ \S+\s+\1\s+48\s+0x[0-9a-f]+"
                        r"\s+internal/runtime/maps\.Map\s*$"],
        "referrers": [rf"^main\.Target at {m['target']}, \d+ bytes: 1 heap object and 1 root point into it$",
                      rf"^\s*object\s+{m['entry_k']}\s+main\.Entry\s+\+0x[0-9a-f]+ \.Target\s",
                      r"^\s*global root\s+main\.pinned\s+\*main\.Target\s"],
        "print": [rf"^\(\*main\.Item\)\({m['k_item0']['addr']}\) &main\.Item\{{$",
                  rf"^\s+ID: {m['k_item0']['ID']},$", rf'^\s+Name: "{m["k_item0"]["Name"]}",$'],
        "histogram": [rf"^\s*{leak}\s+64\s+{leak * 64}\s+main\.Leak\s*$",
                      r"^\s*1\s+\d+\s+\d+\s+\[\]\*main\.Leak \(backing arrays\)\s*$",
                      rf"^\s*{e}\s+\d+\s+\d+\s+main\.Entry\s*$", rf"^\s*{i}\s+\d+\s+\d+\s+main\.Item\s*$"],
        "diff": [rf"^\s+Δ bytes.*\n\s*\+{(leak - b_leak) * 64}\s+\+{leak - b_leak}\s+{leak * 64}\s+{leak}\s+"
                 rf"{b_leak * 64}\s+{b_leak}\s+main\.Leak\s*$",
                 r"^\s*\+\d+\s+\+0\s+\d+\s+1\s+\d+\s+1\s+\[\]\*main\.Leak \(backing arrays\)\s*$",
                 rf"^goroutines: \d+ -> \d+ \(\+{m['num_goroutine'] - base['num_goroutine']}\)$",
                 rf"^\s*\+{m['workers'] - base['workers']}\s+{m['workers']}\s+{base['workers']}\s+chan receive\s+main\.worker\s*$",
                 r"^roots that retain more\n.*\n\s+\+\d+\s+\S+ \S+\s+\S+ \S+\s+main\.leaks \[global\]\s*$",
                 r"^new types \(none in the base\)\n\s+1\s+\d+ B\s+main\.Late\s*$"],
    }


def _key(cmd: str) -> tuple[str, str]:
    """Return (dump variable, what runs) of a page command: ("G", "suspects"); ``top`` with
    its first flag ("top --by", "top --under"), whose outputs differ."""
    if cmd.startswith("go tool pprof"):
        return "G", "go tool pprof"
    words = cmd.split()
    what = f"top {words[3]}" if words[2] == "top" and len(words) > 3 else words[2]
    return words[1].lstrip("$"), what


def _check(where: str, checks: list[str], out: str) -> None:
    for pattern in checks:
        assert re.search(pattern, out, re.M), f"{where}: no {pattern!r} in:\n{out}"


def _live_heap_is_the_runtimes(where: str, out: str, m: dict) -> None:
    got = re.search(r"^live heap\s+(\d+) objects, .*\((\d+) bytes\)", out, re.M)
    assert got, f"{where}: no live heap in {out}"
    # as tests/gocore/test_histogram.py allows: within 2 % of MemStats after runtime.GC()
    assert abs(int(got[2]) - m["heap_alloc"]) <= 0.02 * m["heap_alloc"], (where, got[0])
    assert abs(int(got[1]) - m["heap_objects"]) <= 0.02 * m["heap_objects"], (where, got[0])


# ---- the test


PAGE = _commands(TEXT)
MANIFESTS = _manifest_lines(TEXT)


def test_the_page_shows_each_step():
    """The walk-through has the steps it promises."""
    keys = [_key(c) for c, _ in PAGE]
    for step in (("G", "overview"), ("G", "suspects"), ("G", "top --by"), ("G", "goroutine"),
                 ("G", "referrers"), ("G", "pprof"), ("G", "go tool pprof"), ("C", "suspects"),
                 ("G", "top --under"), ("C", "top --by"), ("C", "top --under"), ("C", "referrers"), ("C", "print"), ("C", "histogram"), ("C", "diff")):
        assert step in keys, step
    assert len(MANIFESTS) == 3
    assert "[docs/leak-hunting.md](docs/leak-hunting.md)" in (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """Return {var: argv}, the goleak and cacheleak manifests of a fresh run, and go."""
    core, exe, gm, go = _goleak(VERSION, tmp_path_factory)
    if VERSION not in CACHELEAK_MADE:
        CACHELEAK_MADE[VERSION] = two_gcores(VERSION, CACHELEAK, tmp_path_factory.mktemp(f"cacheleak-{VERSION}"))
    cexe, [(base, m1), (dump, m2)] = CACHELEAK_MADE[VERSION]
    return {"G": [str(core), "--exe", str(exe)], "C": [str(dump), "--exe", str(cexe)],
            "B": str(base)}, gm, (m1, m2), go


def test_every_command_of_the_page_runs_and_shows_the_programs_figures(fresh, capsys, tmp_path):
    dumps, gm, (m1, m2), go = fresh
    doc_g = _goleak_manifest(MANIFESTS[0])
    doc_c1, doc_c2 = _cacheleak_manifest(MANIFESTS[1]), _cacheleak_manifest(MANIFESTS[2])
    doc_c2["go_version"] = doc_g["go_version"]
    assert doc_g["go_version"] == gm["go_version"] == f"go{VERSION}"
    checks = {("G", k): (v, _goleak_checks(gm)[k]) for k, v in _goleak_checks(doc_g).items()}
    checks |= {("C", k): (v, _cacheleak_checks(m2, m1)[k]) for k, v in _cacheleak_checks(doc_c2, doc_c1).items()}
    # the page's run's values in its commands, and the fresh run's
    swap = {str(doc_g["requests"][0]["goid"]): str(gm["requests"][0]["goid"]),
            doc_g["requests"][0]["addr"]: gm["requests"][0]["addr"], doc_c2["target"]: m2["target"]}
    profile = tmp_path / "heap.pb.gz"
    ran = set()
    for cmd, doc_out in PAGE:
        key = _key(cmd)
        assert key in checks, f"no check for the page's command {cmd!r}"
        doc_checks, fresh_checks = checks[key]
        _check(f"the page's {cmd!r}", doc_checks, doc_out)
        if key[1] == "go tool pprof":
            r = subprocess.run([go, "tool", "pprof", *shlex.split(cmd)[3:-1], str(profile)], capture_output=True,
                               text=True, timeout=300, env=make_dumps.build_env())
            assert r.returncode == 0, r.stderr
            out = r.stdout
        else:
            argv = []
            for word in shlex.split(cmd)[1:]:
                if word.startswith("$"):
                    got = dumps[word[1:]]
                    argv += got if isinstance(got, list) else [got]
                else:
                    argv.append(str(profile) if word == "heap.pb.gz" else swap.get(word, word))
            status, out, err = run_cli(capsys, *argv)
            assert status == 0, (cmd, err)
            out = out.replace(str(profile), "heap.pb.gz")
        _check(f"a fresh {cmd!r}", fresh_checks, out)
        if key == ("C", "overview"):
            _live_heap_is_the_runtimes("the page", doc_out, doc_c2)
            _live_heap_is_the_runtimes("a fresh run", out, m2)
        ran.add(key)
    assert ran == set(checks), set(checks) - ran
