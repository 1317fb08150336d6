"""Text of ``top --by root``: one row per root name, with how many goroutines hold it."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from ..results import TopRoots
from .text import _size, render


@render.register(TopRoots)
def _top_roots(result: TopRoots, console) -> None:
    t = Table(box=None, header_style="bold")
    for col, just in (("retained", "right"), ("objects", "right"), ("roots", "right"),
                      ("kind", "left"), ("root", "left")):
        t.add_column(col, justify=just, overflow="fold")
    for row in result.rows:
        many = f"{row.roots} ×" if row.roots > 1 else ""
        where = f" in {row.goroutines} goroutines" if row.goroutines > 1 else ""
        typ = f" {escape(row.type)}" if row.type else ""
        t.add_row(_size(row.retained), str(row.retained_objects), many, row.kind,
                  escape(row.root) + typ + where)
    console.print("[bold]roots by name, what they alone keep alive[/bold]")
    console.print(t)
    if not result.named_variables:
        console.print("frames are named by function only: the executable has no DWARF variables")
    pct = 100.0 * result.shared_bytes / result.live_bytes if result.live_bytes else 0.0
    console.print(f"{result.live_objects} live objects, {_size(result.live_bytes)}; held only through "
                  f"several roots: {result.shared_objects} objects, {_size(result.shared_bytes)} ({pct:.1f}%)")
