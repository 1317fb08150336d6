#!/usr/bin/env python3
"""Time viewcore commands on a benchmark dump: wall time and peak RSS of each, cold.

    python bench/run.py bench/work/go1.24.11-o1000000-g100000 goroutines overview

Each command runs as its own process (`viewcore DIR/core --exe DIR/exe --json CMD`,
output discarded), so the peak RSS is that command's alone.

    python bench/run.py --stages bench/work/go1.24.11-o5000000-g0

builds the heap index in a child process and prints each stage's wall time, CPU time
(the figure to trust on a busy machine) and peak RSS
(the kernel's high-water mark, reset at every stage through /proc/self/clear_refs), then
the histogram's.

    python bench/run.py --go-viewcore /path/to/go-viewcore DIR overview histogram

Commands run in order, each a new process, with viewcore's cache in ``DIR/cache``
(compiled numba code stays in the user's cache): the index kept from earlier runs is
removed first, so the first command builds the heap index and keeps it and the rest open
it; the ``index`` column says which. ``ADDR`` in a command stands for the address of the
first live ``main.Record`` or ``main.Node`` (``reachable ADDR``). ``--keep-index`` keeps an index made earlier.

also runs Go's own viewcore (golang.org/x/debug/cmd/viewcore, built outside this
repository) on the same dump, after ours, for the commands it has, and prints how many
heap objects each tool found (``objects`` counts), since a tool that finds fewer objects
is faster for that reason alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

VIEWCORE = [sys.executable, "-m", "viewcore"]


def measure(cmd: list[str]) -> tuple[float, int, int]:
    """Return (wall seconds, peak RSS in bytes, exit status) of one command."""
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    return time.monotonic() - t0, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def _rss() -> tuple[int, int]:
    """Return (current, peak) RSS of this process in bytes."""
    cur = peak = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return cur, peak


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def stages(d: Path) -> int:
    """Build the heap index of the dump in ``d`` (in this process) and print each stage's
    wall time, peak RSS and RSS at its end."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import gocore

    rows: list[tuple[str, float, float, int, int]] = []
    t_open, c_open = time.monotonic(), time.process_time()
    _reset_peak()
    gp = gocore.open(d / "core", exe=d / "exe", use_cache=False)   # computed, not read back
    state = {"stage": "open", "t": t_open, "c": c_open}

    def progress(stage: str, frac: float) -> None:
        now, cpu = time.monotonic(), time.process_time()
        cur, peak = _rss()
        rows.append((state["stage"], now - state["t"], cpu - state["c"], peak, cur))
        state.update(stage=stage, t=time.monotonic(), c=time.process_time())
        _reset_peak()

    t0 = time.monotonic()
    gp.heap_index(progress=progress)
    progress("histogram", 1.0)
    rows.pop()                              # the "done" stage has no work
    hi = gp.heap_index()
    hi.histogram()
    progress("end", 1.0)
    total = time.monotonic() - t0
    n = len(hi.heap)
    for name, secs, cpu, peak, cur in rows:
        print(f"  {name:<28} {secs:7.2f} s  CPU {cpu:7.2f} s  peak RSS {peak / 2**20:7.0f} MiB  after {cur / 2**20:7.0f} MiB")
    print(f"  {'index+histogram':<28} {total:7.2f} s  {n} objects ({n / max(total, 1e-9) / 1e6:.2f} M/s), "
          f"{len(hi.edges)} edges, {hi.live_count} live")
    return 0


GO_VIEWCORE_COMMANDS = {"overview", "histogram", "goroutines", "breakdown", "objects", "mappings"}


def go_viewcore_objects(go_viewcore: str, d: Path) -> int | None:
    """Return the number of live objects Go's viewcore lists for the dump (its ``objects``
    command prints one line per object), or None when it fails."""
    p = subprocess.run([go_viewcore, str(d / "core"), "--exe", str(d / "exe"), "objects"],
                       capture_output=True, text=True)
    return p.stdout.count("\n") if p.returncode == 0 else None


def _bench_env(d: Path, keep_index: bool) -> Path:
    """Point this run's viewcore cache at ``d/cache`` (numba's compiled code stays in the
    user's cache) and return the index directory, emptied unless ``keep_index``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from core.source import cache_dir
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
    # measure as installed: with bytecode (pip compiles it at install; without it every
    # process compiles ~70 modules, about 0.6 s)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    import compileall
    root = Path(__file__).resolve().parent.parent
    for pkg in ("core", "gocore", "viewcore"):
        compileall.compile_dir(root / pkg, quiet=1)
    os.environ["XDG_CACHE_HOME"] = str(d / "cache")
    index = d / "cache" / "viewcore" / "index"
    if not keep_index:
        shutil.rmtree(index, ignore_errors=True)
    return index


def _kept(index: Path) -> bool:
    """Return whether an index is kept (a base part exists) under ``index``."""
    return any(index.glob("v*/*/base/record.json"))


def _first_record(d: Path) -> str:
    """Return the address of the first live main.Record (else main.Node: the deep case)."""
    for t in ("main.Record", "main.Node"):
        p = subprocess.run(VIEWCORE + [str(d / "core"), "--exe", str(d / "exe"), "--json", "objects",
                                       "--type", t, "--limit", "1"], capture_output=True, text=True)
        rows = json.loads(p.stdout)
        if rows:
            return hex(rows[0]["address"])
    raise SystemExit(f"{d}: no main.Record or main.Node for ADDR")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--stages":
        return stages(Path(argv[1]))
    go_viewcore = None
    if argv and argv[0] == "--go-viewcore":
        go_viewcore, argv = argv[1], argv[2:]
    keep_index = bool(argv) and argv[0] == "--keep-index"
    if keep_index:
        argv = argv[1:]
    d = Path(argv[0])
    index = _bench_env(d, keep_index)
    manifest = json.loads((d / "manifest.json").read_text())
    print(f"{d.name}: HeapObjects={manifest['memstats']['HeapObjects']} "
          f"NumGoroutine={manifest['num_goroutine']} core={(d / 'core').stat().st_size / 1e6:.0f} MB")
    addr = None
    for command in argv[1:] or ["overview"]:
        if "ADDR" in command:
            addr = addr or _first_record(d)
            command = command.replace("ADDR", addr)
        state = "kept" if _kept(index) else "new"
        wall, rss, status = measure(VIEWCORE + [str(d / "core"), "--exe", str(d / "exe"), "--json",
                                                *command.split()])
        print(f"  {command:<32} {wall:7.2f} s  peak RSS {rss / 2**20:7.0f} MiB  index {state:<4}  exit {status}")
        if go_viewcore and command in GO_VIEWCORE_COMMANDS:   # the same command, no flags
            wall, rss, status = measure([go_viewcore, str(d / "core"), "--exe", str(d / "exe"),
                                         *command.split()])
            print(f"  {'  Go viewcore ' + command:<32} {wall:7.2f} s  peak RSS {rss / 2**20:7.0f} MiB  exit {status}")
    if go_viewcore:
        ours = subprocess.run(VIEWCORE + [str(d / "core"), "--exe", str(d / "exe"), "--json", "overview"],
                              capture_output=True, text=True)
        found = json.loads(ours.stdout)["heap"]["objects"] if ours.returncode == 0 else None
        print(f"  live objects found: manifest HeapObjects {manifest['memstats']['HeapObjects']}, "
              f"viewcore {found}, Go viewcore {go_viewcore_objects(go_viewcore, d)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
