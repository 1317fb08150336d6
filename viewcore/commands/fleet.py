"""``viewcore fleet DUMPS... [--exes DIR] [--scheduler ADDR] [--json]``: ``report`` on many
dumps as Dask tasks, then signatures, goroutine groups and growing types over the fleet.

It takes no single DUMP, so ``viewcore.cli.main`` hands it its arguments before the usual
parser runs (``main`` here).
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = ("report on many dumps (Dask: a local cluster, or --scheduler): crash signatures with "
        "counts, goroutine groups summed, types that grow across one program's dumps")


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``viewcore fleet``."""
    p = argparse.ArgumentParser(prog="viewcore fleet", description=HELP)
    p.add_argument("dumps", metavar="DUMP", nargs="+", help="dump paths or globs ('crashes/*.core')")
    p.add_argument("--exes", metavar="DIR", help="a directory of executables, matched to each dump by build id")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="a running Dask scheduler (tcp://host:8786); default: a local cluster")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes of the local cluster (default 2)")
    p.add_argument("--top", type=int, default=10, metavar="N", help="rows per table (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return p


def main(argv: list[str]) -> int:
    """Run ``viewcore fleet ARGS``; return the exit status (1 when no dump could be read)."""
    import os

    from ..fleet import aggregate, executables_by_build_id, expand, run_reports
    args = parser().parse_args(argv)
    dumps = expand(args.dumps)
    if not dumps:
        print("viewcore: error: fleet: no dump matches " + " ".join(args.dumps), file=sys.stderr)
        return 1
    if args.exes is not None and not os.path.isdir(args.exes):
        print(f"viewcore: error: fleet: --exes {args.exes} is not a directory", file=sys.stderr)
        return 1
    exes = executables_by_build_id(args.exes) if args.exes else {}
    try:
        results = run_reports(dumps, exes, scheduler=args.scheduler, workers=max(1, args.workers),
                              top=args.top)
    except OSError as e:  # the scheduler cannot be reached
        print(f"viewcore: error: fleet: Dask: {e}", file=sys.stderr)
        return 1
    doc = aggregate(results, top=args.top)
    for f in doc["failed"]:
        print(f"viewcore: warning: {f['dump']}: {f['error']}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(doc, separators=(",", ":")) + "\n")
    else:
        from ..render.fleet import render_fleet
        render_fleet(doc, sys.stdout)
    return 0 if doc["reported"] else 1
