"""Build ``fixtures/programs/crashkeeper`` with a real Go toolchain and let it die in a
chosen way under GOTRACEBACK=crash: the kernel core, the executable, the MANIFEST line and
what the runtime printed on stderr (the truth the crash tests compare with)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "fixtures"))
import make_dumps  # noqa: E402

PROGRAM = ROOT / "fixtures" / "programs" / "crashkeeper"
VERSION = "1.27.3"    # a toolchain test.sh always has


@dataclass
class CrashDump:
    """One dead crashkeeper: its core, executable, manifest and stderr."""

    core: Path
    exe: Path
    manifest: dict
    stderr: str

    @property
    def first_line(self) -> str:
        """Return the runtime's first line on stderr (``panic: ...``)."""
        return self.stderr.splitlines()[0]


def build(work: Path, version: str = VERSION, stripped: bool = False) -> Path:
    """Return crashkeeper built by Go ``version`` into ``work`` (skips without the toolchain)."""
    try:
        make_dumps.check_core_pattern()
        go, _ = make_dumps.ensure_toolchain(version)
    except (make_dumps.FixtureError, subprocess.CalledProcessError, OSError) as e:
        pytest.skip(f"cannot make crashkeeper dumps with go{version}: {e}")
    exe = work / ("crashkeeper-stripped" if stripped else "crashkeeper")
    flags = ["-ldflags=-s -w"] if stripped else []
    r = subprocess.run([go, "build", *flags, "-o", str(exe), "."], cwd=PROGRAM,
                       env=make_dumps.build_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return exe


def crash(exe: Path, work: Path, *args: str) -> CrashDump:
    """Run ``exe ARGS`` in the new directory ``work`` until it dies; return its dump."""
    work.mkdir(parents=True)
    p = subprocess.run([str(exe), *args], cwd=work, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=make_dumps.run_env(gotraceback=True), timeout=120,
                       preexec_fn=make_dumps._raise_core_limit)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("MANIFEST ")), None)
    assert line is not None, (p.returncode, p.stdout[-500:], p.stderr[-2000:])
    manifest = json.loads(line[len("MANIFEST "):])
    core = make_dumps._find_kernel_core(work, manifest["pid"])
    if core is None:
        pytest.skip("the kernel wrote no core file (core_pattern, RLIMIT_CORE)")
    return CrashDump(core, exe, manifest, p.stderr)
