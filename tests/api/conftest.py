"""The valuekeeper dump the API tests read: built, run and dumped once per Go version.

Default: one Go with hash-bucket maps (1.22) and one with swiss tables (1.24), when
installed; ``VIEWCORE_API_GO=all`` runs every installed Go 1.21+, ``VIEWCORE_API_GO=1.23.9,1.27.3``
the ones named. Truth is what the program printed (its MANIFEST line: values, ``%p``
addresses, and ``runtime.Stack``'s goroutine headers).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from ..gobuild import sigquit_dump

PROGRAM = Path(__file__).resolve().parent / "valuekeeper"
DEFAULT_VERSIONS = ("1.22", "1.24")
# -N -l: locals stay in frame memory where DWARF locates them (optimized code keeps most
# of them in registers, which a parked goroutine's frames do not save)
BUILD_FLAGS = ("-gcflags=all=-N -l",)


def _toolchains() -> dict[str, str]:
    """Return {version: go binary} of the installed Go 1.21+ toolchains."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    pat = os.path.join(base, "viewcore", "toolchains", "go1.*", "lib", "python3*",
                       "site-packages", "go", "bin", "go")
    found = {Path(go).parts[-7][2:]: go for go in sorted(glob.glob(pat))}
    return {v: go for v, go in found.items() if int(v.split(".")[1]) >= 21}


def _versions() -> list[str]:
    have = _toolchains()
    want = os.environ.get("VIEWCORE_API_GO", "")
    if want == "all":
        return sorted(have, key=lambda v: tuple(map(int, v.split("."))))
    if want:
        return [v for v in want.split(",") if v in have]
    # the newest patch release of each default minor version
    out = []
    for minor in DEFAULT_VERSIONS:
        got = sorted((v for v in have if v == minor or v.startswith(minor + ".")),
                     key=lambda v: tuple(map(int, v.split("."))))
        if got:
            out.append(got[-1])
    return out


VERSIONS = _versions()
_LOADED: dict = {}


def pytest_generate_tests(metafunc):
    if "kept" in metafunc.fixturenames:
        params = VERSIONS or [pytest.param(None, marks=pytest.mark.skip(reason="no Go 1.21+ toolchain"))]
        metafunc.parametrize("kept", params, indirect=True, ids=lambda v: f"go{v}")


@pytest.fixture
def kept(request, tmp_path_factory):
    """Return (gocore.Process, manifest) of the valuekeeper dump of one Go version."""
    version = request.param
    if version not in _LOADED:
        import gocore
        work = tmp_path_factory.mktemp(f"valuekeeper-{version}")
        core, exe, manifest = sigquit_dump(_toolchains()[version], PROGRAM, False, work,
                                           build_flags=BUILD_FLAGS)
        _LOADED[version] = (gocore.open(str(core), exe=str(exe), use_cache=False), manifest)
    return _LOADED[version]
