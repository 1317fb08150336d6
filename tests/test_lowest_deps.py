"""viewcore installs and works with every dependency at its lowest allowed version.

Opt-in (``VIEWCORE_LOWEST_DEPS=1``): it makes a fresh venv, installs viewcore from a copy
of the source with each dependency of pyproject.toml pinned to its lower bound
(``numpy>=1.26`` becomes ``numpy==1.26``), then runs ``--version``, ``--help`` and the
commands that reach each dependency (the heap index: numpy, pyelftools; ``top``: numba;
``pprof``: protobuf; ``objgraph``: graphviz; text output: rich; ``sql``: duckdb, pyarrow;
``fleet``: dask; a minidump: construct, pefile; the shell at a terminal under tmux:
prompt_toolkit) on fixture dumps, checked against the fixture programs' manifests. About 2 minutes on 2 CPUs with pip's cache warm
(4 cold), most of it pip and numba's first compile.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import ROOT, WINDOWS_DUMPS, Case, fixture_index
from tests.viewcore.test_shell_tty import PROMPT, Tmux

pytestmark = pytest.mark.skipif(os.environ.get("VIEWCORE_LOWEST_DEPS") != "1",
                                reason="installs a venv with the lowest dependency versions (VIEWCORE_LOWEST_DEPS=1)")

SOURCES = ("pyproject.toml", "README.md", "core", "gocore", "viewcore")


def lowest_pins() -> list[str]:
    """Return ``name==bound`` for every dependency of pyproject.toml (each must have a
    ``>=`` lower bound)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = []
    for dep in project["dependencies"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+(?:\[[A-Za-z0-9_,.-]+\])?)\s*>=\s*([0-9][0-9A-Za-z.]*)", dep)
        assert m, f"dependency {dep!r} has no plain lower bound"
        pins.append(f"{m[1]}=={m[2]}")
    return pins


def _name_version(pin: str) -> tuple[str, str]:
    """Return (normalized name, version without trailing .0s) of ``name==version``."""
    name, v = pin.split("==")
    name = name.split("[")[0]                       # dask[distributed]: the package is dask
    return re.sub(r"[-_.]+", "-", name).lower(), re.sub(r"(\.0)+$", "", v)


def test_lowest_pins_cover_every_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert len(lowest_pins()) == len(project["dependencies"])


def test_installs_and_runs_with_lowest_versions(tmp_path):
    entry = next(e for e in fixture_index() if e["go_version"] == "go1.22.10" and e["kind"] == "crash"
                 and not e["stripped"])
    case = Case(entry)
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:  # a copy: pip's in-tree build would leave build/ in the checkout
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(
            ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                        if (ROOT / name).is_dir() else {}))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          str(src), *lowest_pins()], capture_output=True, text=True, timeout=1200)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True,
                            text=True, check=True).stdout
    installed = dict(_name_version(line) for line in freeze.splitlines() if "==" in line)
    assert {n: installed.get(n) for n, _ in map(_name_version, lowest_pins())} == \
        dict(map(_name_version, lowest_pins()))

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    exe = str(venv / "bin" / "viewcore")
    dump = [str(case.core), "--exe", str(case.exe)]

    def viewcore(*argv: str) -> str:
        p = subprocess.run([exe, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
        assert p.returncode == 0, p.stderr
        assert "Traceback" not in p.stderr
        return p.stdout

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert viewcore("--version") == f"viewcore {version}\n"
    assert viewcore("--help").startswith("usage: viewcore")
    assert viewcore("help", "pprof").startswith("usage: viewcore DUMP pprof")
    overview = json.loads(viewcore(*dump, "--json", "overview"))
    assert overview["go_version"] == case.manifest["go_version"]
    hist = json.loads(viewcore(*dump, "--json", "histogram"))
    assert sum(r["count"] for r in hist if r["type"] == "main.Item") == case.manifest["counts"]["main.Item"]
    top = json.loads(viewcore(*dump, "--json", "top", "--n", "3"))
    assert top["live"]["objects"] == overview["heap"]["objects"]
    prof = json.loads(viewcore(*dump, "--json", "pprof", "-o", str(tmp_path / "heap.pb.gz")))
    assert prof["objects"] == overview["heap"]["objects"] and prof["bytes"] == overview["heap"]["bytes"]
    assert gzip.decompress((tmp_path / "heap.pb.gz").read_bytes())
    dot = json.loads(viewcore(*dump, "--json", "objgraph", "-o", str(tmp_path / "heap.dot")))
    assert dot["objects"] == overview["heap"]["objects"]
    assert (tmp_path / "heap.dot").read_text().startswith("digraph heap {")
    assert "main.Item" in viewcore(*dump, "histogram", "--top", "3")  # rich's tables
    rows = json.loads(viewcore(*dump, "--json", "sql",                  # duckdb, pyarrow
                               "SELECT count(*) FROM objects WHERE type = 'main.Item'"))["rows"]
    assert rows == [[case.manifest["counts"]["main.Item"]]]
    fleet = json.loads(viewcore("fleet", str(case.core), "--exes", str(case.exe.parent), "--json"))  # dask
    assert fleet["dumps"] == 1 and not fleet["failed"], fleet
    win = Case(next(e for e in fixture_index(WINDOWS_DUMPS) if e["kind"] == "minidump-full"), WINDOWS_DUMPS)
    mini = json.loads(viewcore(str(win.core), "--exe", str(win.exe), "--json", "overview"))  # construct, pefile
    assert (mini["dump_format"], mini["go_version"]) == ("minidump", win.manifest["go_version"])

    if shutil.which("tmux") is None:
        return
    # the shell at a terminal (prompt_toolkit): a flag completed, a command run, quit
    t = Tmux(f"{exe} {case.core} --exe {case.exe}",
             {"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        t.wait(PROMPT)
        t.keys("hist --to", "Tab")
        t.wait(r"hist --top\s*$")
        t.keys("1", "Enter")
        t.wait(r"main\.Item")
        t.keys("quit", "Enter")
        t.wait(r"^EXIT=0$")
    finally:
        t.close()
