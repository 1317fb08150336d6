"""Long fuzz runs over viewcore's readers (ELF core, minidump, ELF and PE executables,
pclntab, DWARF, and dump -> gocore end to end).

    .venv/bin/python tools/fuzz.py --hours 4 --jobs 1 --out /tmp/fuzz
    .venv/bin/python tools/fuzz.py --inputs 1000000 --targets elfcore,minidump --seed 7
    .venv/bin/python tools/fuzz.py --replay /tmp/fuzz/<finding>.json     # run one recipe again

The mutator is viewcore's own (tests/fuzz/mutate.py): structure-aware, seeded, and
reproducible input by input, so it needs nothing beyond the test dependencies. Writes
``summary.json``, ``report.md`` (findings grouped by module, with the recipe that makes
each input from its fixture) and one JSON file per finding class into ``--out``; prints
inputs/s per target and the totals. Exit status 1 when there is a finding. See
docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz.campaign import Campaign  # noqa: E402
from tests.fuzz.mutate import Recipe  # noqa: E402
from tests.fuzz.targets import SEEDS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run a campaign (or replay one recipe); return 1 if anything was found."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, help="stop after this long (default: 4 unless --inputs)")
    ap.add_argument("--inputs", type=int, help="stop after this many inputs over all targets")
    ap.add_argument("--targets", default=",".join(SEEDS), help=f"comma-separated, from {','.join(SEEDS)}")
    ap.add_argument("--seed", type=int, default=1, help="campaign seed (the same seed makes the same inputs)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (1 CPU each)")
    ap.add_argument("--cpu-limit", type=float, default=10.0, help="CPU seconds per input before it is a hang")
    ap.add_argument("--out", type=Path, default=Path("fuzz-out"), help="directory for findings and the report")
    ap.add_argument("--round-robin", action="store_true",
                    help="give targets inputs in turn (default: by equal worker time)")
    ap.add_argument("--no-minimize", action="store_true", help="keep findings' recipes as found")
    ap.add_argument("--replay", type=Path, help="run the recipe of a finding JSON file (or a recipe JSON) and print the outcome")
    args = ap.parse_args(argv)
    if args.replay:
        from tests.fuzz.campaign import Worker
        d = json.loads(args.replay.read_text())
        recipe = Recipe.from_json(d.get("minimized", d))
        print(recipe.describe())
        w = Worker(args.cpu_limit)
        try:
            print(json.dumps(w.run_one(recipe, args.cpu_limit * 3 + 30), indent=1))
        finally:
            w.stop()
        return 0
    targets = [t for t in args.targets.split(",") if t]
    bad = [t for t in targets if t not in SEEDS]
    if bad:
        ap.error(f"unknown targets {bad}; choose from {list(SEEDS)}")
    hours = args.hours if args.hours is not None else (None if args.inputs else 4.0)
    camp = Campaign(targets=targets, seed=args.seed, inputs=args.inputs, hours=hours, jobs=args.jobs,
                    cpu_limit=args.cpu_limit, out=args.out, minimize=not args.no_minimize,
                    fair_time=not args.round_robin,
                    progress=lambda s: print(time.strftime("%H:%M:%S"), s, flush=True))
    # SIGTERM ends the run like ^C: workers stopped, figures and findings saved.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        camp.run()
    except KeyboardInterrupt:
        print("interrupted; figures so far:", flush=True)
    summary = camp.summary()
    for t, s in summary["per_target"].items():
        print(f"{t:10} {s['inputs']:8} inputs {s['inputs_per_s']:8.2f}/s "
              f"{s['inputs_per_cpu_s']:8.2f}/CPU s  findings {s['findings']}")
    print("totals:", summary["totals"], f"in {len(summary['findings'])} classes; report: {args.out / 'report.md'}")
    return 1 if summary["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
