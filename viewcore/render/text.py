"""Text output for people: rich tables. Free to evolve; scripts use ``--json``."""

from __future__ import annotations

from functools import singledispatch

from rich.markup import escape
from rich.table import Table

from ..results import (BreakdownResult, HeapDiff, WrittenFile, GoroutineGroups, GoroutineRow, Histogram, MemoryRead,
                       ObjectDetail, ObjectList, Overview, ReachableAll, ReachablePath, Rows)
from .rowtext import write_bytes


def type_label(type_name: str, backing_arrays: bool) -> str:
    """Return a histogram row's type as people read it: ``[]T (backing arrays)`` for the
    merged arrays of a slice type."""
    return f"{type_name} (backing arrays)" if backing_arrays else type_name


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
def _(overview: Overview, console) -> None:
    result = overview.summary
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("dump", f"{result.dump_format} ({result.goos}/{result.goarch})")
    t.add_row("executable", result.executable or "?")
    source = "" if result.go_version_source in (None, "buildinfo") else f" (from {result.go_version_source})"
    t.add_row("go version", (result.go_version or "?") + source)
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
        t.add_row(str(g.id) + (" *" if g.system else ""), escape(_state(g)), escape(_top_user_frame(g)), escape(creator))
    console.print(t)
    console.print(f"{len(result.rows)} goroutines (* the runtime's own)")


_ROWS = {"mappings": _mappings, "threads": _threads, "goroutines": _goroutines}


def _frames(frames, console, indent: str = "  ") -> None:
    for f in frames:
        mark = " (inlined)" if f.inlined else ""
        console.print(escape(f"{indent}{f.func}{mark}"))
        off = f" +{f.offset:#x}" if f.offset is not None else ""
        console.print(escape(f"{indent}    {f.file}:{f.line}{off}  pc={f.pc:#x} sp={f.sp:#x}"), style="dim")


@render.register
def _(g: GoroutineRow, console) -> None:
    console.print(f"[bold]goroutine {g.id}[/bold] {escape('[' + _state(g) + ']')}" + ("  (runtime)" if g.system else ""))
    console.print(f"  g={g.address:#x} stack=[{g.stack_lo:#x}, {g.stack_hi:#x})"
                  + (f" thread={g.thread}" if g.thread else ""))
    if g.problem:
        console.print(f"  [yellow]stack incomplete: {escape(g.problem)}[/yellow]")
    _frames(g.frames, console)
    if g.created_by:
        by = f" in goroutine {g.creator_id}" if g.creator_id else ""
        console.print(escape(f"  created by {g.created_by}{by}"))
        if g.created_at:
            console.print(escape(f"      {g.created_at}"), style="dim")


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


# ---- heap ----

@render.register
def _(result: Histogram, console) -> None:
    t = Table(box=None, header_style="bold")
    for col, just in (("count", "right"), ("size", "right"), ("bytes", "right"), ("type", "left")):
        t.add_column(col, justify=just, overflow="fold")
    for r in result.rows:
        t.add_row(str(r.count), "mixed" if r.size is None else str(r.size), str(r.bytes),
                  escape(type_label(r.type, r.backing_arrays)))
    console.print(t)
    more = f" (showing {len(result.rows)} of {result.shown_of} rows)" if len(result.rows) < result.shown_of else ""
    console.print(f"{result.total_count} live objects, {_size(result.total_bytes)}{more}")


@render.register
def _(result: ObjectList, console) -> None:
    # plain lines written in runs, not a rich table: the list may hold millions of rows
    aw = max(len("address"), len(f"{int(result.address.max()):#x}") if len(result) else 0)
    sw = max(len("size"), len(str(int(result.size.max()))) if len(result) else 0)
    out = console.file
    out.write(f"{'address':<{aw}}  {'size':>{sw}}  type\n")
    for text in result.text_chunks(aw, sw):
        write_bytes(out, text)
    out.write(f"{len(result)} of {result.total} objects\n")


@render.register
def _(result: ObjectDetail, console) -> None:
    state = "live" if result.live else "not reachable (garbage or held only where we do not look)"
    console.print(f"[bold]{escape(result.type)}[/bold] at {_hex(result.address)}, "
                  f"{result.size} bytes, {state}")
    if result.query != result.address:
        console.print(f"  ({_hex(result.query)} is {result.query - result.address} bytes inside it)")
    if result.data_offset:
        console.print(f"  (a {result.data_offset}-byte malloc header precedes the data)", style="dim")
    t = Table(box=None, header_style="bold")
    for col in ("offset", "field", "type", "value", "points to"):
        t.add_column(col, overflow="fold")
    for f in result.fields:
        t.add_row(f"+{f.offset:#x}", escape(f.path), escape(f.type), escape(f.value),
                  escape(f.target_type) if f.target_type else "")
    console.print(t)
    if result.truncated:
        console.print("... (more fields: use --limit)")


_RICH_ROWS = 1000   # longer lists are written as plain lines: rich draws about 10 k a second


