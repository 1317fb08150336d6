"""``sql QUERY``: DuckDB over the heap index's arrays (tables in ``viewcore.sqltables``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gocore import GoCoreError

HELP = ("run a SQL query (DuckDB) over the heap: tables objects, heap_objects, edges, roots, "
        "goroutines, frames, types (docs/sql.md)")
SCHEMA = 1


class QueryError(GoCoreError):
    """The SQL query is wrong (DuckDB's own one-line message)."""


def add_arguments(parser) -> None:
    """Add the QUERY."""
    parser.add_argument("query", metavar="QUERY", help='e.g. "SELECT type, count(*) FROM objects GROUP BY 1"')


@dataclass
class QueryResult:
    """Columns and rows of one query."""

    columns: list[str]
    rows: list[tuple]
    warnings: list[str] = field(default_factory=list)
    partial: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return ``{schema, columns, rows, partial, warnings}``; rows are lists in column order."""
        return {"schema": SCHEMA, "columns": self.columns, "rows": [list(r) for r in self.rows],
                "partial": self.partial, "warnings": self.warnings}


def query(gp, text: str) -> QueryResult:
    """Return the result of SQL ``text`` over ``gp``'s heap index (DuckDB, in memory)."""
    import duckdb

    from ..sqltables import HeapTables, named_tables, needs_retained, register
    con = duckdb.connect(":memory:")
    try:
        register(con, HeapTables(gp), named_tables(text), retained=needs_retained(text))
        try:
            cur = con.execute(text)
        except duckdb.Error as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise QueryError(f"sql: {first}") from None
        columns = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall()
    finally:
        con.close()
    return QueryResult(columns, rows, list(gp.warnings), gp.partial)


def run(gp, args) -> QueryResult:
    """Return the query's columns and rows."""
    from ..render import sqltable as _renderer  # noqa: F401 - registers the text form
    return query(gp, args.query)
