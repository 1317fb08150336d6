"""Many dumps at once: ``report`` on each as a Dask task, then the fleet's aggregates.

``report_task`` is what a worker runs: it opens one dump (with the executable its build id
names), makes its report and the bytes of every live type, and turns any failure into a
record, so one bad dump never stops the fleet. ``aggregate`` groups the reports: crash
signatures with counts and example dumps, goroutine groups summed, and, per program (build
id), the types whose bytes grow from dump to dump in the order the dumps were written.
"""

from __future__ import annotations

import glob
import os
from typing import Any

EXAMPLES = 3          # example dumps per signature
BUILD_ID_WINDOW = 1 << 16   # bytes of the executable's first mapping searched for its build id
PAGE = 4096                 # what a kernel core keeps of a file mapping (its ELF header page)


def expand(patterns: list[str]) -> list[str]:
    """Return the dump paths named by ``patterns`` (paths or globs), each once, in order."""
    out: list[str] = []
    for p in patterns:
        hits = sorted(glob.glob(p)) if glob.has_magic(p) else [p]
        out += [h for h in hits if h not in out]
    return out


def executables_by_build_id(directory: str) -> dict[str, str]:
    """Return {Go build id: path} of the executables in ``directory`` (not recursive;
    files that are no executable are skipped)."""
    import core
    out: dict[str, str] = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            continue
        try:
            bid = core.open_executable(path).build_id
        except core.Error:
            continue
        if bid:
            out.setdefault(bid, path)
    return out


def find_executable(dump: str, exes: dict[str, str]) -> str | None:
    """Return the executable of ``exes`` whose build id the dump holds: a kernel core keeps
    the first page of each mapped ELF file, where Go's linker puts the build-id note."""
    if not exes:
        return None
    import core
    proc = core.open_dump(dump, exe=None)
    for m in proc.mappings:
        if not m.file:
            continue
        # only the first page may be in the dump (the mapping is then "not present")
        try:
            head = proc.read(m.start, min(BUILD_ID_WINDOW, m.end - m.start))
        except core.UnmappedAddress:
            try:
                head = proc.read(m.start, min(PAGE, m.end - m.start))
            except core.UnmappedAddress:
                continue
        for bid, path in exes.items():
            if bid.encode() in head:
                return path
    return None


def report_task(dump: str, exes: dict[str, str], top: int = 10) -> dict[str, Any]:
    """Return ``{dump, ok, mtime, exe, build_id, report, types}`` for one dump, or
    ``{dump, ok: False, error}`` when it cannot be read (never raises)."""
    import core
    import gocore

    from .commands.report import build_report
    out: dict[str, Any] = {"dump": dump, "ok": False}
    try:
        out["mtime"] = os.stat(dump).st_mtime
        exe = find_executable(dump, exes)
        gp = gocore.open(dump, exe=exe)
        if gp.process.exe is None:   # a report without the program says nothing of Go
            out["error"] = ("no executable: its build id is in no file of --exes and the path "
                            "the dump records is not there")
            return out
        doc = build_report(gp, top=top)
        types: dict[str, int] = {}
        if doc["heap"] is not None:
            names, _sizes, _counts, nbytes = gp.histogram()
            for n, b in zip(names, nbytes.tolist()):
                types[n] = types.get(n, 0) + int(b)
        built = gp.process.exe
        out.update(ok=True, exe=exe or gp.executable_path,
                   build_id=built.build_id if built is not None else None, report=doc, types=types)
    except (core.Error, gocore.Error, OSError) as e:
        out["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
    except Exception as e:  # a bug on one dump must not cost the fleet the others
        out["error"] = f"internal error: {type(e).__name__}: {e}"
    return out


def run_reports(dumps: list[str], exes: dict[str, str], scheduler: str | None = None,
                workers: int = 2, top: int = 10) -> list[dict[str, Any]]:
    """Return ``report_task`` of every dump, run on Dask: the scheduler at ``scheduler``, or
    a local cluster of ``workers`` processes (one thread each) on 127.0.0.1."""
    from dask.distributed import Client, LocalCluster
    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(report_task, dumps, exes=exes, top=top, pure=False)
        return client.gather(futures, errors="raise")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def aggregate(results: list[dict[str, Any]], top: int = 10) -> dict[str, Any]:
    """Return the fleet document of ``results`` (``report_task`` records)."""
    ok = [r for r in results if r["ok"]]
    failed = [{"dump": r["dump"], "error": r["error"]} for r in results if not r["ok"]]
    sigs: dict[tuple, dict] = {}
    for r in ok:
        doc = r["report"]
        key = tuple(doc["signature"]) if doc["signature"] is not None else None
        s = sigs.setdefault(key, {"signature": doc["signature"], "count": 0, "examples": [],
                                  "message": doc["panic"]["message"] if doc["panic"] else None})
        s["count"] += 1
        if len(s["examples"]) < EXAMPLES:
            s["examples"].append(r["dump"])
    groups: dict[tuple, dict] = {}
    for r in ok:
        for g in r["report"]["goroutine_groups"] or []:
            key = (g["status"], g["wait_reason"], tuple(g["frames"]))
            a = groups.setdefault(key, {"status": g["status"], "wait_reason": g["wait_reason"],
                                        "frames": g["frames"], "count": 0, "dumps": 0})
            a["count"] += g["count"]
            a["dumps"] += 1
    return {
        "schema": 1, "dumps": len(results), "reported": len(ok), "failed": failed,
        "signatures": sorted(sigs.values(), key=lambda s: (-s["count"], s["signature"] or [])),
        "goroutine_groups": sorted(groups.values(), key=lambda g: -g["count"])[:top],
        "growth": growth(ok, top),
        "reports": [{"dump": r["dump"], "ok": r["ok"], "error": r.get("error"),
                     "signature": r["report"]["signature"] if r["ok"] else None,
                     "message": (r["report"]["panic"] or {}).get("message") if r["ok"] else None}
                    for r in results],
    }


def growth(ok: list[dict[str, Any]], top: int = 10) -> list[dict[str, Any]]:
    """Return per program (executable build id) with two dumps or more: its dumps in the
    order they were written (file mtime) and the types whose bytes never shrink from one to
    the next and end larger, largest growth first."""
    by_program: dict[str, list[dict]] = {}
    for r in ok:
        by_program.setdefault(r.get("build_id") or r.get("exe") or "?", []).append(r)
    out = []
    for program, runs in by_program.items():
        if len(runs) < 2:
            continue
        runs.sort(key=lambda r: (r["mtime"], r["dump"]))
        names = set().union(*(r["types"] for r in runs))
        rows = []
        for n in names:
            series = [r["types"].get(n, 0) for r in runs]
            if series[-1] > series[0] and all(b >= a for a, b in zip(series, series[1:])):
                rows.append({"type": n, "bytes": series, "growth": series[-1] - series[0]})
        rows.sort(key=lambda x: (-x["growth"], x["type"]))
        out.append({"program": program, "exe": runs[0]["exe"], "dumps": [r["dump"] for r in runs],
                    "types": rows[:top]})
    return out
