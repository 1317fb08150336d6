#!/usr/bin/env python3
"""Measure viewcore on the corpus (fixtures/make_corpus.py): per program and dump kind,
which commands answer, whether the goroutines equal the runtime's traceback, the live
heap against gctrace's marked heap, and the shares of live objects and bytes typed ``unknown``.

    python tests/corpus/report.py [--corpus DIR] [--python PY] [--pythonpath DIR]

``--pythonpath`` runs another checkout's viewcore (e.g. before a change) on the same
corpus. Each command runs as its own ``python -m viewcore`` process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.gotraceback import parse  # noqa: E402

COMMANDS = ["overview", "goroutines", "histogram", "top", "pprof", "reachable"]


def _run(py: str, env: dict, core: Path, exe: Path, *args: str) -> tuple[int, str, str]:
    # run from the checkout under test: ``-m`` puts the working directory first on sys.path
    cwd = env.get("PYTHONPATH") or str(ROOT)
    r = subprocess.run([py, "-m", "viewcore", str(core), "--exe", str(exe), "--json", *args],
                       capture_output=True, text=True, env=env, timeout=1800, cwd=cwd)
    err = [ln for ln in r.stderr.splitlines() if "note:" not in ln]
    return r.returncode, r.stdout, err[0] if err else ""


def _goroutines_match(ours: list[dict], text: str, kind: str) -> str:
    tb = parse(text[text.index("SIGQUIT: quit"):])
    by_id = {g["id"]: g for g in ours}
    compared = [i for i in tb if i in by_id and (kind == "kernel" or not by_id[i]["system"])]
    bad = []
    for i in compared:
        g, t = by_id[i], tb[i]
        status = g["wait_reason"] if g["status"] == "waiting" and g["wait_reason"] else g["status"]
        mine = [(f["func"], f["file"], f["line"]) for f in g["frames"]]
        theirs = [(f.func, f.file, f.line) for f in t.frames]
        if t.elided:
            mine = mine[:len(theirs)]
        same = t.stack_unavailable or mine == theirs or (
            g["status"] == "running" and mine[len(mine) - len(theirs):] == theirs)
        if status != t.status.removesuffix(" (scan)") or not same:
            bad.append(i)
    missing = [i for i in tb if i not in by_id]
    out = f"{len(compared) - len(bad)}/{len(compared)} equal"
    if len(compared) < len(tb):
        out += f" ({len(tb)} in the traceback)"
    return out + (f"; differ {bad[:5]}, missing {missing[:5]}" if bad or missing else "")


def measure(meta: dict, corpus: Path, kind: str, py: str, env: dict) -> dict:
    """Return one report row for a program's dump of ``kind``."""
    d = corpus / meta["name"]
    core, exe = d / meta["dumps"][kind], d / meta["exe"]
    text = (d / meta["stderr"]).read_text(errors="replace")
    row: dict = {"program": meta["name"], "kind": kind, "answered": [], "failed": {}}
    results = {}
    for cmd in COMMANDS:
        args = [cmd]
        if cmd == "pprof":
            args += ["-o", os.path.join(tempfile.gettempdir(), "corpus-report.pb.gz")]
        if cmd == "reachable":
            top = results.get("top")
            if not top or not top["objects"]:
                row["failed"][cmd] = "no object to ask about"
                continue
            args.append(hex(top["objects"][0]["address"]))
        rc, out, err = _run(py, env, core, exe, *args)
        if rc == 0:
            row["answered"].append(cmd)
            results[cmd] = json.loads(out)
        else:
            row["failed"][cmd] = err
    if "overview" in results:
        row["live_mb"] = round(results["overview"]["heap"]["bytes"] / (1 << 20), 2)
    row["gctrace_mb"] = meta["gc"][kind]["marked_mb"]
    if "goroutines" in results:
        row["goroutines"] = _goroutines_match(results["goroutines"], text, kind)
    if "histogram" in results:
        rows = results["histogram"]
        for key in ("count", "bytes"):
            total = sum(r[key] for r in rows) or 1
            unknown = sum(r[key] for r in rows if r["type"] == "unknown")
            row[f"unknown_{key}_pct"] = round(100 * unknown / total, 1)
    return row


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "fixtures"))
    import make_corpus
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(make_corpus.default_out()))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--pythonpath", help="run the viewcore found here instead")
    ap.add_argument("--programs", help="comma-separated names (default: all in the corpus)")
    args = ap.parse_args(argv)
    corpus = Path(args.corpus)
    env = dict(os.environ)
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    metas = json.loads((corpus / "index.json").read_text())
    if args.programs:
        metas = [m for m in metas if m["name"] in args.programs.split(",")]
    for meta in metas:
        for kind in ("kernel", "gcore"):
            print(json.dumps(measure(meta, corpus, kind, args.python, env)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