def _path(result: ReachablePath, console) -> None:
    r = result.root
    where = f" at {_hex(r.address)}" if r.address is not None else ""
    gor = f" (goroutine {r.goroutine})" if r.goroutine is not None else ""
    typ = f" {escape(r.type)}" if r.type else ""
    off = f"+{r.offset:#x}" if r.offset else ""
    if r.root.startswith("goroutine "):  # a stack root's name already says goroutine and slot
        gor = where = off = ""
    console.print(f"[bold]{escape(r.root)}[/bold]{typ} {escape('[' + r.kind + ']')}{gor}{where}{off}")
    if len(result.objects) > _RICH_ROWS:      # a long chain: plain lines, written in runs
        out, run = console.file, []
        for o in result.objects:
            via = "" if o.offset is None else f"  .{o.field}" if o.field else f"  +{o.offset:#x}"
            run.append(f"  -> {o.address:#x} {o.type} ({o.size} bytes){via}\n")
            if len(run) >= 1 << 14:
                out.write("".join(run))
                run = []
        out.write("".join(run))
        return
    for o in result.objects:
        via = ""
        if o.offset is not None:
            via = f"  .{escape(o.field)}" if o.field else f"  +{o.offset:#x}"
        console.print(f"  -> {_hex(o.address)} {escape(o.type)} ({o.size} bytes){via}")


@render.register
def _(result: ReachablePath, console) -> None:
    _path(result, console)


@render.register
def _(result: ReachableAll, console) -> None:
    for k, p in enumerate(result.paths):
        if k:
            console.print()
        _path(p, console)


@render.register
def _(result: BreakdownResult, console) -> None:
    t = Table(box=None, header_style="bold")
    t.add_column("")
    t.add_column("bytes", justify="right")
    t.add_column("", justify="right")
    t.add_column("%", justify="right")
    for r in result.rows:
        t.add_row(("    " * r.depth) + r.what, "?" if r.bytes is None else str(r.bytes), _size(r.bytes),
                  "?" if r.percent is None else f"{r.percent:.1f}")
    t.add_row("[bold]total[/bold]", str(result.total), _size(result.total), "100.0")
    console.print(t)
    console.print(f"(from the {result.source})", style="dim")


@render.register
def _(result: MemoryRead, console) -> None:
    data = result.data
    for k in range(0, len(data), 16):
        chunk = data[k:k + 16]
        hexs = " ".join(chunk[j:j + 8].hex(" ") for j in range(0, len(chunk), 8))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        console.print(escape(f"{result.address + k:#014x}  {hexs:<48}  {text}"))


@render.register
def _(result: WrittenFile, console) -> None:
    console.print(f"wrote {result.path} ({result.format}, {_size(result.size)}): {result.objects} live objects, "
                  f"{_size(result.bytes)} in {result.entries} entries")


@render.register
def _(result: HeapDiff, console) -> None:
    t = Table(box=None, header_style="bold")
    for col in ("Δ bytes", "Δ count", "bytes", "count", "base bytes", "base count", "type"):
        t.add_column(col, justify="left" if col == "type" else "right")
    for r in result.rows:
        t.add_row(f"{r.bytes - r.base_bytes:+d}", f"{r.count - r.base_count:+d}", str(r.bytes), str(r.count),
                  str(r.base_bytes), str(r.base_count), escape(type_label(r.type, r.backing_arrays)))
    console.print(t)
    grow = sum(r.bytes - r.base_bytes for r in result.rows)
    console.print(f"{len(result.rows)} of {result.types} types shown; change in the rows shown: {grow:+d} bytes")
    render_diff_extras(result, console)


# ---- top ----

from ..results import TopRetained  # noqa: E402 - appended section


@render.register(TopRetained)
def _top_retained(result: TopRetained, console) -> None:
    t = Table(box=None, header_style="bold")
    for col, just in (("retained", "right"), ("objects", "right"), ("size", "right"),
                      ("address", "left"), ("type", "left"), ("root", "left")):
        t.add_column(col, justify=just, overflow="fold")
    for o in result.objects:
        root = "?" if o.root is None else f"{escape(o.root)} {escape('[' + (o.root_kind or '?') + ']')}"
        if o.shared:
            root += " (and other roots)"
        t.add_row(_size(o.retained), str(o.retained_objects), str(o.size), _hex(o.address),
                  escape(o.type), root)
    what = {"retained": "objects no other object dominates, by retained bytes",
            "size": "largest objects, with what they retain"}[result.by]
    if result.nested and result.by == "retained":
        what = "objects by retained bytes (nested ones too)"
    console.print(f"[bold]{what}[/bold]")
    console.print(t)
    console.print()
    r = Table(box=None, header_style="bold")
    for col, just in (("retained", "right"), ("objects", "right"), ("kind", "left"), ("root", "left")):
        r.add_column(col, justify=just, overflow="fold")
    for row in result.roots:
        typ = f" {escape(row.type)}" if row.type else ""
        r.add_row(_size(row.retained), str(row.retained_objects), row.kind, escape(row.root) + typ)
    console.print("[bold]roots that alone keep the most alive[/bold]")
    console.print(r)
    pct = 100.0 * result.shared_bytes / result.live_bytes if result.live_bytes else 0.0
    console.print(f"{result.live_objects} live objects, {_size(result.live_bytes)}; held only through "
                  f"several roots: {result.shared_objects} objects, {_size(result.shared_bytes)} ({pct:.1f}%)")


from . import toproots  # noqa: E402,F401 - registers top --by root's renderer
from . import topunder  # noqa: E402,F401 - registers top --under's renderer
from . import locals as _locals  # noqa: E402,F401 - registers goroutine --locals' renderer
from .walk import render_diff_extras  # noqa: E402,F401 - the heap-walking commands' renderers register here
