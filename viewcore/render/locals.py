"""``goroutine ID --locals``: a frame variable (a gocore Value) as data and as text."""

from __future__ import annotations

from gocore import Error, Value
from rich.markup import escape

from ..results import GoroutineLocals, LocalRow
from .text import _hex, render

_POINTER_KINDS = ("ptr", "unsafe_ptr", "chan", "func", "map")
_SCALARS = ("int", "uint", "uintptr", "float", "bool", "complex")
_STRING_SHOWN = 64


def local_row(name: str, v: Value) -> LocalRow:
    """Return the LocalRow of variable ``name``: scalars and strings with their value,
    pointer-like kinds with what they point at, aggregates by address ("?" when the dump
    lacks the memory)."""
    try:
        k = v.kind
        if k in _POINTER_KINDS or k in ("slice", "iface", "eface"):
            p = v.pointer()
            return LocalRow(name, v.type_name, v.address, None, p, "nil" if p is None else f"{p:#x}")
        if k == "string":
            s = v.get()
            shown = s if len(s) <= _STRING_SHOWN else s[:_STRING_SHOWN] + "..."
            return LocalRow(name, v.type_name, v.address, s, v.pointer(), f"{shown!r} (len {len(s)})")
        if any(k.startswith(s) for s in _SCALARS):
            x = v.get()
            if isinstance(x, complex):
                x = str(x)
            text = ("true" if x else "false") if isinstance(x, bool) else (
                f"{x:#x}" if k == "uintptr" else str(x))
            return LocalRow(name, v.type_name, v.address, x, None, text)
    except Error:
        return LocalRow(name, v.type_name, v.address, None, None, "?")
    return LocalRow(name, v.type_name, v.address, None, None, f"at {v.address:#x}")


@render.register(GoroutineLocals)
def _goroutine_locals(result: GoroutineLocals, console) -> None:
    render(result.row, console)
    console.print()
    if not result.dwarf:
        console.print("no locals: the executable has no DWARF")
        return
    for f, loc in zip(result.row.frames, result.locals):
        console.print(f"[bold]{escape(f.func)}[/bold]" + ("" if loc else "  (no located variables)"))
        for x in loc:
            console.print(f"    {escape(x.name)} {escape(x.type)} = {escape(x.text)}  "
                          f"[dim]@ {_hex(x.address)}[/dim]")
