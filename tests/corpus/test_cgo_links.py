"""moduledata and the runtime globals of cgo programs linked by the system linker
(external linking: .data before .noptrdata, a PIE's types and pclntab in .data.rel.ro),
against the symbol table of the same build: found without symbols, they are where the
symbols say. Builds fixtures/programs/cgosleeper with Debian's Go 1.19 (as Debian's
packages are built) and with Go 1.27 as a PIE (Debian's age is a go1.19 PIE in the corpus)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.exe import open_executable
from gocore.binary.moduledata import RUNTIME_GLOBALS, _problems, find_runtime_globals, load_module
from gocore.binary.pclntab import parse_header

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fixtures"))
from make_dumps import FixtureError, build_env, ensure_toolchain  # noqa: E402

BUILDS = [
    pytest.param("1.19", ("-ldflags=-linkmode=external",), id="go1.19-external"),
    pytest.param("1.27.3", ("-buildmode=pie", "-ldflags=-linkmode=external"), id="go1.27-pie"),
]


def _build(tmp_path: Path, version: str, flags: tuple[str, ...]) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is missing (cgo needs it)")
    try:
        go, _ = ensure_toolchain(version)
    except (FixtureError, subprocess.CalledProcessError) as e:
        pytest.skip(f"no Go {version}: {e}")
    exe = tmp_path / "cgosleeper"
    r = subprocess.run([go, "build", *flags, "-o", str(exe), "."],
                       cwd=ROOT / "fixtures" / "programs" / "cgosleeper",
                       env=dict(build_env(), CGO_ENABLED="1"), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


@pytest.mark.parametrize("version,flags", BUILDS)
def test_found_without_symbols_where_the_symbols_say(tmp_path, version, flags):
    exe = open_executable(_build(tmp_path, version, flags))
    syms = exe.symbols
    sections = list(exe.sections)
    assert sections.index(".data") < sections.index(".noptrdata")  # the system linker's order
    tab, md = load_module(exe)
    assert md.addr == syms["runtime.firstmoduledata"][0]
    assert (md.data, md.noptrdata, md.bss, md.noptrbss) == (
        syms["runtime.data"][0], syms["runtime.noptrdata"][0], syms["runtime.bss"][0],
        syms["runtime.noptrbss"][0])
    got = find_runtime_globals(exe, tab, md, use_symbols=False)
    assert got == {n: syms[n][0] for n in RUNTIME_GLOBALS}


def _header(exe, addr: int):
    """Return the PcHeader at ``addr`` of the executable."""
    return parse_header(exe.read_static(addr, 72), addr)


def _fixture_module():
    from tests.conftest import DUMPS, fixture_index
    entry = next((e for e in fixture_index() if not e["stripped"]), None)
    if entry is None:
        pytest.skip("no fixture dumps (fixtures/dumps/index.json)")
    exe = open_executable(DUMPS / entry["exe"])
    tab, md = load_module(exe)
    mapped = lambda a: any(s.vaddr <= a < s.vaddr + s.memsz for s in exe.segments)  # noqa: E731
    return exe, md, mapped


def test_any_order_of_the_data_ranges_validates():
    """The same four ranges in the system linker's order (.data first) still validate."""
    exe, md, mapped = _fixture_module()
    hdr = _header(exe, md.pc_header)
    assert _problems(md, md._caps, hdr, mapped) == []
    ranges = {n: (getattr(md, n), getattr(md, "e" + n)) for n in ("noptrdata", "data")}
    size_np = ranges["noptrdata"][1] - ranges["noptrdata"][0]
    size_d = ranges["data"][1] - ranges["data"][0]
    lo = ranges["noptrdata"][0]
    swapped = dataclasses.replace(md, data=lo, edata=lo + size_d, noptrdata=lo + size_d,
                                  enoptrdata=lo + size_d + size_np)
    assert _problems(swapped, md._caps, hdr, mapped) == []


def test_overlapping_or_unclosed_data_ranges_do_not_validate():
    exe, md, mapped = _fixture_module()
    hdr = _header(exe, md.pc_header)
    overlap = dataclasses.replace(md, data=md.noptrdata + 8)
    assert any("overlap" in p for p in _problems(overlap, md._caps, hdr, mapped))
    unclosed = dataclasses.replace(md, end=md.noptrbss)
    assert any("does not close" in p for p in _problems(unclosed, md._caps, hdr, mapped))
    unmapped = dataclasses.replace(md, ebss=1 << 47)
    assert any("bss range" in p for p in _problems(unmapped, md._caps, hdr, mapped))
