"""Build a small Go program, run it until it prints its MANIFEST line, SIGQUIT it and
return the kernel core: the one recipe the tests that dump their own programs share
(fixtures/make_dumps.py supplies the build and run environments)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "fixtures"))
import make_dumps  # noqa: E402


def sigquit_dump(go: str, program: Path, stripped: bool, work: Path,
                 build_flags: tuple[str, ...] = ()) -> tuple[Path, Path, dict]:
    """Return (kernel core, executable, manifest) of ``program`` built by ``go`` (with
    ``-s -w`` when ``stripped``, and ``build_flags``) and killed by SIGQUIT with
    GOTRACEBACK=crash; skips the test when this machine writes no core into the process's
    directory."""
    try:
        make_dumps.check_core_pattern()
    except make_dumps.FixtureError as e:
        pytest.skip(str(e))
    exe = work / program.name
    flags = (["-ldflags=-s -w"] if stripped else []) + list(build_flags)
    r = subprocess.run([go, "build", *flags, "-o", str(exe), "."], cwd=program,
                       env=make_dumps.build_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    proc = subprocess.Popen([str(exe)], cwd=work, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=make_dumps.run_env(gotraceback=True),
                            preexec_fn=make_dumps._raise_core_limit)
    try:
        text, _ = make_dumps._read_manifest_line(proc, time.monotonic() + 120)
        manifest = json.loads(text)
        make_dumps._wait_until_asleep(proc.pid)   # the writer of the line has parked
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    core = make_dumps._find_kernel_core(work, proc.pid)
    if core is None:
        pytest.skip("the kernel wrote no core file (core_pattern, RLIMIT_CORE)")
    return core, exe, manifest


def loaded_sigquit_dump(program: Path, version: str, stripped: bool, tmp_path_factory,
                        cache: dict) -> tuple:
    """Return (gocore.GoProcess, manifest) of ``program`` built by Go ``version`` (``-s -w``
    when ``stripped``) and dumped by SIGQUIT (``sigquit_dump``), made once per (version,
    stripped) and kept in ``cache``; skips the test when the toolchain cannot be had."""
    key = (version, stripped)
    if key not in cache:
        import core
        import gocore
        try:
            go, _ = make_dumps.ensure_toolchain(version)
        except (make_dumps.FixtureError, subprocess.CalledProcessError, OSError) as e:
            pytest.skip(f"cannot make a {program.name} dump with go{version}: {e}")
        work = tmp_path_factory.mktemp(f"{program.name}-{version}-{'s' if stripped else 'd'}")
        c, exe, manifest = sigquit_dump(go, program, stripped, work)
        cache[key] = (gocore.load(core.open_dump(str(c), exe=str(exe))), manifest)
    return cache[key]


def amd64_sigquit_dump(program: Path, version: str, stripped: bool, tmp_path_factory,
                       cache: dict) -> tuple:
    """Return ``loaded_sigquit_dump``'s (GoProcess, manifest), skipping the test when the
    dump is not amd64's: package variables are typed from amd64 code only."""
    gp, manifest = loaded_sigquit_dump(program, version, stripped, tmp_path_factory, cache)
    if gp.process.goarch != "amd64":
        pytest.skip("package variables are typed from amd64 code only")
    return gp, manifest
