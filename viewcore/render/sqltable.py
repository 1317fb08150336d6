"""The text form of ``sql``: a table of the result's columns."""

from __future__ import annotations

from rich.table import Table

from ..commands.sql import QueryResult
from .text import render


@render.register
def _(result: QueryResult, console) -> None:
    t = Table(box=None, header_style="bold")
    for c in result.columns:
        t.add_column(c)
    for row in result.rows:
        t.add_row(*("NULL" if v is None else hex(v) if _is_address(c, v) else str(v)
                    for c, v in zip(result.columns, row)))
    console.print(t, markup=False)
    console.print(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})", markup=False)


def _is_address(column: str, value) -> bool:
    return isinstance(value, int) and column in ("address", "pc", "sp") and value > 0
