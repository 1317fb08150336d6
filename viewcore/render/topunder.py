"""Text of ``top --under``: the children of one node of the dominator tree."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from ..walkresults import UnderResult
from .text import _hex, _size, render


@render.register(UnderResult)
def _top_under(result: UnderResult, console) -> None:
    if result.kind == "object":
        head = (f"[bold]{escape(result.type or '?')}[/bold] at {_hex(result.address)}, "
                f"{result.size} bytes")
    else:
        many = f", {result.roots} roots" if result.roots > 1 else ""
        typ = f" {escape(result.type)}" if result.type else ""
        head = f"[bold]{escape(result.root or '?')}[/bold]{typ} ({result.root_kind}{many})"
    console.print(f"{head}: alone keeps {_size(result.retained)} alive in {result.retained_objects} "
                  f"objects; {result.children} {'child' if result.children == 1 else 'children'} "
                  "in the dominator tree")
    t = Table(box=None, header_style="bold")
    frames = any(c.goroutine is not None for c in result.rows)
    cols = [("retained", "right"), ("objects", "right"), ("size", "right"), ("address", "left"), ("type", "left")]
    for col, just in cols + ([("goroutine", "right")] if frames else []):
        t.add_column(col, justify=just, overflow="fold")
    for c in result.rows:
        row = [_size(c.retained), str(c.retained_objects), str(c.size), _hex(c.address), escape(c.type)]
        t.add_row(*row, *([str(c.goroutine) if c.goroutine is not None else ""] if frames else []))
    console.print(t)
    hidden = result.children - len(result.rows)
    if hidden:
        console.print(f"… {hidden} more ({_size(result.more_retained)}; --n shows more)")
