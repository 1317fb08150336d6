"""PE executables: Windows Go binaries built here (when a Go toolchain is installed) and
the executables stored with the Windows minidump fixtures.

Truth comes from elsewhere: DWARF globals (their DW_OP_addr) must equal the COFF symbols,
the build id must equal `go tool buildid`, image bases are the Go linker's defaults.
"""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import pytest

import core
from core.errors import ExecutableError

ROOT = Path(__file__).resolve().parents[2]
WIN_DUMPS = ROOT / "fixtures" / "dumps-windows"
TOOLCHAINS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "viewcore" / "toolchains"
PROGRAM = """package main

import (
	"fmt"
	"os"
)

type T struct {
	A, B int
	S    string
}

var Global = &T{1, 2, "x"}
var Counter int64 = 7
var Table [1000]int64

func main() {
	Table[3] = 9
	fmt.Println(Global, Counter, len(os.Args), Table[3])
}
"""


def _go(version: str) -> str | None:
    if version == "1.19":
        return "/usr/lib/go-1.19/bin/go" if os.path.exists("/usr/lib/go-1.19/bin/go") else None
    pattern = TOOLCHAINS / f"go{version}*" / "lib" / "python3*" / "site-packages" / "go" / "bin" / "go"
    hits = glob.glob(str(pattern))
    return sorted(hits)[-1] if hits else None


# One old-layout (image base 0x400000, DWARF 4) and one new (0x140000000, DWARF 5).
VERSIONS = ["1.22", "1.25"]


@pytest.fixture(scope="module", params=VERSIONS)
def built(request, tmp_path_factory):
    go = _go(request.param)
    if go is None:
        pytest.skip(f"no Go {request.param} toolchain under {TOOLCHAINS}")
    src = tmp_path_factory.mktemp(f"src{request.param}")
    (src / "main.go").write_text(PROGRAM)
    (src / "go.mod").write_text("module petest\n\ngo 1.19\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(GOOS="windows", GOARCH="amd64", CGO_ENABLED="0", GOTOOLCHAIN="local", GOPROXY="off",
               GOFLAGS="-mod=mod", GOCACHE=str(TOOLCHAINS / "gocache"), GOPATH=str(TOOLCHAINS / "gopath"))
    out = {}
    for name, extra in (("full", []), ("stripped", ["-ldflags=-s -w"])):
        exe = src / f"{name}.exe"
        subprocess.run([go, "build", *extra, "-o", str(exe), "."], cwd=src, env=env, check=True,
                       capture_output=True)
        out[name] = exe
    buildid = subprocess.run([go, "tool", "buildid", str(out["full"])], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
    return request.param, out, buildid


def _dwarf_globals(dwarf) -> dict[str, int]:
    out = {}
    for cu in dwarf.iter_CUs():
        for die in cu.get_top_DIE().iter_children():
            if die.tag != "DW_TAG_variable" or "DW_AT_location" not in die.attributes:
                continue
            loc = die.attributes["DW_AT_location"].value
            if isinstance(loc, list) and len(loc) == 9 and loc[0] == 0x03:  # DW_OP_addr
                out[die.attributes["DW_AT_name"].value.decode()] = int.from_bytes(bytes(loc[1:]), "little")
    return out


def test_headers_and_sections(built):
    version, exes, _ = built
    exe = core.open_executable(exes["full"])
    assert (exe.format, exe.goos, exe.goarch) == ("pe", "windows", "amd64")
    assert exe.image_base == (0x140000000 if version >= "1.25" else 0x400000)
    assert ".zdebug_info" in exe.sections  # a long name from the COFF string table
    assert ".debug_gdb_scripts" in exe.sections
    text = exe.sections[".text"]
    assert text.addr == exe.image_base + 0x1000
    perms = {s.vaddr: s.perms for s in exe.segments}
    assert perms[text.addr] == "r-x"
    assert perms[exe.sections[".data"].addr] == "rw-"
    assert perms[exe.sections[".rdata"].addr] == "r--"
    assert not any(s.vaddr == exe.sections[".zdebug_info"].addr for s in exe.segments)


def test_symbols_agree_with_dwarf(built):
    _, exes, _ = built
    exe = core.open_executable(exes["full"])
    dwarf = exe.dwarf()
    assert dwarf is not None and exe.has_dwarf
    globs = _dwarf_globals(dwarf)
    assert len(globs) > 300
    syms = exe.symbols
    assert {n: syms[n][0] for n in globs if n in syms} == globs
    assert "main.Global" in globs and "main.Table" in globs
    assert syms["main.Table"][1] >= 8000  # sizes run to the next symbol
    assert syms["main.main"][0] >= exe.sections[".text"].addr
    # main.Counter holds 7 in the file's .data
    assert exe.read_static(syms["main.Counter"][0], 8) == (7).to_bytes(8, "little")


def test_dwarf_compile_units(built):
    version, exes, _ = built
    dwarf = core.open_executable(exes["full"]).dwarf()
    cus = [cu.get_top_DIE().attributes["DW_AT_name"].value.decode() for cu in dwarf.iter_CUs()]
    assert "main" in cus and "runtime" in cus
    versions = {cu["version"] for cu in dwarf.iter_CUs()}
    assert versions == ({5} if version >= "1.25" else {4})


def test_build_id(built):
    _, exes, buildid = built
    assert core.open_executable(exes["full"]).build_id == buildid


def test_stripped(built):
    _, exes, _ = built
    exe = core.open_executable(exes["stripped"])
    assert exe.symbols == {}
    assert exe.dwarf() is None and not exe.has_dwarf
    assert exe.build_id  # still at the start of .text


def test_corrupt_dwarf_section(built, tmp_path):
    _, exes, _ = built
    exe = core.open_executable(exes["full"])
    sec = exe.sections[".zdebug_info"]
    data = bytearray(Path(exes["full"]).read_bytes())
    data[sec.offset + 12: sec.offset + 40] = b"\xff" * 28
    bad = tmp_path / "bad.exe"
    bad.write_bytes(bytes(data))
    with pytest.raises(ExecutableError, match="zdebug_info"):
        core.open_executable(bad).dwarf()


def test_truncated_pe(built, tmp_path):
    _, exes, _ = built
    data = Path(exes["full"]).read_bytes()
    for cut in (64, 0x200, len(data) // 2):
        bad = tmp_path / f"cut{cut}.exe"
        bad.write_bytes(data[:cut])
        with pytest.raises(ExecutableError) as info:
            core.open_executable(bad)
        assert "\n" not in str(info.value)


def test_not_a_pe(tmp_path):
    p = tmp_path / "mz.exe"
    p.write_bytes(b"MZ" + bytes(200))
    with pytest.raises(ExecutableError):
        core.open_executable(p)


@pytest.mark.parametrize("exe_path", sorted(WIN_DUMPS.glob("go*/exe.zst")), ids=lambda p: p.parent.name)
def test_fixture_executables(exe_path):
    exe = core.open_executable(exe_path)
    globs = _dwarf_globals(exe.dwarf())
    syms = exe.symbols
    assert globs and {n: syms[n][0] for n in globs if n in syms} == globs
    assert exe.build_id
