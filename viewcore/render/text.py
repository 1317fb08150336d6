"""Text output for people: rich tables. Free to evolve; scripts use ``--json``."""

from __future__ import annotations

from functools import singledispatch

from rich.table import Table

from ..results import Overview, Rows


def _hex(v: int | None) -> str:
    return "?" if v is None else f"{v:#x}"


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@singledispatch
def render(result, console) -> None:
    """Print ``result`` on the rich ``console``."""
    raise TypeError(f"no text renderer for {type(result).__name__}")


@render.register
def _(result: Overview, console) -> None:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("dump", f"{result.dump_format} ({result.goos}/{result.goarch})")
    t.add_row("executable", result.executable or "?")
    t.add_row("go version", result.go_version or "?")
    t.add_row("pid", str(result.pid) if result.pid is not None else "?")
    t.add_row("threads", str(result.threads))
    if result.signal:
        t.add_row("signal", str(result.signal))
    t.add_row("goroutines", "?" if result.goroutines is None else str(result.goroutines))
    if result.heap_objects is not None:
        t.add_row("live heap", f"{result.heap_objects} objects, {_size(result.heap_bytes)} ({result.heap_bytes} bytes)")
    if result.partial:
        t.add_row("partial", "yes: some of the dump could not be read")
    console.print(t)


def _mappings(result: Rows, console) -> None:
    t = Table(box=None, header_style="bold")
    for col in ("start", "end", "size", "perm", "in dump", "file"):
        t.add_column(col, justify="right" if col == "size" else "left")
    for m in result.rows:
        file = f"{m.file} @{m.file_offset:#x}" if m.file else ""
        t.add_row(_hex(m.start), _hex(m.end), _size(m.end - m.start), m.perms,
                  "yes" if m.present else "no", file)
    console.print(t)


def _threads(result: Rows, console) -> None:
    t = Table(box=None, header_style="bold")
    for col in ("tid", "pc", "sp", "function", ""):
        t.add_column(col, overflow="fold")
    for th in result.rows:
        mark = f"crashed (signal {th.signal})" if th.crashed else ""
        t.add_row(str(th.tid), _hex(th.pc), _hex(th.sp), th.function or "?", mark)
    console.print(t)


_ROWS = {"mappings": _mappings, "threads": _threads}


@render.register
def _(result: Rows, console) -> None:
    _ROWS[result.kind](result, console)
