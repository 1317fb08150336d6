"""The fuzz worker: runs recipes read from stdin, one JSON line each, and writes one JSON
outcome line per recipe to stdout.

Run by ``tests.fuzz.campaign`` as ``python -m tests.fuzz.worker``. Each input runs under
a CPU timer (``--cpu-limit`` seconds, SIGPROF raises ``targets.Hang`` where the code is,
so the finding names the loop) and its peak resident memory is measured from
``/proc/self/status`` VmHWM, reset before each input through ``/proc/self/clear_refs``.
The address space is capped (RLIMIT_AS) so a runaway allocation raises MemoryError in
the worker instead of taking the machine; the campaign kills and replaces a worker that
stops answering (a loop in C code) or dies (a crash in C code).

Address space that earlier inputs leave behind (reference cycles, malloc arenas) would
eat into the cap and turn a later, harmless input into a MemoryError. So a worker whose
size stays RECYCLE_MB above its start-up size after a full collection marks its result
``"recycle": true`` and exits, and the campaign starts a fresh one; an input that cannot
even be built gives the outcome ``recycle`` and is run again in a fresh worker.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import signal
import sys
import time

RECYCLE_MB = 512   # leftover address space (after gc) at which a worker is replaced


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Serve recipes until stdin closes; return 0."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu-limit", type=float, default=10.0)
    ap.add_argument("--as-limit-mb", type=int, default=3072,
                    help="address space allowed above the worker's size after start-up")
    args = ap.parse_args(argv)
    # Warnings from numpy and friends would go to stderr; a finding is the exception.
    import warnings
    warnings.simplefilter("ignore")
    from . import targets
    from .mutate import Recipe

    def on_timer(signum, frame):
        raise targets.Hang(f"still running after {args.cpu_limit:g} s of CPU time")
    signal.signal(signal.SIGPROF, on_timer)
    started = False
    base = 0
    out = sys.stdout
    sys.stdout = sys.stderr   # nothing a target prints may corrupt the protocol
    for line in sys.stdin:
        req = json.loads(line)
        recipe = Recipe.from_json(req)
        from .seeds import load_seed
        load_seed(recipe.seed).original   # seed loading is not the input's time or memory
        if not started:
            # Cap the address space once everything is imported and the seed loaded.
            base = _status_kb("VmSize") * 1024
            limit = base + args.as_limit_mb * (1 << 20)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            started = True
        peak_ok = _reset_peak()
        t0, c0 = time.monotonic(), time.process_time()
        signal.setitimer(signal.ITIMER_PROF, args.cpu_limit)
        try:
            result = targets.run(recipe)
        except targets.Hang as e:  # the timer fired outside the target's own try
            result = targets.finding_result("hang", e)
        except targets.WorkerSpent:
            out.write(json.dumps({"outcome": "recycle"}) + "\n")
            out.flush()
            return 0
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        # The input's mmap and the objects of the reader may sit in reference cycles:
        # free them once dead inputs' address space adds up (a full collection per input
        # would cost more than many inputs); if it stays, this worker is spent.
        del recipe
        spent = _status_kb("VmSize") * 1024 > base + (RECYCLE_MB << 20)
        if spent:
            gc.collect()
            spent = _status_kb("VmSize") * 1024 > base + (RECYCLE_MB << 20)
        result["wall"] = round(time.monotonic() - t0, 4)
        result["cpu"] = round(time.process_time() - c0, 4)
        if result["outcome"] in ("ok", "error") and result["cpu"] >= args.cpu_limit:
            # the timer's Hang was caught and wrapped on the way (e.g. construct's
            # "expected N, found M" with Hang inside): still a hang
            result.update(outcome="hang", type="Hang", module="?", function="?",
                          message=f"ran {result['cpu']:.1f} s of CPU; the timer's exception was swallowed: "
                                  + result.get("message", "")[:200])
        result["peak_mb"] = round(_status_kb("VmHWM") / 1024, 1) if peak_ok else None
        if spent:
            result["recycle"] = True
        out.write(json.dumps(result) + "\n")
        out.flush()
        if spent:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
