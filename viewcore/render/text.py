"""Text output for people: rich tables. Free to evolve; scripts use ``--json``."""

from __future__ import annotations

from functools import singledispatch

from rich.markup import escape
from rich.table import Table

from ..results import GoroutineGroups, GoroutineRow, Overview, Rows


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


def _state(g: GoroutineRow) -> str:
    text = g.wait_reason if g.status == "waiting" and g.wait_reason else g.status
    return text + (" (partial)" if g.partial else "")


def _top_user_frame(g: GoroutineRow) -> str:
    """Return the innermost frame outside the runtime: where the user's code is waiting."""
    for f in g.frames:
        if not f.func.startswith(("runtime.", "internal/", "panic")):
            return f"{f.func}  {f.file.rsplit('/', 1)[-1]}:{f.line}"
    return f"{g.frames[0].func}" if g.frames else "?"


def _goroutines(result: Rows, console) -> None:
    t = Table(box=None, header_style="bold")
    for col in ("id", "state", "where", "created by"):
        t.add_column(col, overflow="fold")
    for g in result.rows:
        creator = f"{g.created_by} (goroutine {g.creator_id})" if g.created_by and g.creator_id else (g.created_by or "")
        t.add_row(str(g.id) + (" *" if g.system else ""), _state(g), _top_user_frame(g), creator)
    console.print(t)
    console.print(f"{len(result.rows)} goroutines (* the runtime's own)")


_ROWS = {"mappings": _mappings, "threads": _threads, "goroutines": _goroutines}


def _frames(frames, console, indent: str = "  ") -> None:
    for f in frames:
        mark = " (inlined)" if f.inlined else ""
        console.print(escape(f"{indent}{f.func}{mark}"))
        console.print(escape(f"{indent}    {f.file}:{f.line}  pc={f.pc:#x} sp={f.sp:#x}"), style="dim")


@render.register
def _(g: GoroutineRow, console) -> None:
    console.print(f"[bold]goroutine {g.id}[/bold] {escape('[' + _state(g) + ']')}" + ("  (runtime)" if g.system else ""))
    console.print(f"  g={g.address:#x} stack=[{g.stack_lo:#x}, {g.stack_hi:#x})"
                  + (f" thread={g.thread}" if g.thread else ""))
    if g.problem:
        console.print(f"  [yellow]stack incomplete: {g.problem}[/yellow]")
    _frames(g.frames, console)
    if g.created_by:
        by = f" in goroutine {g.creator_id}" if g.creator_id else ""
        console.print(f"  created by {g.created_by}{by}")
        if g.created_at:
            console.print(f"      {g.created_at}", style="dim")


@render.register
def _(result: GoroutineGroups, console) -> None:
    for n, ids, g in result.groups:
        shown = ", ".join(map(str, ids[:12])) + (" ..." if len(ids) > 12 else "")
        console.print(f"[bold]{n} goroutine{'s' if n > 1 else ''}[/bold] {escape('[' + _state(g) + ']')}: {shown}")
        _frames(g.frames, console, "    ")
        console.print()
    total = sum(n for n, _, _ in result.groups)
    console.print(f"{total} goroutines in {len(result.groups)} groups")


@render.register
def _(result: Rows, console) -> None:
    _ROWS[result.kind](result, console)
