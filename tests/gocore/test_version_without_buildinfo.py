"""The Go version of an executable built or shipped without its build information.

Copies of the fixture executables (DWARF and stripped) get their ``\\xff Go buildinf:``
magic overwritten, as tools that strip the blob leave them; the version must then come
from the runtime's own ``runtime.buildVersion`` (found by DWARF, symbols or, stripped, in
``runtime.schedinit``'s code), and the whole pipeline must still answer. With
buildVersion's string header blanked too, the release comes from the pclntab and the
moduledata layout. Truth is the ``go_version`` the program printed (``runtime.Version()``).

esbuild, a stripped Go 1.26.5 tool shipped through npm without build info, is checked
when the npm registry can be reached (skipped otherwise): its version, and a SIGQUIT core
of ``esbuild --serve`` whose goroutines must be the ones its GOTRACEBACK=crash traceback lists.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import time

import pytest

import gocore
from core.source import cache_dir, materialize
from gocore.binary.buildinfo import MAGIC
from tests.conftest import Case, fixture_index, run_cli
from tests.gotraceback import parse

VERSIONS = ("go1.22.10", "go1.27.3")
ESBUILD = "0.28.2"                 # @esbuild/linux-x64, built with go1.26.5 (its release notes)
ESBUILD_GO = "go1.26.5"


def _case(version: str, stripped: bool = False) -> Case:
    entry = next((e for e in fixture_index() if e["go_version"] == version and e["kind"] == "crash"
                  and bool(e["stripped"]) == stripped), None)
    if entry is None:
        pytest.skip(f"no {version} crash fixture")
    return Case(entry)


def _without_buildinfo(case: Case, tmp_path) -> str:
    src = materialize(case.exe)
    data = bytearray(open(src, "rb").read())
    at = data.find(MAGIC)
    assert at >= 0 and data.find(MAGIC, at + 1) < 0
    data[at: at + len(MAGIC)] = b"\0" * len(MAGIC)
    dst = tmp_path / "exe"
    dst.write_bytes(bytes(data))
    return str(dst)


def _blank_build_version(exe_path: str, gp) -> None:
    """Zero the length of runtime.buildVersion's string header in the file (it is in .data)."""
    addr = gp._build_version_address()
    assert addr is not None
    off = next(s.offset + addr - s.vaddr for s in gp.process.exe.segments
               if s.vaddr <= addr < s.vaddr + s.filesz)
    with open(exe_path, "r+b") as f:
        f.seek(off + 8)
        f.write(struct.pack("<Q", 0))


