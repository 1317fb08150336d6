#!/usr/bin/env python3
"""Generate a benchmark dump: a real Go program with a heap and goroutines of a named size.

    python bench/gen.py --objects 1000000 --goroutines 100000 [--list 10000000] [--go 1.24.11] [--out bench/work]

Builds bench/programs/bigheap with the chosen toolchain (installed like the fixtures'),
runs it, waits for its MANIFEST line (the runtime's own HeapObjects, HeapAlloc,
NumGoroutine), and kills it with SIGABRT under GOTRACEBACK=crash for a kernel core.
Writes <out>/<name>/{core, exe, manifest.json}; prints the directory.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "fixtures"))
import make_dumps  # noqa: E402  (the fixtures' toolchain and core helpers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=1_000_000)
    ap.add_argument("--goroutines", type=int, default=0)
    ap.add_argument("--list", type=int, default=0, help="nodes of one linked list (the deep case)")
    ap.add_argument("--go", default="1.24.11", help="Go version (as for fixtures/make_dumps.py)")
    ap.add_argument("--out", default=str(HERE / "work"))
    args = ap.parse_args(argv)

    make_dumps.check_core_pattern()
    go, gv = make_dumps.ensure_toolchain(args.go)
    d = Path(args.out) / (f"{gv}-o{args.objects}-g{args.goroutines}" +
                          (f"-l{args.list}" if args.list else ""))
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("core*"):
        old.unlink()
    exe = d / "exe"
    subprocess.run([go, "build", "-o", str(exe), "."], cwd=HERE / "programs" / "bigheap",
                   env=make_dumps.build_env(), check=True)
    t0 = time.monotonic()
    proc = subprocess.Popen([str(exe), f"-objects={args.objects}", f"-goroutines={args.goroutines}",
                             f"-list={args.list}"],
                            cwd=d, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=make_dumps.run_env(gotraceback=True), preexec_fn=make_dumps._raise_core_limit)
    manifest, _ = make_dumps._read_manifest_line(proc, time.monotonic() + 1800)
    (d / "manifest.json").write_text(manifest)
    proc.send_signal(signal.SIGABRT)
    proc.wait(timeout=600)
    core = make_dumps._find_kernel_core(d, proc.pid)
    if core is None:
        print("bench/gen.py: no core file was written", file=sys.stderr)
        return 1
    core.rename(d / "core")
    m = json.loads(manifest)
    print(f"{d}  ({time.monotonic() - t0:.1f}s; HeapObjects={m['memstats']['HeapObjects']} "
          f"NumGoroutine={m['num_goroutine']}; core {(d / 'core').stat().st_size / 1e6:.0f} MB apparent)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
