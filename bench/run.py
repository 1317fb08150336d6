#!/usr/bin/env python3
"""Time viewcore commands on a benchmark dump: wall time and peak RSS of each, cold.

    python bench/run.py bench/work/go1.24.11-o1000000-g100000 goroutines overview

Each command runs as its own process (`viewcore DIR/core --exe DIR/exe --json CMD`,
output discarded), so the peak RSS is that command's alone.
"""

from __future__ import annotations

import json
import os
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


def main(argv: list[str]) -> int:
    d = Path(argv[0])
    manifest = json.loads((d / "manifest.json").read_text())
    print(f"{d.name}: HeapObjects={manifest['memstats']['HeapObjects']} "
          f"NumGoroutine={manifest['num_goroutine']} core={(d / 'core').stat().st_size / 1e6:.0f} MB")
    for command in argv[1:] or ["overview"]:
        wall, rss, status = measure(VIEWCORE + [str(d / "core"), "--exe", str(d / "exe"), "--json",
                                                *command.split()])
        print(f"  {command:<24} {wall:7.2f} s  peak RSS {rss / 2**20:7.0f} MiB  exit {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
