"""Shared test fixtures: the committed dumps of real Go programs and their manifests.

``fixtures/dumps/index.json`` lists every dump with the executable it came from and the
truth its Go runtime printed at dump time (``*.manifest.json``, ``*.stderr.txt``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DUMPS = ROOT / "fixtures" / "dumps"
WINDOWS_DUMPS = ROOT / "fixtures" / "dumps-windows"
ARM64_DUMPS = ROOT / "fixtures" / "dumps-arm64"  # linux/arm64 guest cores written by qemu-user


@lru_cache(maxsize=4)
def fixture_index(root: Path = DUMPS) -> list[dict]:
    """Return the entries of ``root``/index.json (empty if absent)."""
    index = root / "index.json"
    if not index.exists():
        return []
    return json.loads(index.read_text())


def minidump_cases(kind: str = "minidump-full") -> list:
    """Return pytest params, one per Windows minidump fixture of ``kind``."""
    out = [pytest.param(e, id=f"{e['go_version']}-{e['kind']}")
           for e in fixture_index(WINDOWS_DUMPS) if e["kind"] == kind]
    return out or [pytest.param(None, marks=pytest.mark.skip(reason="no minidump fixtures"))]


def case_id(entry: dict) -> str:
    """Return a readable test id such as ``go1.22.10-crash-stripped``."""
    return f"{entry['go_version']}-{entry['kind']}" + ("-stripped" if entry.get("stripped") else "")


def dump_cases(*, kinds: tuple[str, ...] | None = None, stripped: bool | None = None,
               root: Path = DUMPS) -> list:
    """Return pytest params, one per fixture dump of ``root`` matching ``kinds`` and
    ``stripped``; an entry of another root than fixtures/dumps carries it (``_root``), so
    every helper taking an entry opens it from there."""
    out = []
    for e in fixture_index(root):
        if root != DUMPS:
            e = dict(e, _root=str(root))
        if kinds is not None and e["kind"] not in kinds:
            continue
        if stripped is not None and bool(e.get("stripped")) != stripped:
            continue
        out.append(pytest.param(e, id=case_id(e)))
    if not out:
        out.append(pytest.param(None, marks=pytest.mark.skip(reason=f"no fixture dumps ({root}/index.json)")))
    return out


class Case:
    """One fixture dump: paths and its manifest."""

    def __init__(self, entry: dict, root: Path | None = None):
        root = root or Path(entry.get("_root", DUMPS))
        self.entry = entry
        self.core = root / entry["core"]
        self.exe = root / entry["exe"]
        self.manifest = json.loads((root / entry["manifest"]).read_text())
        self.traceback_path = root / entry["traceback"] if entry.get("traceback") else None

    @property
    def traceback(self) -> str:
        """Return the GOTRACEBACK=crash stderr saved when the dump was made."""
        return self.traceback_path.read_text(errors="replace") if self.traceback_path else ""


@lru_cache(maxsize=None)
def _open(core_path: str, exe_path: str):
    import core
    return core.open_dump(core_path, exe=exe_path)


def open_case(entry: dict, root: Path | None = None):
    """Return (Case, core.Process) for a fixture entry, opened once per session."""
    case = Case(entry, root)
    return case, _open(str(case.core), str(case.exe))


@lru_cache(maxsize=None)
def _go(core_path: str, exe_path: str):
    import gocore
    return gocore.load(_open(core_path, exe_path))


def go_case(entry: dict, root: Path | None = None):
    """Return (Case, gocore.GoProcess) for a fixture entry, loaded once per session and
    shared by every test module (the heap is indexed once per dump)."""
    case = Case(entry, root)
    return case, _go(str(case.core), str(case.exe))


def run_cli(capsys, *argv):
    """Run viewcore in-process; return (exit status, stdout, stderr)."""
    from viewcore.cli import main
    try:
        status = main([str(a) for a in argv])
    except SystemExit as e:  # argparse
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err

