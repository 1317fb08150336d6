"""Text of the heap-walking commands: ``referrers``, ``globals``, ``print``, ``suspects``, and
the goroutine, root and new-type parts of ``diff``."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from ..walkresults import GlobalsResult, PrintResult, ReferrersResult, SuspectsResult
from .text import _hex, _size, render, type_label


@render.register
def _(result: ReferrersResult, console) -> None:
    console.print(f"[bold]{escape(result.type)}[/bold] at {_hex(result.address)}, {result.size} bytes: "
                  f"{result.objects} heap object{'s' if result.objects != 1 else ''} and "
                  f"{result.roots} root{'s' if result.roots != 1 else ''} point into it")
    t = Table(box=None, header_style="bold")
    for col in ("from", "address", "type", "field", "lands at"):
        t.add_column(col, overflow="fold")
    for r in result.rows:
        where = f"+{r.offset:#x}" + (f" .{r.field}" if r.field else "")
        lands = "?" if r.target_offset is None else f"+{r.target_offset:#x}"
        if r.source == "object":
            t.add_row("object", _hex(r.address), escape(r.type or "unknown"), escape(where), lands)
        else:
            name = r.root + (f" (goroutine {r.goroutine})" if r.goroutine is not None
                             and not r.root.startswith("goroutine ") else "")
            t.add_row(f"{r.kind} root", escape(name), escape(r.type or ""), escape(where), lands)
    console.print(t)
    shown = len(result.rows)
    if shown < result.objects + result.roots:
        console.print(f"... {result.objects + result.roots - shown} more (--limit)")


@render.register
def _(result: GlobalsResult, console) -> None:
    t = Table(box=None, header_style="bold")
    for col, just in (("retained", "right"), ("objects", "right"), ("size", "right"),
                      ("address", "left"), ("global", "left"), ("type", "left")):
        t.add_column(col, justify=just, overflow="fold")
    for g in result.rows:
        t.add_row(_size(g.retained), str(g.retained_objects), str(g.size), _hex(g.address),
                  escape(g.name), escape(g.type))
    console.print(t)
    more = f" (showing {len(result.rows)})" if len(result.rows) < result.total else ""
    console.print(f"{result.total} globals{more}")


def _go(node: dict, indent: int = 0) -> str:
    """Return a value tree (``print``'s data) in Go syntax."""
    if "error" in node:
        return f"<{node['type']}: {node['error']}>"
    k = node["kind"]
    if k in ("bool",):
        return "true" if node["value"] else "false"
    if k == "string":
        return json.dumps(node["value"], ensure_ascii=False) + ("..." if node.get("truncated") else "")
    if k in ("int", "uint", "float"):
        return str(node["value"])
    if k == "uintptr":
        return f"{node['value']:#x}"
    if k == "complex":
        return f"({node['value'][0]}+{node['value'][1]}i)"
    if k in ("ptr", "unsafe_ptr", "chan", "func"):
        p = node["pointer"]
        if p is None:
            return "nil"
        head = f"({node['type']})({p:#x})"
        if "elem" in node:
            return f"{head} &{_go(node['elem'], indent)}"
        return head
    if k in ("iface", "eface"):
        d = node.get("dynamic")
        return "nil" if d is None else f"{node['type']}({d['type']}: {_go(d, indent)})"
    if node.get("elided"):
        n = f" len {node['len']}" if "len" in node else ""
        return f"{node['type']}{{...{n}}}"
    pad, inner = "    " * indent, "    " * (indent + 1)
    if k == "struct":
        fs = node["fields"]
        if not fs:
            return f"{node['type']}{{}}"
        body = ",\n".join(f"{inner}{f['name']}: {_go(f['value'], indent + 1)}" for f in fs)
        return f"{node['type']}{{\n{body},\n{pad}}}"
    more = f"\n{inner}... {node['more']} more" if node.get("more") else ""
    if k in ("array", "slice"):
        if "bytes" in node:
            shown = "".join(f"\\x{node['bytes'][i:i + 2]}" for i in range(0, len(node["bytes"]), 2))
            return f"{node['type']} len {node['len']} \"{shown}\"" + (f"... {node['more']} more" if node["more"] else "")
        if node["len"] == 0:
            return f"{node['type']}{{}}" if k == "array" or node.get("pointer") else "nil"
        body = ",\n".join(f"{inner}{_go(e, indent + 1)}" for e in node["elems"])
        return f"{node['type']} len {node['len']} {{\n{body},{more}\n{pad}}}"
    if k == "map":
        if node.get("pointer") is None:
            return "nil"
        body = ",\n".join(f"{inner}{_go(e['key'], indent + 1)}: {_go(e['value'], indent + 1)}"
                          for e in node["entries"])
        return f"{node['type']} len {node['len']} {{\n{body},{more}\n{pad}}}"
    return f"<{node['type']}>"


@render.register
def _(result: PrintResult, console) -> None:
    v = result.value
    console.print(escape(f"{result.expr} ({v['type']} at {v['address']:#x})"), style="dim")
    console.print(escape(_go(v)))


@render.register
def _(result: SuspectsResult, console) -> None:
    pct = f"{100 * result.share:g} %"
    if not result.rows:
        console.print(f"no root or object retains more than {pct} of the live heap")
    elif result.over:
        console.print(f"[bold]{len(result.rows)} suspect{'s' if len(result.rows) > 1 else ''}[/bold] "
                      f"each retain over {pct} of the live heap ({_size(result.live_bytes)})")
    else:
        console.print(f"nothing retains over {pct} of the live heap; the {len(result.rows)} largest:")
    for n, s in enumerate(result.rows, 1):
        typ = f" {escape(s.root_type)}" if s.root_type else ""
        shared = " (and other roots)" if s.shared else ""
        many = f" in {s.goroutines} goroutines" if s.goroutines > 1 else ""
        console.print()
        console.print(f"[bold]{n}. {escape(s.root or '?')}[/bold]{typ} {escape('[' + (s.kind or '?') + ']')}{many}{shared}: "
                      f"{_size(s.retained)} ({100 * s.share:.1f} %), {s.retained_objects} objects")
        p = s.point
        if p is not None:
            console.print(f"   accumulates in {escape(p['type'])} at {_hex(p['address'])}: "
                          f"{p['children']} objects below it hold {_size(p['retained'])}")
        elif s.roots > 1:
            console.print(f"   spread over what its {s.roots} roots hold, none over half of it")
        else:
            console.print("   spread over the root's own objects")
        for h in s.held:
            console.print(f"     {_size(h.bytes):>10}  {h.count:>7} × {escape(h.type)}")
        if s.held_more:
            console.print(f"     ... {s.held_more} more types")
        if s.path:
            first = s.path[0]
            where = f" (goroutine {first['goroutine']})" if first.get("goroutine") is not None else ""
            one = "one " if p is None else ""
            console.print(escape(f"   {one}path from {first['root']}{where}:"), style="dim")
            for step in s.path[1:]:
                via = f"  .{step['field']}" if step.get("field") else ""
                console.print(escape(f"     -> {step['address']:#x} {step['type']} ({step['size']} bytes){via}"),
                              style="dim")


def render_diff_extras(result, console) -> None:
    """Print ``diff``'s goroutine groups, the roots that grew and the new types."""
    now, before = result.goroutine_totals
    console.print()
    console.print(f"[bold]goroutines[/bold]: {before} -> {now} ({now - before:+d})")
    if result.goroutines:
        t = Table(box=None, header_style="bold")
        for col in ("Δ", "count", "base", "state", "where"):
            t.add_column(col, justify="right" if col in ("Δ", "count", "base") else "left", overflow="fold")
        for g in result.goroutines:
            user = next((f for f in g.frames if not f.startswith(("runtime.", "internal/"))),
                        g.frames[0] if g.frames else "?")
            t.add_row(f"{g.count - g.base_count:+d}", str(g.count), str(g.base_count),
                      escape(g.wait_reason or g.status), escape(user))
        console.print(t)
    if result.roots:
        console.print()
        console.print("[bold]roots that retain more[/bold]")
        t = Table(box=None, header_style="bold")
        for col in ("Δ retained", "retained", "base", "root"):
            t.add_column(col, justify="left" if col == "root" else "right", overflow="fold")
        for r in result.roots:
            t.add_row(f"{r.retained - r.base_retained:+d}", _size(r.retained), _size(r.base_retained),
                      escape(f"{r.root} [{r.kind}]"))
        console.print(t)
    if result.new_types:
        console.print()
        console.print("[bold]new types[/bold] (none in the base)")
        for r in result.new_types:
            console.print(f"  {r.count:>7} {_size(r.bytes):>10}  {escape(type_label(r.type, r.backing_arrays))}")
