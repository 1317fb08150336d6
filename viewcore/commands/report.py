"""``report``: one document per dump for crash pipelines and people (schema ``SCHEMA``).

What the dump is and can answer, the build, how the process died (``gocore.crash``), the
goroutines grouped, and the heap summarised: totals, top types, top retainers and the
leak suspects (``GoProcess.suspects``, the rule of ``suspects`` and the web UI). A part that cannot be read is left null with a warning (``partial``);
the rest still answers, so a pipeline always gets a document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import core
import gocore

from ..walkresults import suspect_rows

HELP = ("one document per dump: build, panic or signal, crashing goroutine and thread, "
        "signature, goroutine groups, heap summary, top types and retainers")
NEEDS_MEMORY = False   # a minidump without full memory still has threads and a crash
SCHEMA = 1
TOP = 10               # rows of top types, retainers, goroutine groups
SUSPECT_SHARE = 0.10   # suspects retain over this share of the live heap, as `suspects`


def add_arguments(parser) -> None:
    """Add --top."""
    parser.add_argument("--top", type=int, default=TOP, metavar="N",
                        help=f"rows of top types, retainers and goroutine groups (default {TOP})")


@dataclass
class Report:
    """The report document (``to_json``) and the warnings met making it."""

    doc: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the contract's ``report`` document."""
        return self.doc


def run(gp, args) -> Report:
    """Return the report of ``gp``."""
    from ..render import report as _renderer  # noqa: F401 - registers the text form
    doc = build_report(gp, top=args.top)
    return Report(doc, list(doc["warnings"]))


def build_report(gp: gocore.GoProcess, top: int = TOP) -> dict[str, Any]:
    """Return the report document of ``gp`` (plain JSON data, schema ``SCHEMA``)."""
    p = gp.process
    doc: dict[str, Any] = {
        "schema": SCHEMA, "dump_format": p.dump_format, "goos": p.goos, "goarch": p.goarch,
        "pid": p.pid, "executable": gp.executable_path, "full_memory": _full_memory(gp),
        "go_version": gp.go_version, "go_version_source": gp.go_version_source,
        "build": _build(gp),
    }
    doc.update(_crash(gp))
    doc.update(_goroutines(gp, top))
    doc.update(_heap(gp, top) if doc["full_memory"] and p.exe is not None else
               {"heap": None, "top_types": None, "top_retainers": None, "suspects": None})
    doc["partial"] = gp.partial
    doc["warnings"] = list(gp.warnings)
    return doc


def _full_memory(gp) -> bool:
    try:
        gocore.require_full_memory(gp)
    except core.DumpError:
        return False
    return True


def _build(gp) -> dict[str, Any] | None:
    bi = gp.build_info
    if bi is None:
        return None
    main = bi.main
    return {"path": bi.path or None, "main": main.path if main else None,
            "version": main.version if main else None,
            "vcs_revision": bi.settings.get("vcs.revision"), "vcs_time": bi.settings.get("vcs.time"),
            "vcs_modified": bi.settings.get("vcs.modified"), "settings": dict(bi.settings)}


def _crash(gp) -> dict[str, Any]:
    try:
        c = gp.crash()
    except (gocore.GoCoreError, core.UnmappedAddress) as e:
        gp.process.warn(f"crash: {e}")
        return {"panic": None, "panics": [], "fatal_signal": gp.process.signal,
                "crashing_goroutine": None, "crashing_thread": None, "frames": [],
                "signature": None}
    panic = None
    if c.panics or c.signal is not None:
        s = c.signal
        panic = {"message": c.message,
                 "type": c.panics[0].type_name if c.panics else None,
                 "signal": s.name if s else None, "signal_description": s.description if s else None,
                 "code": s.code if s else None, "fault_address": s.fault_address if s else None,
                 "pc": s.pc if s else None}
    return {
        "panic": panic,
        "panics": [{"message": v.text, "type": v.type_name, "recovered": v.recovered,
                    "repanicked": v.repanicked} for v in c.panics],
        "fatal_signal": c.fatal_signal,
        "crashing_goroutine": c.goroutine, "crashing_thread": c.thread,
        "frames": [{"func": f.function, "file": f.file, "line": f.line, "pc": f.pc,
                    "offset": f.offset, "inlined": f.inlined} for f in c.frames],
        "signature": c.signature,
    }


def _goroutines(gp, top: int) -> dict[str, Any]:
    try:
        gs = gp.goroutines()
    except (gocore.GoCoreError, core.UnmappedAddress) as e:
        gp.process.warn(f"goroutines: {e}")
        return {"goroutines": None, "goroutine_groups": None}
    groups = gp.goroutine_groups()
    return {"goroutines": len(gs),
            "goroutine_groups": [{"count": g.count, "status": g.status, "wait_reason": g.wait_reason,
                                  "frames": g.functions, "ids": g.ids[:top]}
                                 for g in groups[:top]]}


def _heap(gp, top: int) -> dict[str, Any]:
    try:
        hi = gp.heap_index()
        names, sizes, counts, nbytes = gp.histogram()
        dom = gp.dominators()
        found = gp.suspects(SUSPECT_SHARE, top)
    except (gocore.GoCoreError, core.UnmappedAddress) as e:
        gp.process.warn(f"heap: {e}")
        return {"heap": None, "top_types": None, "top_retainers": None, "suspects": None}
    types = [{"type": names[k], "count": int(counts[k]), "size": int(sizes[k]),
              "bytes": int(nbytes[k])} for k in range(min(top, len(names)))]
    live = max(hi.live_bytes, 1)
    retainers = []
    for i in dom.top(top).tolist():
        r = int(hi.reach.root[i])
        info = dom.root_info(r) if r >= 0 else None
        retainers.append({"address": int(hi.heap.addr[i]), "type": hi.name_of(i),
                          "size": int(hi.heap.size[i]), "retained": int(dom.retained[i]),
                          "retained_objects": int(dom.retained_count[i]),
                          "share": int(dom.retained[i]) / live,
                          "root": info.name if info else None,
                          "root_kind": info.kind if info else None})
    return {"heap": {"objects": hi.live_count, "bytes": hi.live_bytes},
            "top_types": types, "top_retainers": retainers,
            "suspects": _suspects(hi, found) if found.over else []}


def _suspects(hi, found) -> list[dict[str, Any]]:
    """Return the suspects as ``suspects --json`` gives them, each with the fields the
    report gave before them: the object below the root (``address``, ``type``, ``size``;
    null when the root's memory spreads over several objects) and ``root_kind``."""
    out = []
    for s, row in zip(found.rows, suspect_rows(hi, found)):
        i = s.object
        obj = ({"address": int(hi.heap.addr[i]), "type": hi.name_of(i), "size": int(hi.heap.size[i])}
               if i >= 0 else {"address": None, "type": None, "size": None})
        out.append({**obj, **row.to_json(), "root_kind": row.kind})
    return out
