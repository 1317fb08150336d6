"""The text form of ``report``: Go's traceback header, then the summaries."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from ..commands.report import Report
from .text import render


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def header_lines(doc: dict) -> list[str]:
    """Return the lines the runtime's own traceback starts with, rebuilt from the report:
    every ``panic: ...`` line, the ``[signal ...]`` line, and the crashing goroutine with
    its frames and ``+0x`` offsets; for a dump without a panic, what it was killed by."""
    out = []
    for k, p in enumerate(doc["panics"]):
        tag = " [recovered, repanicked]" if p["recovered"] and p["repanicked"] else \
            " [recovered]" if p["recovered"] else ""
        out.append(("\t" if k else "") + f"panic: {p['message'] if p['message'] is not None else '?'}{tag}")
    panic = doc["panic"]
    if panic and panic["signal"]:
        out.append(f"[signal {panic['signal_description']} code={panic['code']:#x} "
                   f"addr={panic['fault_address']:#x} pc={panic['pc']:#x}]")
    if not doc["panics"] and not (panic and panic["signal"]):
        sig = doc["fatal_signal"]
        out.append("no panic: " + (f"the dump was written for signal {sig}" if sig else
                                  "a dump of a running process (no fatal signal)"))
    g = doc["crashing_goroutine"]
    if g is not None:
        out += ["", f"goroutine {g} [running]:"]
        frames = doc["frames"]
        # the runtime's traceback starts at the panic: what runs below it is the crash itself
        start = next((k for k, f in enumerate(frames) if f["func"] == "panic"), 0)
        for f in frames[start:]:
            out.append(f"{f['func']}(...)" if f["inlined"] else f"{f['func']}()")
            off = f" +{f['offset']:#x}" if f["offset"] else ""
            out.append(f"\t{f['file']}:{f['line']}{off}")
    return out


@render.register
def _(result: Report, console) -> None:
    doc = result.doc
    for line in header_lines(doc):
        console.print(line, markup=False, highlight=False)
    console.print()
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("dump", f"{doc['dump_format']} ({doc['goos']}/{doc['goarch']}), "
                      f"{'full memory' if doc['full_memory'] else 'no heap memory'}")
    t.add_row("go version", doc["go_version"] or "?")
    b = doc["build"]
    if b:
        rev = f" vcs {b['vcs_revision'][:12]}" if b["vcs_revision"] else ""
        t.add_row("build", f"{b['path'] or '?'} {b['version'] or ''}{rev}")
    t.add_row("pid", str(doc["pid"]) if doc["pid"] is not None else "?")
    if doc["crashing_thread"] is not None:
        t.add_row("crashing thread", str(doc["crashing_thread"]))
    if doc["signature"]:
        t.add_row("signature", " < ".join(doc["signature"]))
    if doc["heap"]:
        t.add_row("live heap", f"{doc['heap']['objects']} objects, {_size(doc['heap']['bytes'])}")
    if doc["partial"]:
        t.add_row("partial", "yes: some of the dump could not be read")
    console.print(t, markup=False)
    if doc["goroutine_groups"]:
        g = Table(title=f"goroutines ({doc['goroutines']}), grouped", box=None, header_style="bold",
                  title_justify="left")
        for col in ("count", "state", "top frame"):
            g.add_column(col, justify="right" if col == "count" else "left")
        for row in doc["goroutine_groups"]:
            user = next((f for f in row["frames"] if f != "panic" and not f.startswith("runtime.")), None)
            top = user or (row["frames"][0] if row["frames"] else "?")
            g.add_row(str(row["count"]), row["wait_reason"] or row["status"], top)
        console.print(g)
    if doc["top_types"]:
        h = Table(title="top types", box=None, header_style="bold", title_justify="left")
        for col in ("bytes", "count", "type"):
            h.add_column(col, justify="left" if col == "type" else "right")
        for row in doc["top_types"]:
            h.add_row(_size(row["bytes"]), str(row["count"]), row["type"])
        console.print(h)
    if doc["top_retainers"]:
        r = Table(title="top retainers", box=None, header_style="bold", title_justify="left")
        for col in ("retained", "share", "type", "root"):
            r.add_column(col, justify="right" if col in ("retained", "share") else "left")
        suspect_objects = {s["address"] for s in doc["suspects"] or () if s["address"] is not None}
        for row in doc["top_retainers"]:
            mark = " (suspect)" if row["address"] in suspect_objects else ""
            r.add_row(_size(row["retained"]), f"{row['share']:.0%}", row["type"] + mark, row["root"] or "?")
        console.print(r)
    if doc["suspects"]:
        s = Table(title="leak suspects (viewcore suspects)", box=None, header_style="bold",
                  title_justify="left")
        for col in ("retained", "share", "root", "accumulates in"):
            s.add_column(col, justify="right" if col in ("retained", "share") else "left")
        for row in doc["suspects"]:
            point = row["point"]
            s.add_row(_size(row["retained"]), f"{row['share']:.0%}",
                      escape(f"{row['root'] or '?'} [{row['kind'] or '?'}]"),
                      escape(f"{point['type']} ({point['children']} below)") if point else
                      f"what its {row['roots']} roots hold" if row["roots"] > 1 else "the root's own objects")
        console.print(s)