@pytest.mark.parametrize("stripped", [False, True], ids=["dwarf", "stripped"])
@pytest.mark.parametrize("version", VERSIONS)
def test_version_from_runtime_build_version(capsys, tmp_path, version, stripped):
    case = _case(version, stripped)
    exe = _without_buildinfo(case, tmp_path)
    gp = gocore.open(case.core, exe=exe)
    assert gp.build_info is None
    assert gp.go_version == case.manifest["go_version"]
    assert gp.go_version_source == "runtime.buildVersion"
    status, out, err = run_cli(capsys, case.core, "--exe", exe, "--json", "overview")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["go_version"] == case.manifest["go_version"]
    assert doc["go_version_source"] == "runtime.buildVersion"
    ms = case.manifest["memstats"]
    assert abs(doc["heap"]["objects"] - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"]
    assert doc["goroutines"] == len(parse(case.traceback))


@pytest.mark.parametrize("version", VERSIONS)
def test_release_from_the_pclntab_layout(tmp_path, version):
    case = _case(version, stripped=True)
    exe = _without_buildinfo(case, tmp_path)
    _blank_build_version(exe, gocore.open(case.core, exe=exe))
    gp = gocore.open(case.core, exe=exe)
    minor = ".".join(case.manifest["go_version"].split(".")[:2])
    assert gp.go_version_source == "pclntab"
    assert gp.go_version.rstrip("+") == minor
    assert gp.partial and any("neither Go build information nor runtime.buildVersion" in w
                              for w in gp.warnings)
    ms = case.manifest["memstats"]
    objs, _ = gp.heap_figures()
    assert abs(objs - ms["HeapObjects"]) <= 0.02 * ms["HeapObjects"]


def test_build_info_still_wins(tmp_path):
    case = _case(VERSIONS[0])
    gp = gocore.open(case.core, exe=case.exe)
    assert gp.go_version == case.manifest["go_version"] and gp.go_version_source == "buildinfo"


# ---- esbuild from npm ----------------------------------------------------------------------

def _esbuild(platform: str = "linux-x64") -> str:
    """Return the path of esbuild's binary for ``platform`` (npm pack, cached), or skip."""
    where = cache_dir() / "npm" / f"esbuild-{platform}-{ESBUILD}"
    binary = where / "package" / ("esbuild.exe" if platform.startswith("win32") else "bin/esbuild")
    if binary.exists():
        return str(binary)
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    where.mkdir(parents=True, exist_ok=True)
    try:
        p = subprocess.run(["npm", "pack", f"@esbuild/{platform}@{ESBUILD}"], cwd=where,
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip("npm pack timed out (registry unreachable?)")
    tgz = where / f"esbuild-{platform}-{ESBUILD}.tgz"
    if p.returncode != 0 or not tgz.exists():
        pytest.skip(f"npm registry unreachable: {p.stderr.strip().splitlines()[-1:] or p.returncode}")
    subprocess.run(["tar", "xzf", tgz.name], cwd=where, check=True)
    return str(binary)


@pytest.mark.parametrize("platform", ["linux-x64", "win32-x64"])
def test_esbuild_executables_name_their_go(platform):
    """ELF and PE, stripped, no build info: runtime.buildVersion found in schedinit's code."""
    from core.exe import open_executable
    from gocore.binary.buildinfo import find_build_info, read_version_string
    from gocore.binary.moduledata import find_runtime_globals, load_module
    exe = open_executable(_esbuild(platform))
    assert find_build_info(exe) is None and not exe.symbols
    pclntab, md = load_module(exe)
    addr = find_runtime_globals(exe, pclntab, md).get("runtime.buildVersion")
    assert addr is not None and read_version_string(exe, addr) == ESBUILD_GO


def _core_pattern_ok() -> bool:
    try:
        return open("/proc/sys/kernel/core_pattern").read().strip() == "core"
    except OSError:
        return False


def _raise_core_limit() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def test_esbuild_overview_goroutines_and_heap(capsys, tmp_path):
    esbuild = _esbuild()
    if not _core_pattern_ok():
        pytest.skip("kernel.core_pattern is not 'core': no kernel core to read")
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("<p>hi</p>")
    env = dict(os.environ, GOTRACEBACK="crash")
    with open(tmp_path / "stderr.txt", "wb") as err:
        p = subprocess.Popen([esbuild, "--serve=127.0.0.1:0", f"--servedir={tmp_path / 'www'}"],
                             cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=err, preexec_fn=_raise_core_limit)
        time.sleep(1.0)
        p.send_signal(signal.SIGQUIT)
        p.wait(timeout=30)
    core_file = tmp_path / "core"
    if not core_file.exists():
        pytest.skip("esbuild left no core (core dumps disabled here?)")
    traceback = parse((tmp_path / "stderr.txt").read_text(errors="replace"))
    assert traceback
    status, out, err = run_cli(capsys, core_file, "--exe", esbuild, "--json", "overview")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["go_version"] == ESBUILD_GO and doc["go_version_source"] == "runtime.buildVersion"
    assert doc["goroutines"] == len(traceback)
    assert doc["heap"]["objects"] > 0
    status, out, err = run_cli(capsys, core_file, "--exe", esbuild, "--json", "goroutines")
    assert status == 0, err
    assert {g["id"] for g in json.loads(out)} == set(traceback)
    status, out, err = run_cli(capsys, core_file, "--exe", esbuild, "--json", "histogram")
    assert status == 0, err
    rows = json.loads(out)
    assert sum(r["count"] for r in rows) == doc["heap"]["objects"]
