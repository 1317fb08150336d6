"""The text form of ``fleet``: signatures, goroutine groups, growing types, failures."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def render_fleet(doc: dict, stream) -> None:
    """Print the fleet document ``doc`` on ``stream`` as tables."""
    c = Console(file=stream, highlight=False, width=200 if not stream.isatty() else None)
    c.print(f"{doc['dumps']} dumps, {doc['reported']} reported, {len(doc['failed'])} failed", markup=False)
    t = Table(title="crash signatures", box=None, header_style="bold", title_justify="left")
    for col in ("count", "signature", "message", "example"):
        t.add_column(col, justify="right" if col == "count" else "left")
    for s in doc["signatures"]:
        t.add_row(str(s["count"]), " < ".join(s["signature"]) if s["signature"] else "(no crash)",
                  s["message"] or "", s["examples"][0] if s["examples"] else "")
    c.print(t, markup=False)
    g = Table(title="goroutine groups, summed", box=None, header_style="bold", title_justify="left")
    for col in ("count", "dumps", "state", "top frame"):
        g.add_column(col, justify="right" if col in ("count", "dumps") else "left")
    for row in doc["goroutine_groups"]:
        top = next((f for f in row["frames"] if f != "panic" and not f.startswith("runtime.")),
                   row["frames"][0] if row["frames"] else "?")
        g.add_row(str(row["count"]), str(row["dumps"]), row["wait_reason"] or row["status"], top)
    c.print(g, markup=False)
    for prog in doc["growth"]:
        h = Table(title=f"growing types of {prog['exe']} over {len(prog['dumps'])} dumps (by time)",
                  box=None, header_style="bold", title_justify="left")
        for col in ("growth", "type", "bytes per dump"):
            h.add_column(col, justify="right" if col == "growth" else "left")
        for row in prog["types"]:
            h.add_row(str(row["growth"]), row["type"], " ".join(map(str, row["bytes"])))
        c.print(h, markup=False)
    for f in doc["failed"]:
        c.print(f"failed: {f['dump']}: {f['error']}", markup=False)
